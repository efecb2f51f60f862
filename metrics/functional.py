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

from __future__ import annotations

import math
import warnings
from typing import Literal, NamedTuple, get_args

import torch
from torch import Tensor

EERMethod = Literal["interpolate", "convex_hull", "nearest"]
_EER_METHODS: tuple[str, ...] = get_args(EERMethod)

# Alternating tangent steps in the convex-hull EER normally stop after two or three; the cap only
# guards against an endless loop, it never truncates a converging search in practice.
_MAX_HULL_STEPS = 10_000


class _ErrorCounts(NamedTuple):
    """Integer error counts at every operating point, thresholds ascending then +inf.

    Attributes:
        thresholds: (K + 1,) distinct scores ascending, then ``+inf``; scores' dtype.
        miss: (K + 1,) int64, fakes with score < threshold.
        fa: (K + 1,) int64, reals with score >= threshold.
        n_pos: number of fakes.
        n_neg: number of reals.
    """

    thresholds: Tensor
    miss: Tensor
    fa: Tensor
    n_pos: int
    n_neg: int


def _validate(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Check (scores, labels) and return them flattened: scores floating, labels bool (True = fake)."""
    scores = torch.as_tensor(scores)
    labels = torch.as_tensor(labels, device=scores.device)
    if scores.shape != labels.shape:
        raise ValueError(
            f"scores and labels must have the same shape, got scores {tuple(scores.shape)} "
            f"and labels {tuple(labels.shape)}"
        )
    if scores.numel() == 0:
        raise ValueError("scores and labels are empty: a metric needs at least one sample of each class")
    if scores.is_complex():
        raise ValueError(f"scores must be real-valued, got dtype {scores.dtype}")
    scores = scores.flatten()
    labels = labels.flatten()
    if not scores.is_floating_point():
        scores = scores.to(torch.float64)
    n_bad = int((~torch.isfinite(scores)).sum())
    if n_bad:
        raise ValueError(f"scores must be finite, got {n_bad} NaN or infinite values")
    if labels.dtype != torch.bool:
        invalid = (labels != 0) & (labels != 1)
        if bool(invalid.any()):
            seen = torch.unique(labels[invalid])[:5].tolist()
            raise ValueError(f"labels must be 0 (real) or 1 (fake), got other values such as {seen}")
        labels = labels == 1
    return scores, labels


def _error_counts(scores: Tensor, labels: Tensor) -> _ErrorCounts:
    """Miss and false-alarm counts at every distinct threshold, from one sort and one cumsum.

    Args:
        scores: (N,) finite floating scores.
        labels: (N,) bool, True = fake.
    """
    sorted_scores, order = torch.sort(scores)
    is_fake = labels[order].to(torch.int64)
    # Counts strictly below each sorted position: a fake there is missed at that position's threshold.
    fakes_below = torch.cumsum(is_fake, 0) - is_fake
    # A tie run is one operating point; its first position sees exactly the samples below the value.
    run_start = torch.ones_like(labels)
    run_start[1:] = sorted_scores[1:] != sorted_scores[:-1]
    start_pos = torch.nonzero(run_start).squeeze(1)
    n_pos = int(is_fake.sum())
    n_neg = scores.numel() - n_pos
    miss = fakes_below[run_start]
    reals_below = start_pos - miss
    tail = torch.tensor([n_pos], dtype=torch.int64, device=scores.device)
    miss = torch.cat([miss, tail])
    fa = torch.cat([n_neg - reals_below, torch.zeros_like(tail)])
    inf = torch.full((1,), math.inf, dtype=scores.dtype, device=scores.device)
    thresholds = torch.cat([sorted_scores[run_start], inf])
    return _ErrorCounts(thresholds, miss, fa, n_pos, n_neg)


def _missing_class(counts: _ErrorCounts) -> str | None:
    """Name the class absent from the labels, if any."""
    if counts.n_pos == 0:
        return "fake (label 1)"
    if counts.n_neg == 0:
        return "real (label 0)"
    return None


def _counts_or_warn(scores: Tensor, labels: Tensor, metric: str) -> _ErrorCounts | None:
    """Validate, count, and warn (returning None) when a class is missing."""
    counts = _error_counts(*_validate(scores, labels))
    missing = _missing_class(counts)
    if missing is not None:
        warnings.warn(
            f"{metric}: no {missing} samples among the {counts.n_pos + counts.n_neg} labels; returning NaN",
            UserWarning,
            stacklevel=3,
        )
        return None
    return counts


def _nan(like: Tensor) -> Tensor:
    return torch.tensor(math.nan, dtype=torch.float64, device=torch.as_tensor(like).device)


def _rates(counts: _ErrorCounts) -> tuple[Tensor, Tensor]:
    """(P_miss, P_fa) in float64; nan where the class is missing (0 / 0)."""
    p_miss = counts.miss.to(torch.float64) / counts.n_pos if counts.n_pos else counts.miss * math.nan
    p_fa = counts.fa.to(torch.float64) / counts.n_neg if counts.n_neg else counts.fa * math.nan
    return p_miss, p_fa


def _warn_if_missing(counts: _ErrorCounts, caller: str) -> None:
    missing = _missing_class(counts)
    if missing is not None:
        warnings.warn(
            f"{caller}: no {missing} samples; the rate of that class is NaN", UserWarning, stacklevel=3
        )


def error_rate_curve(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""Miss and false-alarm rates at every distinct score threshold.

    One point per distinct score value ``t`` (ties give one point), plus ``t = +inf`` where
    everything is called real. Along the returned order, :math:`P_\text{miss}` rises and
    :math:`P_\text{fa}` falls, and :math:`P_\text{miss} - P_\text{fa}` rises strictly.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.

    Returns:
        ``(thresholds, p_miss, p_fa)``, each (K + 1,) for K distinct scores: thresholds ascending
        in the scores' floating dtype ending with ``+inf``; rates in float64. A missing class makes
        its rate ``nan`` (with a ``UserWarning``).

    Example:
        >>> thresholds, p_miss, p_fa = error_rate_curve(torch.tensor([0.1, 0.4, 0.4, 0.8]),
        ...                                             torch.tensor([0, 0, 1, 1]))
        >>> thresholds
        tensor([0.1000, 0.4000, 0.8000,    inf])
        >>> p_miss
        tensor([0.0000, 0.0000, 0.5000, 1.0000], dtype=torch.float64)
        >>> p_fa
        tensor([1.0000, 0.5000, 0.0000, 0.0000], dtype=torch.float64)
    """
    counts = _error_counts(*_validate(scores, labels))
    _warn_if_missing(counts, "error_rate_curve")
    p_miss, p_fa = _rates(counts)
    return counts.thresholds, p_miss, p_fa


def det_curve(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Points of the DET curve, linear rates (warping the axes with a probit is the caller's business).

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.

    Returns:
        ``(p_fa, p_miss, thresholds)``, each (K + 1,): the points of :func:`error_rate_curve`, with
        thresholds ascending and ``+inf`` last (p_fa falls, p_miss rises).

    Example:
        >>> p_fa, p_miss, _ = det_curve(torch.tensor([0.2, 0.6, 0.7]), torch.tensor([0, 1, 0]))
        >>> p_fa
        tensor([1.0000, 0.5000, 0.5000, 0.0000], dtype=torch.float64)
        >>> p_miss
        tensor([0., 0., 1., 1.], dtype=torch.float64)
    """
    thresholds, p_miss, p_fa = error_rate_curve(scores, labels)
    return p_fa, p_miss, thresholds


def _eer_interpolate(counts: _ErrorCounts) -> Tensor:
    """Crossing of P_miss = P_fa on the straight segment between two adjacent operating points."""
    n_pos, n_neg = counts.n_pos, counts.n_neg
    # n_pos * n_neg * (P_miss - P_fa) in exact integers: the sign decides the segment, so no rounding
    # may flip it. It rises strictly along the curve, from -n_pos*n_neg to +n_pos*n_neg.
    gap = counts.miss * n_neg - counts.fa * n_pos
    right = torch.searchsorted(gap, torch.zeros(1, dtype=gap.dtype, device=gap.device)).squeeze(0)
    left = right - 1  # gap[0] < 0, so right >= 1
    g_left, g_right = gap[left].to(torch.float64), gap[right].to(torch.float64)
    alpha = -g_left / (g_right - g_left)
    m_left, m_right = counts.miss[left].to(torch.float64), counts.miss[right].to(torch.float64)
    return (m_left + alpha * (m_right - m_left)) / n_pos


def _eer_nearest(counts: _ErrorCounts) -> Tensor:
    """torchmetrics' ``BinaryEER`` rule, reproduced operation for operation."""
    # torchmetrics walks the ROC from its extra "accept nothing" point down the thresholds, keeps
    # counts and rates in the default float dtype, and takes the first minimiser of |FPR - FNR|.
    dtype = torch.get_default_dtype()
    fps = counts.fa.flip(0).to(dtype)
    tps = (counts.n_pos - counts.miss).flip(0).to(dtype)
    fpr = fps / fps[-1]
    tpr = tps / tps[-1]
    idx = torch.argmin(torch.abs(fpr - (1 - tpr)))
    return ((fpr[idx] + (1 - tpr[idx])) / 2).to(torch.float64)


def _diagonal_crossing(x_a: Tensor, d_a: Tensor, x_b: Tensor, d_b: Tensor) -> Tensor:
    """Where the segment from a (d_a = x_a - y_a > 0) to b (d_b <= 0) meets the line x = y."""
    return (d_a * x_b - d_b * x_a) / (d_a - d_b)


def _eer_convex_hull(counts: _ErrorCounts) -> Tensor:
    """EER of the ROC convex hull (ROCCH-EER), without building the hull.

    In the (x, y) = (P_fa, P_miss) plane the points split into A (x > y) and B (x <= y); the hull
    edge that crosses the diagonal joins a point of A to a point of B, and every other A-B segment
    crosses the diagonal no lower. So ROCCH-EER = min over pairs of their crossing. Alternating
    "best b for this a" and "best a for this b" lowers the crossing at every step and can only stop
    when the segment supports every point, i.e. on the hull edge itself. Each step is one
    vectorised pass; starting from the last operating point before the curve crosses the diagonal,
    two to four steps sufficed on every curve tried.
    """
    n_pos, n_neg = counts.n_pos, counts.n_neg
    x = counts.fa.to(torch.float64) / n_neg
    y = counts.miss.to(torch.float64) / n_pos
    in_a = counts.fa * n_pos > counts.miss * n_neg  # exact x > y
    x_a, d_a = x[in_a], (x - y)[in_a]
    x_b, d_b = x[~in_a], (x - y)[~in_a]
    # The last A point before the curve crosses is a good start (A is ordered by threshold).
    ia = torch.tensor(x_a.numel() - 1, device=x.device)
    best = math.inf
    for _ in range(_MAX_HULL_STEPS):
        ib = torch.argmin(_diagonal_crossing(x_a[ia], d_a[ia], x_b, d_b))
        crossings = _diagonal_crossing(x_a, d_a, x_b[ib], d_b[ib])
        ia = torch.argmin(crossings)
        value = float(crossings[ia])
        if value >= best:
            break
        best = value
    return torch.tensor(best, dtype=torch.float64, device=x.device)


_EER_RULES = {"interpolate": _eer_interpolate, "convex_hull": _eer_convex_hull, "nearest": _eer_nearest}


def eer(scores: Tensor, labels: Tensor, method: EERMethod = "interpolate") -> Tensor:
    r"""Equal error rate: the error rate where :math:`P_\text{miss} = P_\text{fa}`.

    The empirical curve is a staircase, so it rarely has a point with equal rates; the three
    methods differ in how they resolve that. Let :math:`t_0 < \dots < t_{K-1}` be the distinct
    scores, :math:`t_K = +\infty`, and :math:`D_k = P_\text{miss}(t_k) - P_\text{fa}(t_k)`, which
    rises strictly from :math:`D_0 = -1` to :math:`D_K = 1`.

    - ``"interpolate"`` (default): take the first :math:`k` with :math:`D_k \ge 0` and join the
      operating points :math:`k-1` and :math:`k` with a straight line (the ROC's linear
      interpolation, i.e. randomising between the two thresholds). EER is where that line
      crosses :math:`P_\text{miss} = P_\text{fa}`:

      .. math::
          \alpha = \frac{-D_{k-1}}{D_k - D_{k-1}}, \qquad
          \text{EER} = (1 - \alpha)\, P_\text{miss}(t_{k-1}) + \alpha\, P_\text{miss}(t_k)
                     = (1 - \alpha)\, P_\text{fa}(t_{k-1}) + \alpha\, P_\text{fa}(t_k).

      When :math:`D_k = 0` this is exactly the operating point :math:`k`. Equal to intersecting
      the piecewise-linear ``sklearn.metrics.roc_curve`` with :math:`1 - \text{TPR} = \text{FPR}`.
    - ``"convex_hull"``: the same crossing on the ROC convex hull (ROCCH-EER of the BOSARIS toolkit
      and pyllr), i.e. the best error a mixture of thresholds can guarantee on both classes;
      equivalently :math:`\max_{\pi} \min_t [\pi P_\text{miss}(t) + (1-\pi) P_\text{fa}(t)]`. It is
      never above ``"interpolate"``, never above 0.5, and equal to it where the curve is convex
      around the crossing.
    - ``"nearest"``: torchmetrics' ``BinaryEER`` (and DeepfakeBench): the operating point with the
      smallest :math:`|P_\text{fa} - P_\text{miss}|` (the highest threshold on ties), reported as
      :math:`(P_\text{fa} + P_\text{miss}) / 2` there, in float32 as torchmetrics computes it. It
      equals ``BinaryEER`` bit for bit on probabilities (fewer than :math:`2^{24}` samples);
      ``BinaryEER`` squashes scores outside [0, 1] with a float32 sigmoid, which merges logits above
      about 17 into ties, while this function ranks the raw scores.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.
        method: ``"interpolate"``, ``"convex_hull"`` or ``"nearest"``.

    Returns:
        0-dim float64 tensor in [0, 1]; ``nan`` (and a ``UserWarning``) if a class is missing.

    Example:
        >>> scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
        >>> labels = torch.tensor([0, 1, 0, 1, 0, 1, 1])
        >>> eer(scores, labels)  # between (P_miss, P_fa) = (1/4, 1/3) and (1/2, 1/3)
        tensor(0.3333, dtype=torch.float64)
        >>> eer(scores, labels, method="convex_hull")  # hull edge P_miss = 1/2 - 3/4 P_fa
        tensor(0.2857, dtype=torch.float64)
        >>> eer(scores, labels, method="nearest")  # (1/4 + 1/3) / 2
        tensor(0.2917, dtype=torch.float64)
    """
    if method not in _EER_METHODS:
        raise ValueError(f"method must be one of {_EER_METHODS}, got {method!r}")
    counts = _counts_or_warn(scores, labels, "eer")
    if counts is None:
        return _nan(scores)
    return _EER_RULES[method](counts)


def _check_dcf_params(p_target: float, c_miss: float, c_fa: float) -> float:
    """Validate DCF parameters and return the normaliser min(C_miss P_tar, C_fa (1 - P_tar))."""
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target}")
    if not (c_miss > 0.0 and c_fa > 0.0):
        raise ValueError(f"c_miss and c_fa must be positive, got c_miss={c_miss}, c_fa={c_fa}")
    return min(c_miss * p_target, c_fa * (1.0 - p_target))


def _dcf(p_miss: Tensor, p_fa: Tensor, p_target: float, c_miss: float, c_fa: float) -> Tensor:
    """Normalised detection cost for matching tensors of rates."""
    norm = _check_dcf_params(p_target, c_miss, c_fa)
    return (c_miss * p_target * p_miss + c_fa * (1.0 - p_target) * p_fa) / norm


def _min_dcf_point(
    scores: Tensor, labels: Tensor, p_target: float, c_miss: float, c_fa: float, caller: str
) -> tuple[Tensor, Tensor]:
    """(minDCF, threshold attaining it); nan for both when a class is missing."""
    _check_dcf_params(p_target, c_miss, c_fa)
    counts = _counts_or_warn(scores, labels, caller)
    if counts is None:
        return _nan(scores), _nan(scores)
    costs = _dcf(*_rates(counts), p_target, c_miss, c_fa)
    idx = torch.argmin(costs)
    return costs[idx], counts.thresholds[idx]


def min_dcf(
    scores: Tensor, labels: Tensor, p_target: float, c_miss: float = 1.0, c_fa: float = 1.0
) -> Tensor:
    r"""Minimum normalised detection cost over all thresholds (NIST SRE convention).

    .. math::
        \text{minDCF} = \min_t \frac{C_\text{miss} P_\text{tar} P_\text{miss}(t)
            + C_\text{fa} (1 - P_\text{tar}) P_\text{fa}(t)}{\min(C_\text{miss} P_\text{tar},\
            C_\text{fa} (1 - P_\text{tar}))}

    over every distinct score and :math:`+\infty`, so the trivial decisions "everything fake" and
    "everything real" are included: the value is in [0, 1], and 1 means no better than the best
    constant decision.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake (the target).
        p_target: prior of a fake, in (0, 1); DESIGN.md uses 0.1, 0.05 and 0.01.
        c_miss: cost of calling a fake real.
        c_fa: cost of calling a real fake.

    Returns:
        0-dim float64 tensor; ``nan`` (and a ``UserWarning``) if a class is missing.

    Example:
        >>> scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
        >>> labels = torch.tensor([0, 1, 0, 1, 0, 1, 1])
        >>> min_dcf(scores, labels, p_target=0.5)
        tensor(0.5000, dtype=torch.float64)
        >>> min_dcf(scores, labels, p_target=0.5, c_miss=10.0)
        tensor(0.6667, dtype=torch.float64)
    """
    return _min_dcf_point(scores, labels, p_target, c_miss, c_fa, "min_dcf")[0]


def min_dcf_threshold(
    scores: Tensor, labels: Tensor, p_target: float, c_miss: float = 1.0, c_fa: float = 1.0
) -> Tensor:
    """Threshold at which :func:`min_dcf` is attained (predict fake iff score >= threshold).

    Where several thresholds reach the minimum, the lowest is returned (it flags the most fakes).
    ``+inf`` means "call everything real" is optimal. ``act_dcf`` at this threshold on the same
    data equals ``min_dcf``; set it on validation data and apply it to test data.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.
        p_target: prior of a fake, in (0, 1).
        c_miss: cost of calling a fake real.
        c_fa: cost of calling a real fake.

    Returns:
        0-dim tensor in the scores' floating dtype; float64 ``nan`` if a class is missing.

    Example:
        >>> min_dcf_threshold(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8]),
        ...                   torch.tensor([0, 1, 0, 1, 0, 1, 1]), p_target=0.5)
        tensor(0.7000)
    """
    return _min_dcf_point(scores, labels, p_target, c_miss, c_fa, "min_dcf_threshold")[1]


def act_dcf(
    scores: Tensor,
    labels: Tensor,
    threshold: float | Tensor,
    p_target: float,
    c_miss: float = 1.0,
    c_fa: float = 1.0,
) -> Tensor:
    r"""Actual normalised detection cost at a fixed threshold (predict fake iff score >= threshold).

    .. math::
        \text{actDCF}(t) = \frac{C_\text{miss} P_\text{tar} P_\text{miss}(t)
            + C_\text{fa} (1 - P_\text{tar}) P_\text{fa}(t)}{\min(C_\text{miss} P_\text{tar},\
            C_\text{fa} (1 - P_\text{tar}))}

    Unlike minDCF it can exceed 1: a badly placed threshold is worse than a constant decision.

    Args:
        scores: (N,) scores, higher = more likely fake.
        labels: (N,) labels in {0, 1}, 1 = fake.
        threshold: decision threshold on the scores' scale (a logit threshold for logits).
        p_target: prior of a fake, in (0, 1).
        c_miss: cost of calling a fake real.
        c_fa: cost of calling a real fake.

    Returns:
        0-dim float64 tensor; ``nan`` (and a ``UserWarning``) if a class is missing.

    Example:
        >>> act_dcf(torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8]),
        ...         torch.tensor([0, 1, 0, 1, 0, 1, 1]), threshold=0.5, p_target=0.5)
        tensor(0.8333, dtype=torch.float64)
    """
    _check_dcf_params(p_target, c_miss, c_fa)
    scores, labels = _validate(scores, labels)
    threshold = torch.as_tensor(threshold, device=scores.device)
    if threshold.numel() != 1 or bool(torch.isnan(threshold)):
        raise ValueError(f"threshold must be a single number, got {threshold}")
    n_pos = int(labels.sum())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        missing = "fake (label 1)" if n_pos == 0 else "real (label 0)"
        warnings.warn(f"act_dcf: no {missing} samples; returning NaN", UserWarning, stacklevel=2)
        return _nan(scores)
    called_fake = scores >= threshold
    p_miss = (labels & ~called_fake).sum().to(torch.float64) / n_pos
    p_fa = (~labels & called_fake).sum().to(torch.float64) / n_neg
    return _dcf(p_miss, p_fa, p_target, c_miss, c_fa)


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
