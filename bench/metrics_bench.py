"""Time our sort-based EER, AUC and minDCF against scikit-learn on the same scores.

Usage: ``python bench/metrics_bench.py [--n 1000000] [--device cpu|cuda] [--repeats 5]``

Prints one line per implementation (median milliseconds over the repeats) and the ratios
sklearn / ours measured in this run, and checks that EER and AUC agree with sklearn to 1e-9.
sklearn always runs on CPU numpy; ours runs on ``--device`` (synchronised on CUDA).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import median_ms
from metrics import functional as F

P_TARGETS = (0.1, 0.05, 0.01)


def sklearn_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Crossing of the piecewise-linear sklearn ROC with FNR = FPR (same rule as ``eer`` default)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1.0 - tpr
    return float(np.interp(0.0, fpr - fnr, fnr))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    gen = torch.Generator().manual_seed(0)
    labels = (torch.rand(args.n, generator=gen) < 0.3).to(torch.int64)
    probabilities = torch.sigmoid(torch.randn(args.n, generator=gen) + 1.5 * labels)
    scores_np, labels_np = probabilities.numpy(), labels.numpy()
    s_dev, y_dev = probabilities.to(args.device), labels.to(args.device)
    sync: Callable[[], None] = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    no_sync: Callable[[], None] = lambda: None  # noqa: E731 - sklearn runs on numpy

    timings = {
        "ours eer": median_ms(lambda: F.eer(s_dev, y_dev), args.repeats, sync),
        "ours auc": median_ms(lambda: F.auc(s_dev, y_dev), args.repeats, sync),
        "ours eer + min_dcf x3 + auc (one sort)": median_ms(
            lambda: F.detection_summary(s_dev, y_dev, P_TARGETS), args.repeats, sync
        ),
        "sklearn roc_curve eer": median_ms(lambda: sklearn_eer(scores_np, labels_np), args.repeats, no_sync),
        "sklearn roc_auc_score": median_ms(
            lambda: roc_auc_score(labels_np, scores_np), args.repeats, no_sync
        ),
    }
    print(f"n={args.n:,} device={args.device} repeats={args.repeats} (median ms; sklearn on CPU numpy)")
    for name, ms in timings.items():
        print(f"  {name:42s} {ms:10.2f} ms")
    sk_eer, sk_auc = timings["sklearn roc_curve eer"], timings["sklearn roc_auc_score"]
    print(f"ratio sklearn eer / ours eer:                 {sk_eer / timings['ours eer']:.1f}x")
    print(f"ratio sklearn auc / ours auc:                 {sk_auc / timings['ours auc']:.1f}x")
    summary_ms = timings["ours eer + min_dcf x3 + auc (one sort)"]
    print(f"ratio sklearn (eer + auc) / ours summary:     {(sk_eer + sk_auc) / summary_ms:.1f}x")

    checks = {
        "eer": (float(F.eer(s_dev, y_dev)), sklearn_eer(scores_np, labels_np)),
        "auc": (float(F.auc(s_dev, y_dev)), float(roc_auc_score(labels_np, scores_np))),
    }
    for name, (ours, ref) in checks.items():
        if abs(ours - ref) > 1e-9:
            raise SystemExit(f"{name} values differ: ours {ours!r}, sklearn {ref!r}")
        print(f"values agree ({name} ours {ours:.12f}, sklearn {ref:.12f}, |diff| {abs(ours - ref):.1e})")


if __name__ == "__main__":
    main()
