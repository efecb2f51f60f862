"""Any folder of videos laid out as ``<root>/<split>/<real|fake>/.../<video>``."""

from __future__ import annotations

from pathlib import Path

from datamodules.sources.base import FAKE, REAL, SPLITS, VideoRecord, VideoSource
from deepfake_suite.errors import SuiteError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")


class FolderSource(VideoSource):
    """Videos sorted into split and class folders, for datasets without a dedicated adapter.

    ``<root>/train/real/a.mp4``, ``<root>/test/fake/<method>/b.mp4`` ... A sub-folder under
    ``fake/`` names the manipulation method. A ``<video>.json`` sidecar with per-frame face
    ``boxes`` is used when present; otherwise the centred square of each frame is the crop,
    which only suits videos that are already face crops.

    Args:
        root: Dataset folder.
        dataset_name: Name used in video ids; defaults to the folder name.
        compression: Compression tag recorded in the manifest.
    """

    def __init__(self, root: str, dataset_name: str | None = None, compression: str = "unknown") -> None:
        self.root = Path(root)
        self.dataset_name = dataset_name or self.root.name
        self.compression = compression

    def records(self) -> list[VideoRecord]:
        if not self.root.is_dir():
            raise SuiteError(f"data folder not found: {self.root} (set data.init_args.source.init_args.root)")
        records = []
        for split in SPLITS:
            for class_name, label in (("real", REAL), ("fake", FAKE)):
                class_dir = self.root / split / class_name
                for path in sorted(class_dir.rglob("*")) if class_dir.is_dir() else []:
                    if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file():
                        records.append(self._record(path, class_dir, split, label))
        if not records:
            raise SuiteError(
                f"no videos under {self.root}: expected <split>/<real|fake>/<video> with split in "
                f"{SPLITS} and extensions {VIDEO_EXTENSIONS}"
            )
        return records

    def _record(self, path: Path, class_dir: Path, split: str, label: int) -> VideoRecord:
        relative = path.relative_to(class_dir)
        method = "original" if label == REAL else (relative.parts[0] if len(relative.parts) > 1 else "fake")
        name = relative.with_suffix("").as_posix()
        return VideoRecord(
            video_id=f"{self.dataset_name}/{split}/{method}/{self.compression}/{name}",
            path=path.resolve(),
            label=label,
            method=method,
            dataset=self.dataset_name,
            split=split,
            compression=self.compression,
            identity="",
            n_frames=0,
        )
