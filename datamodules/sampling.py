"""Which frames of a video form a clip."""

from __future__ import annotations

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
