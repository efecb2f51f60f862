r"""Thresholded classification metrics and log loss: ACC, precision, recall, F1, DFDC's log loss.

Same conventions as the rest of :mod:`metrics.functional`: label 1 = fake = positive, and a sample
is **called fake iff score >= threshold** (torchmetrics' ``Binary*`` classes call fake iff
score > threshold; they differ only for scores exactly at the threshold). With TP, FP, TN, FN
counted at that threshold:

.. math::
    \text{ACC} = \frac{TP + TN}{N}, \quad \text{precision} = \frac{TP}{TP + FP}, \quad
    \text{recall} = \frac{TP}{TP + FN}, \quad F_1 = \frac{2\,TP}{2\,TP + FP + FN}.

A ratio whose denominator is 0 (no sample called fake for precision, no fake for recall, neither
for F1) is 0, as ``sklearn.metrics`` gives with ``zero_division=0``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from metrics.functional._counts import _validate
from metrics.functional.hter import _check_threshold


class _Confusion(NamedTuple):
    tp: int
    fp: int
    tn: int
    fn: int


def _confusion(scores: Tensor, labels: Tensor, threshold: float | Tensor) -> _Confusion:
    return _confusion_of_valid(*_validate(scores, labels), threshold)


def _confusion_of_valid(scores: Tensor, is_fake: Tensor, threshold: float | Tensor) -> _Confusion:
    """Confusion counts of already validated (flat floating scores, bool labels)."""
    called_fake = scores >= _check_threshold(threshold, scores.device)
    tp = int((called_fake & is_fake).sum())
    fp = int((called_fake & ~is_fake).sum())
    fn = int(is_fake.sum()) - tp
    return _Confusion(tp, fp, is_fake.numel() - tp - fp - fn, fn)


def _ratio(numerator: int, denominator: int) -> Tensor:
    return torch.tensor(numerator / denominator if denominator else 0.0, dtype=torch.float64)


def accuracy(scores: Tensor, labels: Tensor, threshold: float | Tensor = 0.5) -> Tensor:
    """Fraction of samples called correctly (fake iff score >= threshold).

    Example:
        >>> accuracy(torch.tensor([0.2, 0.5, 0.7, 0.4]), torch.tensor([0, 0, 1, 1]))
        tensor(0.5000, dtype=torch.float64)
    """
    c = _confusion(scores, labels, threshold)
    return _ratio(c.tp + c.tn, c.tp + c.fp + c.tn + c.fn)


def precision(scores: Tensor, labels: Tensor, threshold: float | Tensor = 0.5) -> Tensor:
    """Fraction of samples called fake that are fake; 0 when nothing is called fake.

    Example:
        >>> precision(torch.tensor([0.2, 0.5, 0.7, 0.4]), torch.tensor([0, 0, 1, 1]))
        tensor(0.5000, dtype=torch.float64)
    """
    c = _confusion(scores, labels, threshold)
    return _ratio(c.tp, c.tp + c.fp)


def recall(scores: Tensor, labels: Tensor, threshold: float | Tensor = 0.5) -> Tensor:
    """Fraction of fakes called fake (1 - P_miss at the threshold); 0 when there is no fake.

    Example:
        >>> recall(torch.tensor([0.2, 0.5, 0.7, 0.4]), torch.tensor([0, 0, 1, 1]))
        tensor(0.5000, dtype=torch.float64)
    """
    c = _confusion(scores, labels, threshold)
    return _ratio(c.tp, c.tp + c.fn)


def f1_score(scores: Tensor, labels: Tensor, threshold: float | Tensor = 0.5) -> Tensor:
    """Harmonic mean of precision and recall, ``2 TP / (2 TP + FP + FN)``; 0 when that is 0 / 0.

    Example:
        >>> f1_score(torch.tensor([0.2, 0.5, 0.7, 0.9]), torch.tensor([0, 0, 1, 1]))  # 4 / (4 + 1)
        tensor(0.8000, dtype=torch.float64)
    """
    c = _confusion(scores, labels, threshold)
    return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn)


DFDC_EPS = 1e-15


def log_loss(probabilities: Tensor, labels: Tensor, eps: float = DFDC_EPS) -> Tensor:
    r"""Binary cross-entropy of probabilities of fake, the DFDC challenge's score.

    .. math::
        \text{LogLoss} = -\frac{1}{N} \sum_i \big[ y_i \log \hat p_i + (1 - y_i) \log (1 - \hat p_i) \big],
        \qquad \hat p_i = \operatorname{clip}(p_i, \epsilon, 1 - \epsilon)

    computed in float64. The clip (``eps = 1e-15`` as on the DFDC leaderboard) bounds the cost of a
    confident mistake at :math:`-\log \epsilon \approx 34.5`. scikit-learn's ``log_loss`` clips at the
    float's machine epsilon instead, so the two agree wherever no probability is closer than that
    to 0 or 1.

    Args:
        probabilities: (N,) probabilities of fake in [0, 1] (not logits).
        labels: (N,) labels in {0, 1}, 1 = fake.
        eps: clipping bound, in (0, 0.5).

    Returns:
        0-dim float64 tensor.

    Example:
        >>> log_loss(torch.tensor([0.9, 0.2]), torch.tensor([1, 0]))  # -(log 0.9 + log 0.8) / 2
        tensor(0.1643, dtype=torch.float64)
    """
    return _log_loss_of_valid(*_validate(probabilities, labels), eps)


def _log_loss_of_valid(probabilities: Tensor, is_fake: Tensor, eps: float = DFDC_EPS) -> Tensor:
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}")
    outside = (probabilities < 0) | (probabilities > 1)
    if bool(outside.any()):
        example = float(probabilities[outside][0])
        raise ValueError(
            f"log_loss takes probabilities in [0, 1], got {int(outside.sum())} values outside such as "
            f"{example} (apply a sigmoid to logits first)"
        )
    p = probabilities.to(torch.float64).clamp(eps, 1.0 - eps)
    per_sample = torch.where(is_fake, torch.log(p), torch.log1p(-p))
    return -per_sample.mean()
