"""Decoding videos with PyAV: frame counts and selected frames, with errors that name the file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import av
import numpy as np

from deepfake_suite.errors import SuiteError


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


def count_frames(path: Path) -> int:
    """Number of decodable frames.

    Container metadata is often missing or wrong (truncated downloads), so frames are decoded
    and counted; for the short clips of deepfake datasets this costs little and catches
    corrupt files before training starts instead of in the middle of an epoch.
    """
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
