"""Constant-gap sequences from runs of frames where the face was found (temporal LSTM paper).

Lee, Kim and Yoon ("Deepfake detection using supervised temporal feature extraction model and
LSTM", Sec. 3, Dataset) skip frames where MTCNN found no face, which breaks the constant time gap
between the frames their extractor compares: "we used two-pointer algorithm to mark the intervals
of consecutive frames and selected frame sets that have constant interval", giving "sequences of
100 frames with consistent time gaps".

The face-crop store (:mod:`datamodules.crop_store`) keeps a crop for every sampled frame and marks
in its sidecar whether the face was ``detected`` there or its box interpolated. Here:

- :func:`face_runs` finds, with two pointers, the maximal runs of stored crops where the face was
  detected *and* the step between their source frames (``frame_indices``) stays constant;
- :func:`face_run_starts` lays windows of ``clip_len`` crops ``frame_gap`` apart back to back
  inside each run (a run shorter than one window gives none), so a window never contains or
  steps over a missed frame and its source frames are equally spaced;
- :func:`face_run_windows` returns them as :func:`datamodules.sampling.clip_windows` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_suite.errors import SuiteError


def face_runs(
    detected: Sequence[bool] | np.ndarray, frame_indices: Sequence[int] | np.ndarray | None = None
) -> list[tuple[int, int]]:
    """Maximal runs ``[start, stop)`` of stored crops with a detected face and a constant source step.

    The left pointer waits on the next detected crop; the right pointer extends the run while the
    crop there is detected and its source frame follows the previous one by the run's step (the
    first step of the run). A change of step closes the run and the next one starts at the run's
    last crop, which belongs to both; a missed face closes it and the next run starts after it.

    Args:
        detected: (T,) bool per stored crop, True where the face was detected.
        frame_indices: (T,) strictly increasing source frame number of each stored crop; ``None``
            means the crops are consecutive frames (step 1 everywhere).

    Returns:
        The runs in order, each at least one crop long.

    Raises:
        ValueError: ``frame_indices`` of another length, or not strictly increasing.

    Example:
        >>> face_runs([True, True, False, True, True, True], [0, 1, 2, 3, 4, 6])
        [(0, 2), (3, 5), (4, 6)]
    """
    found = np.asarray(detected, dtype=bool).reshape(-1)
    if frame_indices is None:
        steps = np.ones(max(len(found) - 1, 0), dtype=np.int64)
    else:
        source = np.asarray(frame_indices, dtype=np.int64).reshape(-1)
        if source.shape != found.shape:
            raise ValueError(
                f"frame_indices has {len(source)} entries but detected has {len(found)}: one per stored crop"
            )
        steps = np.diff(source)
        if (steps <= 0).any():
            raise ValueError("frame_indices must be strictly increasing")
    runs: list[tuple[int, int]] = []
    left, n = 0, len(found)
    while left < n:
        if not found[left]:
            left += 1
            continue
        right = left + 1
        while right < n and found[right] and steps[right - 1] == steps[left]:
            right += 1
        runs.append((left, right))
        # Closed by a step change: the run's last crop starts the next run with the new step.
        left = right - 1 if right < n and found[right] and right - 1 > left else right
    return runs


def face_run_starts(
    detected: Sequence[bool] | np.ndarray,
    clip_len: int,
    frame_gap: int = 1,
    frame_indices: Sequence[int] | np.ndarray | None = None,
    max_windows: int | None = None,
) -> np.ndarray:
    """Start positions (into the stored crops) of windows that lie wholly inside one face run.

    A window covers crops ``start, start + frame_gap, ..., start + (clip_len - 1) * frame_gap``;
    it spans ``(clip_len - 1) * frame_gap + 1`` crops, all inside one run of :func:`face_runs`,
    so its source frames are ``frame_gap * step`` apart. Windows fill each run back to back from
    its start, without overlap, as the paper cuts its runs into separate "sets of frames".

    Args:
        detected: (T,) bool per stored crop.
        clip_len: Crops per window (the paper: 100).
        frame_gap: Step between the crops of a window, in stored crops.
        frame_indices: (T,) source frame of each stored crop, see :func:`face_runs`.
        max_windows: Keep at most this many, spread evenly over all windows (in time order);
            ``None`` keeps every window.

    Returns:
        int64 (W,) ascending start positions; empty when no run holds a whole window.

    Raises:
        ValueError: non-positive ``clip_len``, ``frame_gap`` or ``max_windows``, or bad
            ``frame_indices``.

    Example:
        >>> face_run_starts([True] * 7 + [False] + [True] * 3, clip_len=3)
        array([0, 3, 8])
    """
    if clip_len < 1 or frame_gap < 1:
        raise ValueError(f"clip_len and frame_gap must be >= 1, got {clip_len} and {frame_gap}")
    if max_windows is not None and max_windows < 1:
        raise ValueError(f"max_windows must be >= 1 or None, got {max_windows}")
    span = (clip_len - 1) * frame_gap + 1
    starts = [
        start
        for run_start, run_stop in face_runs(detected, frame_indices)
        for start in range(run_start, run_stop - span + 1, span)
    ]
    chosen = np.asarray(starts, dtype=np.int64)
    if max_windows is not None and len(chosen) > max_windows:
        chosen = chosen[np.unique(np.rint(np.linspace(0, len(chosen) - 1, max_windows)).astype(np.int64))]
    return chosen


def face_run_windows(
    detected: Sequence[bool] | np.ndarray,
    clip_len: int,
    frame_gap: int = 1,
    frame_indices: Sequence[int] | np.ndarray | None = None,
    max_windows: int | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The windows of :func:`face_run_starts` as ``(indices, mask)`` pairs, like ``clip_windows``.

    Returns:
        Per window, int64 (clip_len,) positions into the stored crops and an all-True bool mask
        (a window is never padded); an empty list when the video has no run long enough, and the
        video then gives no clip (the paper leaves such frames out of its data set).
    """
    offsets = np.arange(clip_len, dtype=np.int64) * frame_gap
    return [
        (start + offsets, np.ones(clip_len, dtype=bool))
        for start in face_run_starts(detected, clip_len, frame_gap, frame_indices, max_windows)
    ]


def face_track(
    sidecar: dict[str, Any], path: str | Path, n_stored: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(detected, frame_indices)`` of a face-crop store's per-video JSON, checked.

    Args:
        sidecar: The parsed ``<stem>.json`` written by ``deepfake-suite preprocess``.
        path: The video's ``.npy`` (or the JSON), named in errors.
        n_stored: Number of stored crops, when known, to check the lists against.

    Raises:
        SuiteError: No ``detected`` list (not a face-crop store, or one written before it was
            recorded), or lists whose lengths disagree.
    """
    if "detected" not in sidecar or "frame_indices" not in sidecar:
        raise SuiteError(
            f"{Path(path).with_suffix('.json')} has no 'detected'/'frame_indices': clip_sampling "
            "face_runs needs a face-crop store written by `deepfake-suite preprocess`"
        )
    detected = np.asarray(sidecar["detected"], dtype=bool)
    frame_indices = np.asarray(sidecar["frame_indices"], dtype=np.int64)
    expected = len(detected) if n_stored is None else n_stored
    if len(detected) != expected or len(frame_indices) != expected:
        raise SuiteError(
            f"{Path(path).with_suffix('.json')}: {len(detected)} 'detected' and {len(frame_indices)} "
            f"'frame_indices' entries for {expected} stored crops"
        )
    return detected, frame_indices
