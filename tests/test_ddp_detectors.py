"""Every detector fits under 2 CPU processes (gloo) and tests to the same numbers with 1 and 2 processes.

For each detector family a tiny checkpoint is fitted with 2 processes (1 epoch, 2 batches per
rank), then ``test`` runs in this process and again with ``--trainer.devices=2``. The results
files must hold the same metrics, bit for bit, and the run folder the same files with the same
score CSVs: only rank 0 writes, and no second copy appears anywhere.

The test split is cut to 4 real and 3 fake videos (``imbalance: "4:3"``), so every level has an
odd number of samples (7 clips, 21 frames) and ``DistributedSampler`` pads one rank with a repeat
that the metrics must drop. Both runs score one sample per batch with one thread: a float32
network gives the same bits for a sample only when its batch and BLAS threads are the same
(tests/test_ddp_cli.py says more).

Not compared: ``test/loss*``. They are Lightning's epoch means of batch losses, averaged over
ranks, and count the padded repeat (lightning_modules/base.py ``DetectorModule._step``); they are
training diagnostics, not detection metrics. The exact metrics de-duplicate by sample id.

The default run keeps one case, the AttributionXception ArcFaceMod head: its test protocol (kNN,
logistic regression and SVM fitted on validation embeddings, HTER thresholds, per-dataset keys,
t-SNE) gathers per-frame rows in its own ``EpochCollector``, a path that neither
tests/test_metrics_ddp.py (bare DetectionMetrics) nor tests/test_ddp_cli.py (DualLevelAUCNet)
covers, and it checks that the validation embeddings the classifiers are fitted on were gathered
from both ranks during the 2-process fit. It starts its ranks with ``ddp_fork``: the same
``DDPStrategy``, collectives and rank-0 guards as ``ddp``/``ddp_spawn``, without the ~30-60 s it
takes each spawned rank to import torch and Lightning again. The other detectors are ``slow`` and
test with ``ddp_spawn``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from deepfake_suite.cli import main
from tests.conftest import TINY_SOURCE

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
QUICK_FIT = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2"]
ONE_PER_BATCH = "--data.init_args.eval_batch_size=1"
FRAMES_PER_VIDEO = 3


def two_processes(start: str) -> list[str]:
    """Trainer arguments of a 2-process CPU run; ``start`` is ``ddp_fork`` or ``ddp_spawn``."""
    return ["--trainer.devices=2", f"--trainer.strategy={start}", "--trainer.accelerator=cpu"]


@dataclass(frozen=True)
class Case:
    """A detector config and the arguments that make it tiny."""

    config: str  # under experiments/ and experiments/smoke/, without .yaml
    data: tuple[str, ...]
    model: tuple[str, ...] = ()
    needs_extractor: bool = False  # SiameseTemporalLSTM: stage 1 first
    expected_keys: tuple[str, ...] = field(default=("test/video_auc", "test/frame_auc"))


FRAMES = (f"--data.init_args.frames_per_video={FRAMES_PER_VIDEO}", "--data.init_args.frame_size=32")
CLIPS = ("--data.init_args.clip_len=4", "--data.init_args.frame_size=32")
CASES = {
    "dual_level": Case("dual_level", (*CLIPS, "--data.init_args.batch_size=4")),
    "mfom_cnn": Case("mfom_cnn", (*FRAMES, "--data.init_args.batch_size=6")),
    "attribution_binary": Case(
        "attribution_binary",
        (*FRAMES, "--data.init_args.batch_size=8"),
        expected_keys=("test/video_auc", "test/frame_hter", "test/synthetic/video_hter"),
    ),
    "attribution_arcface": Case(
        "attribution_arcface",
        (*FRAMES, "--data.init_args.batch_size=8"),
        expected_keys=(
            "test/video_auc",
            "test/video_hter_svm",
            "test/frame_auc_knn",
            "test/synthetic/frame_hter_logreg",
        ),
    ),
    "triplet_facenet": Case(
        "triplet_facenet",
        (f"--data.init_args.frames_per_video={FRAMES_PER_VIDEO}", "--data.init_args.frame_size=32"),
        model=("--model.init_args.rf_trees=10",),
        expected_keys=("test/video_auc", "test/frame_rf_auc", "test/video_sgd_eer"),
    ),
    "siamese_lstm": Case(
        "siamese_lstm",
        # One clip per video: 7 test clips, an odd count (the smoke config's 2 would give 14).
        (*CLIPS, "--data.init_args.batch_size=6", "--data.init_args.clips_per_video=1"),
        needs_extractor=True,
        expected_keys=("test/video_auc", "test/clip_auc", "test/clip_acc_mean", "test/video_log_loss_std"),
    ),
    "xception": Case("baselines/xception", (*FRAMES, "--data.init_args.batch_size=8")),
}
DEFAULT_CASE = "attribution_arcface"


def _configs(name: str) -> list[str]:
    smoke = EXPERIMENTS / "smoke" / f"{name}.yaml"
    return ["--config", str(EXPERIMENTS / f"{name}.yaml"), "--config", str(smoke)]


def _common(case: Case, root: Path, tmp_path: Path) -> list[str]:
    source = "data.init_args.source.init_args"
    return [
        f"--{source}.root={root}",
        *[f"--{source}.{key}={json.dumps(value)}" for key, value in TINY_SOURCE.items()],
        # Smoke configs of the temporal detectors ask for FlickerSwap only; the tiny set has all three.
        f"--{source}.methods={json.dumps(['BlendSwap', 'ColorSwap', 'FlickerSwap'])}",
        *case.data,
        # 4 real and 3 fake test videos: odd sample counts, so DistributedSampler pads a rank.
        "--data.init_args.imbalance=4:3",
        "--data.init_args.num_workers=0",
        f"--runs_dir={tmp_path / 'runs'}",
        f"--results_dir={tmp_path / 'results'}",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One BLAS thread here and in the ranks (Lightning splits the cores otherwise)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _files(root: Path) -> dict[str, bytes | None]:
    """Every file under ``root``; the content of the score and DET CSVs (the rest may hold times)."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.suffix == ".csv" else None
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _fit_two_processes(name: str, case: Case, root: Path, tmp_path: Path) -> list[str]:
    """Fit the tiny checkpoint with 2 processes; return the arguments that `test` it."""
    common = [*_configs(case.config), *_common(case, root, tmp_path), *case.model]
    fit = [*QUICK_FIT, *two_processes("ddp_fork")]
    if case.needs_extractor:
        stage1 = [*_configs("siamese_extractor"), *_common(case, root, tmp_path), "--run_name=stage1"]
        main(["fit", *stage1, *fit])
        common.append(
            f"--model.init_args.extractor_checkpoint={tmp_path / 'runs/stage1/checkpoints/best.ckpt'}"
        )
    common.append(f"--run_name={name}")
    main(["fit", *common, *fit])
    checkpoints = sorted(p.name for p in (tmp_path / "runs" / name / "checkpoints").iterdir())
    assert checkpoints == ["best.ckpt", "last.ckpt"]  # rank 0's, once
    return [*common, "--ckpt_path=best", ONE_PER_BATCH]


def _check_two_processes_equal_one(name: str, root: Path, tmp_path: Path, start: str) -> list[str]:
    case = CASES[name]
    test_args = _fit_two_processes(name, case, root, tmp_path)
    results_dir, run_dir = tmp_path / "results", tmp_path / "runs" / name
    before_test = _files(tmp_path)

    main(["test", *test_args])
    one = json.loads((results_dir / f"{name}.json").read_text())["metrics"]
    one_files = _files(tmp_path)
    written = sorted(set(one_files) - set(before_test))
    assert f"results/{name}.json" in written and any(f.endswith(".csv") for f in written), written

    # Remove what `test` wrote, so that everything found afterwards was written by the 2-process run.
    for relative in written:
        (tmp_path / relative).unlink()
    shutil.rmtree(run_dir / "lightning_logs", ignore_errors=True)
    main(["test", *test_args, *two_processes(start)])
    two = json.loads((results_dir / f"{name}.json").read_text())["metrics"]
    two_files = _files(tmp_path)

    # One results file, the same files in the run folder, and identical score/DET CSVs: rank 1
    # wrote nothing, and rank 0's files are whole.
    assert sorted(p.name for p in results_dir.iterdir()) == [f"{name}.json"]
    assert set(two_files) == set(one_files)
    csvs = {k for k, v in one_files.items() if v is not None}
    assert {k: two_files[k] for k in csvs} == {k: one_files[k] for k in csvs}

    compared = sorted(k for k in one if not k.startswith("test/loss"))
    assert set(case.expected_keys) <= set(compared), sorted(set(case.expected_keys) - set(compared))
    assert sorted(two) == sorted(one)
    assert {k: two[k] for k in compared} == {k: one[k] for k in compared}
    return test_args


def _validation_frames_per_video(root: Path) -> dict[str, int]:
    from datamodules.sources import SyntheticSource

    records = SyntheticSource(root=str(root), **TINY_SOURCE).records()  # type: ignore[arg-type]
    return {r.video_id: FRAMES_PER_VIDEO for r in records if r.split == "val"}


def test_two_process_fit_and_test_arcface(
    tiny_synthetic_root: Path, tmp_path: Path, one_thread: None
) -> None:
    _check_two_processes_equal_one(DEFAULT_CASE, tiny_synthetic_root, tmp_path, start="ddp_fork")

    # The kNN/LR/SVM of the test protocol are fitted on the validation reference saved with the
    # checkpoint: it must hold every validation frame once, gathered from both ranks of the fit,
    # not the half that rank 0 scored.
    best = tmp_path / "runs" / DEFAULT_CASE / "checkpoints" / "best.ckpt"
    reference = torch.load(best, weights_only=True, map_location="cpu")["attribution_val_reference"]
    expected = _validation_frames_per_video(tiny_synthetic_root)
    assert reference["embedding"].shape == (sum(expected.values()), 64)
    per_video = torch.bincount(reference["video"])
    assert sorted(per_video[per_video > 0].tolist()) == sorted(expected.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in CASES if name != DEFAULT_CASE])
def test_two_process_fit_and_test(
    name: str, tiny_synthetic_root: Path, tmp_path: Path, one_thread: None
) -> None:
    _check_two_processes_equal_one(name, tiny_synthetic_root, tmp_path, start="ddp_spawn")


def _run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m deepfake_suite <args>`` in a new process, as users run it (``ddp`` re-runs it per rank)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "deepfake_suite", *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_ddp_launcher_fit_writes_one_set_of_checkpoints(tiny_synthetic_root: Path, tmp_path: Path) -> None:
    """``lightning fit ... --trainer.strategy=ddp``, the command users run: Lightning starts rank 1 as a
    second ``python -m deepfake_suite`` with the same arguments, so both ranks run the whole CLI."""
    case = CASES["dual_level"]
    common = [*_configs(case.config), *_common(case, tiny_synthetic_root, tmp_path), "--run_name=launcher"]
    _run_cli(["fit", *common, *QUICK_FIT, *two_processes("ddp")], tmp_path)
    assert sorted(p.name for p in (tmp_path / "runs" / "launcher" / "checkpoints").iterdir()) == [
        "best.ckpt",
        "last.ckpt",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing in the working directory


@pytest.mark.slow
def test_ddp_launcher_test_equals_one_process_and_only_rank_0_writes(
    tiny_synthetic_root: Path, tmp_path: Path, one_thread: None
) -> None:
    """``lightning test ... --trainer.strategy=ddp``: both ranks run ``after_test``; only rank 0 writes."""
    name = "dual_level"
    case = CASES[name]
    common = [*_configs(case.config), *_common(case, tiny_synthetic_root, tmp_path), f"--run_name={name}"]
    main(["fit", *common, *QUICK_FIT])
    test_args = [*common, "--ckpt_path=best", ONE_PER_BATCH]
    main(["test", *test_args])
    results = tmp_path / "results" / f"{name}.json"
    one, one_files = json.loads(results.read_text())["metrics"], _files(tmp_path)
    results.unlink()

    done = _run_cli(["test", *test_args, *two_processes("ddp")], tmp_path)
    assert done.stdout.count("results written to") == 1  # rank 1 ran after_test too, and wrote nothing
    two, two_files = json.loads(results.read_text())["metrics"], _files(tmp_path)
    assert set(two_files) == set(one_files)
    compared = [k for k in one if not k.startswith("test/loss")]
    assert {k: two[k] for k in compared} == {k: one[k] for k in compared}
