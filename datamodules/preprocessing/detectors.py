"""Face detectors behind one interface, selected by name.

=============  ====================================================  ================================
name           what                                                  install
=============  ====================================================  ================================
``haar``       OpenCV's frontal-face Haar cascade (default)          nothing: ships with opencv < 5
``dlib``       dlib's HOG frontal-face detector (dual-level paper)   ``pip install dlib-bin``
``mtcnn``      MTCNN of facenet-pytorch (weights in the wheel)       ``pip install --no-deps
                                                                     facenet-pytorch``
``centerface`` CenterFace ONNX model (``detector_model`` = path)     ``pip install onnxruntime``
``sidecar``    the boxes a video's ``x.json`` sidecar carries        nothing
=============  ====================================================  ================================

facenet-pytorch pins ``torch<2.3`` in its metadata although it runs on current torch;
``--no-deps`` keeps the installed torch.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Literal

import cv2
import numpy as np

from deepfake_suite.errors import SuiteError

DetectorName = Literal["haar", "dlib", "mtcnn", "centerface", "sidecar"]

Detection = tuple[float, float, float, float, float]
"""``(x0, y0, x1, y1, score)`` in pixels of the frame; score is detector-specific."""


def _import_optional(module: str, detector: str, install: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise SuiteError(
            f"detector '{detector}' needs the Python package '{module}', which cannot be imported "
            f"({error}): {install}"
        ) from None


class FaceDetector(ABC):
    """Finds faces in one RGB frame."""

    #: Name used by ``--detector``.
    name: ClassVar[str]
    #: Boxes are annotations rather than estimates: tracking keeps them as they are (no smoothing).
    exact: ClassVar[bool] = False

    @abstractmethod
    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces in ``frame``, a uint8 (H, W, 3) RGB array, as ``(x0, y0, x1, y1, score)``."""

    def video_detections(self, path: Path, indices: Sequence[int]) -> list[list[Detection]] | None:
        """Detections at frame ``indices`` known without decoding, or None to run :meth:`detect`."""
        return None


class HaarDetector(FaceDetector):
    """OpenCV's Viola-Jones cascade; the score is the cascade's level weight.

    Args:
        cascade: Path of a cascade XML; default ``haarcascade_frontalface_default.xml`` from
            ``cv2.data.haarcascades``.
        scale_factor: Image pyramid step.
        min_neighbors: Overlapping raw detections needed to keep a face (fewer false positives).
        min_size_fraction: Smallest face side as a fraction of the frame's shorter side.
    """

    name = "haar"

    def __init__(
        self,
        cascade: str | None = None,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size_fraction: float = 0.05,
    ) -> None:
        default = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        cascade_path = cascade or str(default)
        if not Path(cascade_path).is_file():
            raise SuiteError(
                f"Haar cascade not found: {cascade_path} (OpenCV 5 dropped them: use opencv < 5)"
            )
        self.classifier = cv2.CascadeClassifier(cascade_path)
        if self.classifier.empty():
            raise SuiteError(f"cannot load Haar cascade {cascade_path}")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size_fraction = min_size_fraction

    def detect(self, frame: np.ndarray) -> list[Detection]:
        gray = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
        side = max(20, round(min(gray.shape) * self.min_size_fraction))
        boxes, _, weights = self.classifier.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(side, side),
            outputRejectLevels=True,
        )
        return [
            (float(x), float(y), float(x + w), float(y + h), float(score))
            for (x, y, w, h), score in zip(boxes, np.ravel(weights), strict=True)
        ]


class DlibDetector(FaceDetector):
    """dlib's HOG + linear SVM frontal-face detector; the score is the SVM margin.

    Args:
        upsample: Times the image is upsampled first (finds faces down to ~40 px at 1).
        threshold: Margin added to the SVM threshold; negative finds more faces.
    """

    name = "dlib"

    def __init__(self, upsample: int = 1, threshold: float = 0.0) -> None:
        dlib = _import_optional(
            "dlib", self.name, "pip install dlib-bin  (prebuilt; building dlib takes long)"
        )
        self.detector = dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.threshold = threshold

    def detect(self, frame: np.ndarray) -> list[Detection]:
        rects, scores, _ = self.detector.run(np.ascontiguousarray(frame), self.upsample, self.threshold)
        return [
            (float(r.left()), float(r.top()), float(r.right()), float(r.bottom()), float(s))
            for r, s in zip(rects, scores, strict=True)
        ]


class MtcnnDetector(FaceDetector):
    """MTCNN (Zhang et al. 2016) as packaged by facenet-pytorch; the score is its face probability.

    Args:
        threshold: Least face probability kept.
        device: Torch device of the three networks.
    """

    name = "mtcnn"

    def __init__(self, threshold: float = 0.9, device: str = "cpu") -> None:
        facenet = _import_optional(
            "facenet_pytorch",
            self.name,
            "pip install --no-deps facenet-pytorch  (its metadata pins an old torch; --no-deps keeps yours)",
        )
        self.model = facenet.MTCNN(keep_all=True, device=device, post_process=False)
        self.threshold = threshold

    def detect(self, frame: np.ndarray) -> list[Detection]:
        boxes, probs = self.model.detect(np.ascontiguousarray(frame))
        if boxes is None:
            return []
        return [
            (float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(p))
            for b, p in zip(boxes, probs, strict=True)
            if p is not None and p >= self.threshold
        ]


class CenterFaceDetector(FaceDetector):
    """CenterFace (Xu et al. 2020), an anchor-free detector, run by onnxruntime.

    The network sees the frame resized to multiples of 32 and returns, on a grid 4x coarser, a
    face-centre heatmap, log box sizes and centre offsets; boxes are decoded as in the
    authors' reference code and merged by non-maximum suppression.

    Args:
        model_path: ``centerface.onnx`` (from the authors' repository).
        threshold: Least heatmap value kept.
        nms_iou: IoU above which the weaker of two boxes is dropped.
        session: An object with onnxruntime's ``run``/``get_inputs`` (tests); default: a CPU
            ``InferenceSession`` on ``model_path``.
    """

    name = "centerface"

    def __init__(
        self, model_path: str | None, threshold: float = 0.5, nms_iou: float = 0.3, session: Any = None
    ) -> None:
        if session is None:
            if not model_path or not Path(model_path).is_file():
                raise SuiteError(
                    f"detector 'centerface' needs its ONNX model: --detector_model /path/to/centerface.onnx "
                    f"(got {model_path!r})"
                )
            ort = _import_optional("onnxruntime", self.name, "pip install onnxruntime")
            session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.threshold = threshold
        self.nms_iou = nms_iou

    def detect(self, frame: np.ndarray) -> list[Detection]:
        height, width = frame.shape[:2]
        net_h, net_w = int(np.ceil(height / 32) * 32), int(np.ceil(width / 32) * 32)
        resized = cv2.resize(frame, (net_w, net_h)).astype(np.float32)
        blob = resized.transpose(2, 0, 1)[None]  # the model takes RGB in 0..255, NCHW
        heatmap, scale, offset = self.session.run(None, {self.input_name: blob})[:3]
        boxes = decode_centerface(heatmap, scale, offset, self.threshold)
        if not boxes:
            return []
        keep = cv2.dnn.NMSBoxes(
            [[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in boxes],
            [b[4] for b in boxes],
            self.threshold,
            self.nms_iou,
        )
        sx, sy = width / net_w, height / net_h
        return [
            (boxes[i][0] * sx, boxes[i][1] * sy, boxes[i][2] * sx, boxes[i][3] * sy, boxes[i][4])
            for i in sorted(int(k) for k in np.ravel(keep))
        ]


def decode_centerface(
    heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float, stride: int = 4
) -> list[Detection]:
    """Boxes from CenterFace outputs, in pixels of the network input.

    For a heatmap cell (r, c) above ``threshold``: height ``h = exp(scale[0]) * stride``, width
    ``w = exp(scale[1]) * stride``, centre ``((c + offset[1] + 0.5) * stride, (r + offset[0] + 0.5)
    * stride)``.

    Args:
        heatmap: (1, 1, H/4, W/4) face-centre probabilities.
        scale: (1, 2, H/4, W/4) log height and log width in grid units.
        offset: (1, 2, H/4, W/4) sub-cell centre offsets (rows, columns).
        threshold: Least heatmap value kept.
        stride: Input pixels per grid cell.
    """
    heat = heatmap[0, 0]
    rows, cols = np.nonzero(heat > threshold)
    boxes: list[Detection] = []
    for r, c in zip(rows, cols, strict=True):
        h, w = np.exp(scale[0, 0, r, c]) * stride, np.exp(scale[0, 1, r, c]) * stride
        cy = (r + offset[0, 0, r, c] + 0.5) * stride
        cx = (c + offset[0, 1, r, c] + 0.5) * stride
        # Unlike the reference code, boxes are not clipped at the frame edge: the crop pads there.
        half_w, half_h = w / 2, h / 2
        boxes.append(
            (
                float(cx - half_w),
                float(cy - half_h),
                float(cx + half_w),
                float(cy + half_h),
                float(heat[r, c]),
            )
        )
    return boxes


def load_sidecar(video_path: Path) -> dict[str, Any]:
    """Annotations beside a video (``x.mp4`` -> ``x.json``); ``{}`` when there are none.

    The format of :func:`datamodules.clip_dataset.load_sidecar`, read without importing torch,
    which would cost every spawned preprocessing worker seconds.
    """
    sidecar = video_path.with_suffix(".json")
    if not sidecar.is_file():
        return {}
    try:
        annotations = json.loads(sidecar.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SuiteError(f"cannot read annotations {sidecar}: {error}") from None
    return annotations if isinstance(annotations, dict) else {}


class SidecarDetector(FaceDetector):
    """The per-frame face boxes stored beside a video (``x.mp4`` -> ``x.json``, key ``boxes``).

    Synthetic videos carry their true face boxes, so their crops do not depend on a detector
    recognising drawn faces. Frames past the end of ``boxes`` get none (tracking fills them).
    """

    name = "sidecar"
    exact = True

    def detect(self, frame: np.ndarray) -> list[Detection]:
        raise SuiteError("the 'sidecar' detector reads a video's annotation file; it cannot look at a frame")

    def video_detections(self, path: Path, indices: Sequence[int]) -> list[list[Detection]] | None:
        boxes = load_sidecar(path).get("boxes")
        if not boxes:
            sidecar = path.with_suffix(".json")
            raise SuiteError(f"no face boxes for {path}: detector 'sidecar' needs them in {sidecar}")
        detections: list[list[Detection]] = []
        for i in indices:
            box = boxes[i] if 0 <= i < len(boxes) else None
            x0, y0, x1, y1 = (float(v) for v in box[:4]) if box else (0.0, 0.0, 0.0, 0.0)
            detections.append([(x0, y0, x1, y1, 1.0)] if box else [])
        return detections


DETECTORS: dict[str, type[FaceDetector]] = {
    cls.name: cls for cls in (HaarDetector, DlibDetector, MtcnnDetector, CenterFaceDetector, SidecarDetector)
}


def build_detector(name: str, model_path: str | None = None) -> FaceDetector:
    """The detector called ``name``; ``model_path`` is the CenterFace ONNX file or a Haar cascade XML.

    Raises:
        SuiteError: For an unknown name, a detector whose package is missing (naming what to
            pip install) or a model file that is needed and missing.
    """
    if name not in DETECTORS:
        raise SuiteError(f"unknown detector {name!r}; choose one of {sorted(DETECTORS)}")
    if name == "centerface":
        return CenterFaceDetector(model_path)
    if name == "haar":
        return HaarDetector(model_path)
    if model_path is not None:
        raise SuiteError(f"detector_model is used by 'haar' and 'centerface' only, not by {name!r}")
    return DETECTORS[name]()


def detect_downscaled(detector: FaceDetector, frame: np.ndarray, max_side: int | None) -> list[Detection]:
    """Detect on ``frame`` shrunk so that its longer side is at most ``max_side``; boxes in full size.

    Faces in deepfake datasets fill a good part of the frame, so a 1080p frame at 640 px loses
    no face and makes every detector several times faster.
    """
    longer = max(frame.shape[:2])
    if max_side is None or longer <= max_side:
        return detector.detect(frame)
    factor = max_side / longer
    small = cv2.resize(
        frame, (round(frame.shape[1] * factor), round(frame.shape[0] * factor)), interpolation=cv2.INTER_AREA
    )
    found = detector.detect(small)
    return [(x0 / factor, y0 / factor, x1 / factor, y1 / factor, s) for x0, y0, x1, y1, s in found]
