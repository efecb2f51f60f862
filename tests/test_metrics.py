"""metrics.functional and metrics.classification against independent references.

References are written here from the definitions: Python loops over thresholds in float64,
sklearn's roc_curve, torchmetrics' BinaryEER, and a monotone-chain convex hull.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_curve
from torchmetrics.classification import BinaryEER

import metrics
from metrics import EER, MinDCF
from metrics import functional as F

P_TARGETS = (0.1, 0.05, 0.01)


# ---------------------------------------------------------------- references (loops, float64)


def brute_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """Thresholds (distinct scores, then inf) with P_miss and P_fa counted one threshold at a time."""
    fakes = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    reals = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    thresholds = [*sorted(set(scores.tolist())), math.inf]
    p_miss = [sum(s < t for s in fakes) / len(fakes) for t in thresholds]
    p_fa = [sum(s >= t for s in reals) / len(reals) for t in thresholds]
    return thresholds, p_miss, p_fa


def brute_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Documented rule: first point with P_miss >= P_fa, straight line from the point before it."""
    _, p_miss, p_fa = brute_curve(scores, labels)
    for k in range(1, len(p_miss)):
        if p_miss[k] >= p_fa[k]:
            # Intersect the line through (fa0, m0), (fa1, m1) with m = fa.
            fa0, m0, fa1, m1 = p_fa[k - 1], p_miss[k - 1], p_fa[k], p_miss[k]
            t = (fa0 - m0) / ((fa0 - m0) - (fa1 - m1))
            return fa0 + t * (fa1 - fa0)
    raise AssertionError("the curve always ends at P_miss = 1 >= P_fa = 0")


def sklearn_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Crossing of the piecewise-linear sklearn ROC with FNR = FPR."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1.0 - tpr
    # fpr - fnr rises strictly along sklearn's points, so it can parametrise the polyline.
    return float(np.interp(0.0, fpr - fnr, fnr))


def hull_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROCCH-EER: lower convex hull (monotone chain) of the (P_fa, P_miss) points, crossed with x = y."""
    _, p_miss, p_fa = brute_curve(scores, labels)
    hull: list[tuple[float, float]] = []
    for point in sorted(set(zip(p_fa, p_miss, strict=True))):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append(point)
    for (x1, y1), (x2, y2) in itertools.pairwise(hull):
        if y1 >= x1 and y2 <= x2:
            t = (y1 - x1) / ((y1 - x1) - (y2 - x2)) if y1 != x1 else 0.0
            return x1 + t * (x2 - x1)
    raise AssertionError("the hull runs from (0, 1) to (1, 0)")


def brute_min_dcf(
    scores: np.ndarray, labels: np.ndarray, p_target: float, c_miss: float, c_fa: float
) -> float:
    _, p_miss, p_fa = brute_curve(scores, labels)
    norm = min(c_miss * p_target, c_fa * (1 - p_target))
    costs = [
        (c_miss * p_target * m + c_fa * (1 - p_target) * f) / norm for m, f in zip(p_miss, p_fa, strict=True)
    ]
    return min(costs)


def random_case(seed: int, n: int, tie_decimals: int | None = 1, separation: float = 1.0):
    """Scores (float64) and labels with both classes; rounding the scores creates ties."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    labels[:2] = [0, 1]
    rng.shuffle(labels)
    scores = rng.normal(size=n) + separation * labels
    if tie_decimals is not None:
        scores = np.round(scores, tie_decimals)
    return scores, labels


def as_tensors(scores: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.as_tensor(scores, dtype=torch.float64), torch.as_tensor(labels)


CASES = [(seed, n, dec) for seed, n in enumerate([7, 30, 101, 400]) for dec in (None, 1)]


# ---------------------------------------------------------------- curve


@pytest.mark.parametrize(("seed", "n", "decimals"), CASES)
def test_error_rate_curve_matches_threshold_loop(seed: int, n: int, decimals: int | None) -> None:
    scores, labels = random_case(seed, n, decimals)
    thresholds, p_miss, p_fa = F.error_rate_curve(*as_tensors(scores, labels))
    ref_t, ref_m, ref_f = brute_curve(scores, labels)
    assert thresholds.tolist() == ref_t  # one point per distinct score, inf last
    np.testing.assert_allclose(p_miss.numpy(), ref_m, rtol=0, atol=1e-15)
    np.testing.assert_allclose(p_fa.numpy(), ref_f, rtol=0, atol=1e-15)
    assert p_miss.dtype == p_fa.dtype == torch.float64


def test_det_curve_is_the_error_rate_curve() -> None:
    scores, labels = as_tensors(*random_case(3, 50))
    p_fa, p_miss, thresholds = F.det_curve(scores, labels)
    ref_t, ref_m, ref_f = F.error_rate_curve(scores, labels)
    assert torch.equal(p_fa, ref_f) and torch.equal(p_miss, ref_m) and torch.equal(thresholds, ref_t)


# ---------------------------------------------------------------- EER


@pytest.mark.parametrize(("seed", "n", "decimals"), CASES)
def test_eer_interpolate_matches_loop_and_sklearn(seed: int, n: int, decimals: int | None) -> None:
    scores, labels = random_case(seed, n, decimals)
    value = F.eer(*as_tensors(scores, labels)).item()
    assert value == pytest.approx(brute_eer(scores, labels), abs=1e-12)
    assert value == pytest.approx(sklearn_eer(scores, labels), abs=1e-12)


def test_eer_hand_computed_example() -> None:
    # Curve (P_miss, P_fa) around the crossing: (1/4, 1/3) at 0.4, then (1/2, 1/3) at 0.6.
    scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 1])
    assert F.eer(scores, labels).item() == pytest.approx(1 / 3, abs=1e-15)
    # Hull edge from (P_fa, P_miss) = (2/3, 0) to (0, 1/2): P_miss = 1/2 - 3/4 P_fa.
    assert F.eer(scores, labels, "convex_hull").item() == pytest.approx(2 / 7, abs=1e-15)
    assert F.eer(scores, labels, "nearest").item() == pytest.approx(7 / 24, abs=1e-7)


@pytest.mark.parametrize("method", ["interpolate", "convex_hull", "nearest"])
def test_eer_perfect_separation_is_zero(method: str) -> None:
    assert F.eer(torch.tensor([0.2, 0.8]), torch.tensor([0, 1]), method).item() == 0.0
    assert F.eer(torch.tensor([0.1, 0.2, 0.7, 0.9]), torch.tensor([0, 0, 1, 1]), method).item() == 0.0


@pytest.mark.parametrize(
    ("method", "expected"), [("interpolate", 1.0), ("nearest", 1.0), ("convex_hull", 0.5)]
)
def test_eer_perfectly_inverted(method: str, expected: float) -> None:
    # The hull may mix "all fake" and "all real", which already guarantees 0.5.
    assert F.eer(torch.tensor([0.2, 0.8]), torch.tensor([1, 0]), method).item() == expected


@pytest.mark.parametrize("method", ["interpolate", "convex_hull", "nearest"])
def test_eer_all_equal_scores_is_half(method: str) -> None:
    scores = torch.full((9,), 0.3)
    labels = torch.tensor([0, 1, 1, 0, 0, 1, 0, 1, 1])
    assert F.eer(scores, labels, method).item() == 0.5


def test_eer_only_ranking_matters() -> None:
    logits, labels = as_tensors(*random_case(11, 300, None))
    for method in ("interpolate", "convex_hull", "nearest"):
        on_logits = F.eer(logits, labels, method)
        assert torch.equal(on_logits, F.eer(torch.sigmoid(logits), labels, method))
        assert torch.equal(on_logits, F.eer(3.0 * logits - 1.0, labels, method))


@pytest.mark.parametrize("seed", range(8))
def test_eer_nearest_equals_torchmetrics_binary_eer(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    n = int(torch.randint(2, 2000, (1,), generator=gen))
    labels = torch.randint(0, 2, (n,), generator=gen)
    labels[:2] = torch.tensor([0, 1])
    probs = torch.rand(n, generator=gen)
    if seed % 2:
        probs = (probs * 20).round() / 20  # many ties
    expected = BinaryEER()(probs, labels)
    assert F.eer(probs, labels, "nearest").item() == expected.item()


def test_eer_nearest_breaks_ties_like_torchmetrics() -> None:
    # (P_fa, P_miss) = (1/4, 1/2) at 0.7 and (3/4, 1/2) at 0.5 are exactly as far from the diagonal
    # (quarters are exact in float32); torchmetrics keeps the first met going down: 3/8, not 5/8.
    scores = torch.tensor([0.9, 0.8, 0.7, 0.5, 0.5, 0.3, 0.2, 0.1])
    labels = torch.tensor([1, 0, 1, 0, 0, 1, 1, 0])
    value = F.eer(scores, labels, "nearest").item()
    assert value == BinaryEER()(scores, labels).item() == 0.375


def test_eer_nearest_equals_torchmetrics_on_tied_logits() -> None:
    # One-decimal logits stay distinct through torchmetrics' float32 sigmoid, so rankings agree.
    gen = torch.Generator().manual_seed(5)
    labels = torch.randint(0, 2, (500,), generator=gen)
    logits = (torch.randn(500, generator=gen) * 2 + labels).round(decimals=1)
    assert F.eer(logits, labels, "nearest").item() == BinaryEER()(logits, labels).item()


@pytest.mark.parametrize(("seed", "n", "decimals"), CASES)
def test_eer_convex_hull_matches_monotone_chain(seed: int, n: int, decimals: int | None) -> None:
    scores, labels = random_case(seed, n, decimals, separation=0.5)
    hull = F.eer(*as_tensors(scores, labels), "convex_hull").item()
    assert hull == pytest.approx(hull_eer(scores, labels), abs=1e-12)
    assert hull <= F.eer(*as_tensors(scores, labels)).item() + 1e-15
    assert hull <= 0.5


def test_eer_convex_hull_is_max_over_priors_of_bayes_error() -> None:
    # ROCCH-EER = max over pi of min_t [pi P_miss + (1 - pi) P_fa]; a grid lower-bounds the max.
    scores, labels = as_tensors(*random_case(2, 300, 1, separation=0.3))
    _, p_miss, p_fa = F.error_rate_curve(scores, labels)
    pis = torch.linspace(0, 1, 20001, dtype=torch.float64)[:, None]
    grid_max = (pis * p_miss + (1 - pis) * p_fa).min(dim=1).values.max().item()
    assert F.eer(scores, labels, "convex_hull").item() == pytest.approx(grid_max, abs=1e-4)
    assert F.eer(scores, labels, "convex_hull").item() >= grid_max - 1e-15


def test_eer_convex_hull_equals_interpolate_on_a_convex_curve() -> None:
    # Tie groups whose fake fraction rises with the score give a convex (P_fa, P_miss) curve.
    reals_fakes = [(9, 1), (6, 2), (4, 4), (2, 6), (1, 9)]
    scores = torch.cat([torch.full((r + f,), float(k)) for k, (r, f) in enumerate(reals_fakes)])
    labels = torch.cat([torch.tensor([0] * r + [1] * f) for r, f in reals_fakes])
    interpolated = F.eer(scores, labels).item()
    assert F.eer(scores, labels, "convex_hull").item() == pytest.approx(interpolated, abs=1e-15)
    assert interpolated == pytest.approx(brute_eer(scores.numpy(), labels.numpy()), abs=1e-15)


def test_eer_large_input_is_vectorised() -> None:
    scores, labels = random_case(0, 1_000_000, None)
    value = F.eer(*as_tensors(scores, labels)).item()
    assert value == pytest.approx(sklearn_eer(scores, labels), abs=1e-12)
    assert F.eer(*as_tensors(scores, labels), "convex_hull").item() <= value


# ---------------------------------------------------------------- DCF


@pytest.mark.parametrize("p_target", P_TARGETS)
@pytest.mark.parametrize(("c_miss", "c_fa"), [(1.0, 1.0), (10.0, 1.0), (1.0, 3.0)])
@pytest.mark.parametrize(("seed", "n", "decimals"), CASES[::3])
def test_min_dcf_matches_threshold_loop(
    p_target: float, c_miss: float, c_fa: float, seed: int, n: int, decimals: int | None
) -> None:
    scores, labels = random_case(seed, n, decimals)
    value = F.min_dcf(*as_tensors(scores, labels), p_target, c_miss, c_fa).item()
    assert value == pytest.approx(brute_min_dcf(scores, labels, p_target, c_miss, c_fa), abs=1e-12)


@pytest.mark.parametrize("p_target", P_TARGETS)
def test_min_dcf_perfect_separation_is_zero(p_target: float) -> None:
    scores, labels = torch.tensor([0.1, 0.3, 0.6, 0.9]), torch.tensor([0, 0, 1, 1])
    assert F.min_dcf(scores, labels, p_target).item() == 0.0


@pytest.mark.parametrize("p_target", P_TARGETS)
def test_min_dcf_of_random_scores_is_close_to_one_never_above(p_target: float) -> None:
    for seed in range(5):
        scores, labels = as_tensors(*random_case(seed, 4000, None, separation=0.0))
        value = F.min_dcf(scores, labels, p_target).item()
        assert 0.9 < value <= 1.0


@pytest.mark.parametrize("p_target", P_TARGETS)
def test_act_dcf_at_min_dcf_threshold_gives_min_dcf(p_target: float) -> None:
    scores, labels = as_tensors(*random_case(4, 500, 1))
    threshold = F.min_dcf_threshold(scores, labels, p_target)
    assert F.act_dcf(scores, labels, threshold, p_target).item() == pytest.approx(
        F.min_dcf(scores, labels, p_target).item(), abs=1e-14
    )


def test_act_dcf_equals_hand_formula() -> None:
    scores, labels = random_case(6, 200, 1)
    threshold, p_target, c_miss, c_fa = 0.5, 0.05, 2.0, 1.0
    n_fake = int(labels.sum())
    p_miss = sum(1 for s, y in zip(scores, labels, strict=True) if y == 1 and s < threshold) / n_fake
    p_fa = sum(1 for s, y in zip(scores, labels, strict=True) if y == 0 and s >= threshold) / (200 - n_fake)
    expected = (c_miss * p_target * p_miss + c_fa * (1 - p_target) * p_fa) / min(
        c_miss * p_target, c_fa * (1 - p_target)
    )
    got = F.act_dcf(*as_tensors(scores, labels), threshold, p_target, c_miss, c_fa).item()
    assert got == pytest.approx(expected, abs=1e-12)
    # A threshold that calls everything fake costs C_fa (1 - P_tar) / norm: here 1 / 0.1 = 19.
    assert F.act_dcf(*as_tensors(scores, labels), -100.0, p_target, c_miss, c_fa).item() == pytest.approx(9.5)


def test_min_dcf_threshold_uses_the_thresholding_rule() -> None:
    # The fake at 0.6 is only caught by a threshold <= 0.6; "score >= t" makes t = 0.6 itself work.
    scores, labels = torch.tensor([0.1, 0.2, 0.6, 0.9]), torch.tensor([0, 0, 1, 1])
    assert F.min_dcf_threshold(scores, labels, 0.5).item() == pytest.approx(0.6)
    assert F.act_dcf(scores, labels, 0.6, 0.5).item() == 0.0


@pytest.mark.parametrize("bad", [{"p_target": 0.0}, {"p_target": 1.0}, {"p_target": 0.1, "c_miss": 0.0}])
def test_dcf_rejects_bad_parameters(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"p_target|c_miss"):
        F.min_dcf(torch.tensor([0.1, 0.9]), torch.tensor([0, 1]), **bad)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "fn",
    [
        lambda s, y: F.eer(s, y),
        lambda s, y: F.eer(s, y, "convex_hull"),
        lambda s, y: F.min_dcf(s, y, 0.05),
        lambda s, y: F.act_dcf(s, y, 0.5, 0.05),
    ],
)
@pytest.mark.parametrize(("label", "missing"), [(0, "fake"), (1, "real")])
def test_one_class_missing_gives_nan_and_warning(fn, label: int, missing: str) -> None:
    with pytest.warns(UserWarning, match=missing):
        value = fn(torch.tensor([0.1, 0.5, 0.9]), torch.full((3,), label))
    assert math.isnan(value.item())


def test_one_class_missing_gives_nan_rates_in_curves() -> None:
    with pytest.warns(UserWarning, match="fake"):
        _, p_miss, p_fa = F.error_rate_curve(torch.tensor([0.1, 0.5]), torch.tensor([0, 0]))
    assert torch.isnan(p_miss).all() and not torch.isnan(p_fa).any()


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 1\)"):
        F.eer(torch.rand(4), torch.ones(4, 1))


@pytest.mark.parametrize(
    "labels", [torch.tensor([0, 1, 2]), torch.tensor([0.0, 1.0, 0.5]), torch.tensor([-1, 0, 1])]
)
def test_labels_outside_zero_one_raise(labels: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="labels must be 0"):
        F.eer(torch.rand(3), labels)


def test_empty_and_non_finite_inputs_raise() -> None:
    with pytest.raises(ValueError, match="empty"):
        F.eer(torch.tensor([]), torch.tensor([]))
    with pytest.raises(ValueError, match="finite"):
        F.min_dcf(torch.tensor([0.1, float("nan")]), torch.tensor([0, 1]), 0.1)
    with pytest.raises(ValueError, match="method"):
        F.eer(torch.tensor([0.1, 0.9]), torch.tensor([0, 1]), "average")  # type: ignore[arg-type]


def test_bool_and_float_labels_accepted() -> None:
    scores = torch.tensor([0.1, 0.4, 0.35, 0.8])
    expected = F.eer(scores, torch.tensor([0, 0, 1, 1]))
    assert torch.equal(F.eer(scores, torch.tensor([False, False, True, True])), expected)
    assert torch.equal(F.eer(scores, torch.tensor([0.0, 0.0, 1.0, 1.0])), expected)


# ---------------------------------------------------------------- torchmetrics classes


@pytest.mark.parametrize(
    ("metric", "functional"),
    [
        (EER(), lambda s, y: F.eer(s, y)),
        (EER(method="convex_hull"), lambda s, y: F.eer(s, y, "convex_hull")),
        (EER(method="nearest"), lambda s, y: F.eer(s, y, "nearest")),
        *[(MinDCF(p_target=p), lambda s, y, p=p: F.min_dcf(s, y, p)) for p in P_TARGETS],
        (MinDCF(p_target=0.05, c_miss=5.0), lambda s, y: F.min_dcf(s, y, 0.05, c_miss=5.0)),
    ],
)
def test_metric_chunks_equal_functional_on_concatenation(metric, functional) -> None:
    scores, labels = random_case(9, 700, 1)
    scores_t = torch.as_tensor(scores, dtype=torch.float32)
    labels_t = torch.as_tensor(labels).float()  # float labels, as BCE targets come
    for chunk_s, chunk_y in zip(scores_t.split(97), labels_t.split(97), strict=True):
        metric.update(chunk_s, chunk_y)
    assert torch.equal(metric.compute(), functional(scores_t, labels_t))
    metric.reset()
    metric.update(scores_t[:50], labels_t[:50])
    assert torch.equal(metric.compute(), functional(scores_t[:50], labels_t[:50]))


def test_metric_class_attributes_and_exports() -> None:
    assert EER.higher_is_better is False and MinDCF.higher_is_better is False
    assert EER.full_state_update is False
    assert metrics.functional.eer is F.eer
    with pytest.raises(ValueError, match="method"):
        EER(method="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="p_target"):
        MinDCF(p_target=1.5)
    with pytest.raises(ValueError, match="shape"):
        EER().update(torch.rand(3), torch.ones(3, 1))
