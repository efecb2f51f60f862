"""Equal error rate under three documented conventions."""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import Tensor

from metrics.functional._counts import _counts_or_warn, _ErrorCounts, _nan

EERMethod = Literal["interpolate", "convex_hull", "nearest"]
_EER_METHODS: tuple[str, ...] = get_args(EERMethod)

# Alternating tangent steps in the convex-hull EER normally stop after two or three; the cap only
# guards against an endless loop, it never truncates a converging search in practice.
_MAX_HULL_STEPS = 10_000


def _eer_interpolate(counts: _ErrorCounts) -> Tensor:
    """Crossing of P_miss = P_fa on the straight segment between two adjacent operating points."""
    n_pos, n_neg = counts.n_pos, counts.n_neg
    # n_pos * n_neg * (P_miss - P_fa) in exact integers: the sign decides the segment, so no rounding
    # may flip it. It rises strictly along the curve, from -n_pos*n_neg to +n_pos*n_neg.
    gap = counts.miss * n_neg - counts.fa * n_pos
    right = torch.searchsorted(gap, torch.zeros(1, dtype=gap.dtype, device=gap.device)).squeeze(0)
    left = right - 1  # gap[0] < 0, so right >= 1
    g_left, g_right = gap[left].to(torch.float64), gap[right].to(torch.float64)
    alpha = -g_left / (g_right - g_left)
    m_left, m_right = counts.miss[left].to(torch.float64), counts.miss[right].to(torch.float64)
    return (m_left + alpha * (m_right - m_left)) / n_pos


def _eer_nearest(counts: _ErrorCounts) -> Tensor:
    """torchmetrics' ``BinaryEER`` rule, reproduced operation for operation."""
    # torchmetrics walks the ROC from its extra "accept nothing" point down the thresholds, keeps
    # counts and rates in the default float dtype, and takes the first minimiser of |FPR - FNR|.
    dtype = torch.get_default_dtype()
    fps = counts.fa.flip(0).to(dtype)
    tps = (counts.n_pos - counts.miss).flip(0).to(dtype)
    fpr = fps / fps[-1]
    tpr = tps / tps[-1]
    idx = torch.argmin(torch.abs(fpr - (1 - tpr)))
    return ((fpr[idx] + (1 - tpr[idx])) / 2).to(torch.float64)


def _diagonal_crossing(x_a: Tensor, d_a: Tensor, x_b: Tensor, d_b: Tensor) -> Tensor:
    """Where the segment from a (d_a = x_a - y_a > 0) to b (d_b <= 0) meets the line x = y."""
    return (d_a * x_b - d_b * x_a) / (d_a - d_b)


def _eer_convex_hull(counts: _ErrorCounts) -> Tensor:
    """EER of the ROC convex hull (ROCCH-EER), without building the hull.

    In the (x, y) = (P_fa, P_miss) plane the points split into A (x > y) and B (x <= y); the hull
    edge that crosses the diagonal joins a point of A to a point of B, and every other A-B segment
    crosses the diagonal no lower. So ROCCH-EER = min over pairs of their crossing. Alternating
    "best b for this a" and "best a for this b" lowers the crossing at every step and can only stop
    when the segment supports every point, i.e. on the hull edge itself. Each step is one
    vectorised pass; starting from the last operating point before the curve crosses the diagonal,
    two to four steps sufficed on every curve tried.
    """
    n_pos, n_neg = counts.n_pos, counts.n_neg
    x = counts.fa.to(torch.float64) / n_neg
    y = counts.miss.to(torch.float64) / n_pos
    in_a = counts.fa * n_pos > counts.miss * n_neg  # exact x > y
    x_a, d_a = x[in_a], (x - y)[in_a]
    x_b, d_b = x[~in_a], (x - y)[~in_a]
    # The last A point before the curve crosses is a good start (A is ordered by threshold).
    ia = torch.tensor(x_a.numel() - 1, device=x.device)
    best = math.inf
    for _ in range(_MAX_HULL_STEPS):
        ib = torch.argmin(_diagonal_crossing(x_a[ia], d_a[ia], x_b, d_b))
        crossings = _diagonal_crossing(x_a, d_a, x_b[ib], d_b[ib])
        ia = torch.argmin(crossings)
        value = float(crossings[ia])
        if value >= best:
            break
        best = value
    return torch.tensor(best, dtype=torch.float64, device=x.device)


_EER_RULES = {"interpolate": _eer_interpolate, "convex_hull": _eer_convex_hull, "nearest": _eer_nearest}


def eer(scores: Tensor, labels: Tensor, method: EERMethod = "interpolate") -> Tensor:
    r"""Equal error rate: the error rate where :math:`P_\text{miss} = P_\text{fa}`.

    The empirical curve is a staircase, so it rarely has a point with equal rates; the three
    methods differ in how they resolve that. Let :math:`t_0 < \dots < t_{K-1}` be the distinct
    scores, :math:`t_K = +\infty`, and :math:`D_k = P_\text{miss}(t_k) - P_\text{fa}(t_k)`, which
    rises strictly from :math:`D_0 = -1` to :math:`D_K = 1`.

    - ``"interpolate"`` (default): take the first :math:`k` with :math:`D_k \ge 0` and join the
      operating points :math:`k-1` and :math:`k` with a straight line (the ROC's linear
      interpolation, i.e. randomising between the two thresholds). EER is where that line
      crosses :math:`P_\text{miss} = P_\text{fa}`:

      .. math::
          \alpha = \frac{-D_{k-1}}{D_k - D_{k-1}}, \qquad
          \text{EER} = (1 - \alpha)\, P_\text{miss}(t_{k-1}) + \alpha\, P_\text{miss}(t_k)
                     = (1 - \alpha)\, P_\text{fa}(t_{k-1}) + \alpha\, P_\text{fa}(t_k).

      When :math:`D_k = 0` this is exactly the operating point :math:`k`. Equal to intersecting
      the piecewise-linear ``sklearn.metrics.roc_curve`` with :math:`1 - \text{TPR} = \text{FPR}`.
    - ``"convex_hull"``: the same crossing on the ROC convex hull (ROCCH-EER of the BOSARIS toolkit
      and pyllr), i.e. the best error a mixture of thresholds can guarantee on both classes;
      equivalently :math:`\max_{\pi} \min_t [\pi P_\text{miss}(t) + (1-\pi) P_\text{fa}(t)]`. It is
      never above ``"interpolate"``, never above 0.5, and equal to it where the curve is convex
      around the crossing.
    - ``"nearest"``: torchmetrics' ``BinaryEER`` (and DeepfakeBench): the operating point with the
      smallest :math:`|P_\text{fa} - P_\text{miss}|` (the highest threshold on ties), reported as
      :math:`(P_\text{fa} + P_\text{miss}) / 2` there, in float32 as torchmetrics computes it. It
      equals ``BinaryEER`` bit for bit on probabilities (fewer than :math:`2^{24}` samples);
      ``BinaryEER`` squashes scores outside [0, 1] with a float32 sigmoid, which merges logits above
      about 17 into ties, while this function ranks the raw scores.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.
        method: ``"interpolate"``, ``"convex_hull"`` or ``"nearest"``.

    Returns:
        0-dim float64 tensor in [0, 1]; ``nan`` (and a ``UserWarning``) if a class is missing.

    Example:
        >>> scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
        >>> labels = torch.tensor([0, 1, 0, 1, 0, 1, 1])
        >>> eer(scores, labels)  # between (P_miss, P_fa) = (1/4, 1/3) and (1/2, 1/3)
        tensor(0.3333, dtype=torch.float64)
        >>> eer(scores, labels, method="convex_hull")  # hull edge P_miss = 1/2 - 3/4 P_fa
        tensor(0.2857, dtype=torch.float64)
        >>> eer(scores, labels, method="nearest")  # (1/4 + 1/3) / 2
        tensor(0.2917, dtype=torch.float64)
    """
    if method not in _EER_METHODS:
        raise ValueError(f"method must be one of {_EER_METHODS}, got {method!r}")
    counts = _counts_or_warn(scores, labels, "eer")
    if counts is None:
        return _nan(scores)
    return _EER_RULES[method](counts)
