"""Thresholds at a fixed error rate, FAR/FRR and HTER."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from metrics.functional._counts import _counts_or_warn, _nan, _rates, _validate

# ------------------------------------------------------------------ fixed-rate threshold and HTER
#
# Naming for HTER. With fake as the positive class (label 1) and "predict fake iff score >= t":
#
# - FAR (false acceptance rate) = fraction of FAKES accepted as real = P_miss;
# - FRR (false rejection rate) = fraction of REALS rejected, i.e. flagged fake = P_fa.
#
# The attribution paper (Jain et al.) calls REAL the positive class, so its operating point
# "10% of fakes accepted as real" is P_miss = 0.10 here: ``threshold_at(..., p_miss=0.10)``.


def _check_threshold(threshold: float | Tensor, device: torch.device) -> Tensor:
    """A single non-NaN number (``+inf``/``-inf`` allowed) as a 0-dim tensor on ``device``."""
    t = torch.as_tensor(threshold, device=device)
    if t.numel() != 1 or bool(torch.isnan(t)):
        raise ValueError(f"threshold must be a single number, got {threshold}")
    return t.reshape(())


def threshold_at(
    scores: Tensor, labels: Tensor, *, p_miss: float | None = None, p_fa: float | None = None
) -> Tensor:
    r"""Threshold whose named error rate is as close as possible to a target without exceeding it.

    Meant for validation scores: fix the threshold here, then apply it to test scores with
    :func:`hter` or :func:`far_frr` (predict fake iff score >= threshold).

    Exactly one target is given. In this project's convention (label 1 = fake = positive):

    - ``p_miss`` = FAR = fraction of fakes accepted as real (score < threshold);
    - ``p_fa`` = FRR = fraction of reals rejected, i.e. flagged fake (score >= threshold).

    The attribution paper (Jain et al.) takes *real* as the positive class, so its "10% of fakes
    accepted as real" is ``p_miss=0.10`` here.

    Candidates are the operating points of :func:`error_rate_curve`: the distinct scores and
    ``+inf``. The chosen rate is the **largest achievable rate <= target**; among the thresholds
    giving exactly that rate, the one minimising the other error rate is returned, i.e. the
    **highest** such threshold for ``p_miss`` and the **lowest** for ``p_fa``. A target is always
    reachable from below: the lowest distinct score has P_miss = 0 and ``+inf`` has P_fa = 0.

    Ties: all samples sharing a score fall on the same side of any threshold, so the rate jumps
    over a tie run and rates inside the jump are unreachable; the rule above then stops before the
    tie run (rate below the target) rather than crossing it (rate above the target). Rates are
    compared as ``count / n_class <= target`` in float64.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.
        p_miss: target P_miss (= FAR, fakes accepted as real) in [0, 1].
        p_fa: target P_fa (= FRR, reals flagged fake) in [0, 1].

    Returns:
        0-dim tensor in the scores' floating dtype (``+inf`` means "call everything real"); float64
        ``nan`` with a ``UserWarning`` if a class is missing (the module's rule).

    Raises:
        ValueError: if not exactly one of ``p_miss`` / ``p_fa`` is given, if it is outside [0, 1],
            or on bad (scores, labels).

    Example:
        >>> scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
        >>> labels = torch.tensor([0, 1, 0, 1, 0, 1, 1])
        >>> threshold_at(scores, labels, p_miss=0.3)  # P_miss = 1/4 at 0.3 and 0.4; P_fa lower at 0.4
        tensor(0.4000)
        >>> threshold_at(scores, labels, p_fa=0.5)  # P_fa = 1/3 from 0.4 to 0.6; lowest is 0.4
        tensor(0.4000)
    """
    if (p_miss is None) == (p_fa is None):
        raise ValueError(f"give exactly one of p_miss and p_fa, got p_miss={p_miss}, p_fa={p_fa}")
    name, target = ("p_miss", p_miss) if p_miss is not None else ("p_fa", p_fa)
    assert target is not None  # for mypy: one of the two is set
    if not 0.0 <= float(target) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {target}")
    counts = _counts_or_warn(scores, labels, "threshold_at")
    if counts is None:
        return _nan(scores)
    rate_miss, rate_fa = _rates(counts)
    if name == "p_miss":
        # P_miss never decreases along the thresholds: the admissible points are a prefix.
        ok = rate_miss <= float(target)
        idx = ok.sum() - 1
    else:
        # P_fa never increases along the thresholds: the admissible points are a suffix.
        ok = rate_fa <= float(target)
        idx = ok.numel() - ok.sum()
    return counts.thresholds[idx]


def _far_frr(scores: Tensor, labels: Tensor, threshold: float | Tensor, caller: str) -> tuple[Tensor, Tensor]:
    scores, labels = _validate(scores, labels)
    t = _check_threshold(threshold, scores.device)
    n_pos = int(labels.sum())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        missing = "fake (label 1)" if n_pos == 0 else "real (label 0)"
        warnings.warn(f"{caller}: no {missing} samples; returning NaN", UserWarning, stacklevel=3)
        return _nan(scores), _nan(scores)
    called_fake = scores >= t
    far = (labels & ~called_fake).sum().to(torch.float64) / n_pos
    frr = (~labels & called_fake).sum().to(torch.float64) / n_neg
    return far, frr


def far_frr(scores: Tensor, labels: Tensor, threshold: float | Tensor) -> tuple[Tensor, Tensor]:
    """(FAR, FRR) at a fixed threshold (predict fake iff score >= threshold).

    FAR = fraction of fakes accepted as real = P_miss; FRR = fraction of reals flagged fake = P_fa
    (label 1 = fake = positive; the attribution paper, which calls real positive, names the same
    two numbers the same way from the real class's side).

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.
        threshold: decision threshold on the scores' scale; ``+inf`` calls everything real.

    Returns:
        ``(far, frr)``, 0-dim float64 each; both ``nan`` (and a ``UserWarning``) if a class is missing.

    Example:
        >>> far_frr(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8]),
        ...         torch.tensor([0, 1, 0, 1, 0, 1, 1]), threshold=0.5)
        (tensor(0.5000, dtype=torch.float64), tensor(0.3333, dtype=torch.float64))
    """
    return _far_frr(scores, labels, threshold, "far_frr")


def hter(scores: Tensor, labels: Tensor, threshold: float | Tensor) -> Tensor:
    r"""Half total error rate at a fixed threshold: :math:`(\text{FAR} + \text{FRR}) / 2`.

    With FAR = P_miss (fakes accepted as real) and FRR = P_fa (reals flagged fake), predicting fake
    iff score >= threshold. The threshold is meant to come from validation data, e.g.
    ``threshold_at(val_scores, val_labels, p_miss=0.10)`` for the attribution paper's protocol.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.
        threshold: decision threshold on the scores' scale.

    Returns:
        0-dim float64 tensor; ``nan`` (and a ``UserWarning``) if a class is missing.

    Example:
        >>> hter(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8]),
        ...      torch.tensor([0, 1, 0, 1, 0, 1, 1]), threshold=0.5)  # (1/2 + 1/3) / 2
        tensor(0.4167, dtype=torch.float64)
    """
    far, frr = _far_frr(scores, labels, threshold, "hter")
    return (far + frr) / 2
