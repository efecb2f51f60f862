"""The uploads to screen: finding them in a folder, and cropping their faces as training did.

A folder is walked recursively. Video files (:data:`~datamodules.sources.folder.VIDEO_EXTENSIONS`)
and frame folders (a folder of images and nothing else, as :mod:`datamodules.video_io` reads
them) are videos; a ``.json`` beside a video or frame folder of the same name is its annotation
sidecar; every other file is listed as skipped with its reason rather than ignored, so that an
operator sees every upload in the output. Hidden files are not uploads.

Faces are cropped by the suite's preprocessing pipeline
(:func:`datamodules.preprocessing.pipeline.build_store`) into a temporary face-crop store, with
the crop parameters of the store the model was trained on, or, for a model trained on raw
videos, the datamodule's crop size and margin. The store is deleted after scoring.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from datamodules.sources.base import REAL, VideoRecord, VideoSource
from datamodules.sources.folder import VIDEO_EXTENSIONS
from datamodules.video_io import FRAME_EXTENSIONS
from deepfake_suite.errors import SuiteError

IMAGE_EXTENSIONS = tuple(ext for ext in FRAME_EXTENSIONS if ext)
UPLOAD_PREFIX = "upload/"


@dataclass(frozen=True)
class Rejected:
    """A file under the uploads folder that is not scored, and why."""

    path: Path
    reason: str


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def is_frame_folder(folder: Path) -> bool:
    """A folder of frame images only: image files (or VidTIMIT's numbered files), no sub-folders."""
    entries = _visible(folder)
    if not entries or any(p.is_dir() or p.suffix.lower() in VIDEO_EXTENSIONS for p in entries):
        return False
    return any(p.suffix.lower() in IMAGE_EXTENSIONS or (not p.suffix and p.name.isdigit()) for p in entries)


def find_uploads(root: Path, exclude: frozenset[Path] = frozenset()) -> tuple[list[Path], list[Rejected]]:
    """Videos and frame folders under ``root``, and the other files with the reason they are skipped.

    Args:
        root: The uploads folder, or a single video file.
        exclude: Files never listed (the command's own outputs when written inside ``root``).

    Returns:
        ``(videos, rejected)``, each sorted by path.

    Raises:
        SuiteError: ``root`` does not exist.
    """
    if root.is_file():
        if root.suffix.lower() in VIDEO_EXTENSIONS:
            return _checked([root], [])
        return [], [Rejected(root, f"not a video file ({root.suffix or 'no extension'})")]
    if not root.is_dir():
        raise SuiteError(f"--videos: no such folder or file: {root}")
    videos: list[Path] = []
    rejected: list[Rejected] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        entries = _visible(folder)
        names = {p.stem for p in entries if p.suffix.lower() in VIDEO_EXTENSIONS}
        for entry in entries:
            if entry.is_dir():
                if is_frame_folder(entry):
                    videos.append(entry)
                    names.add(entry.name)
                else:
                    pending.append(entry)
        for entry in entries:
            if entry.is_dir() or entry.resolve() in exclude:
                continue
            if entry.suffix.lower() in VIDEO_EXTENSIONS:
                videos.append(entry)
            elif not (entry.suffix.lower() == ".json" and entry.stem in names):
                rejected.append(Rejected(entry, f"not a video file ({entry.suffix or 'no extension'})"))
    return _checked(sorted(videos), sorted(rejected, key=lambda r: r.path))


def _checked(videos: list[Path], rejected: list[Rejected]) -> tuple[list[Path], list[Rejected]]:
    """Move zero-byte files to ``rejected`` before a decoder sees them."""
    kept = []
    for video in videos:
        if video.is_file() and video.stat().st_size == 0:
            rejected.append(Rejected(video, "zero-byte file"))
        else:
            kept.append(video)
    return kept, sorted(rejected, key=lambda r: r.path)


class UploadSource(VideoSource):
    """The uploads as a :class:`VideoSource` (split ``test``, label unknown), for the crop pipeline.

    Video ids are ``upload/<path relative to root>``, extension included, so that ``a.mp4`` and
    ``a.avi`` stay two videos. The label is a placeholder (0): nothing reads it.

    Args:
        root: The uploads folder (a single file's parent for a single video).
        videos: The videos and frame folders under ``root``.
    """

    def __init__(self, root: Path, videos: list[Path]) -> None:
        self.root = root
        self.videos = videos

    def video_id(self, path: Path) -> str:
        return UPLOAD_PREFIX + path.relative_to(self.root).as_posix()

    def records(self) -> list[VideoRecord]:
        return [
            VideoRecord(
                video_id=self.video_id(path),
                path=path.resolve(),
                label=REAL,
                method="original",
                dataset="upload",
                split="test",
                compression="unknown",
                identity="",
                n_frames=0,
            )
            for path in self.videos
        ]


@dataclass(frozen=True)
class CroppedUploads:
    """What the crop pipeline made of the uploads.

    Attributes:
        records: Videos with crops: ``path`` is the ``.npy`` of crops, ``n_frames`` their count.
        frame_indices: ``video_id ->`` the source frame index of each stored crop.
        skipped: ``video_id ->`` why no crops were made.
    """

    records: list[VideoRecord]
    frame_indices: dict[str, list[int]]
    skipped: dict[str, str]


def crop_uploads(
    source: UploadSource, store: Path, params: Any, num_workers: int | None, progress: bool
) -> CroppedUploads:
    """Crop the main face of every upload into the new face-crop store ``store``.

    Args:
        source: The uploads.
        store: A folder that does not exist yet.
        params: :class:`datamodules.preprocessing.CropParams`.
        num_workers: Worker processes (0: in this process; ``None``: every core).
        progress: Show the pipeline's progress bar and counts.
    """
    from datamodules.crop_store import CROPS_DIR, CropStoreSource, crop_file_stem
    from datamodules.preprocessing.pipeline import build_store

    build_store(source, store, params, num_workers=num_workers, progress=progress)
    stored = {r.video_id: r for r in CropStoreSource(str(store)).records()}
    frame_indices: dict[str, list[int]] = {}
    skipped: dict[str, str] = {}
    for record in source.records():
        outcome = json.loads((store / CROPS_DIR / f"{crop_file_stem(record.video_id)}.json").read_text())
        if outcome.get("status") == "done" and record.video_id in stored:
            frame_indices[record.video_id] = [int(i) for i in outcome["frame_indices"]]
        else:
            skipped[record.video_id] = skip_reason(str(outcome.get("reason", "no crops")), record.path)
    records = [replace(r, split="test") for vid, r in sorted(stored.items()) if vid in frame_indices]
    return CroppedUploads(records, frame_indices, skipped)


_CATEGORIES = (
    ("the file is empty", "zero-byte file"),
    ("cannot decode", "unreadable"),
    ("not a readable image", "unreadable"),
    ("no face boxes", "no face boxes"),
    ("no face found", "no face"),
    ("fewer than min_frames", "too few frames"),
)


def skip_reason(message: str, path: Path) -> str:
    """``<category>: <detail>`` from a pipeline message, without the path the CSV row already gives."""
    detail = re.sub(r"\s+", " ", message.replace(str(path), path.name)).strip()
    for needle, category in _CATEGORIES:
        if needle in message:
            return detail if detail.startswith(category) else f"{category}: {detail}"
    return detail
