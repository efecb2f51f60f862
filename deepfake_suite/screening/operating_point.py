"""Operating points: which validation error rate fixes the threshold that screening applies.

Conventions of :mod:`metrics.functional`: label 1 = fake = the DCF target, a score is a
probability of fake, and a video is called fake iff ``score >= threshold``.

- ``min_dcf:P``: the threshold of minimum normalised DCF at fake prior ``P``
  (:func:`metrics.functional.min_dcf_threshold`);
- ``p_fa:R`` (alias ``far:R``, the *false-alarm* rate): the threshold whose P_fa, the fraction of
  real videos flagged fake, is the largest at most ``R`` (:func:`metrics.functional.threshold_at`).
  Beware: :func:`metrics.functional.far_frr` uses FAR for false *acceptance* (= P_miss), the
  attribution paper's naming; here ``far`` means false alarm, as in DET curves;
- ``p_miss:R``: the same for P_miss, the fraction of fakes let through as real.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from deepfake_suite.errors import SuiteError

if TYPE_CHECKING:  # torch is imported where it is used: `score --help` must not wait for it
    from torch import Tensor

Criterion = Literal["min_dcf", "p_fa", "p_miss"]
_ALIASES: dict[str, Criterion] = {"min_dcf": "min_dcf", "p_fa": "p_fa", "far": "p_fa", "p_miss": "p_miss"}
USAGE = (
    "min_dcf:P (fake prior, 0 < P < 1, e.g. min_dcf:0.01), p_fa:R or far:R (target false-alarm rate: "
    "fraction of real videos flagged fake, 0 <= R <= 1) or p_miss:R (target rate of fakes passed as real)"
)


@dataclass(frozen=True)
class OperatingPoint:
    """A rule that picks a threshold from validation scores.

    Attributes:
        criterion: ``min_dcf``, ``p_fa`` or ``p_miss``.
        value: The fake prior P_tar (``min_dcf``) or the target error rate.
        text: The string the user gave, written to the output as it was given.
    """

    criterion: Criterion
    value: float
    text: str


def parse_operating_point(text: str) -> OperatingPoint:
    """``min_dcf:0.01``, ``p_fa:0.05`` / ``far:0.05`` or ``p_miss:0.1`` as an :class:`OperatingPoint`.

    Raises:
        SuiteError: naming ``--operating_point`` and the accepted forms.
    """
    name, sep, number = text.strip().partition(":")
    criterion = _ALIASES.get(name.strip().lower())
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    valid = (
        sep
        and criterion is not None
        and math.isfinite(value)
        and (0.0 < value < 1.0 if criterion == "min_dcf" else 0.0 <= value <= 1.0)
    )
    if not valid or criterion is None:
        raise SuiteError(f"--operating_point {text!r} is not understood; use {USAGE}")
    return OperatingPoint(criterion, value, text.strip())


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold and the validation error rates at it (``score >= threshold`` is fake).

    Attributes:
        threshold: Decision threshold on the probability of fake; ``inf`` calls every video real.
        p_miss: Fraction of validation fakes scored below it.
        p_fa: Fraction of validation reals scored at or above it.
        n_real: Validation real videos.
        n_fake: Validation fake videos.
        min_dcf: The normalised minDCF reached, for ``min_dcf`` operating points (else ``None``).
    """

    threshold: float
    p_miss: float
    p_fa: float
    n_real: int
    n_fake: int
    min_dcf: float | None = None


def choose_threshold(scores: Tensor, labels: Tensor, point: OperatingPoint) -> ThresholdChoice:
    """The threshold ``point`` picks on validation video scores, with P_miss and P_fa there.

    Args:
        scores: (V,) validation video scores (probabilities of fake).
        labels: (V,) validation labels, 1 = fake.
        point: The operating point.

    Raises:
        SuiteError: If the validation videos lack a class (no threshold is then defined).
    """
    import torch

    from metrics.functional import act_dcf, far_frr, min_dcf_threshold, threshold_at

    scores = scores.to(torch.float64)
    labels = labels.to(torch.int64)
    n_fake = int(labels.sum())
    n_real = labels.numel() - n_fake
    if n_fake == 0 or n_real == 0:
        raise SuiteError(
            f"the validation split has {n_real} real and {n_fake} fake videos: an operating point needs "
            "both; fix data.init_args (the val split) or give --threshold"
        )
    if point.criterion == "min_dcf":
        threshold = min_dcf_threshold(scores, labels, p_target=point.value)
    elif point.criterion == "p_fa":
        threshold = threshold_at(scores, labels, p_fa=point.value)
    else:
        threshold = threshold_at(scores, labels, p_miss=point.value)
    p_miss, p_fa = far_frr(scores, labels, threshold)  # far_frr's FAR is P_miss, its FRR is P_fa
    reached = (
        float(act_dcf(scores, labels, threshold, p_target=point.value))
        if point.criterion == "min_dcf"
        else None
    )
    return ThresholdChoice(float(threshold), float(p_miss), float(p_fa), n_real, n_fake, reached)


def describe(choice: ThresholdChoice, point: OperatingPoint) -> str:
    """One line for the terminal: the threshold and what it costs on validation data."""
    cost = "" if choice.min_dcf is None else f", minDCF {choice.min_dcf:.4f}"
    everything_real = " (calls every video real)" if math.isinf(choice.threshold) else ""
    return (
        f"operating point {point.text} on {choice.n_real + choice.n_fake} validation videos "
        f"({choice.n_real} real, {choice.n_fake} fake): threshold {choice.threshold!r}{everything_real}, "
        f"validation P_miss {choice.p_miss:.4f}, P_fa {choice.p_fa:.4f}{cost}"
    )
