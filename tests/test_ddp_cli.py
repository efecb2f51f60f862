"""Three CPU processes (ddp_spawn, gloo) test a checkpoint to the one-process numbers exactly.

The 8 test videos of the tiny set do not split evenly over 3 ranks, so DistributedSampler pads
with a repeat that the metrics must drop. Both runs score one video per batch: a float32 network
gives the same bits for a sample only when its batch is the same (BLAS kernels depend on the
batch size and the thread count), and the claim under test is about the metrics, not the
kernels. Slow (three
Lightning processes start); the default run covers the de-duplication with two bare gloo
processes in tests/test_metrics_ddp.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deepfake_suite.cli import main


@pytest.mark.slow
def test_three_process_test_equals_one_process_test(
    cli_args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lightning gives each CPU process cores // processes threads unless OMP_NUM_THREADS is set.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _compare_one_and_three_processes(cli_args, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _compare_one_and_three_processes(cli_args: list[str], tmp_path: Path) -> None:
    results = tmp_path / "results" / "ddp.json"
    quick = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--run_name=ddp"]
    main(["fit", *cli_args, *quick])
    one_per_batch = "--data.init_args.eval_batch_size=1"
    main(["test", *cli_args, "--run_name=ddp", "--ckpt_path=last", one_per_batch])
    one = json.loads(results.read_text())["metrics"]
    results.unlink()
    main(
        [
            "test", *cli_args, "--run_name=ddp", "--ckpt_path=last",
            "--trainer.devices=3", "--trainer.strategy=ddp_spawn", one_per_batch,
        ]
    )  # fmt: skip
    three = json.loads(results.read_text())["metrics"]
    exact = [k for k in one if k.startswith(("test/video_", "test/frame_"))]
    assert "test/video_auc" in exact and "test/frame_log_loss" in exact
    assert {k: three[k] for k in exact} == {k: one[k] for k in exact}
