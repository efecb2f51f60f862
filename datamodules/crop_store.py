"""The face-crop store that ``deepfake-suite preprocess`` writes, and the source that reads it back.

Layout::

    <store>/store.json            parameters the store was made with (format version, crop size,
                                  detector, ..., the original source); a resumed run must match
    <store>/crops/<stem>.npy      uint8 (T, S, S, 3) RGB face crops of one video
    <store>/crops/<stem>.json     per video: status, frame indices, boxes, frame_labels (or the
                                  reason it was skipped); written after the .npy, so it marks
                                  the video as finished
    <store>/manifest.csv          VideoRecord rows of the stored videos, ``path`` relative to the
                                  store, ``n_frames`` = stored crops; written last
    <store>/report.csv            skipped videos and why

Training on a store is a config change only: ``data.init_args.source`` becomes
:class:`CropStoreSource` and :class:`~datamodules.clip_dataset.ClipDataset` memory-maps the
``.npy`` files instead of decoding videos.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from datamodules.sources.base import VideoRecord, VideoSource, read_manifest
from deepfake_suite.atomic import atomic_write_json
from deepfake_suite.errors import SuiteError

STORE_FORMAT_VERSION = 1
"""Bump when the same parameters would give different crops, so old stores are not resumed."""

CROPS_DIR = "crops"
MANIFEST_NAME = "manifest.csv"
PARAMS_NAME = "store.json"
REPORT_NAME = "report.csv"
REPORT_COLUMNS = ("video_id", "path", "split", "reason")
TEMP_SUFFIX = ".tmp"

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def crop_file_stem(video_id: str) -> str:
    """A file name stem for ``video_id`` that is safe on every file system and unique.

    Slashes and other unsafe characters are replaced, which can map two ids to the same text
    (``a/b`` and ``a__b``), so a hash of the exact id is appended. The readable part is cut
    to keep names under common 255-byte limits.
    """
    readable = _UNSAFE.sub("_", video_id.replace("/", "__")).lstrip("._-")[:150]
    digest = hashlib.sha1(video_id.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}" if readable else digest


def atomic_save_npy(path: Path, array: np.ndarray) -> Path:
    """``np.save`` through a temporary file in the same folder and a rename (see atomic.py)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def remove_temp_files(folder: Path) -> int:
    """Delete temporary files a killed run left in ``folder``; returns how many."""
    removed = 0
    for leftover in folder.glob(f".*{TEMP_SUFFIX}") if folder.is_dir() else []:
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def read_store_params(root: Path) -> dict[str, Any]:
    """The parameters in ``<root>/store.json``.

    Raises:
        SuiteError: If the store does not exist or its record is unreadable.
    """
    record = root / PARAMS_NAME
    if not record.is_file():
        raise SuiteError(
            f"no face-crop store at {root} (no {PARAMS_NAME}): run `deepfake-suite preprocess "
            f"--store {root} ...` first"
        )
    try:
        params = json.loads(record.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SuiteError(f"cannot read {record}: {error}") from None
    if not isinstance(params, dict):
        raise SuiteError(f"{record} does not hold a JSON object")
    return params


def open_store(root: Path, params: dict[str, Any]) -> None:
    """Create the store at ``root``, or check that the one there was made with ``params``.

    Raises:
        SuiteError: If ``root`` holds other files but no store, or a store made with other
            parameters (the message names the differing keys): resuming would mix two kinds
            of crops in one dataset.
    """
    if (root / PARAMS_NAME).is_file():
        recorded = read_store_params(root)
        missing = object()
        differing = sorted(
            key
            for key in set(recorded) | set(params)
            if recorded.get(key, missing) != params.get(key, missing)
        )
        if differing:
            detail = "; ".join(
                f"{key}: store has {recorded.get(key)!r}, requested {params.get(key)!r}" for key in differing
            )
            raise SuiteError(
                f"the store {root} was made with other parameters ({detail}); use another --store "
                "or the same parameters"
            )
        return
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise SuiteError(f"{root} exists and is not a face-crop store (no {PARAMS_NAME}); use a new --store")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_json(root / PARAMS_NAME, params)


class CropStoreSource(VideoSource):
    """The videos of a face-crop store made by ``deepfake-suite preprocess``.

    Records point at ``.npy`` crop arrays, which the clip and frame datasets memory-map instead
    of decoding. Whether splits are identity-disjoint is inherited from the source the store
    was made from.

    Args:
        root: Store folder (the ``--store`` given to ``preprocess``).
    """

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.params = read_store_params(self.root)
        source = self.params.get("source")
        self.identity_disjoint = bool(isinstance(source, dict) and source.get("identity_disjoint"))

    @property
    def frame_size(self) -> int:
        """Side of the stored square crops."""
        return int(self.params["frame_size"])

    def records(self) -> list[VideoRecord]:
        if not (self.root / MANIFEST_NAME).is_file():
            raise SuiteError(
                f"the store {self.root} has no {MANIFEST_NAME}: its preprocessing did not finish; run "
                "preprocess again with the same arguments to complete it"
            )
        return read_manifest(self.root / MANIFEST_NAME, self.root)
