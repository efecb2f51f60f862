"""Decoding videos with PyAV: frame counts and selected frames, with errors that name the file.

A "video" may also be a folder of frame images (VidTIMIT ships its videos as numbered JPEG
files without extension): its frames are the image files in natural order, decoded with OpenCV.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import av
import cv2
import numpy as np

from deepfake_suite.errors import SuiteError

# Frame files of a frame folder: images, or extension-less files as in VidTIMIT (001, 002, ...).
FRAME_EXTENSIONS = ("", ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class VideoDecodeError(SuiteError):
    """A video file is missing, empty, truncated or not a video."""


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise VideoDecodeError(f"video not found: {path}")
    if path.stat().st_size == 0:
        raise VideoDecodeError(f"cannot decode video {path}: the file is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise VideoDecodeError(f"cannot decode video {path}: {error}") from None
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"cannot decode video {path}: it has no video stream")
    return container


def frame_files(folder: Path) -> list[Path]:
    """The frame images of a frame folder, in natural order (``2`` before ``10``).

    Hidden files and files with other extensions (a ``.json`` sidecar, a ``.txt`` note) are
    not frames.
    """
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FRAME_EXTENSIONS
    ]
    files.sort(key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)])
    if not files:
        raise VideoDecodeError(f"cannot decode video {folder}: the frame folder holds no frame images")
    return files


def _read_frame(path: Path) -> np.ndarray:
    """One frame image as RGB uint8 (H, W, 3)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise VideoDecodeError(f"cannot decode video frame {path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def count_frames(path: Path) -> int:
    """Number of decodable frames.

    Container metadata is often missing or wrong (truncated downloads), so frames are decoded
    and counted; for the short clips of deepfake datasets this costs little and catches
    corrupt files before training starts instead of in the middle of an epoch. For a frame
    folder every image is decoded for the same reason.
    """
    if path.is_dir():
        files = frame_files(path)
        for file in files:
            _read_frame(file)
        return len(files)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count = sum(1 for _ in container.decode(stream))
    except av.error.FFmpegError as error:
        raise VideoDecodeError(f"cannot decode video {path}: {error}") from None
    finally:
        container.close()
    if count == 0:
        raise VideoDecodeError(f"cannot decode video {path}: no frames could be decoded")
    return count


def decode_frames(
    path: Path,
    indices: Sequence[int],
    transform: Callable[[np.ndarray, int], np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Decode the frames at ``indices`` (sorted, may repeat) as RGB uint8 arrays.

    ``transform(frame, index)`` is applied as each frame is decoded (e.g. a face crop), so a
    long high-resolution video never sits in memory whole. Frames past the real end of the
    video are left out: the caller pads and masks them.
    """
    wanted = sorted(set(int(i) for i in indices))
    if not wanted:
        return []
    decoded: dict[int, np.ndarray] = {}
    if path.is_dir():
        files = frame_files(path)
        for index in (i for i in wanted if 0 <= i < len(files)):
            rgb = _read_frame(files[index])
            decoded[index] = transform(rgb, index) if transform else rgb
        if not decoded:
            raise VideoDecodeError(f"cannot decode video {path}: no frames could be decoded")
        return [decoded[i] for i in indices if i in decoded]
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_wanted = 0
        for index, frame in enumerate(container.decode(stream)):
            if index == wanted[next_wanted]:
                rgb = frame.to_ndarray(format="rgb24")
                decoded[index] = transform(rgb, index) if transform else rgb
                next_wanted += 1
                if next_wanted == len(wanted):
                    break
    except av.error.FFmpegError as error:
        raise VideoDecodeError(f"cannot decode video {path}: {error}") from None
    finally:
        container.close()
    if not decoded:
        raise VideoDecodeError(f"cannot decode video {path}: no frames could be decoded")
    return [decoded[i] for i in indices if i in decoded]
