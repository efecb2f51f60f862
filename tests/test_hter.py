"""threshold_at, far_frr, hter and the HTER metric against loop references written from the definitions.

Convention: label 1 = fake = positive, predict fake iff score >= threshold; FAR = P_miss (fakes
accepted as real), FRR = P_fa (reals flagged fake).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import metrics
from metrics import HTER
from metrics import functional as F


def brute_rates(scores: np.ndarray, labels: np.ndarray, t: float) -> tuple[float, float]:
    """(P_miss, P_fa) at one threshold, counted sample by sample."""
    fakes = [s for s, y in zip(scores.tolist(), labels.tolist(), strict=True) if y == 1]
    reals = [s for s, y in zip(scores.tolist(), labels.tolist(), strict=True) if y == 0]
    return sum(s < t for s in fakes) / len(fakes), sum(s >= t for s in reals) / len(reals)


def brute_threshold_at(scores: np.ndarray, labels: np.ndarray, name: str, target: float) -> float:
    """Documented rule by exhaustive search over the distinct scores and +inf.

    Largest achievable rate <= target; among thresholds with that rate, the one with the smallest
    other error rate, and among those the highest (p_miss) / lowest (p_fa) threshold.
    """
    best: tuple[float, float, float] | None = None  # (rate, -other, tie-break on t)
    best_t = math.nan
    for t in [*sorted(set(scores.tolist())), math.inf]:
        p_miss, p_fa = brute_rates(scores, labels, t)
        rate, other = (p_miss, p_fa) if name == "p_miss" else (p_fa, p_miss)
        if rate > target:
            continue
        key = (rate, -other, t if name == "p_miss" else -t)
        if best is None or key > best:
            best, best_t = key, t
    return best_t


def random_tied(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Scores on a coarse grid (many ties, some mixing both classes), fakes shifted up."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(np.int64)
    scores = np.round(rng.normal(size=n) + 1.2 * labels, 1)
    return scores, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("name", "target"), [("p_miss", 0.0), ("p_miss", 0.1), ("p_miss", 0.5), ("p_fa", 0.01), ("p_fa", 0.1)]
)
def test_threshold_at_matches_brute_force(seed: int, name: str, target: float) -> None:
    scores, labels = random_tied(seed)
    assert len(set(scores.tolist())) < len(scores) // 3  # ties really are present
    got = F.threshold_at(torch.from_numpy(scores), torch.from_numpy(labels), **{name: target})
    expected = brute_threshold_at(scores, labels, name, target)
    assert got.dtype == torch.float64 and got.dim() == 0
    assert float(got) == expected
    p_miss, p_fa = brute_rates(scores, labels, float(got))
    assert (p_miss if name == "p_miss" else p_fa) <= target


def test_threshold_at_keeps_float32_dtype() -> None:
    scores, labels = random_tied(5)
    got = F.threshold_at(torch.from_numpy(scores).float(), torch.from_numpy(labels), p_miss=0.1)
    assert got.dtype == torch.float32
    assert float(got) == pytest.approx(brute_threshold_at(scores, labels, "p_miss", 0.1), abs=1e-6)


def test_threshold_at_hand_built_example_with_ties() -> None:
    # fakes: 0.2, 0.5, 0.5, 0.9 (n_pos = 4); reals: 0.1, 0.3, 0.5, 0.6, 0.7 (n_neg = 5)
    scores = torch.tensor([0.1, 0.2, 0.3, 0.5, 0.5, 0.5, 0.6, 0.7, 0.9], dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 1, 1, 0, 0, 0, 1])
    # P_miss by threshold: 0.1:0, 0.2:0, 0.3:1/4, 0.5:1/4, 0.6:3/4 (the 0.5 tie jumps 1/4 -> 3/4),
    # 0.7:3/4, 0.9:3/4, inf:1. Target 0.5 is unreachable: stop at 1/4, highest threshold 0.5.
    assert float(F.threshold_at(scores, labels, p_miss=0.5)) == 0.5
    assert float(F.threshold_at(scores, labels, p_miss=0.25)) == 0.5
    assert float(F.threshold_at(scores, labels, p_miss=0.2)) == 0.2  # only P_miss = 0: 0.1, 0.2
    assert float(F.threshold_at(scores, labels, p_miss=0.8)) == 0.9
    assert float(F.threshold_at(scores, labels, p_miss=1.0)) == math.inf
    # P_fa by threshold: 0.1:1, 0.2:4/5, 0.3:4/5, 0.5:3/5, 0.6:2/5, 0.7:1/5, 0.9:0, inf:0.
    assert float(F.threshold_at(scores, labels, p_fa=0.0)) == 0.9  # lowest with P_fa = 0
    assert float(F.threshold_at(scores, labels, p_fa=0.5)) == 0.6
    assert float(F.threshold_at(scores, labels, p_fa=0.8)) == 0.2  # 0.2 and 0.3 tie; 0.2 misses less
    assert float(F.threshold_at(scores, labels, p_fa=1.0)) == 0.1


def test_far_frr_and_hter_equal_hand_formula() -> None:
    scores = torch.tensor([0.1, 0.2, 0.3, 0.5, 0.5, 0.5, 0.6, 0.7, 0.9])
    labels = torch.tensor([0, 1, 0, 1, 1, 0, 0, 0, 1])
    far, frr = F.far_frr(scores, labels, 0.5)
    # At 0.5: fake 0.2 accepted as real (1 of 4); reals 0.5, 0.6, 0.7 flagged fake (3 of 5).
    assert far.dtype == frr.dtype == torch.float64
    assert float(far) == 1 / 4 and float(frr) == 3 / 5
    h = F.hter(scores, labels, 0.5)
    assert h.dtype == torch.float64 and h.dim() == 0
    assert float(h) == pytest.approx((1 / 4 + 3 / 5) / 2, abs=1e-15)
    assert float(F.hter(scores, labels, math.inf)) == 0.5  # everything real: FAR = 1, FRR = 0
    assert float(F.hter(scores, labels, 0.55)) == pytest.approx((3 / 4 + 2 / 5) / 2, abs=1e-15)


def test_attribution_paper_protocol_end_to_end() -> None:
    """Threshold at 10% of fakes accepted as real on validation, HTER on test, checked by hand."""
    rng = np.random.default_rng(7)
    val_y = (rng.random(400) < 0.5).astype(np.int64)
    val_s = np.round(rng.normal(size=400) + 1.5 * val_y, 2)
    test_y = (rng.random(500) < 0.3).astype(np.int64)
    test_s = np.round(rng.normal(size=500) + 1.5 * test_y, 2)

    t = F.threshold_at(torch.from_numpy(val_s), torch.from_numpy(val_y), p_miss=0.10)
    t_ref = brute_threshold_at(val_s, val_y, "p_miss", 0.10)
    assert float(t) == t_ref
    val_far, _ = brute_rates(val_s, val_y, t_ref)
    assert 0.05 < val_far <= 0.10  # near the target on validation, never above it

    got = F.hter(torch.from_numpy(test_s), torch.from_numpy(test_y), t)
    fakes, reals = test_s[test_y == 1], test_s[test_y == 0]
    far = sum(1 for s in fakes if s < t_ref) / len(fakes)  # fakes accepted as real
    frr = sum(1 for s in reals if s >= t_ref) / len(reals)  # reals rejected
    assert float(got) == pytest.approx((far + frr) / 2, abs=1e-15)
    assert float(got) != pytest.approx(
        F.hter(torch.from_numpy(test_s), torch.from_numpy(test_y), t_ref + 0.3).item()
    )


@pytest.mark.parametrize(
    "kwargs", [{}, {"p_miss": 0.1, "p_fa": 0.1}, {"p_miss": -0.1}, {"p_fa": 1.5}, {"p_miss": math.nan}]
)
def test_threshold_at_bad_targets_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"p_miss|p_fa"):
        F.threshold_at(torch.tensor([0.1, 0.9]), torch.tensor([0, 1]), **kwargs)


def test_bad_threshold_and_inputs_raise() -> None:
    scores, labels = torch.tensor([0.1, 0.9]), torch.tensor([0, 1])
    for fn in (F.hter, F.far_frr):
        with pytest.raises(ValueError, match="threshold"):
            fn(scores, labels, math.nan)
        with pytest.raises(ValueError, match="threshold"):
            fn(scores, labels, torch.tensor([0.1, 0.2]))
        with pytest.raises(ValueError, match="labels must be 0"):
            fn(scores, torch.tensor([0, 2]), 0.5)
    with pytest.raises(ValueError, match="threshold"):
        HTER(threshold=math.nan)
    with pytest.raises(ValueError, match="shape"):
        F.threshold_at(scores, torch.tensor([0, 1, 1]), p_fa=0.1)


@pytest.mark.parametrize(("label", "missing"), [(0, "fake"), (1, "real")])
def test_one_class_missing_gives_nan_and_warning(label: int, missing: str) -> None:
    scores, labels = torch.tensor([0.1, 0.5, 0.9]), torch.full((3,), label)
    with pytest.warns(UserWarning, match=missing):
        assert math.isnan(F.threshold_at(scores, labels, p_miss=0.1))
    with pytest.warns(UserWarning, match=missing):
        assert math.isnan(F.hter(scores, labels, 0.5))
    with pytest.warns(UserWarning, match=missing):
        far, frr = F.far_frr(scores, labels, 0.5)
    assert math.isnan(far) and math.isnan(frr)


def test_hter_metric_chunks_equal_functional() -> None:
    scores, labels = random_tied(3, n=250)
    s, y = torch.from_numpy(scores).float(), torch.from_numpy(labels)
    t = float(F.threshold_at(s, y, p_fa=0.1))
    metric = HTER(threshold=t)
    for chunk_s, chunk_y in zip(s.split(37), y.split(37), strict=True):
        metric.update(chunk_s, chunk_y)
    got = metric.compute()
    assert got.dtype == torch.float64
    assert float(got) == float(F.hter(s, y, t))
    p_miss, p_fa = brute_rates(scores.astype(np.float32), labels, t)
    assert float(got) == pytest.approx((p_miss + p_fa) / 2, abs=1e-15)
    assert metrics.HTER is HTER and "HTER" in metrics.__all__
