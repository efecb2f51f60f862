"""Time the O(n log n) AUCLoss (p = 2) against the pairwise reference, then AUCLoss at 1M scores.

Usage: ``python bench/losses_bench.py [--device cpu|cuda] [--n-pairwise 20000] [--n-large 1000000]
[--repeats 5]``

Prints, for ``--n-pairwise`` logits: both loss values (float64 logits, so the difference is the
algorithms', not float32 rounding), their absolute difference, the median forward time of each
and the ratio pairwise / fast; then the median forward + backward time of AUCLoss on
``--n-large`` float32 logits. Times are medians over the repeats after one warm-up, synchronised
on CUDA. Both paths start from logits (the pairwise one applies the sigmoid first, as AUCLoss does).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import median_ms
from losses.auc_loss import AUCLoss, auc_loss_pairwise


def make_batch(n: int, dtype: torch.dtype, device: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, generator=gen) < 0.3).to(torch.int64)
    logits = torch.randn(n, generator=gen, dtype=dtype) + 1.5 * labels
    return logits.to(device), labels.to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--n-pairwise", type=int, default=20_000)
    parser.add_argument("--n-large", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sync: Callable[[], None] = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    loss = AUCLoss()  # gamma = 0.15, p = 2: the sort + prefix-sum path

    logits, labels = make_batch(args.n_pairwise, torch.float64, args.device, seed=0)
    n_fake = int(labels.sum())
    fast_value = loss(logits, labels).item()
    pair_value = auc_loss_pairwise(torch.sigmoid(logits), labels, loss.gamma, loss.p).item()
    t_fast = median_ms(lambda: loss(logits, labels), args.repeats, sync)
    t_pair = median_ms(
        lambda: auc_loss_pairwise(torch.sigmoid(logits), labels, loss.gamma, loss.p), args.repeats, sync
    )
    print(
        f"n={args.n_pairwise} ({n_fake} fakes x {args.n_pairwise - n_fake} reals) device={args.device} "
        f"repeats={args.repeats} (median ms, forward, float64 logits)"
    )
    print(f"AUCLoss (sort + prefix sums): {fast_value:.15f}  {t_fast:.2f} ms")
    print(f"auc_loss_pairwise (P x N):    {pair_value:.15f}  {t_pair:.2f} ms")
    print(f"|difference| = {abs(fast_value - pair_value):.1e}   pairwise / AUCLoss = {t_pair / t_fast:.1f}x")

    big_logits, big_labels = make_batch(args.n_large, torch.float32, args.device, seed=1)

    def forward_backward() -> None:
        x = big_logits.detach().requires_grad_(True)
        loss(x, big_labels).backward()

    t_big = median_ms(forward_backward, args.repeats, sync)
    print(f"AUCLoss forward + backward, n={args.n_large} float32 logits ({args.device}): {t_big:.2f} ms")


if __name__ == "__main__":
    main()
