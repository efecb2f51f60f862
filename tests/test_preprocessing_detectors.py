"""Face detectors and main-face tracking, against hand-computed boxes and a real photograph."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from datamodules.preprocessing.detectors import (
    CenterFaceDetector,
    FaceDetector,
    HaarDetector,
    SidecarDetector,
    build_detector,
    decode_centerface,
    detect_downscaled,
)
from datamodules.preprocessing.tracking import fill_gaps, iou, link_tracks, smooth_boxes, track_main_face
from deepfake_suite.errors import SuiteError

# The astronaut's face in skimage.data.astronaut() (512 x 512), annotated by hand.
ASTRONAUT_FACE = (178.0, 70.0, 268.0, 170.0)


def _astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the test photograph")
    return data.astronaut()


# ------------------------------------------------------------------------------------- tracking


def test_iou_of_hand_computed_boxes() -> None:
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # touching edges share no area
    assert iou((0, 0, 0, 10), (0, 0, 10, 10)) == 0.0


def test_gaps_are_interpolated_inside_and_held_at_the_ends() -> None:
    filled = fill_gaps({1: (10, 10, 20, 20), 4: (40, 10, 50, 26)}, length=6)
    expected = [
        [10, 10, 20, 20],  # held before the first detection
        [10, 10, 20, 20],
        [20, 10, 30, 22],  # 1/3 of the way from frame 1 to frame 4
        [30, 10, 40, 24],
        [40, 10, 50, 26],
        [40, 10, 50, 26],  # held after the last
    ]
    np.testing.assert_allclose(filled, expected)


def test_smoothing_averages_a_centred_window_and_keeps_a_straight_path() -> None:
    jitter = np.array([[0, 0, 10, 10], [3, 0, 13, 10], [0, 0, 10, 10], [3, 0, 13, 10], [0, 0, 10, 10]], float)
    smoothed = smooth_boxes(jitter, window=3)
    # Frame 0 and 4 have no room for a symmetric window; 1..3 average three frames each.
    np.testing.assert_allclose(smoothed[:, 0], [0, 1, 2, 1, 0])
    np.testing.assert_allclose(smoothed[:, 2], [10, 11, 12, 11, 10])
    moving = np.array([[5.0 * t, 2.0 * t, 5.0 * t + 30, 2.0 * t + 30] for t in range(7)])
    np.testing.assert_allclose(smooth_boxes(moving, window=5), moving)
    np.testing.assert_array_equal(smooth_boxes(jitter, window=1), jitter)


def test_main_face_is_the_large_persistent_one_not_a_brief_false_positive() -> None:
    face = [(100 + 4 * t, 50, 160 + 4 * t, 110, 1.0) for t in range(6)]
    background = [(10, 10, 30, 30, 5.0)]  # small, high score, in every frame
    flash = (200, 150, 300, 250, 9.0)  # larger than the face, but in one frame only
    detections = [[background[0], face[t]] for t in range(6)]
    detections[0] = [flash, background[0], face[0]]
    detections[3] = [background[0]]  # the face is missed in frame 3
    track = track_main_face(detections, smooth_window=1)
    assert track is not None
    assert track.detected.tolist() == [True, True, True, False, True, True]
    expected = np.array([f[:4] for f in face], float)  # frame 3 interpolated from 2 and 4: exact here
    np.testing.assert_allclose(track.boxes, expected)


def test_two_faces_keep_their_own_tracks() -> None:
    left = [(0, 0, 40, 40, 1.0), (2, 0, 42, 40, 1.0), (4, 0, 44, 40, 1.0)]
    right = [(100, 0, 150, 50, 1.0), (101, 0, 151, 50, 1.0), (103, 0, 153, 50, 1.0)]
    tracks = link_tracks([[left[0], right[0]], [right[1], left[1]], [left[2], right[2]]], min_iou=0.2)
    assert sorted(len(t) for t in tracks) == [3, 3]
    assert [sorted(t[k][0] for k in t) for t in tracks] == [[0, 2, 4], [100, 101, 103]]


def test_no_detection_anywhere_gives_no_track() -> None:
    assert track_main_face([[], [], []]) is None


# ------------------------------------------------------------------------------------ detectors


def test_centerface_decoding_matches_the_reference_formula() -> None:
    heatmap = np.zeros((1, 1, 16, 16), np.float32)
    scale = np.zeros((1, 2, 16, 16), np.float32)
    offset = np.zeros((1, 2, 16, 16), np.float32)
    heatmap[0, 0, 5, 7] = 0.9
    scale[0, :, 5, 7] = (np.log(10.0), np.log(8.0))  # height 10 * 4 = 40 px, width 8 * 4 = 32 px
    offset[0, :, 5, 7] = (0.25, -0.5)
    heatmap[0, 0, 1, 1] = 0.3  # below the threshold
    boxes = decode_centerface(heatmap, scale, offset, threshold=0.5)
    # Centre x = (7 - 0.5 + 0.5) * 4 = 28, y = (5 + 0.25 + 0.5) * 4 = 23.
    assert len(boxes) == 1
    np.testing.assert_allclose(boxes[0], (28 - 16, 23 - 20, 28 + 16, 23 + 20, 0.9), rtol=1e-6)


class _FakeOnnxSession:
    """Stands in for onnxruntime: one face, in the outputs of a 64 x 64 network input."""

    class _Input:
        name = "input.1"

    def __init__(self) -> None:
        self.inputs: list[np.ndarray] = []

    def get_inputs(self) -> list[_Input]:
        return [self._Input()]

    def run(self, _outputs: None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.inputs.append(feed["input.1"])
        heatmap, scale, offset = np.zeros((1, 1, 16, 16)), np.zeros((1, 2, 16, 16)), np.zeros((1, 2, 16, 16))
        heatmap[0, 0, 8, 8] = 0.8
        heatmap[0, 0, 8, 9] = 0.7  # a second cell on the same face: NMS drops it (IoU 0.6)
        scale[0, :, 8, 8:10] = np.log(4.0)
        return [heatmap, scale, offset, np.zeros((1, 10, 16, 16))]


def test_centerface_resizes_to_multiples_of_32_and_maps_boxes_back() -> None:
    session = _FakeOnnxSession()
    detector = CenterFaceDetector(None, session=session)
    frame = np.zeros((48, 60, 3), np.uint8)  # network input 64 x 64
    detections = detector.detect(frame)
    assert session.inputs[0].shape == (1, 3, 64, 64)
    assert len(detections) == 1
    # Network box: centre (34, 34), side 16 -> (26, 26, 42, 42), scaled by 60/64 and 48/64.
    np.testing.assert_allclose(detections[0][:4], (26 * 60 / 64, 26 * 0.75, 42 * 60 / 64, 42 * 0.75))


def test_centerface_without_its_model_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="--detector_model"):
        build_detector("centerface", str(tmp_path / "missing.onnx"))


def test_missing_optional_package_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module

    def no_optional(name: str, package: str | None = None):  # type: ignore[no-untyped-def]
        if name in ("dlib", "facenet_pytorch"):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", no_optional)
    with pytest.raises(SuiteError, match="pip install dlib-bin"):
        build_detector("dlib")
    with pytest.raises(SuiteError, match="pip install --no-deps facenet-pytorch"):
        build_detector("mtcnn")


def test_unknown_detector_lists_the_known_ones() -> None:
    with pytest.raises(SuiteError, match=r"centerface.*dlib.*haar.*mtcnn.*sidecar"):
        build_detector("retinaface")


class _Recorder(FaceDetector):
    name = "recorder"

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, frame: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        self.shapes.append(frame.shape)
        return [(10.0, 20.0, 30.0, 40.0, 0.5)]


def test_detection_on_a_shrunk_frame_returns_full_size_boxes() -> None:
    recorder = _Recorder()
    found = detect_downscaled(recorder, np.zeros((720, 1280, 3), np.uint8), max_side=640)
    assert recorder.shapes == [(360, 640, 3)]
    assert found == [(20.0, 40.0, 60.0, 80.0, 0.5)]
    assert detect_downscaled(recorder, np.zeros((100, 200, 3), np.uint8), max_side=640)[0][:4] == (
        10,
        20,
        30,
        40,
    )


def test_sidecar_detector_reads_the_boxes_of_the_requested_frames(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    video.with_suffix(".json").write_text(json.dumps({"boxes": [[0, 0, 10, 10], [1, 2, 11, 12], None]}))
    found = SidecarDetector().video_detections(video, [1, 2, 5])
    assert found == [[(1.0, 2.0, 11.0, 12.0, 1.0)], [], []]
    video.with_suffix(".json").write_text(json.dumps({"frame_labels": [0]}))
    with pytest.raises(SuiteError, match="no face boxes"):
        SidecarDetector().video_detections(video, [0])


def _best_iou(detections: list, box: tuple[float, ...]) -> float:
    return max((iou(d, box) for d in detections), default=0.0)


def test_haar_finds_the_face_in_a_real_photograph() -> None:
    photo = _astronaut()
    detections = HaarDetector().detect(photo)
    assert _best_iou(detections, ASTRONAUT_FACE) > 0.6


@pytest.mark.parametrize("name", ["dlib", "mtcnn"])
def test_optional_detectors_find_the_face_in_a_real_photograph(name: str) -> None:
    pytest.importorskip({"dlib": "dlib", "mtcnn": "facenet_pytorch"}[name])
    half = cv2.resize(_astronaut(), (256, 256), interpolation=cv2.INTER_AREA)  # faster, face still 45 px
    detections = build_detector(name).detect(half)
    assert _best_iou(detections, tuple(v / 2 for v in ASTRONAUT_FACE)) > 0.6
    assert all(len(d) == 5 for d in detections)


def test_centerface_runs_an_onnx_model_file(tmp_path: Path) -> None:
    """A stand-in model with CenterFace's inputs and outputs, run by onnxruntime from a file."""
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    heatmap = np.zeros((1, 1, 16, 16), np.float32)
    heatmap[0, 0, 8, 8] = 0.9
    scale = np.zeros((1, 2, 16, 16), np.float32)
    scale[0, :, 8, 8] = np.log(4.0)
    outputs = {"heatmap": heatmap, "scale": scale, "offset": np.zeros_like(scale)}
    outputs["landmarks"] = np.zeros((1, 10, 16, 16), np.float32)
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    graph = helper.make_graph(
        [helper.make_node("Constant", [], [k], value=numpy_helper.from_array(v)) for k, v in outputs.items()],
        "centerface_stand_in",
        [helper.make_tensor_value_info("input.1", onnx.TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info(k, onnx.TensorProto.FLOAT, list(v.shape)) for k, v in outputs.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "centerface.onnx"))
    detections = build_detector("centerface", str(tmp_path / "centerface.onnx")).detect(
        np.zeros((64, 64, 3), np.uint8)
    )
    # Centre (8 + 0.5) * 4 = 34, side exp(log 4) * 4 = 16.
    np.testing.assert_allclose(detections, [(26.0, 26.0, 42.0, 42.0, 0.9)], rtol=1e-6)
