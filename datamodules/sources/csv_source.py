"""Any list of videos in a CSV file: HifiFace, DF-Mobio, the user's own videos."""

from __future__ import annotations

import csv
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from datamodules.sources.base import FAKE, REAL, SPLITS, VideoRecord, VideoSource
from datamodules.sources.common import config_key, require_dir, require_file
from deepfake_suite.errors import SuiteError

REQUIRED_COLUMNS = ("path", "label", "split")
OPTIONAL_COLUMNS = ("method", "identity", "dataset", "compression", "n_frames")
# Spelled-out labels as well as digits, since dataset lists use both; anything else
# (true/false, yes/no, -1) is ambiguous about which class is positive and refused.
LABELS = {"1": FAKE, "fake": FAKE, "0": REAL, "real": REAL}


class CsvSource(VideoSource):
    """Videos listed in a CSV file, one row per video.

    Columns (header required, order free, extra columns ignored):

    * ``path`` (required): the video file, or a folder of frame images, relative to ``root``
      (absolute paths also work).
    * ``label`` (required): ``1``/``fake`` or ``0``/``real``, any case. 1 = fake.
    * ``split`` (required): ``train``, ``val`` or ``test``, any case.
    * ``method``: manipulation method of a fake (default ``fake``); reals are ``original``
      (empty, or ``original``: any other method on a real row is refused, it would create a
      bogus attribution class).
    * ``identity``: the person shown (default empty = unknown).
    * ``dataset``: default ``dataset_name``.
    * ``compression``: default ``unknown``.
    * ``n_frames``: frame count if known (default 0 = probe the file).

    ``video_id`` is ``<dataset>/<method>/<compression>/<path without extension>``; two rows
    for the same file are an error naming both lines. Files that do not exist are an error
    naming the line (``missing_files: error``, default, since a silently shorter test set
    changes every number) or skipped with one warning (``missing_files: skip``).

    Args:
        csv_path: The CSV file.
        root: Folder the ``path`` column is relative to; defaults to the CSV's folder.
        dataset_name: Dataset name for rows without a ``dataset`` value.
        missing_files: ``error`` or ``skip`` for rows whose file does not exist.
        identity_disjoint: Promise that no identity is in two splits; the datamodule then
            checks it and refuses manifests where a test identity is in train or val.
    """

    def __init__(
        self,
        csv_path: str,
        root: str | None = None,
        dataset_name: str = "csv",
        missing_files: Literal["error", "skip"] = "error",
        identity_disjoint: bool = False,
    ) -> None:
        if missing_files not in ("error", "skip"):
            raise SuiteError(
                f"{config_key('missing_files')} must be 'error' or 'skip', got {missing_files!r}"
            )
        self.csv_path = Path(csv_path)
        self.root = Path(root) if root is not None else self.csv_path.parent
        self.dataset_name = dataset_name
        self.missing_files = missing_files
        self.identity_disjoint = identity_disjoint

    def records(self) -> list[VideoRecord]:
        require_file(self.csv_path, "csv_path", "video list")
        require_dir(self.root, "root", "video folder")
        with self.csv_path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's BOM
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise SuiteError(
                    f"{self.csv_path} lacks the columns {', '.join(missing)} "
                    f"(required: {', '.join(REQUIRED_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)})"
                )
            rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
        records: list[VideoRecord] = []
        line_of: dict[str, int] = {}  # video ids and resolved paths seen so far
        absent: list[str] = []
        for line, row in enumerate(rows, start=2):
            record = self._record(row, line)
            if not (record.path.is_file() or record.path.is_dir()):
                if self.missing_files == "error":
                    raise SuiteError(
                        f"{self.csv_path}, line {line}: {record.path} does not exist (paths are relative to "
                        f"{self.root}; set {config_key('root')}, or {config_key('missing_files')}=skip)"
                    )
                absent.append(row["path"])
                continue
            for key, what in ((record.video_id, "video_id"), (str(record.path), "file")):
                if key in line_of:
                    raise SuiteError(
                        f"{self.csv_path}, lines {line_of[key]} and {line}: the same {what} {key}"
                    )
                line_of[key] = line
            records.append(record)
        if absent:
            warnings.warn(
                f"skipping {len(absent)} rows of {self.csv_path} whose files are missing, e.g. {absent[0]}",
                stacklevel=2,
            )
        if not records:
            raise SuiteError(f"{self.csv_path} lists no usable video")
        return records

    def _record(self, row: Mapping[str, str], line: int) -> VideoRecord:
        where = f"{self.csv_path}, line {line}"
        label = LABELS.get(row["label"].lower())
        if label is None:
            raise SuiteError(f"{where}: label must be 1/fake or 0/real, got {row['label']!r}")
        split = row["split"].lower()
        if split not in SPLITS:
            raise SuiteError(f"{where}: split must be one of {', '.join(SPLITS)}, got {row['split']!r}")
        if not row["path"]:
            raise SuiteError(f"{where}: empty path")
        method = row.get("method", "") or ("original" if label == REAL else "fake")
        if (label == REAL) != (method == "original"):
            raise SuiteError(
                f"{where}: method {method!r} contradicts label {row['label']!r} (reals are 'original')"
            )
        n_frames = row.get("n_frames", "") or "0"
        if not n_frames.isdigit():
            raise SuiteError(f"{where}: n_frames must be a non-negative integer, got {n_frames!r}")
        dataset = row.get("dataset", "") or self.dataset_name
        compression = row.get("compression", "") or "unknown"
        name = Path(row["path"]).with_suffix("").as_posix().lstrip("/")
        return VideoRecord(
            video_id=f"{dataset}/{method}/{compression}/{name}",
            path=(self.root / row["path"]).resolve(),
            label=label,
            method=method,
            dataset=dataset,
            split=split,
            compression=compression,
            identity=row.get("identity", ""),
            n_frames=int(n_frames),
        )
