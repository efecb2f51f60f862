"""``preprocess`` end to end: a real face in a video, bad inputs, resuming after a kill, workers, CLI."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from datamodules.crop_store import CROPS_DIR, crop_file_stem
from datamodules.preprocessing import CropParams, build_store, extract, preprocess
from datamodules.preprocessing.tracking import iou
from datamodules.sources import SyntheticSource, read_manifest
from datamodules.sources.base import VideoRecord, VideoSource
from datamodules.synthetic.generator import write_mp4
from deepfake_suite.errors import SuiteError
from tests.conftest import REPO, TINY_SOURCE

SIDECAR_PARAMS = CropParams(frame_size=32, frames_per_video=4, detector="sidecar")


def tiny_source(root: Path) -> SyntheticSource:
    """The session's tiny synthetic set (conftest) as a source."""
    return SyntheticSource(root=str(root), **TINY_SOURCE)  # type: ignore[arg-type]


class ListSource(VideoSource):
    """The given video files as real training videos, ids ``test/<stem>``."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def records(self) -> list[VideoRecord]:
        return [
            VideoRecord(f"test/{p.stem}", p, 0, "original", "test", "train", "unknown", "", 0)
            for p in self.paths
        ]


def write_astronaut_video(path: Path, n_frames: int, seed: int = 0) -> np.ndarray:
    """A real photograph's head and shoulders moving diagonally over a noisy grey background.

    Returns:
        float (n_frames, 4), the face box in each frame (the hand-annotated box of
        ``skimage.data.astronaut()`` moved with the photo).
    """
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the test photograph")
    from tests.test_preprocessing_detectors import ASTRONAUT_FACE

    factor, left = 0.6, 100
    patch = cv2.resize(
        data.astronaut()[0:300, left:350], None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA
    )
    face = np.array(ASTRONAUT_FACE) - [left, 0, left, 0]
    face *= factor
    height, width = 240, 320
    rng = np.random.default_rng(seed)
    frames, boxes = [], []
    for t in range(n_frames):
        step = t / max(1, n_frames - 1)
        x, y = (
            round(10 + step * (width - patch.shape[1] - 20)),
            round(10 + step * (height - patch.shape[0] - 20)),
        )
        frame = np.clip(120 + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
        frame[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        frames.append(frame)
        boxes.append(face + np.array([x, y, x, y]))
    write_mp4(path, np.stack(frames), fps=25, crf=23)
    return np.array(boxes)


def _outcome(store: Path, video_id: str) -> dict:
    return json.loads((store / CROPS_DIR / f"{crop_file_stem(video_id)}.json").read_text())


def _report(store: Path) -> dict[str, str]:
    with (store / "report.csv").open(newline="") as handle:
        return {row["video_id"]: row["reason"] for row in csv.DictReader(handle)}


def _store_files(store: Path) -> dict[str, bytes]:
    return {p.relative_to(store).as_posix(): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


def _leftovers(store: Path) -> list[Path]:
    return [p for p in store.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


# ------------------------------------------------------------------------- a real face, default


def test_default_detector_crops_a_real_face_moving_through_a_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = write_astronaut_video(tmp_path / "astronaut.mp4", n_frames=8)
    summary = preprocess(
        ListSource([tmp_path / "astronaut.mp4"]),
        str(tmp_path / "store"),
        frame_size=64,
        frames_per_video=None,
        num_workers=0,
        progress=False,
    )
    assert summary.stored == 1 and not summary.skipped
    outcome = _outcome(tmp_path / "store", "test/astronaut")
    assert outcome["detector"] == "haar" and outcome["frame_indices"] == list(range(8))
    overlaps = [iou(found, known) for found, known in zip(outcome["source_boxes"], truth, strict=True)]
    assert sum(o > 0.5 for o in overlaps) >= 7, overlaps
    for crop, known in zip(outcome["crop_boxes"], truth, strict=True):
        inside_w = min(crop[2], known[2]) - max(crop[0], known[0])
        inside_h = min(crop[3], known[3]) - max(crop[1], known[1])
        face_area = (known[2] - known[0]) * (known[3] - known[1])
        assert inside_w * inside_h >= 0.95 * face_area  # the crop holds the whole face
    crops = np.load(tmp_path / "store" / CROPS_DIR / f"{crop_file_stem('test/astronaut')}.npy")
    assert crops.shape == (8, 64, 64, 3) and crops.dtype == np.uint8

    # Videos too large to keep decoded between detection and cropping are decoded twice: same crops.
    monkeypatch.setattr(extract, "KEEP_FRAMES_BYTES", 0)
    source = ListSource([tmp_path / "astronaut.mp4"])
    preprocess(
        source, str(tmp_path / "twice"), frame_size=64, frames_per_video=None, num_workers=0, progress=False
    )
    assert _store_files(tmp_path / "twice") == _store_files(tmp_path / "store")


# ------------------------------------------------------------------------------------ bad input


@pytest.fixture(scope="module")
def good_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "good.mp4"
    write_astronaut_video(path, n_frames=4)
    return path


def _corrupt_a_middle_frame(source: Path, target: Path) -> None:
    """Overwrite the length prefix of the middle packet, as a bad sector or a broken copy would."""
    with av.open(str(source)) as container:
        packets = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(source.read_bytes())
    position, _ = packets[len(packets) // 2]
    assert position is not None
    data[position : position + 4] = b"\xff\xff\xff\xff"
    target.write_bytes(bytes(data))


def _make_bad(case: str, good: Path, path: Path) -> None:
    if case == "zero_bytes":
        path.write_bytes(b"")
    elif case == "truncated":
        content = good.read_bytes()
        path.write_bytes(content[: len(content) // 2])
    elif case == "not_a_video":
        path.write_bytes(b"this is a text file, not a video\n" * 50)
    elif case == "no_face":
        ramp = np.linspace(40, 200, 160, dtype=np.uint8)[None, :, None]
        write_mp4(path, np.broadcast_to(ramp, (6, 120, 160, 3)).copy(), fps=25, crf=23)
    elif case == "one_frame":
        with av.open(str(good)) as container:
            first = next(container.decode(video=0)).to_ndarray(format="rgb24")
        write_mp4(path, first[None], fps=25, crf=23)
    elif case == "unreadable_frame":
        _corrupt_a_middle_frame(good, path)


BAD_CASES = {
    "zero_bytes": "the file is empty (0 bytes)",
    "truncated": "cannot decode video",
    "not_a_video": "cannot decode video",
    "no_face": "no face found",
    "one_frame": "1 frame(s), fewer than min_frames=2",
    "unreadable_frame": "cannot decode video",
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_is_skipped_with_its_reason_and_leaves_nothing_half_written(
    case: str, good_video: Path, tmp_path: Path
) -> None:
    bad = tmp_path / f"{case}.mp4"
    _make_bad(case, good_video, bad)
    store = tmp_path / "store"
    summary = preprocess(
        ListSource([good_video, bad]), str(store), frames_per_video=4, num_workers=0, progress=False
    )
    assert summary.stored == 1
    assert list(summary.skipped) == [f"test/{case}"]
    reasons = _report(store)
    assert list(reasons) == [f"test/{case}"] and BAD_CASES[case] in reasons[f"test/{case}"]
    assert _outcome(store, f"test/{case}")["status"] == "skipped"
    assert not (store / CROPS_DIR / f"{crop_file_stem(f'test/{case}')}.npy").exists()
    assert [r.video_id for r in read_manifest(store / "manifest.csv", store)] == ["test/good"]
    assert _leftovers(store) == []
    assert "1 skipped" in summary.describe()
    assert sum(summary.reason_counts.values()) == 1 and str(bad) not in next(iter(summary.reason_counts))


def test_a_one_frame_video_is_kept_when_min_frames_allows_it(good_video: Path, tmp_path: Path) -> None:
    _make_bad("one_frame", good_video, tmp_path / "still.mp4")
    summary = preprocess(
        ListSource([tmp_path / "still.mp4"]),
        str(tmp_path / "store"),
        min_frames=1,
        num_workers=0,
        progress=False,
    )
    assert summary.stored == 1
    assert read_manifest(tmp_path / "store" / "manifest.csv", tmp_path / "store")[0].n_frames == 1


def test_retry_skipped_tries_a_replaced_file_again(good_video: Path, tmp_path: Path) -> None:
    video = tmp_path / "later.mp4"
    video.write_bytes(b"")
    source, store = ListSource([video]), str(tmp_path / "store")
    assert preprocess(source, store, num_workers=0, progress=False).stored == 0
    video.write_bytes(good_video.read_bytes())
    assert preprocess(source, store, num_workers=0, progress=False).stored == 0  # the verdict is kept
    summary = preprocess(source, store, num_workers=0, progress=False, retry_skipped=True)
    assert summary.stored == 1 and summary.processed == 1
    assert _report(tmp_path / "store") == {}


# ------------------------------------------------------------------- resume, workers, parameters


@pytest.fixture(scope="module")
def reference_store(tiny_synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic set preprocessed in one uninterrupted in-process run."""
    store = tmp_path_factory.mktemp("reference") / "store"
    source = tiny_source(tiny_synthetic_root)
    build_store(source, store, SIDECAR_PARAMS, num_workers=0, progress=False)
    return store


class _Interrupted(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_bytes(
    tiny_synthetic_root: Path, reference_store: Path, tmp_path: Path
) -> None:
    source = tiny_source(tiny_synthetic_root)
    finished: list[str] = []

    def stop_after_five(outcome: dict) -> None:
        finished.append(outcome["video_id"])
        if len(finished) == 5:
            raise _Interrupted

    store = tmp_path / "store"
    with pytest.raises(_Interrupted):
        build_store(source, store, SIDECAR_PARAMS, 0, progress=False, on_outcome=stop_after_five)
    assert not (store / "manifest.csv").exists()  # an unfinished store cannot be mistaken for a finished one
    summary = build_store(source, store, SIDECAR_PARAMS, num_workers=0, progress=False)
    total = len(source.records())
    assert summary.processed == total - 5 and summary.stored == total
    assert _store_files(store) == _store_files(reference_store)


KILLED_SCRIPT = """
import sys, time
from pathlib import Path
from datamodules.preprocessing import build_store
from tests.test_preprocessing import SIDECAR_PARAMS, tiny_source

source = tiny_source(Path(sys.argv[1]))
build_store(source, Path(sys.argv[2]), SIDECAR_PARAMS, num_workers=0, progress=False,
            on_outcome=lambda outcome: time.sleep(0.2))
"""


def test_killed_process_resumes_to_the_same_bytes(
    tiny_synthetic_root: Path, reference_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, str(tiny_synthetic_root), str(store)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 60
    while len(list((store / CROPS_DIR).glob("*.json"))) < 3 and time.monotonic() < deadline:
        assert process.poll() is None, "the preprocessing process ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert not (store / "manifest.csv").exists()
    source = tiny_source(tiny_synthetic_root)
    summary = build_store(source, store, SIDECAR_PARAMS, num_workers=0, progress=False)
    assert 0 < summary.processed < len(source.records())
    assert _store_files(store) == _store_files(reference_store)
    assert _leftovers(store) == []


def test_two_worker_processes_write_the_same_store(
    tiny_synthetic_root: Path, reference_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tiny_source(tiny_synthetic_root)
    build_store(source, tmp_path / "store", SIDECAR_PARAMS, num_workers=2, progress=True)
    assert _store_files(tmp_path / "store") == _store_files(reference_store)
    total = len(source.records())
    assert f"{total} videos, {total} stored, 0 skipped" in capsys.readouterr().out


def test_resuming_with_other_crop_parameters_names_them(
    tiny_synthetic_root: Path, reference_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "store.json").write_bytes((reference_store / "store.json").read_bytes())
    source = tiny_source(tiny_synthetic_root)
    other = replace(SIDECAR_PARAMS, frame_size=64, face_margin=0.5)
    with pytest.raises(SuiteError, match=r"face_margin: store has 0\.3, requested 0\.5; frame_size"):
        build_store(source, store, other, num_workers=0, progress=False)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "notes.txt").write_text("mine")
    with pytest.raises(SuiteError, match="not a face-crop store"):
        build_store(source, tmp_path / "elsewhere", SIDECAR_PARAMS, 0, progress=False)


def test_bad_parameters_are_named() -> None:
    with pytest.raises(SuiteError, match="frames_per_video must be >= 1"):
        CropParams(frames_per_video=0)
    with pytest.raises(SuiteError, match="frame_size must be >= 8"):
        CropParams(frame_size=4)


# ------------------------------------------------------------------------------------------ CLI


def test_preprocess_command_and_config_file_build_the_same_store(
    tiny_synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deepfake_suite.cli import main

    source_args = [f"--source.init_args.{key}={json.dumps(value)}" for key, value in TINY_SOURCE.items()]
    main(
        [
            "preprocess",
            "--source.class_path=datamodules.sources.SyntheticSource",
            f"--source.init_args.root={tiny_synthetic_root}",
            *source_args,
            f"--store={tmp_path / 'from_args'}",
            "--frame_size=32",
            "--frames_per_video=4",
            "--detector=sidecar",
            "--num_workers=0",
        ]
    )
    assert "0 skipped" in capsys.readouterr().out
    config = tmp_path / "preprocess.yaml"
    config.write_text(
        "source:\n  class_path: datamodules.sources.SyntheticSource\n  init_args:\n"
        f"    root: {tiny_synthetic_root}\n"
        + "".join(
            f"    {key}: {json.dumps(list(v) if isinstance(v, tuple) else v)}\n"
            for key, v in TINY_SOURCE.items()
        )
        + f"store: {tmp_path / 'from_config'}\nframe_size: 32\nframes_per_video: 4\ndetector: sidecar\n"
        "num_workers: 0\nprogress: false\n"
    )
    main(["preprocess", "--config", str(config)])
    assert _store_files(tmp_path / "from_args") == _store_files(tmp_path / "from_config")

    with pytest.raises(SystemExit) as exit_info:
        main(["preprocess", "--config", str(config), "--detector=retinaface"])
    assert exit_info.value.code == 2
    assert "retinaface" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["preprocess", "--config", str(config), "--detector=centerface"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--detector_model" in err and "Traceback" not in err


def test_example_preprocess_config_parses() -> None:
    from datamodules.preprocessing.command import build_parser

    for config in sorted((REPO / "experiments" / "preprocess").glob("*.yaml")):
        parsed = build_parser().parse_args(["--config", str(config)])
        assert parsed.source.class_path.startswith("datamodules.sources.")
        assert parsed.frame_size in (64, 224, 256, 299)
