"""Shared fixtures: one tiny synthetic dataset per session and CLI arguments that use it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Lightning attaches a StreamHandler to sys.stderr when first imported. The CLI imports it lazily,
# so without this the handler would capture the first test's stderr, which pytest closes after
# that test, and every later log line would print a "Logging error" traceback.
import lightning.pytorch  # noqa: F401
import pytest

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = REPO / "experiments" / "dual_level.yaml"
SMOKE_CONFIG = REPO / "experiments" / "smoke" / "dual_level.yaml"

# Tests never talk to W&B servers; tests that exercise the logger set their own mode.
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

TINY_SOURCE = {
    "num_identities": 9,
    "reals_per_identity": 2,
    "fakes_per_real": 1,
    "num_frames": 10,
    "frame_size": 64,
    "artifact_strength": (0.4, 1.0),
}


@pytest.fixture(autouse=True)
def _cli_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process CLI calls pass their own args; pytest's argv must not look like CLI input."""
    monkeypatch.setattr(sys, "argv", ["lightning"])


@pytest.fixture(scope="session")
def tiny_synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datamodules.synthetic import generate_synthetic_dataset

    root = tmp_path_factory.mktemp("synthetic") / "tiny"
    generate_synthetic_dataset(root, **TINY_SOURCE)
    return root


@pytest.fixture
def cli_args(tiny_synthetic_root: Path, tmp_path: Path) -> list[str]:
    """``fit``-ready arguments: paper config + smoke override on the tiny set, files under tmp_path."""
    source = "data.init_args.source.init_args"
    return [
        "--config",
        str(PAPER_CONFIG),
        "--config",
        str(SMOKE_CONFIG),
        f"--{source}.root={tiny_synthetic_root}",
        *[f"--{source}.{key}={json.dumps(value)}" for key, value in TINY_SOURCE.items()],
        "--data.init_args.clip_len=4",
        "--data.init_args.frame_size=32",
        "--data.init_args.batch_size=4",
        "--data.init_args.num_workers=0",
        f"--runs_dir={tmp_path / 'runs'}",
        f"--results_dir={tmp_path / 'results'}",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]
