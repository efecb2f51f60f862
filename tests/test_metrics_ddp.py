"""Two processes (gloo, CPU) with an uneven split give the one-process numbers exactly.

``DistributedSampler`` pads 101 samples to 2 x 51 by repeating one; with ``sample_id`` the metrics
count it once after gathering. Without ids the repeat is counted twice and the numbers move,
which shows the test can fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DistributedSampler

from metrics import DetectionMetrics
from metrics import functional as F

N_SAMPLES = 101
WORLD_SIZE = 2


def dataset() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    labels = (torch.rand(N_SAMPLES, generator=gen) < 0.4).long()
    probabilities = torch.sigmoid(torch.randn(N_SAMPLES, generator=gen) + labels).to(torch.float64)
    return probabilities, labels


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    try:
        probabilities, labels = dataset()
        sampler = DistributedSampler(
            range(N_SAMPLES), num_replicas=WORLD_SIZE, rank=rank, shuffle=True, seed=3
        )
        indices = torch.tensor(list(sampler))
        with_ids, without_ids = DetectionMetrics(), DetectionMetrics()
        for batch in indices.split(16):
            with_ids.update(probabilities[batch], labels[batch], sample_id=batch)
            without_ids.update(probabilities[batch], labels[batch])
        result = {
            "n_local": len(indices),
            "with_ids": with_ids.compute(),
            "without_ids": without_ids.compute(),
        }
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_process_metrics_equal_one_process(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    reference = F.detection_summary(*dataset())
    results = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]
    assert sum(r["n_local"] for r in results) == N_SAMPLES + 1  # one padded repeat
    for result in results:  # every rank computes the same, gathered numbers
        assert result["with_ids"] == reference
    assert any(not torch.equal(results[0]["without_ids"][k], reference[k]) for k in reference)
