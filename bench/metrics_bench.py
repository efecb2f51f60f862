"""Time our sort-based EER and minDCF against an sklearn ``roc_curve``-based EER on the same scores.

Usage: ``python bench/metrics_bench.py [--n 1000000] [--device cpu|cuda] [--repeats 5]``

Prints one line per implementation (median milliseconds over the repeats) with the ratio
sklearn / ours measured in this run, and checks that the two EER values agree to 1e-9.
sklearn always runs on CPU numpy; ours runs on ``--device`` (synchronised on CUDA).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_curve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metrics import functional as F

P_TARGETS = (0.1, 0.05, 0.01)


def sklearn_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Crossing of the piecewise-linear sklearn ROC with FNR = FPR (same rule as ``eer`` default)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1.0 - tpr
    return float(np.interp(0.0, fpr - fnr, fnr))


def median_ms(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()  # warm-up (CUDA kernels, allocator, sklearn imports)
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    gen = torch.Generator().manual_seed(0)
    labels = (torch.rand(args.n, generator=gen) < 0.3).to(torch.int64)
    scores = torch.randn(args.n, generator=gen) + 1.5 * labels
    scores_np, labels_np = scores.numpy(), labels.numpy()
    s_dev, y_dev = scores.to(args.device), labels.to(args.device)
    sync: Callable[[], None] = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)

    def ours_eer() -> torch.Tensor:
        return F.eer(s_dev, y_dev)

    def ours_dcf() -> list[torch.Tensor]:
        return [F.min_dcf(s_dev, y_dev, p_target=p) for p in P_TARGETS]

    def ours_both() -> None:
        ours_eer()
        ours_dcf()

    t_eer = median_ms(ours_eer, args.repeats, sync)
    t_dcf = median_ms(ours_dcf, args.repeats, sync)
    t_both = median_ms(ours_both, args.repeats, sync)
    t_sk = median_ms(lambda: sklearn_eer(scores_np, labels_np), args.repeats, lambda: None)

    print(f"n={args.n} device={args.device} repeats={args.repeats} (median ms)")
    print(f"ours eer ({args.device}): {t_eer:.2f} ms  sklearn/ours = {t_sk / t_eer:.1f}x")
    print(f"ours min_dcf x3 ({args.device}): {t_dcf:.2f} ms")
    print(f"ours eer + min_dcf x3 ({args.device}): {t_both:.2f} ms  sklearn/ours = {t_sk / t_both:.1f}x")
    print(f"sklearn roc_curve eer (cpu numpy): {t_sk:.2f} ms")

    ours = float(ours_eer())
    ref = sklearn_eer(scores_np, labels_np)
    if abs(ours - ref) > 1e-9:
        raise SystemExit(f"EER values differ: ours {ours!r}, sklearn {ref!r}")
    print(f"values agree (eer ours {ours:.12f}, sklearn {ref:.12f}, |diff| {abs(ours - ref):.1e})")


if __name__ == "__main__":
    main()
