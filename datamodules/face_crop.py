"""Square face crops with a margin, from a box per frame or the frame centre."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np


def square_crop_box(
    box: tuple[float, float, float, float] | None, width: int, height: int, margin: float
) -> tuple[int, int, int, int]:
    """The square ``(x0, y0, x1, y1)`` around ``box`` enlarged by ``margin`` of its longer side.

    Without a box the largest centred square is used. The result may extend past the frame;
    :func:`crop_and_resize` pads that part with black rather than shifting the face off-centre.
    """
    if box is None:
        square = min(width, height)
        left, top = (width - square) // 2, (height - square) // 2
        return left, top, left + square, top + square
    bx0, by0, bx1, by1 = (float(v) for v in box)
    side = max(bx1 - bx0, by1 - by0) * (1.0 + margin)
    cx, cy = (bx0 + bx1) / 2.0, (by0 + by1) / 2.0
    x0, y0 = round(cx - side / 2.0), round(cy - side / 2.0)
    side_px = max(1, round(side))
    return x0, y0, x0 + side_px, y0 + side_px


def crop_and_resize(frame: np.ndarray, crop: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Cut ``crop`` out of an (H, W, 3) frame, padding outside the frame, and resize to (size, size, 3)."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = crop
    pad = max(0, -x0, -y0, x1 - width, y1 - height)
    if pad:
        frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    patch = frame[y0:y1, x0:x1]
    interpolation = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)


def warn_without_face_boxes(paths: Sequence[Path], total: int) -> None:
    """Warn once that ``paths`` (of ``total`` videos) have no face boxes and will be centre-cropped.

    Real datasets' videos show a whole scene: without boxes (a preprocessed crop store, or a
    sidecar ``<video>.json`` as the synthetic set ships) a detector would be trained on the
    largest centred square of each frame instead of the face, and its numbers would not be the
    papers'. Training still goes on, so that a user with pre-cropped face videos is not stopped.
    """
    if not paths:
        return
    warnings.warn(
        f"{len(paths)} of {total} videos have no face boxes (no crop store, no "
        f"{paths[0].with_suffix('.json').name} beside {paths[0]}): their frames are centre-cropped, "
        "not cut around the face. Unless they are face crops already, run `deepfake-suite preprocess` "
        "and train on its store (datamodules.sources.CropStoreSource; README, 'Preprocessing').",
        stacklevel=3,
    )
