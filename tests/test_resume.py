"""A fit killed in its second epoch and resumed from ``--ckpt_path last`` ends where an unbroken fit ends.

The kill: a callback raises in the middle of epoch 2 (after one of its batches trained). Nothing is
saved on the way out (``ModelCheckpoint(save_on_exception=False)``, the default), so the run
folder holds what a SIGKILL at that moment would leave: ``last.ckpt`` from the end of epoch 1.
The same command is then run again with ``--ckpt_path last``. In deterministic mode it must draw
the same epoch-2 batches as an unbroken 2-epoch fit (recorded by dataset index), end with the
same weights, bit for bit (the best checkpoint too), and test to the same metrics.

The final weights are saved by a callback at the end of training: Lightning 2.6's
``ModelCheckpoint(save_last=True)`` rewrites ``last.ckpt`` only when a top-k checkpoint is saved
at the same step, so after an epoch that did not improve the monitored metric ``last.ckpt`` is
not the final state.

One dual-level case (a plain shuffled loader, seeded from torch's global generator, which
``DetectorModule`` saves in checkpoints) runs by default; the frame detector with the
``both_classes`` sampler (seeded by ``(seed, epoch)``) is ``slow``, and so is the same detector with
a training augmentation (each item's draw seeded by ``(seed, epoch, index)``).
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn

from deepfake_suite.cli import main
from lightning_modules.base import RNG_STATES_KEY, DetectorModule
from tests.conftest import TINY_SOURCE

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
BATCHES = 2  # training batches per epoch


def _draws() -> tuple[list[float], list[float], list[float]]:
    """A few numbers from each global generator (torch, numpy, Python)."""
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def _module_in(fn: TrainerFn) -> DetectorModule:
    module = DetectorModule(levels=("video",))
    module._trainer = SimpleNamespace(state=SimpleNamespace(fn=fn))  # type: ignore[assignment]
    return module


def test_checkpoint_random_states_restore_the_draws_of_a_resumed_fit_only() -> None:
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    np.random.randn()  # numpy keeps a cached Gaussian: part of its state
    checkpoint: dict[str, Any] = {}
    _module_in(TrainerFn.FITTING).on_save_checkpoint(checkpoint)
    expected = _draws()
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)  # what a checkpoint file holds, loadable without pickled objects
    loaded = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    assert set(loaded[RNG_STATES_KEY]) == {"torch", "cuda", "numpy", "python"}

    _module_in(TrainerFn.TESTING).on_load_checkpoint(loaded)  # test leaves the generators alone
    assert _draws() != expected
    _module_in(TrainerFn.FITTING).on_load_checkpoint(loaded)
    assert _draws() == expected
    _module_in(TrainerFn.FITTING).on_load_checkpoint({})  # a checkpoint from before this key


class Killed(Exception):
    """Stands for the process being killed."""


class KillMidEpoch(Callback):
    """Raise :class:`Killed` before training batch ``batch`` of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch: int = 1, batch: int = 1) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise Killed(f"killed at epoch {self.epoch}, batch {self.batch}")


class RecordBatches(Callback):
    """Append ``{"epoch", "batch", "index"}`` of every training batch to a JSON-lines file."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        row = {"epoch": trainer.current_epoch, "batch": batch_idx, "index": batch["index"].tolist()}
        with self.path.open("a") as file:
            file.write(json.dumps(row) + "\n")


class SaveFinal(Callback):
    """Save a full checkpoint at ``path`` when training ends (the final state, whatever improved)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        trainer.save_checkpoint(self.path)


def _callback(cls: type[Callback], **init_args: Any) -> str:
    spec = {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": init_args}
    return f"--trainer.callbacks+={json.dumps(spec)}"


def _args(config: str, size: list[str], root: Path, tmp_path: Path, run: str) -> list[str]:
    source = "data.init_args.source.init_args"
    return [
        "--config", str(EXPERIMENTS / f"{config}.yaml"),
        "--config", str(EXPERIMENTS / "smoke" / f"{config}.yaml"),
        f"--{source}.root={root}",
        *[f"--{source}.{key}={json.dumps(value)}" for key, value in TINY_SOURCE.items()],
        *size,
        "--data.init_args.num_workers=0",
        f"--runs_dir={tmp_path / 'runs'}", f"--results_dir={tmp_path / 'results'}", f"--run_name={run}",
        "--trainer.logger=false", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--seed_everything=7", "--trainer.deterministic=true",
        "--trainer.max_epochs=2", f"--trainer.limit_train_batches={BATCHES}",
    ]  # fmt: skip


def _batches(path: Path) -> dict[tuple[int, int], list[int]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {(row["epoch"], row["batch"]): row["index"] for row in rows}


def _check_resume_matches_unbroken_fit(config: str, size: list[str], root: Path, tmp_path: Path) -> None:
    unbroken, killed = (
        _args(config, size, root, tmp_path, "unbroken"),
        _args(config, size, root, tmp_path, "killed"),
    )
    final = {run: tmp_path / f"{run}_final.ckpt" for run in ("unbroken", "killed")}
    main(
        [
            "fit", *unbroken,
            _callback(RecordBatches, path=str(tmp_path / "unbroken.jsonl")),
            _callback(SaveFinal, path=str(final["unbroken"])),
        ]
    )  # fmt: skip
    with pytest.raises(Killed):
        main(
            [
                "fit",
                *killed,
                _callback(KillMidEpoch, epoch=1, batch=1),
                _callback(SaveFinal, path=str(final["killed"])),
            ]
        )
    assert not final["killed"].exists()
    checkpoints = tmp_path / "runs" / "killed" / "checkpoints"
    left = torch.load(checkpoints / "last.ckpt", weights_only=True, map_location="cpu")
    assert left["epoch"] == 0 and left["global_step"] == BATCHES  # what the kill left: the end of epoch 1

    main(
        [
            "fit", *killed, "--ckpt_path=last",
            _callback(RecordBatches, path=str(tmp_path / "resumed.jsonl")),
            _callback(SaveFinal, path=str(final["killed"])),
        ]
    )  # fmt: skip
    reference, resumed = _batches(tmp_path / "unbroken.jsonl"), _batches(tmp_path / "resumed.jsonl")
    assert sorted(resumed) == [(1, b) for b in range(BATCHES)]  # epoch 2 only, every batch of it
    assert resumed == {key: value for key, value in reference.items() if key[0] == 1}

    for name in ("final", "best"):
        paths = {
            run: final[run] if name == "final" else tmp_path / "runs" / run / "checkpoints" / "best.ckpt"
            for run in ("unbroken", "killed")
        }
        states = {run: torch.load(path, weights_only=True, map_location="cpu") for run, path in paths.items()}
        assert states["killed"]["global_step"] == states["unbroken"]["global_step"]
        weights = states["unbroken"]["state_dict"]
        assert set(states["killed"]["state_dict"]) == set(weights)
        changed = [k for k, v in weights.items() if not torch.equal(states["killed"]["state_dict"][k], v)]
        assert not changed, (name, changed)
    assert torch.load(final["unbroken"], weights_only=True)["global_step"] == 2 * BATCHES

    metrics = {}
    for run, args in (("unbroken", unbroken), ("killed", killed)):
        main(["test", *args, f"--ckpt_path={final[run]}"])
        metrics[run] = json.loads((tmp_path / "results" / f"{run}.json").read_text())["metrics"]
    assert "test/video_auc" in metrics["unbroken"]
    assert metrics["killed"] == metrics["unbroken"]


def test_resumed_dual_level_fit_equals_unbroken_fit(tiny_synthetic_root: Path, tmp_path: Path) -> None:
    size = ["--data.init_args.clip_len=2", "--data.init_args.frame_size=32", "--data.init_args.batch_size=4"]
    _check_resume_matches_unbroken_fit("dual_level", size, tiny_synthetic_root, tmp_path)


FRAME_SIZE = [
    "--data.init_args.frames_per_video=3", "--data.init_args.frame_size=32", "--data.init_args.batch_size=6",
    # The sampler whose epochs are seeded by (seed, epoch): the resumed epoch must draw the same batches.
    "--data.init_args.sampler=both_classes",
]  # fmt: skip


@pytest.mark.slow
def test_resumed_frame_detector_fit_equals_unbroken_fit(tiny_synthetic_root: Path, tmp_path: Path) -> None:
    _check_resume_matches_unbroken_fit("mfom_cnn", FRAME_SIZE, tiny_synthetic_root, tmp_path)


@pytest.mark.slow
def test_resumed_fit_with_augmentation_equals_unbroken_fit(tiny_synthetic_root: Path, tmp_path: Path) -> None:
    flip = json.dumps([{"name": "HorizontalFlip", "params": {"p": 0.5}}])
    size = [*FRAME_SIZE, f"--data.init_args.train_transform={flip}"]
    _check_resume_matches_unbroken_fit("mfom_cnn", size, tiny_synthetic_root, tmp_path)
