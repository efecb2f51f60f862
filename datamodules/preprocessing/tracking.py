"""Follow the main face of a video through per-frame detections.

Detections are linked into tracks by IoU with each track's latest box; the main face is the
track with the largest summed box side (big and present in many frames beats a brief false
positive or a small face in the background). Frames where it was not detected get a box
interpolated between the nearest detected frames (or the nearest one at the ends), then a
centred moving average smooths the jitter detectors have from frame to frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from datamodules.preprocessing.detectors import Detection


@dataclass(frozen=True)
class FaceTrack:
    """The main face of a video.

    Attributes:
        boxes: float64 (T, 4) ``(x0, y0, x1, y1)`` per frame, filled and smoothed.
        detected: bool (T,), True where the face was detected rather than filled in.
    """

    boxes: np.ndarray
    detected: np.ndarray


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1, ...)`` boxes (0 when either is empty)."""
    inter_w = min(a[2], b[2]) - max(a[0], b[0])
    inter_h = min(a[3], b[3]) - max(a[1], b[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def link_tracks(detections: Sequence[Sequence[Detection]], min_iou: float) -> list[dict[int, Detection]]:
    """Greedy IoU linking: each frame's detections join the tracks whose latest box they overlap most.

    Pairs are taken in decreasing IoU, each track and detection at most once per frame; an
    unmatched detection starts a new track. A track may skip frames (missed detections).

    Returns:
        Tracks as ``{frame position: detection}``.
    """
    tracks: list[dict[int, Detection]] = []
    last: list[Detection] = []
    for t, frame_detections in enumerate(detections):
        pairs = sorted(
            (
                (iou(last[k], det), k, d)
                for k in range(len(tracks))
                for d, det in enumerate(frame_detections)
                if iou(last[k], det) >= min_iou
            ),
            key=lambda pair: (-pair[0], pair[1], pair[2]),
        )
        used_tracks: set[int] = set()
        used_detections: set[int] = set()
        for _, k, d in pairs:
            if k in used_tracks or d in used_detections:
                continue
            tracks[k][t] = last[k] = frame_detections[d]
            used_tracks.add(k)
            used_detections.add(d)
        for d, det in enumerate(frame_detections):
            if d not in used_detections and det[2] > det[0] and det[3] > det[1]:
                tracks.append({t: det})
                last.append(det)
    return tracks


def _track_weight(track: dict[int, Detection]) -> tuple[float, float]:
    side = sum(float(np.sqrt((d[2] - d[0]) * (d[3] - d[1]))) for d in track.values())
    return side, sum(d[4] for d in track.values())


def fill_gaps(known: Mapping[int, Sequence[float]], length: int) -> np.ndarray:
    """Boxes for every position in ``range(length)`` from the ``known`` ones.

    Between two known positions each coordinate is interpolated linearly; before the first
    and after the last the nearest known box is held.

    Returns:
        float64 (length, 4).
    """
    positions = np.array(sorted(known), dtype=np.float64)
    values = np.array([list(known[int(p)])[:4] for p in positions], dtype=np.float64)
    grid = np.arange(length, dtype=np.float64)
    return np.stack([np.interp(grid, positions, values[:, j]) for j in range(4)], axis=1)


def smooth_boxes(boxes: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of each coordinate over ``window`` frames (rounded up to odd).

    Near the ends the window shrinks symmetrically (frame ``t`` averages ``t - h .. t + h`` with
    ``h = min(window // 2, t, T - 1 - t)``), so a face moving at constant speed keeps its exact
    path instead of lagging behind at the first and last frames.

    Args:
        boxes: (T, 4).
        window: Frames averaged; 1 returns the boxes unchanged.
    """
    count = len(boxes)
    if window <= 1 or count <= 2:
        return boxes.copy()
    cumulative = np.concatenate([np.zeros((1, boxes.shape[1])), np.cumsum(boxes, axis=0)])
    positions = np.arange(count)
    half = np.minimum(np.minimum(window // 2, positions), count - 1 - positions)
    start, stop = positions - half, positions + half + 1
    return (cumulative[stop] - cumulative[start]) / (stop - start)[:, None]


def track_main_face(
    detections: Sequence[Sequence[Detection]], min_iou: float = 0.2, smooth_window: int = 5
) -> FaceTrack | None:
    """The main face's box in every frame, or None when no frame has a face.

    Args:
        detections: Per frame (T of them), the detector's ``(x0, y0, x1, y1, score)`` boxes.
        min_iou: Least IoU with a track's latest box to continue that track.
        smooth_window: Frames of the moving average (1 = none, for annotated boxes).
    """
    tracks = link_tracks(detections, min_iou)
    if not tracks:
        return None
    main = max(tracks, key=_track_weight)
    boxes = smooth_boxes(fill_gaps(main, len(detections)), smooth_window)
    detected = np.zeros(len(detections), dtype=bool)
    detected[list(main)] = True
    return FaceTrack(boxes=boxes, detected=detected)
