"""The metric set a detector reports at one level (frame or video), from one gathered set of scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor
from torchmetrics.utilities import dim_zero_cat

from metrics import functional as F
from metrics.classification import _has_data, _ScoreLabelMetric
from metrics.functional.aggregation import Reduction, aggregate_by_group, deduplicate
from metrics.functional.classification import DFDC_EPS
from metrics.functional.eer import EERMethod
from metrics.functional.summary import DEFAULT_P_TARGETS, min_dcf_name

__all__ = ["DEFAULT_P_TARGETS", "DetectionMetrics", "GatheredScores", "min_dcf_name"]

IdKind = Literal["sample_id", "group_id", "position"]


class GatheredScores(NamedTuple):
    """The scores a :class:`DetectionMetrics` computes on, each sample (or video) once.

    Attributes:
        ids: (M,) int64: the ``sample_id`` of each sample, the ``group_id`` of each video when the
            metric aggregates, or the position in update order when neither was given.
        scores: (M,) scores of fake.
        labels: (M,) labels, 1 = fake.
        id_kind: which of the three ``ids`` holds: ``"sample_id"``, ``"group_id"`` or ``"position"``.
    """

    ids: Tensor
    scores: Tensor
    labels: Tensor
    id_kind: IdKind


class DetectionMetrics(_ScoreLabelMetric):
    """AUC, EER, minDCF at each P_tar, ACC, precision, recall, F1 and log loss of one level.

    One torchmetrics state (all probabilities and labels, gathered across processes and
    de-duplicated by ``sample_id``) and one sort give every number, each equal to its function in
    :mod:`metrics.functional`. ``compute`` returns a dict keyed ``{prefix}{name}``: with
    ``prefix="test/video_"`` the keys are ``test/video_auc``, ``test/video_eer``,
    ``test/video_min_dcf_01`` (P_tar = 0.1; the dot is dropped, see :func:`min_dcf_name`), ...,
    ``test/video_log_loss``.

    Args:
        prefix: prepended to every key.
        p_targets: priors of a fake for the normalised minDCF.
        threshold: decision threshold on probabilities for ACC, precision, recall and F1.
        eer_method: EER convention (:func:`metrics.functional.eer`).
        aggregate: ``None``, or ``"mean"``/``"max"`` of each video's frame probabilities first, for
            video-level numbers of a frame-level detector (needs ``group_id`` in ``update``).
        log_loss_eps: probability clip of the log loss.
        kwargs: passed to :class:`torchmetrics.Metric`.

    Example:
        >>> metric = DetectionMetrics(prefix="val/", p_targets=(0.1,))
        >>> metric.update(torch.tensor([0.1, 0.4]), torch.tensor([0, 0]))
        >>> metric.update(torch.tensor([0.35, 0.8]), torch.tensor([1, 1]))
        >>> {k: round(float(v), 4) for k, v in metric.compute().items()}  # doctest: +NORMALIZE_WHITESPACE
        {'val/auc': 0.75, 'val/eer': 0.5, 'val/min_dcf_01': 0.5, 'val/acc': 0.75, 'val/precision': 1.0,
         'val/recall': 0.5, 'val/f1': 0.6667, 'val/log_loss': 0.4723}
    """

    higher_is_better = None  # type: ignore[assignment]  # mixed: AUC up, EER down

    def __init__(
        self,
        prefix: str = "",
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        eer_method: EERMethod = "interpolate",
        aggregate: Reduction | None = None,
        log_loss_eps: float = DFDC_EPS,
        **kwargs: Any,
    ) -> None:
        # Fail at construction, not after a whole epoch, on a bad setting.
        F.detection_summary(
            Tensor([0.0, 1.0]), Tensor([0, 1]), p_targets, threshold, eer_method, log_loss_eps
        )
        super().__init__(aggregate, **kwargs)
        self.prefix = prefix
        self.p_targets = tuple(p_targets)
        self.threshold = threshold
        self.eer_method = eer_method
        self.log_loss_eps = log_loss_eps

    def gathered(self) -> GatheredScores:
        """Ids, scores and labels exactly as :meth:`compute` sees them.

        Repeats of a ``sample_id`` (``DistributedSampler`` padding) are dropped, rows are ordered by
        id, and with ``aggregate`` set each video's frames are reduced to one score per ``group_id``.
        Reads the local state: under DDP, call it inside ``with metric.sync_context():`` on every
        rank (the gather is collective) to get every process's samples.

        Raises:
            ValueError: Nothing was stored since the last reset.
        """
        if not _has_data(self.scores):
            raise ValueError(f"{type(self).__name__}: compute() or gathered() called before any update()")
        scores, labels = dim_zero_cat(self.scores), dim_zero_cat(self.labels)
        groups = dim_zero_cat(self.group_ids) if _has_data(self.group_ids) else None
        id_kind: IdKind = "position"
        ids = torch.arange(len(scores), device=scores.device)
        if _has_data(self.sample_ids):
            id_kind = "sample_id"
            if groups is None:
                ids, scores, labels = deduplicate(dim_zero_cat(self.sample_ids), scores, labels)
            else:
                ids, scores, labels, groups = deduplicate(
                    dim_zero_cat(self.sample_ids), scores, labels, groups
                )
        if self.aggregate is not None:
            assert groups is not None  # update() insists on group_id when aggregating
            scores, labels, ids = aggregate_by_group(scores, labels, groups, self.aggregate)
            id_kind = "group_id"
        return GatheredScores(ids, scores, labels, id_kind)

    def _gathered(self) -> tuple[Tensor, Tensor]:
        """``(scores, labels)`` of :meth:`gathered`, the form the other metric classes use."""
        gathered = self.gathered()
        return gathered.scores, gathered.labels

    def compute(self) -> dict[str, Tensor]:  # type: ignore[override]
        """Every number over all stored samples, as 0-dim float64 tensors keyed ``{prefix}{name}``."""
        summary = F.detection_summary(
            *self._gathered(), self.p_targets, self.threshold, self.eer_method, self.log_loss_eps
        )
        return {f"{self.prefix}{name}": value for name, value in summary.items()}
