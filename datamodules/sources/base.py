"""The manifest row every dataset adapter produces, and the adapter interface."""

from __future__ import annotations

import csv
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from pathlib import Path

from deepfake_suite.errors import SuiteError

SPLITS = ("train", "val", "test")
REAL, FAKE = 0, 1


@dataclass(frozen=True)
class VideoRecord:
    """One video of a dataset.

    Attributes:
        video_id: Unique across every dataset and method: ``dataset/method/compression/name``
            (FF++ reuses ``000_003`` under every method, so a bare file name is not an id).
        path: Absolute path of the video file.
        label: 1 = fake, 0 = real.
        method: Manipulation method, ``original`` for reals.
        dataset: Dataset name.
        split: ``train``, ``val`` or ``test``.
        compression: e.g. ``raw``, ``c23``, ``c40``; ``unknown`` when the dataset does not say.
        identity: The person shown (target identity for fakes); empty when unknown.
        n_frames: Frame count; 0 when not known yet (the datamodule probes the file).
    """

    video_id: str
    path: Path
    label: int
    method: str
    dataset: str
    split: str
    compression: str
    identity: str
    n_frames: int


MANIFEST_COLUMNS = tuple(f.name for f in fields(VideoRecord))


class VideoSource(ABC):
    """A dataset adapter: turns a dataset folder into :class:`VideoRecord` rows.

    Subclasses are selected in configs by ``class_path`` under ``data.init_args.source``.
    """

    #: Whether the source promises that no identity appears in two splits; the datamodule
    #: then refuses manifests where a test identity also appears in train or val.
    identity_disjoint: bool = False

    def prepare(self) -> None:  # noqa: B027 - optional hook, most sources have nothing to do
        """Fetch or generate the data. Called once per node, before :meth:`records`."""

    @abstractmethod
    def records(self) -> list[VideoRecord]:
        """All videos of every split."""


def read_manifest(path: Path, root: Path) -> list[VideoRecord]:
    """Read a manifest CSV whose ``path`` column is relative to ``root``."""
    if not path.is_file():
        raise SuiteError(f"manifest not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(MANIFEST_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise SuiteError(f"manifest {path} lacks columns: {', '.join(sorted(missing))}")
        rows = list(reader)
    records = []
    for line, row in enumerate(rows, start=2):
        try:
            records.append(
                VideoRecord(
                    video_id=row["video_id"],
                    path=(root / row["path"]).resolve(),
                    label=int(row["label"]),
                    method=row["method"],
                    dataset=row["dataset"],
                    split=row["split"],
                    compression=row["compression"],
                    identity=row["identity"],
                    n_frames=int(row["n_frames"] or 0),
                )
            )
        except ValueError as error:
            raise SuiteError(f"manifest {path}, line {line}: {error}") from None
        if records[-1].label not in (REAL, FAKE) or records[-1].split not in SPLITS:
            raise SuiteError(
                f"manifest {path}, line {line}: label must be 0/1 and split one of {SPLITS}, got "
                f"label={row['label']!r} split={row['split']!r}"
            )
    return records
