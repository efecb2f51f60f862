"""Error-rate, DET and ROC curves."""

from __future__ import annotations

import torch
from torch import Tensor

from metrics.functional._counts import (
    _counts_or_warn,
    _error_counts,
    _ErrorCounts,
    _nan,
    _rates,
    _validate,
    _warn_if_missing,
)


def error_rate_curve(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""Miss and false-alarm rates at every distinct score threshold.

    One point per distinct score value ``t`` (ties give one point), plus ``t = +inf`` where
    everything is called real. Along the returned order, :math:`P_\text{miss}` rises and
    :math:`P_\text{fa}` falls, and :math:`P_\text{miss} - P_\text{fa}` rises strictly.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.

    Returns:
        ``(thresholds, p_miss, p_fa)``, each (K + 1,) for K distinct scores: thresholds ascending
        in the scores' floating dtype ending with ``+inf``; rates in float64. A missing class makes
        its rate ``nan`` (with a ``UserWarning``).

    Example:
        >>> thresholds, p_miss, p_fa = error_rate_curve(torch.tensor([0.1, 0.4, 0.4, 0.8]),
        ...                                             torch.tensor([0, 0, 1, 1]))
        >>> thresholds
        tensor([0.1000, 0.4000, 0.8000,    inf])
        >>> p_miss
        tensor([0.0000, 0.0000, 0.5000, 1.0000], dtype=torch.float64)
        >>> p_fa
        tensor([1.0000, 0.5000, 0.0000, 0.0000], dtype=torch.float64)
    """
    counts = _error_counts(*_validate(scores, labels))
    _warn_if_missing(counts, "error_rate_curve")
    p_miss, p_fa = _rates(counts)
    return counts.thresholds, p_miss, p_fa


def det_curve(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Points of the DET curve, linear rates (warping the axes with a probit is the caller's business).

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.

    Returns:
        ``(p_fa, p_miss, thresholds)``, each (K + 1,): the points of :func:`error_rate_curve`, with
        thresholds ascending and ``+inf`` last (p_fa falls, p_miss rises).

    Example:
        >>> p_fa, p_miss, _ = det_curve(torch.tensor([0.2, 0.6, 0.7]), torch.tensor([0, 1, 0]))
        >>> p_fa
        tensor([1.0000, 0.5000, 0.5000, 0.0000], dtype=torch.float64)
        >>> p_miss
        tensor([0., 0., 1., 1.], dtype=torch.float64)
    """
    thresholds, p_miss, p_fa = error_rate_curve(scores, labels)
    return p_fa, p_miss, thresholds


def roc_curve(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """ROC points with thresholds descending, in the order and convention of scikit-learn.

    The first point is ``threshold = +inf`` (nothing called fake, FPR = TPR = 0) and the last the
    lowest distinct score (everything called fake, FPR = TPR = 1). Unlike ``sklearn.metrics.roc_curve``
    with its default ``drop_intermediate=True``, collinear points are kept: one point per distinct
    score.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake (the positive class).

    Returns:
        ``(fpr, tpr, thresholds)``, each (K + 1,); rates float64 (``nan`` for a missing class).

    Example:
        >>> fpr, tpr, thresholds = roc_curve(torch.tensor([0.1, 0.4, 0.4, 0.8]), torch.tensor([0, 0, 1, 1]))
        >>> fpr
        tensor([0.0000, 0.0000, 0.5000, 1.0000], dtype=torch.float64)
        >>> tpr
        tensor([0.0000, 0.5000, 1.0000, 1.0000], dtype=torch.float64)
    """
    thresholds, p_miss, p_fa = error_rate_curve(scores, labels)
    return p_fa.flip(0), (1.0 - p_miss).flip(0), thresholds.flip(0)


def _auc_from_counts(counts: _ErrorCounts) -> Tensor:
    """Trapezoidal area under the ROC, in exact integer arithmetic until the final division."""
    true_pos = counts.n_pos - counts.miss
    # Between adjacent thresholds FPR drops by d_fa / n_neg while TPR moves linearly: a trapezoid
    # of twice-area d_fa * (tp_k + tp_{k+1}). A tie run of fakes and reals thus counts one half per pair.
    twice_area = ((counts.fa[:-1] - counts.fa[1:]) * (true_pos[:-1] + true_pos[1:])).sum()
    return twice_area.to(torch.float64) / (2.0 * counts.n_pos * counts.n_neg)


def auc(scores: Tensor, labels: Tensor) -> Tensor:
    r"""Area under the ROC curve: the probability that a fake scores above a real, ties counting half.

    .. math::
        \text{AUC} = \frac{1}{|P||N|} \sum_{i \in P} \sum_{j \in N}
            \left( [s_i > s_j] + \tfrac{1}{2} [s_i = s_j] \right)

    (the Mann-Whitney statistic), equal to the trapezoidal area of :func:`roc_curve` and to
    ``sklearn.metrics.roc_auc_score``. Computed from the shared sorted counts in integers, so it is
    exact up to the final division.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.

    Returns:
        0-dim float64 tensor; ``nan`` (and a ``UserWarning``) if a class is missing.

    Example:
        >>> auc(torch.tensor([0.1, 0.4, 0.4, 0.8]), torch.tensor([0, 0, 1, 1]))  # pairs: 1, 1, 0.5, 1
        tensor(0.8750, dtype=torch.float64)
    """
    counts = _counts_or_warn(scores, labels, "auc")
    if counts is None:
        return _nan(scores)
    return _auc_from_counts(counts)
