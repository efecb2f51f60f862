"""Crop faces as part of a run: a datamodule's ``face_crops`` option.

With ``data.init_args.face_crops`` set, the datamodule's ``prepare_data`` (once per node, before
any loader) turns every dataset its source reads into a face-crop store with
:func:`~datamodules.preprocessing.pipeline.build_store`, and ``setup`` reads the stores instead of
the videos. So a paper config run on the real datasets trains on detected, tracked faces, as the
papers did, without a separate ``preprocess`` step per dataset and crop size.

Each store lives at ``<stores>/<dataset>-<size>px-<key>`` (``stores`` defaults to a ``stores``
folder beside the dataset's own: ``data/stores`` for ``data/DFDC``), where ``key`` hashes the crop
parameters and the source's manifest (video ids, files, labels, splits, methods, identities): a
second experiment on the same videos at the same size reuses the store, another method subset or
split gets its own, and an interrupted run resumes where it stopped (see
:mod:`datamodules.preprocessing.pipeline`). A :class:`~datamodules.CombinedSource` has each of its
sources cropped separately and keeps its split roles; a source that is a store already is read as
it is.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

from datamodules.combined import CombinedSource
from datamodules.crop_store import MANIFEST_NAME, CropStoreSource
from datamodules.preprocessing.detectors import DetectorName
from datamodules.preprocessing.extract import CropParams
from datamodules.preprocessing.pipeline import build_store
from datamodules.sources.base import VideoRecord, VideoSource
from deepfake_suite.errors import SuiteError

__all__ = ["FaceCrops"]


class FaceCrops:
    """How a datamodule crops faces before training (``data.init_args.face_crops``).

    The crop size and margin are the datamodule's ``frame_size`` and ``face_margin``.

    Args:
        detector: ``dlib`` (the dual-level paper's), ``mtcnn`` (the metric-learning and
            temporal-LSTM papers'), ``haar``, ``centerface``, or ``sidecar`` (boxes stored beside
            the videos, e.g. the synthetic set's).
        frames_per_video: Evenly spaced frames stored per video; ``null`` stores what the
            datamodule reads: its ``frames_per_video`` for frame models, ``clip_len`` for clip
            models with ``even`` sampling (the same evenly spaced frames), every frame for
            ``consecutive`` windows.
        stores: Folder that holds the stores; ``null``: ``stores/`` beside each dataset's root
            folder (``data/stores`` for ``data/FaceForensics++``), or ``data/stores`` for a source
            without a root.
        detector_model: Model file of the detector (CenterFace ONNX, another Haar cascade).
        min_frames: Videos with fewer decodable frames are skipped (and listed in the store's
            report).
        detect_max_side: Frames are shrunk to this longer side for detection; ``null`` never.
        smooth_window: Frames of the moving average over the tracked face boxes.
        num_workers: Processes that crop; ``null`` uses every core.
    """

    def __init__(
        self,
        detector: DetectorName = "dlib",
        frames_per_video: int | None = None,
        stores: str | None = None,
        detector_model: str | None = None,
        min_frames: int = 2,
        detect_max_side: int | None = 640,
        smooth_window: int = 5,
        num_workers: int | None = None,
    ) -> None:
        if frames_per_video is not None and frames_per_video < 1:
            raise SuiteError(
                f"data.init_args.face_crops.frames_per_video must be >= 1 or null, got {frames_per_video}"
            )
        if num_workers is not None and num_workers < 0:
            raise SuiteError(f"data.init_args.face_crops.num_workers must be >= 0, got {num_workers}")
        self.detector = detector
        self.frames_per_video = frames_per_video
        self.stores = None if stores is None else Path(stores)
        self.detector_model = detector_model
        self.min_frames = min_frames
        self.detect_max_side = detect_max_side
        self.smooth_window = smooth_window
        self.num_workers = num_workers

    def params(self, frame_size: int, face_margin: float, frames_read: int | None) -> CropParams:
        """The crop parameters for a datamodule reading ``frames_read`` frames per video (None: all)."""
        try:
            return CropParams(
                frame_size=frame_size,
                frames_per_video=self.frames_per_video if self.frames_per_video is not None else frames_read,
                detector=self.detector,
                detector_model=self.detector_model,
                face_margin=face_margin,
                min_frames=self.min_frames,
                detect_max_side=self.detect_max_side,
                smooth_window=self.smooth_window,
            )
        except ValueError as error:
            raise SuiteError(f"data.init_args.face_crops: {error}") from None

    def prepare(self, source: VideoSource, params: CropParams) -> None:
        """Build (or finish) the store of every dataset ``source`` reads."""
        for leaf in _leaves(source):
            if isinstance(leaf, CropStoreSource):
                continue
            leaf.prepare()
            build_store(leaf, self.store_path(leaf, params), params, self.num_workers, progress=True)

    def cropped(self, source: VideoSource, params: CropParams) -> VideoSource:
        """``source`` with every dataset read from its store (built by :meth:`prepare`)."""
        if isinstance(source, CropStoreSource):
            return source
        if isinstance(source, CombinedSource):
            return CombinedSource([self.cropped(s, params) for s in source.sources], source.splits)
        store = self.store_path(source, params)
        if not (store / MANIFEST_NAME).is_file():
            raise SuiteError(
                f"the face-crop store {store} of {type(source).__name__} is missing or unfinished: "
                "the datamodule's prepare_data builds it (run fit/test through the CLI, or call "
                "prepare_data() before setup())"
            )
        return CropStoreSource(str(store))

    def store_path(self, source: VideoSource, params: CropParams) -> Path:
        """``<stores>/<dataset>-<size>px-<key>``: one store per (manifest, crop parameters)."""
        folder = self.stores
        if folder is None:
            root = getattr(source, "root", None)
            folder = Path(root).parent / "stores" if root is not None else Path("data/stores")
        records = source.records()
        if not records:
            raise SuiteError(f"{type(source).__name__} has no videos to crop faces from")
        datasets = sorted({r.dataset for r in records})
        name = re.sub(r"[^A-Za-z0-9._+-]+", "_", "+".join(datasets))[:60]
        return folder / f"{name}-{params.frame_size}px-{_manifest_key(records, params)}"


def _leaves(source: VideoSource) -> list[VideoSource]:
    if isinstance(source, CombinedSource):
        return [leaf for child in source.sources for leaf in _leaves(child)]
    return [source]


def _manifest_key(records: list[VideoRecord], params: CropParams) -> str:
    # n_frames is left out: sources fill it lazily, and the store records its own counts.
    rows = sorted(
        (r.video_id, str(r.path), r.label, r.method, r.dataset, r.split, r.compression, r.identity)
        for r in (replace(r, n_frames=0) for r in records)
    )
    payload = json.dumps({"params": params.as_dict(), "videos": rows}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]
