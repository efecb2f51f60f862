"""DFDC (the full Deepfake Detection Challenge release): train parts plus the labelled public test set."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from datamodules.sources.base import FAKE, REAL, VideoRecord, VideoSource
from datamodules.sources.common import (
    check_fractions,
    config_key,
    group_split,
    require_dir,
    require_file,
    warn_missing,
)
from deepfake_suite.errors import SuiteError

_PART = re.compile(r"^dfdc_train_part_(\d+)$")
_LABELS = {"REAL": REAL, "FAKE": FAKE}


def read_metadata(path: Path) -> dict[str, tuple[int, str]]:
    """A part's ``metadata.json`` as ``{file name: (label, original file name or "")}``.

    Raises:
        SuiteError: naming the file, when it is not JSON, not an object of objects, or an entry
            lacks an upper-case ``REAL``/``FAKE`` label.
    """
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SuiteError(f"cannot read DFDC metadata {path}: {error}") from None
    if not isinstance(metadata, dict):
        raise SuiteError(f"DFDC metadata {path} must be a JSON object mapping file names to entries")
    entries = {}
    for name, entry in metadata.items():
        if not isinstance(entry, dict) or entry.get("label") not in _LABELS:
            raise SuiteError(
                f'DFDC metadata {path}, entry {name!r}: expected {{"label": "REAL"|"FAKE", ...}}, '
                f"got {entry!r}"
            )
        original = entry.get("original") or ""
        if not isinstance(original, str):
            raise SuiteError(
                f"DFDC metadata {path}, entry {name!r}: 'original' must be a file name, got {original!r}"
            )
        entries[name] = (_LABELS[entry["label"]], original)
    return entries


def read_test_labels(path: Path) -> dict[str, int]:
    """The public test set's ``filename,label`` CSV (label 1 = fake, 0 = real)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not {"filename", "label"} <= set(reader.fieldnames or []):
            raise SuiteError(
                f"DFDC test labels {path} must have the columns filename,label, got {reader.fieldnames}"
            )
        labels = {}
        for line, row in enumerate(reader, start=2):
            if row["label"].strip() not in ("0", "1"):
                raise SuiteError(
                    f"{path}, line {line}: label must be 0 (real) or 1 (fake), got {row['label']!r}"
                )
            labels[row["filename"].strip()] = int(row["label"])
    return labels


class DFDCSource(VideoSource):
    """DFDC: ``dfdc_train_part_N`` folders for training, the labelled public test set for test.

    Layout (as released)::

        <root>/dfdc_train_part_0/metadata.json   {"x.mp4": {"label": "FAKE", "original": "y.mp4", ...}}
        <root>/dfdc_train_part_0/x.mp4
        <root>/<test_dir>/<video>.mp4, <root>/<test_dir>/<test_labels>   filename,label (1 = fake)

    Splits: the test set is ``test``. Validation is carved from the train parts by whole
    parts (``val_parts``, or a hash-ranked ``val_fraction`` of the parts for ``seed``), and a
    fake always goes with its original: when the original lives in another part, the fake
    follows the original's split, so a model is never validated on a fake of a video it
    trained on. DFDC publishes no actor ids, so identities are unknown (``identity`` is empty)
    and the split cannot be identity-disjoint (``identity_disjoint = False``; parts roughly
    group recording sessions, which is why whole parts are used).

    Fakes are one attribution class, ``fake``: the public metadata does not name the method.
    Videos in a ``metadata.json`` but missing on disk are skipped with one warning; a
    missing or malformed ``metadata.json`` is an error naming the file.

    Args:
        root: Folder holding the ``dfdc_train_part_N`` folders.
        test_dir: Folder of the public test videos, relative to ``root`` unless absolute;
            ``null`` for no test split.
        test_labels: The test set's ``filename,label`` CSV, relative to ``test_dir`` unless
            absolute.
        parts: Part numbers to read (train and val come from these only), e.g. ``[0, 1]`` for
            a study that used a fraction of DFDC; ``null`` reads every part under ``root``.
        val_parts: Part numbers used for val; overrides ``val_fraction``.
        val_fraction: Share of the parts used for val when ``val_parts`` is not given.
        seed: Seed of the part choice.
        dataset_name: Name used in video ids and results.
    """

    def __init__(
        self,
        root: str,
        test_dir: str | None = "test",
        test_labels: str = "labels.csv",
        parts: list[int] | None = None,
        val_parts: list[int] | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        dataset_name: str = "DFDC",
    ) -> None:
        check_fractions(val_fraction, 0.0)
        self.root = Path(root)
        self.test_dir = self.root / test_dir if test_dir is not None else None
        self.test_labels = self.test_dir / test_labels if self.test_dir is not None else None
        self.parts = parts
        self.val_parts = val_parts
        self.val_fraction = val_fraction
        self.seed = seed
        self.dataset_name = dataset_name

    def records(self) -> list[VideoRecord]:
        require_dir(self.root, "root", "DFDC folder")
        parts = {int(m.group(1)): p for p in self.root.iterdir() if p.is_dir() and (m := _PART.match(p.name))}
        if not parts:
            raise SuiteError(f"no dfdc_train_part_N folders in {self.root} (set {config_key('root')})")
        if self.parts is not None:
            absent = sorted(set(self.parts) - set(parts))
            if absent:
                raise SuiteError(f"{config_key('parts')} names parts {absent} that are not in {self.root}")
            parts = {n: parts[n] for n in self.parts}
        part_split = self._part_splits(sorted(parts))
        metadata = {
            n: read_metadata(require_file(parts[n] / "metadata.json", "root", "DFDC metadata"))
            for n in sorted(parts)
        }
        # A fake goes where its original goes: reals first claim their name, fakes then look it up.
        split_of_original: dict[str, str] = {}
        for n in sorted(parts):
            for name, (label, _) in metadata[n].items():
                if label == REAL:
                    split_of_original.setdefault(name, part_split[n])
        records = []
        for n in sorted(parts):
            missing = []
            for name, (label, original) in sorted(metadata[n].items()):
                path = parts[n] / name
                if not path.is_file():
                    missing.append(name)
                    continue
                split = split_of_original.setdefault(original or name, part_split[n])
                records.append(self._record(path, label, split, parts[n].name))
            warn_missing(missing, str(parts[n]), str(parts[n] / "metadata.json"))
        return records + self._test_records()

    def _part_splits(self, numbers: list[int]) -> dict[int, str]:
        if self.val_parts is None:
            ranks = group_split((str(n) for n in numbers), self.val_fraction, 0.0, self.seed)
            return {n: ranks[str(n)] for n in numbers}
        unknown = sorted(set(self.val_parts) - set(numbers))
        if unknown:
            raise SuiteError(f"{config_key('val_parts')} names parts {unknown} that are not in {self.root}")
        return {n: "val" if n in self.val_parts else "train" for n in numbers}

    def _test_records(self) -> list[VideoRecord]:
        if self.test_dir is None or self.test_labels is None:
            return []
        require_dir(self.test_dir, "test_dir", "DFDC test folder")
        labels = read_test_labels(require_file(self.test_labels, "test_labels", "DFDC test labels"))
        present = {name for name in labels if (self.test_dir / name).is_file()}
        warn_missing(sorted(set(labels) - present), str(self.test_dir), str(self.test_labels))
        return [self._record(self.test_dir / name, labels[name], "test", "test") for name in sorted(present)]

    def _record(self, path: Path, label: int, split: str, folder: str) -> VideoRecord:
        method = "fake" if label == FAKE else "original"
        return VideoRecord(
            video_id=f"{self.dataset_name}/{method}/unknown/{folder}/{path.stem}",
            path=path.resolve(),
            label=label,
            method=method,
            dataset=self.dataset_name,
            split=split,
            compression="unknown",
            identity="",
            n_frames=0,
        )
