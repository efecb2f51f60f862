r"""torchmetrics classes around :mod:`metrics.functional`, exact over a whole epoch and under DDP.

Every class keeps every score and label (``dist_reduce_fx="cat"``), because EER, AUC and minDCF
depend on the ranking of all samples and cannot be accumulated from per-batch values. Under DDP,
``DistributedSampler`` pads the ranks with repeated samples; pass ``sample_id`` to ``update`` and
each sample counts once, so a 2-process run gives the 1-process numbers exactly. With
``aggregate="mean"|"max"`` and a ``group_id`` (video) per sample, frame scores become one score per
video before the metric is computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from metrics import functional as F
from metrics.functional import EERMethod
from metrics.functional.aggregation import _REDUCTIONS, Reduction, aggregate_by_group, deduplicate
from metrics.functional.classification import DFDC_EPS


def _has_data(state: list[Tensor] | Tensor) -> bool:
    """A list state before synchronisation, or the one tensor torchmetrics concatenates it into after."""
    return state.numel() > 0 if isinstance(state, Tensor) else len(state) > 0


class _ScoreLabelMetric(Metric):
    """Collects (scores, labels) of every update; subclasses compute on the de-duplicated whole.

    Args:
        aggregate: ``None`` scores each sample; ``"mean"`` or ``"max"`` first reduces the scores
            of each ``group_id`` (video) to one, so a frame-level detector reports video numbers.
        kwargs: passed to :class:`torchmetrics.Metric` (e.g. ``sync_on_compute``).
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    scores: list[Tensor]
    labels: list[Tensor]
    sample_ids: list[Tensor]
    group_ids: list[Tensor]

    def __init__(self, aggregate: Reduction | None = None, **kwargs: Any) -> None:
        if aggregate is not None and aggregate not in _REDUCTIONS:
            raise ValueError(f"aggregate must be None or one of {_REDUCTIONS}, got {aggregate!r}")
        super().__init__(**kwargs)
        self.aggregate = aggregate
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")
        self.add_state("sample_ids", default=[], dist_reduce_fx="cat")
        self.add_state("group_ids", default=[], dist_reduce_fx="cat")

    def update(
        self, preds: Tensor, target: Tensor, sample_id: Tensor | None = None, group_id: Tensor | None = None
    ) -> None:
        """Store one batch.

        Args:
            preds: (N,) scores of fake (probabilities for the thresholded metrics and log loss).
            target: (N,) labels in {0, 1}, int or float, 1 = fake; checked at ``compute``.
            sample_id: (N,) integer unique to each sample, e.g. the dataset index (times the clip
                length plus the frame position, for frames of clips). Samples seen twice, as
                ``DistributedSampler`` pads ranks, are then counted once. Give it in every update
                or in none.
            group_id: (N,) integer video id of each sample; required when ``aggregate`` is set.
        """
        if preds.shape != target.shape:
            raise ValueError(
                f"preds and target must have the same shape, got preds {tuple(preds.shape)} "
                f"and target {tuple(target.shape)}"
            )
        for name, ids, stored in (
            ("sample_id", sample_id, self.sample_ids),
            ("group_id", group_id, self.group_ids),
        ):
            if ids is not None and ids.shape != preds.shape:
                raise ValueError(
                    f"{name} must have the shape of preds {tuple(preds.shape)}, got {tuple(ids.shape)}"
                )
            if _has_data(self.scores) and (ids is None) == _has_data(stored):
                raise ValueError(f"{type(self).__name__}: give {name} in every update or in none")
        if self.aggregate is not None and group_id is None:
            raise ValueError(
                f"{type(self).__name__}(aggregate={self.aggregate!r}) needs group_id in update()"
            )
        preds = preds.detach().flatten()
        self.scores.append(preds if preds.is_floating_point() else preds.to(torch.float32))
        self.labels.append(target.detach().flatten())
        if sample_id is not None:
            self.sample_ids.append(sample_id.detach().flatten().to(torch.int64))
        if group_id is not None:
            self.group_ids.append(group_id.detach().flatten().to(torch.int64))

    def _gathered(self) -> tuple[Tensor, Tensor]:
        """(scores, labels) of every sample once; per group when aggregating."""
        if not _has_data(self.scores):
            raise ValueError(f"{type(self).__name__}.compute() called before any update()")
        scores, labels = dim_zero_cat(self.scores), dim_zero_cat(self.labels)
        groups = dim_zero_cat(self.group_ids) if _has_data(self.group_ids) else None
        if _has_data(self.sample_ids):
            ids = dim_zero_cat(self.sample_ids)
            if groups is None:
                _, scores, labels = deduplicate(ids, scores, labels)
            else:
                _, scores, labels, groups = deduplicate(ids, scores, labels, groups)
        if self.aggregate is not None:
            assert groups is not None  # update() insists on group_id when aggregating
            scores, labels, _ = aggregate_by_group(scores, labels, groups, self.aggregate)
        return scores, labels


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
        aggregate: ``None``, or ``"mean"``/``"max"`` of each video's scores first (needs ``group_id``).
        kwargs: passed to :class:`torchmetrics.Metric` (e.g. ``sync_on_compute``).

    Example:
        >>> metric = EER()
        >>> metric.update(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0, 1, 0]))
        >>> metric.update(torch.tensor([0.4, 0.6, 0.7, 0.8]), torch.tensor([1, 0, 1, 1]))
        >>> metric.compute()
        tensor(0.3333, dtype=torch.float64)
    """

    def __init__(
        self, method: EERMethod = "interpolate", aggregate: Reduction | None = None, **kwargs: Any
    ) -> None:
        if method not in F._EER_METHODS:
            raise ValueError(f"method must be one of {F._EER_METHODS}, got {method!r}")
        super().__init__(aggregate, **kwargs)
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
        aggregate: ``None``, or ``"mean"``/``"max"`` of each video's scores first (needs ``group_id``).
        kwargs: passed to :class:`torchmetrics.Metric`.

    Example:
        >>> metric = MinDCF(p_target=0.5)
        >>> scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
        >>> metric.update(scores, torch.tensor([0, 1, 0, 1, 0, 1, 1]))
        >>> metric.compute()
        tensor(0.5000, dtype=torch.float64)
    """

    def __init__(
        self,
        p_target: float,
        c_miss: float = 1.0,
        c_fa: float = 1.0,
        aggregate: Reduction | None = None,
        **kwargs: Any,
    ) -> None:
        F._check_dcf_params(p_target, c_miss, c_fa)
        super().__init__(aggregate, **kwargs)
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
        aggregate: ``None``, or ``"mean"``/``"max"`` of each video's scores first (needs ``group_id``).
        kwargs: passed to :class:`torchmetrics.Metric`.

    Example:
        >>> metric = HTER(threshold=0.5)
        >>> metric.update(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0, 1, 0]))
        >>> metric.update(torch.tensor([0.4, 0.6, 0.7, 0.8]), torch.tensor([1, 0, 1, 1]))
        >>> metric.compute()
        tensor(0.4167, dtype=torch.float64)
    """

    def __init__(self, threshold: float, aggregate: Reduction | None = None, **kwargs: Any) -> None:
        self.threshold = float(F._check_threshold(threshold, torch.device("cpu")))
        super().__init__(aggregate, **kwargs)

    def compute(self) -> Tensor:
        """HTER of all stored samples: 0-dim float64, ``nan`` with a warning if a class is missing."""
        return F.hter(*self._gathered(), threshold=self.threshold)


class AUC(_ScoreLabelMetric):
    r"""Area under the ROC: probability that a fake scores above a real, ties counting half.

    Equal to ``sklearn.metrics.roc_auc_score`` (see :func:`metrics.functional.auc`).

    Args:
        aggregate: ``None``, or ``"mean"``/``"max"`` of each video's scores first (needs ``group_id``).
        kwargs: passed to :class:`torchmetrics.Metric`.

    Example:
        >>> metric = AUC()
        >>> metric.update(torch.tensor([0.1, 0.4]), torch.tensor([0, 0]))
        >>> metric.update(torch.tensor([0.4, 0.8]), torch.tensor([1, 1]))
        >>> metric.compute()
        tensor(0.8750, dtype=torch.float64)
    """

    higher_is_better = True

    def compute(self) -> Tensor:
        """AUC of all stored samples: 0-dim float64, ``nan`` with a warning if a class is missing."""
        return F.auc(*self._gathered())


class _ThresholdedMetric(_ScoreLabelMetric):
    """A ratio of confusion counts at a fixed threshold (fake iff score >= threshold)."""

    higher_is_better = True
    _function: Callable[..., Tensor]

    def __init__(self, threshold: float = 0.5, aggregate: Reduction | None = None, **kwargs: Any) -> None:
        self.threshold = float(F._check_threshold(threshold, torch.device("cpu")))
        super().__init__(aggregate, **kwargs)

    def compute(self) -> Tensor:
        """The ratio over all stored samples, 0-dim float64 (0 when its denominator is 0)."""
        return type(self)._function(*self._gathered(), threshold=self.threshold)


class Accuracy(_ThresholdedMetric):
    """Fraction of samples called correctly, fake iff score >= ``threshold``.

    Args:
        threshold: decision threshold on the scores' scale (0.5 for probabilities).
        aggregate: ``None``, or ``"mean"``/``"max"`` of each video's scores first (needs ``group_id``).
        kwargs: passed to :class:`torchmetrics.Metric`.
    """

    _function = staticmethod(F.accuracy)


class Precision(_ThresholdedMetric):
    """Fraction of samples called fake that are fake (0 if none is). Args as :class:`Accuracy`."""

    _function = staticmethod(F.precision)


class Recall(_ThresholdedMetric):
    """Fraction of fakes called fake, 1 - P_miss (0 without fakes). Args as :class:`Accuracy`."""

    _function = staticmethod(F.recall)


class F1Score(_ThresholdedMetric):
    """``2 TP / (2 TP + FP + FN)``, the harmonic mean of precision and recall. Args as :class:`Accuracy`."""

    _function = staticmethod(F.f1_score)


class LogLoss(_ScoreLabelMetric):
    r"""Binary cross-entropy of probabilities of fake, clipped at ``eps`` (DFDC's leaderboard score).

    See :func:`metrics.functional.log_loss`.

    Args:
        eps: probabilities are clipped to [eps, 1 - eps].
        aggregate: ``None``, or ``"mean"``/``"max"`` of each video's probabilities first.
        kwargs: passed to :class:`torchmetrics.Metric`.
    """

    plot_upper_bound = None  # type: ignore[assignment]  # log loss is unbounded

    def __init__(self, eps: float = DFDC_EPS, aggregate: Reduction | None = None, **kwargs: Any) -> None:
        if not 0.0 < eps < 0.5:
            raise ValueError(f"eps must be in (0, 0.5), got {eps}")
        super().__init__(aggregate, **kwargs)
        self.eps = eps

    def compute(self) -> Tensor:
        """Log loss of all stored samples, 0-dim float64."""
        return F.log_loss(*self._gathered(), eps=self.eps)
