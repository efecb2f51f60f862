"""Detection cost functions: minimum and actual normalised DCF (NIST SRE convention)."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from metrics.functional._counts import _counts_or_warn, _ErrorCounts, _nan, _rates, _validate


def _check_dcf_params(p_target: float, c_miss: float, c_fa: float) -> float:
    """Validate DCF parameters and return the normaliser min(C_miss P_tar, C_fa (1 - P_tar))."""
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target}")
    if not (c_miss > 0.0 and c_fa > 0.0):
        raise ValueError(f"c_miss and c_fa must be positive, got c_miss={c_miss}, c_fa={c_fa}")
    return min(c_miss * p_target, c_fa * (1.0 - p_target))


def _dcf(p_miss: Tensor, p_fa: Tensor, p_target: float, c_miss: float, c_fa: float) -> Tensor:
    """Normalised detection cost for matching tensors of rates."""
    norm = _check_dcf_params(p_target, c_miss, c_fa)
    return (c_miss * p_target * p_miss + c_fa * (1.0 - p_target) * p_fa) / norm


def _min_dcf_point(
    scores: Tensor, labels: Tensor, p_target: float, c_miss: float, c_fa: float, caller: str
) -> tuple[Tensor, Tensor]:
    """(minDCF, threshold attaining it); nan for both when a class is missing."""
    _check_dcf_params(p_target, c_miss, c_fa)
    counts = _counts_or_warn(scores, labels, caller)
    if counts is None:
        return _nan(scores), _nan(scores)
    return _min_dcf_from_counts(counts, p_target, c_miss, c_fa)


def _min_dcf_from_counts(
    counts: _ErrorCounts, p_target: float, c_miss: float = 1.0, c_fa: float = 1.0
) -> tuple[Tensor, Tensor]:
    """(minDCF, lowest threshold attaining it) from counts already sorted (both classes present)."""
    costs = _dcf(*_rates(counts), p_target, c_miss, c_fa)
    idx = torch.argmin(costs)
    return costs[idx], counts.thresholds[idx]


def min_dcf(
    scores: Tensor, labels: Tensor, p_target: float, c_miss: float = 1.0, c_fa: float = 1.0
) -> Tensor:
    r"""Minimum normalised detection cost over all thresholds (NIST SRE convention).

    .. math::
        \text{minDCF} = \min_t \frac{C_\text{miss} P_\text{tar} P_\text{miss}(t)
            + C_\text{fa} (1 - P_\text{tar}) P_\text{fa}(t)}{\min(C_\text{miss} P_\text{tar},\
            C_\text{fa} (1 - P_\text{tar}))}

    over every distinct score and :math:`+\infty`, so the trivial decisions "everything fake" and
    "everything real" are included: the value is in [0, 1], and 1 means no better than the best
    constant decision.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake (the target).
        p_target: prior of a fake, in (0, 1); DESIGN.md uses 0.1, 0.05 and 0.01.
        c_miss: cost of calling a fake real.
        c_fa: cost of calling a real fake.

    Returns:
        0-dim float64 tensor; ``nan`` (and a ``UserWarning``) if a class is missing.

    Example:
        >>> scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
        >>> labels = torch.tensor([0, 1, 0, 1, 0, 1, 1])
        >>> min_dcf(scores, labels, p_target=0.5)
        tensor(0.5000, dtype=torch.float64)
        >>> min_dcf(scores, labels, p_target=0.5, c_miss=10.0)
        tensor(0.6667, dtype=torch.float64)
    """
    return _min_dcf_point(scores, labels, p_target, c_miss, c_fa, "min_dcf")[0]


def min_dcf_threshold(
    scores: Tensor, labels: Tensor, p_target: float, c_miss: float = 1.0, c_fa: float = 1.0
) -> Tensor:
    """Threshold at which :func:`min_dcf` is attained (predict fake iff score >= threshold).

    Where several thresholds reach the minimum, the lowest is returned (it flags the most fakes).
    ``+inf`` means "call everything real" is optimal. ``act_dcf`` at this threshold on the same
    data equals ``min_dcf``; set it on validation data and apply it to test data.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.
        p_target: prior of a fake, in (0, 1).
        c_miss: cost of calling a fake real.
        c_fa: cost of calling a real fake.

    Returns:
        0-dim tensor in the scores' floating dtype; float64 ``nan`` if a class is missing.

    Example:
        >>> min_dcf_threshold(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8]),
        ...                   torch.tensor([0, 1, 0, 1, 0, 1, 1]), p_target=0.5)
        tensor(0.7000)
    """
    return _min_dcf_point(scores, labels, p_target, c_miss, c_fa, "min_dcf_threshold")[1]


def act_dcf(
    scores: Tensor,
    labels: Tensor,
    threshold: float | Tensor,
    p_target: float,
    c_miss: float = 1.0,
    c_fa: float = 1.0,
) -> Tensor:
    r"""Actual normalised detection cost at a fixed threshold (predict fake iff score >= threshold).

    .. math::
        \text{actDCF}(t) = \frac{C_\text{miss} P_\text{tar} P_\text{miss}(t)
            + C_\text{fa} (1 - P_\text{tar}) P_\text{fa}(t)}{\min(C_\text{miss} P_\text{tar},\
            C_\text{fa} (1 - P_\text{tar}))}

    Unlike minDCF it can exceed 1: a badly placed threshold is worse than a constant decision.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.
        threshold: decision threshold on the scores' scale (a logit threshold for logits).
        p_target: prior of a fake, in (0, 1).
        c_miss: cost of calling a fake real.
        c_fa: cost of calling a real fake.

    Returns:
        0-dim float64 tensor; ``nan`` (and a ``UserWarning``) if a class is missing.

    Example:
        >>> act_dcf(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8]),
        ...         torch.tensor([0, 1, 0, 1, 0, 1, 1]), threshold=0.5, p_target=0.5)
        tensor(0.8333, dtype=torch.float64)
    """
    _check_dcf_params(p_target, c_miss, c_fa)
    scores, labels = _validate(scores, labels)
    threshold = torch.as_tensor(threshold, device=scores.device)
    if threshold.numel() != 1 or bool(torch.isnan(threshold)):
        raise ValueError(f"threshold must be a single number, got {threshold}")
    n_pos = int(labels.sum())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        missing = "fake (label 1)" if n_pos == 0 else "real (label 0)"
        warnings.warn(f"act_dcf: no {missing} samples; returning NaN", UserWarning, stacklevel=2)
        return _nan(scores)
    called_fake = scores >= threshold
    p_miss = (labels & ~called_fake).sum().to(torch.float64) / n_pos
    p_fa = (~labels & called_fake).sum().to(torch.float64) / n_neg
    return _dcf(p_miss, p_fa, p_target, c_miss, c_fa)
