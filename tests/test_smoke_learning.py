"""The smoke configuration learns: what `make demo` shows, as a test (slow, run by `make test-all`).

The default run covers the same code path with a 2-epoch fit -> test in tests/test_cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepfake_suite.cli import main
from tests.conftest import PAPER_CONFIG, SMOKE_CONFIG


@pytest.mark.slow
def test_smoke_config_learns_clearly_better_than_chance(tmp_path: Path) -> None:
    common = [
        "--config", str(PAPER_CONFIG), "--config", str(SMOKE_CONFIG),
        f"--data.init_args.source.init_args.root={tmp_path / 'data'}",
        f"--runs_dir={tmp_path / 'runs'}", f"--results_dir={tmp_path / 'results'}",
        "--trainer.logger=false", "--run_name=learn",
    ]  # fmt: skip
    main(["fit", *common])
    main(["test", *common, "--ckpt_path=best"])
    metrics = json.loads((tmp_path / "results" / "learn.json").read_text())["metrics"]
    assert metrics["test/video_auc"] > 0.65
    assert metrics["test/frame_auc"] > 0.6
