"""Which frames of a video form a clip."""

from __future__ import annotations

from typing import Literal

import numpy as np


def evenly_spaced_indices(n_frames: int, clip_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices spread over the whole video, and a mask of the real (unpadded) ones.

    Taking the first ``clip_len`` frames would show a model only a video's opening seconds;
    spacing them evenly covers the whole video. A video shorter than the clip repeats its last
    frame, as the dual-level paper pads, and the mask marks the repeats so that frame-level
    losses and metrics do not count them.

    Returns:
        ``(indices, mask)``, both of length ``clip_len``: int64 indices into the video and bool.
    """
    if n_frames <= 0:
        raise ValueError(f"a video needs at least one frame, got n_frames={n_frames}")
    if clip_len <= 0:
        raise ValueError(f"clip_len must be positive, got {clip_len}")
    if n_frames >= clip_len:
        # Rounding a linspace with step >= 1 never repeats an index.
        indices = np.rint(np.linspace(0, n_frames - 1, clip_len)).astype(np.int64)
        return indices, np.ones(clip_len, dtype=bool)
    indices = np.concatenate([np.arange(n_frames), np.full(clip_len - n_frames, n_frames - 1)])
    mask = np.arange(clip_len) < n_frames
    return indices.astype(np.int64), mask


ClipSampling = Literal["even", "consecutive", "face_runs"]
"""``face_runs`` needs a face-crop store's face track: :class:`~datamodules.clip_dataset.ClipDataset`
lays its windows with :func:`datamodules.face_runs.face_run_windows`."""


def clip_windows(
    n_frames: int,
    clip_len: int,
    sampling: ClipSampling = "even",
    frame_gap: int = 1,
    clips_per_video: int = 1,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The clips of one video: ``(indices, mask)`` per clip, each of length ``clip_len``.

    - ``even``: one clip of frames spread over the whole video (:func:`evenly_spaced_indices`);
      the dual-level paper's sampling. ``clips_per_video`` must be 1.
    - ``consecutive``: windows of ``clip_len`` frames ``frame_gap`` apart (a constant time gap,
      as the temporal LSTM paper takes its 100-frame sequences; ``frame_gap=1`` gives the MFoM
      paper's 20-frame subsequences of consecutive frames). Up to ``clips_per_video`` windows
      start at evenly spaced positions so that together they cover the video; windows may
      overlap when the video is short. A video shorter than one window gives a single window
      padded with its last frame and masked, like ``even``.

    Raises:
        ValueError: on non-positive sizes, or ``even`` with several clips per video.
    """
    if frame_gap < 1 or clips_per_video < 1:
        raise ValueError(f"frame_gap and clips_per_video must be >= 1, got {frame_gap} and {clips_per_video}")
    if sampling == "even":
        if clips_per_video != 1:
            raise ValueError("clips_per_video > 1 needs sampling='consecutive'")
        return [evenly_spaced_indices(n_frames, clip_len)]
    if sampling == "face_runs":
        raise ValueError(
            "sampling='face_runs' needs the face track of a face-crop store: see face_run_windows"
        )
    if sampling != "consecutive":
        raise ValueError(f"sampling must be 'even', 'consecutive' or 'face_runs', got {sampling!r}")
    if n_frames <= 0 or clip_len <= 0:
        raise ValueError(f"need n_frames > 0 and clip_len > 0, got {n_frames} and {clip_len}")
    span = (clip_len - 1) * frame_gap + 1
    offsets = np.arange(clip_len, dtype=np.int64) * frame_gap
    if n_frames < span:
        available = offsets[offsets < n_frames]
        indices = np.concatenate([available, np.full(clip_len - len(available), available[-1])])
        return [(indices.astype(np.int64), np.arange(clip_len) < len(available))]
    starts = np.unique(np.rint(np.linspace(0, n_frames - span, clips_per_video)).astype(np.int64))
    return [(start + offsets, np.ones(clip_len, dtype=bool)) for start in starts]
