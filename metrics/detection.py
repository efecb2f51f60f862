"""The metric set a detector reports at one level (frame or video)."""

from __future__ import annotations

from collections.abc import Sequence

from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC

from metrics.classification import EER, MinDCF

DEFAULT_P_TARGETS = (0.1, 0.05, 0.01)


def detection_metrics(
    prefix: str, p_targets: Sequence[float] = DEFAULT_P_TARGETS, threshold: float = 0.5
) -> MetricCollection:
    """AUC, EER, normalised minDCF at each P_tar, and ACC at ``threshold``, on probabilities of fake.

    Keys are ``{prefix}auc``, ``{prefix}eer``, ``{prefix}acc`` and ``{prefix}min_dcf_{p}`` with
    P_tar written without its dot (torch module names cannot hold one): ``min_dcf_01`` is
    P_tar = 0.1, ``min_dcf_005`` is 0.05, ``min_dcf_001`` is 0.01. With ``prefix="test/video_"``
    the keys are ``test/video_auc`` and so on.
    """
    metrics: dict[str, Metric | MetricCollection] = {
        "auc": BinaryAUROC(),
        "eer": EER(),
        "acc": BinaryAccuracy(threshold=threshold),
    }
    for p_target in p_targets:
        metrics[min_dcf_name(p_target)] = MinDCF(p_target=p_target)
    # compute_groups would share state between metrics; they keep different states, so skip it.
    return MetricCollection(metrics, prefix=prefix, compute_groups=False)


def min_dcf_name(p_target: float) -> str:
    """``0.05`` -> ``min_dcf_005``."""
    return "min_dcf_" + f"{p_target:g}".replace(".", "")
