"""Every number a detector reports at one level, from one validation and one sort."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

from metrics.functional._counts import _error_counts, _missing_class, _validate
from metrics.functional.classification import DFDC_EPS, _confusion_of_valid, _log_loss_of_valid, _ratio
from metrics.functional.curves import _auc_from_counts
from metrics.functional.dcf import _check_dcf_params, _min_dcf_from_counts
from metrics.functional.eer import _EER_METHODS, _EER_RULES, EERMethod

DEFAULT_P_TARGETS = (0.1, 0.05, 0.01)


def min_dcf_name(p_target: float) -> str:
    """Key of minDCF at ``p_target``: the value without its dot (``0.05`` -> ``min_dcf_005``).

    Module names (torchmetrics collections) and some dashboards cannot hold a dot in a key.
    """
    return "min_dcf_" + f"{p_target:g}".replace(".", "")


def detection_summary(
    probabilities: Tensor,
    labels: Tensor,
    p_targets: Sequence[float] = DEFAULT_P_TARGETS,
    threshold: float = 0.5,
    eer_method: EERMethod = "interpolate",
    log_loss_eps: float = DFDC_EPS,
) -> dict[str, Tensor]:
    """AUC, EER, minDCF at each P_tar, ACC, precision, recall, F1 and log loss in one pass.

    Each value equals its own function in :mod:`metrics.functional` (:func:`auc`, :func:`eer`,
    :func:`min_dcf`, :func:`accuracy`, ...) on the same input; the ranking metrics share one sort,
    so the whole summary costs about one :func:`eer`.

    Args:
        probabilities: (N,) probabilities of fake in [0, 1].
        labels: (N,) labels in {0, 1}, 1 = fake.
        p_targets: priors of a fake for minDCF (normalised, NIST SRE).
        threshold: decision threshold of ACC, precision, recall and F1 (fake iff p >= threshold).
        eer_method: EER convention, see :func:`eer`.
        log_loss_eps: probability clip of the log loss.

    Returns:
        ``{"auc", "eer", "min_dcf_01", ..., "acc", "precision", "recall", "f1", "log_loss"}``, 0-dim
        float64 tensors. With one class missing, AUC, EER and minDCF are ``nan`` (one
        ``UserWarning``); the others follow their own rules.

    Example:
        >>> summary = detection_summary(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        >>> float(summary["auc"]), float(summary["eer"]), float(summary["acc"])
        (0.75, 0.5, 0.75)
    """
    if eer_method not in _EER_METHODS:
        raise ValueError(f"eer_method must be one of {_EER_METHODS}, got {eer_method!r}")
    for p_target in p_targets:
        _check_dcf_params(p_target, 1.0, 1.0)
    scores, is_fake = _validate(probabilities, labels)
    counts = _error_counts(scores, is_fake)
    missing = _missing_class(counts)
    nan = torch.tensor(float("nan"), dtype=torch.float64, device=scores.device)
    if missing is not None:
        warnings.warn(
            f"detection_summary: no {missing} samples among {scores.numel()}; AUC, EER and minDCF are NaN",
            UserWarning,
            stacklevel=2,
        )
    summary = {
        "auc": nan if missing else _auc_from_counts(counts),
        "eer": nan if missing else _EER_RULES[eer_method](counts),
    }
    for p_target in p_targets:
        summary[min_dcf_name(p_target)] = nan if missing else _min_dcf_from_counts(counts, p_target)[0]
    c = _confusion_of_valid(scores, is_fake, threshold)
    summary["acc"] = _ratio(c.tp + c.tn, scores.numel())
    summary["precision"] = _ratio(c.tp, c.tp + c.fp)
    summary["recall"] = _ratio(c.tp, c.tp + c.fn)
    summary["f1"] = _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn)
    summary["log_loss"] = _log_loss_of_valid(scores, is_fake, log_loss_eps)
    return {key: value.to(scores.device) for key, value in summary.items()}
