r"""torchmetrics wrappers around :mod:`metrics.functional`: exact EER and minDCF over a whole epoch.

Both keep every score and label (``dist_reduce_fx="cat"``), because EER and minDCF depend on the
ranking of all samples and cannot be accumulated from per-batch values. Under DDP, samples that
``DistributedSampler`` duplicated to pad the ranks are still counted twice: drop them before
``update`` (e.g. by sample index) for exact numbers.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from metrics import functional as F
from metrics.functional import EERMethod


class _ScoreLabelMetric(Metric):
    """Collects (scores, labels) of every update; subclasses compute on the concatenation."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    scores: list[Tensor]
    labels: list[Tensor]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Store one batch.

        Args:
            preds: (N,) scores of fake, logits or probabilities (only their ranking matters).
            target: (N,) labels in {0, 1}, int or float, 1 = fake; checked at ``compute``.
        """
        if preds.shape != target.shape:
            raise ValueError(
                f"preds and target must have the same shape, got preds {tuple(preds.shape)} "
                f"and target {tuple(target.shape)}"
            )
        preds = preds.detach().flatten()
        self.scores.append(preds if preds.is_floating_point() else preds.to(torch.float32))
        self.labels.append(target.detach().flatten())

    def _gathered(self) -> tuple[Tensor, Tensor]:
        if not self.scores:
            raise ValueError(f"{type(self).__name__}.compute() called before any update()")
        return dim_zero_cat(self.scores), dim_zero_cat(self.labels)


class EER(_ScoreLabelMetric):
    r"""Equal error rate of fake detection over everything seen since the last reset.

    The error rate where :math:`P_\text{miss}(t) = P_\text{fa}(t)`, with

    .. math::
        P_\text{miss}(t) = \frac{\#\{y_i = 1, s_i < t\}}{\#\{y_i = 1\}}, \qquad
        P_\text{fa}(t) = \frac{\#\{y_i = 0, s_i \ge t\}}{\#\{y_i = 0\}},

    resolved on the staircase curve by ``method`` (see :func:`metrics.functional.eer`):
    ``"interpolate"`` (straight line between the two operating points around the crossing),
    ``"convex_hull"`` (ROCCH-EER) or ``"nearest"`` (torchmetrics' ``BinaryEER`` rule).

    Args:
        method: how to resolve the crossing.
        kwargs: passed to :class:`torchmetrics.Metric` (e.g. ``sync_on_compute``).

    Example:
        >>> metric = EER()
        >>> metric.update(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0, 1, 0]))
        >>> metric.update(torch.tensor([0.4, 0.6, 0.7, 0.8]), torch.tensor([1, 0, 1, 1]))
        >>> metric.compute()
        tensor(0.3333, dtype=torch.float64)
    """

    def __init__(self, method: EERMethod = "interpolate", **kwargs: Any) -> None:
        if method not in F._EER_METHODS:
            raise ValueError(f"method must be one of {F._EER_METHODS}, got {method!r}")
        super().__init__(**kwargs)
        self.method = method

    def compute(self) -> Tensor:
        """EER of all stored samples: 0-dim float64, ``nan`` with a warning if a class is missing."""
        return F.eer(*self._gathered(), method=self.method)


class MinDCF(_ScoreLabelMetric):
    r"""Minimum normalised detection cost (NIST SRE) over everything seen since the last reset.

    .. math::
        \text{minDCF} = \min_t \frac{C_\text{miss} P_\text{tar} P_\text{miss}(t)
            + C_\text{fa} (1 - P_\text{tar}) P_\text{fa}(t)}{\min(C_\text{miss} P_\text{tar},\
            C_\text{fa} (1 - P_\text{tar}))}

    in [0, 1]; 1 means no better than the best constant decision. Fake (label 1) is the target.

    Args:
        p_target: prior of a fake, in (0, 1).
        c_miss: cost of calling a fake real.
        c_fa: cost of calling a real fake.
        kwargs: passed to :class:`torchmetrics.Metric`.

    Example:
        >>> metric = MinDCF(p_target=0.5)
        >>> scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
        >>> metric.update(scores, torch.tensor([0, 1, 0, 1, 0, 1, 1]))
        >>> metric.compute()
        tensor(0.5000, dtype=torch.float64)
    """

    def __init__(self, p_target: float, c_miss: float = 1.0, c_fa: float = 1.0, **kwargs: Any) -> None:
        F._check_dcf_params(p_target, c_miss, c_fa)
        super().__init__(**kwargs)
        self.p_target = p_target
        self.c_miss = c_miss
        self.c_fa = c_fa

    def compute(self) -> Tensor:
        """minDCF of all stored samples: 0-dim float64, ``nan`` with a warning if a class is missing."""
        return F.min_dcf(*self._gathered(), p_target=self.p_target, c_miss=self.c_miss, c_fa=self.c_fa)


class HTER(_ScoreLabelMetric):
    r"""Half total error rate at a fixed threshold over everything seen since the last reset.

    :math:`\text{HTER} = (\text{FAR} + \text{FRR}) / 2` with FAR = P_miss (fakes accepted as real)
    and FRR = P_fa (reals flagged fake), predicting fake iff score >= ``threshold``. Fix the
    threshold on validation data with :func:`metrics.functional.threshold_at` (the attribution
    paper's "10% of fakes accepted as real" is ``p_miss=0.10``), then evaluate on test data.

    Args:
        threshold: decision threshold on the scores' scale (a logit threshold for logits).
        kwargs: passed to :class:`torchmetrics.Metric`.

    Example:
        >>> metric = HTER(threshold=0.5)
        >>> metric.update(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0, 1, 0]))
        >>> metric.update(torch.tensor([0.4, 0.6, 0.7, 0.8]), torch.tensor([1, 0, 1, 1]))
        >>> metric.compute()
        tensor(0.4167, dtype=torch.float64)
    """

    def __init__(self, threshold: float, **kwargs: Any) -> None:
        self.threshold = float(F._check_threshold(threshold, torch.device("cpu")))
        super().__init__(**kwargs)

    def compute(self) -> Tensor:
        """HTER of all stored samples: 0-dim float64, ``nan`` with a warning if a class is missing."""
        return F.hter(*self._gathered(), threshold=self.threshold)
