"""One video -> its main face's crops: decode, detect, track, crop, resize."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datamodules.face_crop import crop_and_resize, square_crop_box
from datamodules.preprocessing.detectors import Detection, DetectorName, FaceDetector, detect_downscaled
from datamodules.preprocessing.tracking import track_main_face
from datamodules.sampling import evenly_spaced_indices
from datamodules.video_io import VideoDecodeError, count_frames, decode_frames
from deepfake_suite.errors import SuiteError

KEEP_FRAMES_BYTES = 256 * 2**20
"""Decoded frames up to this size stay in memory between detection and cropping; longer or
larger videos are decoded a second time instead, so a worker never holds a whole 1080p video."""

TRACK_MIN_IOU = 0.2


class SkipVideo(SuiteError):
    """A readable video that yields no crops (no face, too few frames); the message is the reason."""


@dataclass(frozen=True)
class CropParams:
    """What determines the crops of a video (recorded in ``store.json``).

    Attributes:
        frame_size: Side of the square crops (64, 224, 256 and 299 in the papers).
        frames_per_video: Evenly spaced frames kept per video; None keeps every frame.
        detector: Detector name (``datamodules.preprocessing.detectors.DETECTORS``).
        detector_model: Model file of the detector (CenterFace ONNX, Haar cascade XML) or None.
        face_margin: Crop margin around the face box, as a fraction of its longer side.
        min_frames: Videos with fewer decodable frames are skipped.
        detect_max_side: Frames are shrunk to this longer side for detection (None: never).
        smooth_window: Frames of the moving average over the face boxes.
    """

    frame_size: int = 64
    frames_per_video: int | None = 32
    detector: DetectorName = "haar"
    detector_model: str | None = None
    face_margin: float = 0.3
    min_frames: int = 2
    detect_max_side: int | None = 640
    smooth_window: int = 5

    def __post_init__(self) -> None:
        problems = []
        if self.frame_size < 8:
            problems.append(f"frame_size must be >= 8, got {self.frame_size}")
        if self.frames_per_video is not None and self.frames_per_video < 1:
            problems.append(f"frames_per_video must be >= 1 or null (all), got {self.frames_per_video}")
        if self.face_margin < 0:
            problems.append(f"face_margin must be >= 0, got {self.face_margin}")
        if self.min_frames < 1:
            problems.append(f"min_frames must be >= 1, got {self.min_frames}")
        if self.detect_max_side is not None and self.detect_max_side < 32:
            problems.append(f"detect_max_side must be >= 32 or null, got {self.detect_max_side}")
        if self.smooth_window < 1:
            problems.append(f"smooth_window must be >= 1, got {self.smooth_window}")
        if problems:
            raise SuiteError("preprocess: " + "; ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sampled_indices(n_frames: int, frames_per_video: int | None) -> list[int]:
    """Distinct frame indices to store: ``frames_per_video`` evenly spaced ones, or all.

    A video shorter than ``frames_per_video`` keeps all its frames once; the loaders pad and
    mask at training time, so padding is not baked into the store.
    """
    if frames_per_video is None or n_frames <= frames_per_video:
        return list(range(n_frames))
    return [int(i) for i in evenly_spaced_indices(n_frames, frames_per_video)[0]]


def _detect_all(
    path: Path, indices: Sequence[int], detector: FaceDetector, max_side: int | None
) -> tuple[list[list[Detection]], list[np.ndarray] | None]:
    """Detections at ``indices``, and the decoded frames when they fit :data:`KEEP_FRAMES_BYTES`."""
    found: list[list[Detection]] = []
    kept: list[np.ndarray] = []
    keep = True

    def on_frame(frame: np.ndarray, _index: int) -> np.ndarray:
        nonlocal keep
        found.append(detect_downscaled(detector, frame, max_side))
        keep = keep and frame.nbytes * len(indices) <= KEEP_FRAMES_BYTES
        if keep:
            kept.append(frame)
        # Not a view of the frame: decode_frames keeps what this returns.
        return np.empty((1, 1, 3), np.uint8)

    decode_frames(path, indices, on_frame)
    return found, (kept if keep else None)


def _check_all_decoded(path: Path, decoded: int, indices: Sequence[int]) -> None:
    # decode_frames drops frames past the real end; count_frames has just decoded them all, so
    # fewer here means the file changed or its frames decode differently on a second pass.
    if decoded < len(indices):
        raise VideoDecodeError(
            f"cannot decode video {path}: {decoded} of {len(indices)} sampled frames decoded"
        )


def extract_face_crops(
    path: Path, params: CropParams, detector: FaceDetector
) -> tuple[np.ndarray, dict[str, Any]]:
    """The main face of the video at ``path``, cropped in ``frames_per_video`` evenly spaced frames.

    Returns:
        ``(crops, meta)``: uint8 (T, S, S, 3) RGB crops and JSON-ready metadata
        (``frame_indices``, ``source_boxes``, ``crop_boxes``, ``detected``, ``n_source_frames``).

    Raises:
        VideoDecodeError: The file cannot be decoded (empty, truncated, not a video, a frame
            that cannot be decoded).
        SkipVideo: Too few frames, or no face in any sampled frame.
    """
    n_frames = count_frames(path)
    if n_frames < params.min_frames:
        raise SkipVideo(f"{n_frames} frame(s), fewer than min_frames={params.min_frames}")
    indices = sampled_indices(n_frames, params.frames_per_video)
    frames: list[np.ndarray] | None = None
    detections = detector.video_detections(path, indices)
    if detections is None:
        detections, frames = _detect_all(path, indices, detector, params.detect_max_side)
        _check_all_decoded(path, len(detections), indices)
    track = track_main_face(detections, TRACK_MIN_IOU, 1 if detector.exact else params.smooth_window)
    if track is None:
        raise SkipVideo("no face found")
    crop_boxes: list[tuple[int, int, int, int]] = []
    position = {index: t for t, index in enumerate(indices)}

    def crop(frame: np.ndarray, index: int) -> np.ndarray:
        height, width = frame.shape[:2]
        box = square_crop_box(tuple(track.boxes[position[index]]), width, height, params.face_margin)
        crop_boxes.append(box)
        return crop_and_resize(frame, box, params.frame_size)

    if frames is not None:
        crops = [crop(frame, index) for frame, index in zip(frames, indices, strict=True)]
    else:
        crops = decode_frames(path, indices, crop)
    _check_all_decoded(path, len(crops), indices)
    meta = {
        "frame_indices": indices,
        "n_source_frames": n_frames,
        "source_boxes": [[round(float(v), 2) for v in box] for box in track.boxes],
        "crop_boxes": [list(box) for box in crop_boxes],
        "detected": [bool(d) for d in track.detected],
    }
    return np.stack(crops).astype(np.uint8, copy=False), meta
