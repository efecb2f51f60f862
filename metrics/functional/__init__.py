r"""Exact detection metrics as pure functions of (scores, labels): error-rate curves, EER, DCF, DET.

Conventions (DESIGN.md): label 1 = fake = positive = the DCF "target", label 0 = real. A score is a
logit or a probability of fake, higher meaning more likely fake. Every operating point thresholds
the same way: **predict fake iff score >= threshold**. So at threshold :math:`t`

.. math::
    P_\text{miss}(t) = \frac{\#\{i : y_i = 1,\ s_i < t\}}{\#\{i : y_i = 1\}}, \qquad
    P_\text{fa}(t) = \frac{\#\{i : y_i = 0,\ s_i \ge t\}}{\#\{i : y_i = 0\}}.

Only the ranking of the scores matters, so logits and probabilities give the same EER and minDCF.

Everything is sort-based (one sort, one cumsum, no Python loop over thresholds) and runs on the
scores' device; rates are float64. The operating points are the distinct score values in
ascending order followed by :math:`+\infty` ("everything real"); the lowest distinct score is the
"everything fake" point, so both trivial decisions are always on the curve.

Bad input fails early with a ``ValueError``: different shapes, empty input, labels outside
{0, 1}, non-finite scores. When one class is missing a rate is 0/0: the scalar metrics then return
``nan`` and emit a ``UserWarning`` naming the missing class, and the curves carry ``nan`` in the
undefined rate.
"""

from metrics.functional._counts import _validate
from metrics.functional.aggregation import aggregate_by_group, deduplicate
from metrics.functional.classification import accuracy, f1_score, log_loss, precision, recall
from metrics.functional.curves import auc, det_curve, error_rate_curve, roc_curve
from metrics.functional.dcf import _check_dcf_params, act_dcf, min_dcf, min_dcf_threshold
from metrics.functional.eer import _EER_METHODS, EERMethod, eer
from metrics.functional.hter import _check_threshold, far_frr, hter, threshold_at
from metrics.functional.summary import detection_summary

__all__ = [
    "_EER_METHODS",
    "EERMethod",
    "_check_dcf_params",
    "_check_threshold",
    "_validate",
    "accuracy",
    "act_dcf",
    "aggregate_by_group",
    "auc",
    "deduplicate",
    "det_curve",
    "detection_summary",
    "eer",
    "error_rate_curve",
    "f1_score",
    "far_frr",
    "hter",
    "log_loss",
    "min_dcf",
    "min_dcf_threshold",
    "precision",
    "recall",
    "roc_curve",
    "threshold_at",
]
