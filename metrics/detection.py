"""The metric set a detector reports at one level (frame or video), from one gathered set of scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from metrics import functional as F
from metrics.classification import _ScoreLabelMetric
from metrics.functional.aggregation import Reduction
from metrics.functional.classification import DFDC_EPS
from metrics.functional.eer import EERMethod
from metrics.functional.summary import DEFAULT_P_TARGETS, min_dcf_name

__all__ = ["DEFAULT_P_TARGETS", "DetectionMetrics", "min_dcf_name"]


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

    def compute(self) -> dict[str, Tensor]:  # type: ignore[override]
        """Every number over all stored samples, as 0-dim float64 tensors keyed ``{prefix}{name}``."""
        summary = F.detection_summary(
            *self._gathered(), self.p_targets, self.threshold, self.eer_method, self.log_loss_eps
        )
        return {f"{self.prefix}{name}": value for name, value in summary.items()}
