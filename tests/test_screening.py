"""`lightning score`: screening a folder of uploads at an operating point chosen on validation data.

A tiny Meso4 is trained for two batches on the tiny synthetic set. Every expected number is
recomputed here by another route: validation and test scores by a plain loop over the
datamodule's own loaders (no Trainer, no screening code), the thresholds by float64 brute force
over every candidate threshold.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from deepfake_suite.cli import main
from tests.conftest import REPO, TINY_SOURCE

CONFIGS = [
    "--config",
    str(REPO / "experiments" / "baselines" / "meso4.yaml"),
    "--config",
    str(REPO / "experiments" / "smoke" / "baselines" / "meso4.yaml"),
]
FRAMES_PER_VIDEO = 4


def _experiment_args(root: Path, runs: Path) -> list[str]:
    source = "data.init_args.source.init_args"
    return [
        *CONFIGS,
        f"--{source}.root={root}",
        *[f"--{source}.{key}={json.dumps(value)}" for key, value in TINY_SOURCE.items()],
        f"--data.init_args.frames_per_video={FRAMES_PER_VIDEO}",
        "--data.init_args.num_workers=0",
        f"--runs_dir={runs}",
        "--run_name=screen",
    ]


@pytest.fixture(scope="module")
def trained(tiny_synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Experiment arguments of a run whose ``best.ckpt`` exists (two training batches)."""
    args = _experiment_args(tiny_synthetic_root, tmp_path_factory.mktemp("runs"))
    quick = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.logger=false"]
    quiet = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    main(["fit", *args, *quick, *quiet])
    return args


def _reference_video_scores(args: list[str], stage: str, split: str) -> dict[str, tuple[float, int, Path]]:
    """``video_id -> (mean frame probability in float64, label, file)`` by a plain loop over the
    datamodule's loader: the suite's CLI builds model and data, weights come from the checkpoint."""
    from deepfake_suite.lightning_cli import SuiteCLI

    cli = SuiteCLI(args=[*args, "--trainer.logger=false"], run=False)
    runs = next(arg.split("=", 1)[1] for arg in args if arg.startswith("--runs_dir="))
    checkpoint = Path(runs) / "screen" / "checkpoints" / "best.ckpt"
    model, datamodule = cli.model, cli.datamodule
    model.load_state_dict(torch.load(checkpoint, weights_only=False)["state_dict"])
    model.eval()
    datamodule.setup(stage)
    files = {r.video_id: r.path for r in datamodule.datasets[split].records}
    sums: dict[str, list[float]] = {}
    labels: dict[str, int] = {}
    loader = datamodule.val_dataloader() if split == "val" else datamodule.test_dataloader()
    with torch.no_grad():
        for batch in loader:
            probabilities = model(batch)["frame"].float().sigmoid().double().tolist()
            for vid, p, label in zip(batch["video_id"], probabilities, batch["label"].tolist(), strict=True):
                sums.setdefault(vid, []).append(p)
                labels[vid] = int(label)
    return {vid: (math.fsum(ps) / len(ps), labels[vid], files[vid]) for vid, ps in sums.items()}


@pytest.fixture(scope="module")
def validation_scores(trained: list[str]) -> tuple[list[float], list[int]]:
    """Video scores and labels of the validation split, by the plain loop."""
    reference = _reference_video_scores(trained, "validate", "val")
    return [s for s, _, _ in reference.values()], [y for _, y, _ in reference.values()]


def _brute_force_rates(scores: list[float], labels: list[int], t: float) -> tuple[float, float]:
    fakes = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    reals = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    return sum(s < t for s in fakes) / len(fakes), sum(s >= t for s in reals) / len(reals)


def _brute_force_min_dcf_threshold(scores: list[float], labels: list[int], p_target: float) -> float:
    candidates = [*sorted(set(scores)), math.inf]
    norm = min(p_target, 1 - p_target)

    def cost(t: float) -> float:
        p_miss, p_fa = _brute_force_rates(scores, labels, t)
        return (p_target * p_miss + (1 - p_target) * p_fa) / norm

    best = min(cost(t) for t in candidates)
    return min(t for t in candidates if cost(t) == best)  # the lowest threshold among the minima


def _brute_force_p_fa_threshold(scores: list[float], labels: list[int], target: float) -> float:
    candidates = [*sorted(set(scores)), math.inf]
    rates = {t: _brute_force_rates(scores, labels, t) for t in candidates}
    reached = max(p_fa for _, p_fa in rates.values() if p_fa <= target)
    # Among thresholds at that false-alarm rate, the lowest misses the fewest fakes.
    return min(t for t, (_, p_fa) in rates.items() if p_fa == reached)


def _write_frames_folder(video: Path, folder: Path) -> None:
    """The frames of ``video`` as PNG files (lossless: the same pixels the decoder gives)."""
    import cv2

    folder.mkdir()
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            cv2.imwrite(
                str(folder / f"{i:04d}.png"),
                cv2.cvtColor(frame.to_ndarray(format="rgb24"), cv2.COLOR_RGB2BGR),
            )


@pytest.fixture(scope="module")
def uploads(tiny_synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Test-split videos with their box sidecars, a frame folder, and files that cannot be scored."""
    folder = tmp_path_factory.mktemp("uploads")
    manifest = (tiny_synthetic_root / "manifest.csv").read_text().splitlines()[1:]
    tests = [tiny_synthetic_root / line.split(",")[1] for line in manifest if ",test," in line]
    real = next(p for p in tests if "original_sequences" in p.parts)
    fake = next(p for p in tests if "original_sequences" not in p.parts)
    (folder / "sub").mkdir()
    for video, target in ((real, folder), (fake, folder / "sub")):
        shutil.copy(video, target / video.name)
        shutil.copy(video.with_suffix(".json"), target / f"{video.stem}.json")
    _write_frames_folder(real, folder / "as_frames")
    shutil.copy(real.with_suffix(".json"), folder / "as_frames.json")
    # A readable video without a face: its sidecar has no box in any frame.
    shutil.copy(real, folder / "faceless.mp4")
    sidecar = json.loads(real.with_suffix(".json").read_text())
    (folder / "faceless.json").write_text(json.dumps({**sidecar, "boxes": [None] * len(sidecar["boxes"])}))
    (folder / "empty.mp4").touch()
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    (folder / "notes.txt").write_text("not a video")
    return folder


def _score(
    args: list[str], uploads: Path, out: Path, *extra: str
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    main(
        [
            "score",
            *args,
            "--ckpt_path=best",
            f"--videos={uploads}",
            f"--out={out}",
            "--detector=sidecar",
            "--preprocess_workers=0",
            "--quiet",
            *extra,
        ]
    )
    with out.open() as handle:
        videos = list(csv.DictReader(handle))
    with out.with_name(f"{out.stem}_frames.csv").open() as handle:
        frames = list(csv.DictReader(handle))
    return videos, frames


def test_min_dcf_threshold_comes_from_validation_scores_and_every_upload_gets_a_row(
    trained: list[str],
    validation_scores: tuple[list[float], list[int]],
    uploads: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    videos, frames = _score(trained, uploads, tmp_path / "scores.csv", "--operating_point=min_dcf:0.5")
    printed = capsys.readouterr().out

    # The threshold: float64 brute force over the validation video scores of a plain loop.
    val_scores, val_labels = validation_scores
    assert 0 < sum(val_labels) < len(val_labels)
    expected = _brute_force_min_dcf_threshold(val_scores, val_labels, 0.5)
    threshold = float(videos[0]["threshold"])
    # At P_tar = 0.5 "everything fake" ties with "everything real", and the lowest threshold wins:
    # the threshold is a validation score, never +inf, whatever the barely trained model learned.
    assert math.isfinite(expected) and threshold == pytest.approx(expected, rel=1e-9)
    p_miss, p_fa = _brute_force_rates(val_scores, val_labels, expected)
    line = re.search(r"validation P_miss ([\d.]+), P_fa ([\d.]+)", printed)
    assert line is not None
    assert (float(line[1]), float(line[2])) == pytest.approx((p_miss, p_fa), abs=1e-4)

    rows = {Path(row["path"]).relative_to(uploads).as_posix(): row for row in videos}
    scored = {
        "as_frames",
        next(p for p in rows if p.startswith("sub/")),
        next(p for p in rows if p.startswith("id")),
    }
    assert set(rows) == scored | {"faceless.mp4", "empty.mp4", "corrupt.mp4", "notes.txt"}
    assert {p for p, row in rows.items() if row["status"] == "ok"} == scored
    assert rows["empty.mp4"]["reason"] == "zero-byte file"
    assert rows["corrupt.mp4"]["reason"].startswith("unreadable")
    assert rows["faceless.mp4"]["reason"].startswith("no face")
    assert rows["notes.txt"]["reason"].startswith("not a video")
    for row in videos:
        assert row["operating_point"] == "min_dcf:0.5" and float(row["threshold"]) == threshold
        if row["status"] == "ok":
            assert row["decision"] == ("fake" if float(row["video_score"]) >= threshold else "real")
        else:
            assert row["decision"] == row["video_score"] == "" and row["n_frames_scored"] == "0"

    # Per-frame rows: evenly spaced frames of the 10-frame videos; their mean is the video score.
    for row in rows.values():
        own = [f for f in frames if f["path"] == row["path"]]
        if row["status"] != "ok":
            assert not own
            continue
        assert [int(f["frame_index"]) for f in own] == [0, 3, 6, 9]
        assert int(row["n_frames_scored"]) == len(own) == FRAMES_PER_VIDEO
        assert float(row["video_score"]) == pytest.approx(
            math.fsum(float(f["score"]) for f in own) / len(own), rel=1e-12
        )

    # Uploads cropped by the pipeline score as the datamodule scores the same test videos, and a
    # folder of a video's frames scores as the video.
    test_videos = _reference_video_scores(trained, "test", "test").values()
    test_scores = {path.name: score for score, _, path in test_videos}
    assert len(test_scores) == len(test_videos)
    for path, row in rows.items():
        if row["status"] == "ok" and not path.startswith("as_frames"):
            assert float(row["video_score"]) == pytest.approx(test_scores[Path(path).name], abs=1e-6)
    real_name = next(p for p in rows if p.startswith("id"))
    assert float(rows["as_frames"]["video_score"]) == pytest.approx(
        float(rows[real_name]["video_score"]), abs=1e-6
    )


def test_false_alarm_operating_point_and_a_given_threshold(
    trained: list[str], validation_scores: tuple[list[float], list[int]], uploads: Path, tmp_path: Path
) -> None:
    videos, _ = _score(trained, uploads, tmp_path / "far.csv", "--operating_point=far:0.25")
    val_scores, val_labels = validation_scores
    expected = _brute_force_p_fa_threshold(val_scores, val_labels, 0.25)
    assert float(videos[0]["threshold"]) == pytest.approx(expected, rel=1e-9, abs=1e-12)

    # A threshold between the upload scores, so that both decisions occur.
    scores = sorted(float(row["video_score"]) for row in videos if row["status"] == "ok")
    given = (scores[0] + scores[-1]) / 2
    videos, _ = _score(trained, uploads, tmp_path / "given.csv", f"--threshold={given!r}")
    decisions = {row["decision"] for row in videos if row["status"] == "ok"}
    assert decisions == {"fake", "real"}
    for row in videos:
        assert float(row["threshold"]) == given and row["operating_point"] == f"threshold:{given!r}"
        if row["status"] == "ok":
            assert row["decision"] == ("fake" if float(row["video_score"]) >= given else "real")


def test_bad_operating_point_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "score",
                *CONFIGS,
                "--ckpt_path=x.ckpt",
                f"--videos={tmp_path}",
                f"--out={tmp_path / 'o.csv'}",
                "--operating_point=dcf:2",
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: --operating_point 'dcf:2'") and "min_dcf:P" in err and "Traceback" not in err
    )


def test_nothing_to_score_lists_every_file_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "empty.mp4").touch()
    (folder / "notes.txt").write_text("x")
    out = tmp_path / "scores.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["score", *CONFIGS, "--ckpt_path=x.ckpt", f"--videos={folder}", f"--out={out}", "--threshold=0.5"]
        )
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: no video to score")
    with out.open() as handle:
        rows = {Path(r["path"]).name: (r["status"], r["reason"]) for r in csv.DictReader(handle)}
    assert rows == {
        "empty.mp4": ("skipped", "zero-byte file"),
        "notes.txt": ("skipped", "not a video file (.txt)"),
    }


def test_missing_checkpoint_is_named(
    trained: list[str], uploads: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "score",
                *trained,
                f"--ckpt_path={missing}",
                f"--videos={uploads}",
                f"--out={tmp_path / 'o.csv'}",
                "--threshold=0.5",
            ]
        )
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: --ckpt_path: checkpoint file not found: {missing}"


def test_clip_detector_scores_each_video_with_its_video_head(
    cli_args: list[str], uploads: Path, tmp_path: Path
) -> None:
    """DualLevelAUCNet on 4-frame clips: the video score is the video head's (not a mean of frames),
    as the plain loop over the datamodule's test clips of the same videos gives it."""
    from deepfake_suite.lightning_cli import SuiteCLI

    cli = SuiteCLI(args=cli_args, run=False)
    model, datamodule = cli.model, cli.datamodule
    checkpoint = tmp_path / "initial.ckpt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    out = tmp_path / "clips.csv"
    options = ["--threshold=0.5", "--detector=sidecar", "--preprocess_workers=0", "--quiet"]
    main(["score", *cli_args, f"--ckpt_path={checkpoint}", f"--videos={uploads}", f"--out={out}", *options])
    with out.open() as handle:
        rows = {Path(r["path"]).relative_to(uploads).as_posix(): r for r in csv.DictReader(handle)}
    with out.with_name("clips_frames.csv").open() as handle:
        frames = list(csv.DictReader(handle))

    model.eval()
    datamodule.setup("test")
    names = {r.video_id: r.path.name for r in datamodule.datasets["test"].records}
    expected: dict[str, float] = {}
    with torch.no_grad():
        for batch in datamodule.test_dataloader():
            for vid, p in zip(batch["video_id"], model(batch)["video"].sigmoid().tolist(), strict=True):
                expected[names[vid]] = p
    ok = {path: row for path, row in rows.items() if row["status"] == "ok"}
    assert len(ok) == 3 and rows["empty.mp4"]["status"] == rows["corrupt.mp4"]["status"] == "skipped"
    for path, row in ok.items():
        if path != "as_frames":
            assert float(row["video_score"]) == pytest.approx(expected[Path(path).name], abs=1e-6)
        own = [f for f in frames if f["path"] == row["path"]]
        assert [int(f["frame_index"]) for f in own] == [0, 3, 6, 9] and row["n_frames_scored"] == "4"
        assert row["decision"] == ("fake" if float(row["video_score"]) >= 0.5 else "real")
    real = next(p for p in ok if p.startswith("id"))
    assert float(ok["as_frames"]["video_score"]) == pytest.approx(float(ok[real]["video_score"]), abs=1e-6)
