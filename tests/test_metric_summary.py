"""AUC, ROC, thresholded metrics, log loss, the one-sort summary, de-duplication and aggregation.

References: scikit-learn, float64 loops over pairs and samples, and the module's own single-metric
functions (the summary must equal them exactly).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm
import torch

from metrics import AUC, EER, Accuracy, DetectionMetrics, F1Score, LogLoss, MinDCF, Precision, Recall
from metrics import functional as F
from metrics.functional._counts import _error_counts_cpu, _error_counts_torch, _validate
from tests.test_metrics import CASES, as_tensors, random_case


def brute_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney over every (fake, real) pair, ties counting one half."""
    fakes = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    reals = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum((f > r) + 0.5 * (f == r) for f in fakes for r in reals)
    return wins / (len(fakes) * len(reals))


@pytest.mark.parametrize(("seed", "n", "decimals"), CASES)
def test_auc_matches_pair_loop_and_sklearn(seed: int, n: int, decimals: int | None) -> None:
    scores, labels = random_case(seed, n, decimals)
    value = float(F.auc(*as_tensors(scores, labels)))
    assert value == pytest.approx(brute_auc(scores, labels), abs=1e-12)
    assert value == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize(("seed", "n", "decimals"), CASES)
def test_roc_curve_matches_sklearn_without_dropping_points(seed: int, n: int, decimals: int | None) -> None:
    scores, labels = random_case(seed, n, decimals)
    fpr, tpr, thresholds = F.roc_curve(*as_tensors(scores, labels))
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr.numpy(), sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr.numpy(), sk_tpr, atol=1e-12)
    np.testing.assert_array_equal(thresholds.numpy(), sk_thr)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(4))
def test_cpu_and_device_counting_paths_agree(dtype: torch.dtype, seed: int) -> None:
    scores, labels = random_case(seed, 3000, tie_decimals=2 if seed % 2 else None)
    s, y = _validate(torch.as_tensor(scores).to(dtype), torch.as_tensor(labels))
    fast, reference = _error_counts_cpu(s, y), _error_counts_torch(s, y)
    for field in ("thresholds", "miss", "fa"):
        assert torch.equal(getattr(fast, field), getattr(reference, field)), field
    assert fast.thresholds.dtype == dtype
    assert (fast.n_pos, fast.n_neg) == (reference.n_pos, reference.n_neg)


def thresholded_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    # Rounding puts many probabilities exactly on the 0.5 threshold: the >= rule matters.
    probabilities = np.round(np.clip(rng.normal(0.5, 0.2, 200) + 0.15 * labels, 0, 1), 1)
    return probabilities, labels


@pytest.mark.parametrize("seed", range(5))
def test_thresholded_metrics_match_sklearn_with_fake_iff_at_least_threshold(seed: int) -> None:
    probabilities, labels = thresholded_case(seed)
    predicted = (probabilities >= 0.5).astype(int)
    args = as_tensors(probabilities, labels)
    assert float(F.accuracy(*args)) == pytest.approx(skm.accuracy_score(labels, predicted), abs=1e-15)
    assert float(F.precision(*args)) == pytest.approx(
        skm.precision_score(labels, predicted, zero_division=0), abs=1e-15
    )
    assert float(F.recall(*args)) == pytest.approx(skm.recall_score(labels, predicted), abs=1e-15)
    assert float(F.f1_score(*args)) == pytest.approx(skm.f1_score(labels, predicted), abs=1e-15)


def test_zero_denominators_give_zero_like_sklearn() -> None:
    scores, labels = torch.tensor([0.1, 0.2]), torch.tensor([0, 1])
    assert float(F.precision(scores, labels)) == 0.0  # nothing called fake
    assert float(F.f1_score(scores, torch.tensor([0, 0]))) == 0.0  # no fake, none called fake
    assert float(F.recall(scores, torch.tensor([0, 0]))) == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_log_loss_matches_sklearn_and_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    probabilities = rng.uniform(0.01, 0.99, 300)
    value = float(F.log_loss(*as_tensors(probabilities, labels)))
    formula = -np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities))
    assert value == pytest.approx(formula, rel=1e-12)
    assert value == pytest.approx(skm.log_loss(labels, probabilities), rel=1e-12)


def test_log_loss_clips_confident_mistakes_at_dfdc_eps() -> None:
    value = float(F.log_loss(torch.tensor([0.0, 1.0], dtype=torch.float64), torch.tensor([1, 0])))
    clipped = np.clip([0.0, 1.0], 1e-15, 1 - 1e-15)  # the DFDC leaderboard's clip, as numpy does it
    assert value == pytest.approx(-(np.log(clipped[0]) + np.log(1 - clipped[1])) / 2, rel=1e-12)
    assert value == pytest.approx(-math.log(1e-15), rel=1e-4)
    assert math.isfinite(value)


def test_log_loss_rejects_logits_and_bad_eps() -> None:
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*sigmoid"):
        F.log_loss(torch.tensor([-2.0, 3.0]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="eps"):
        F.log_loss(torch.tensor([0.2, 0.3]), torch.tensor([0, 1]), eps=0.0)


@pytest.mark.parametrize(("seed", "n", "decimals"), CASES)
def test_summary_equals_each_single_function(seed: int, n: int, decimals: int | None) -> None:
    scores, labels = random_case(seed, n, decimals)
    probabilities = torch.sigmoid(torch.as_tensor(scores))
    y = torch.as_tensor(labels)
    summary = F.detection_summary(probabilities, y, p_targets=(0.1, 0.05, 0.01), eer_method="convex_hull")
    expected = {
        "auc": F.auc(probabilities, y),
        "eer": F.eer(probabilities, y, method="convex_hull"),
        "min_dcf_01": F.min_dcf(probabilities, y, 0.1),
        "min_dcf_005": F.min_dcf(probabilities, y, 0.05),
        "min_dcf_001": F.min_dcf(probabilities, y, 0.01),
        "acc": F.accuracy(probabilities, y),
        "precision": F.precision(probabilities, y),
        "recall": F.recall(probabilities, y),
        "f1": F.f1_score(probabilities, y),
        "log_loss": F.log_loss(probabilities, y),
    }
    assert list(summary) == list(expected)
    for key, value in expected.items():
        assert torch.equal(summary[key], value), key


def test_summary_with_one_class_gives_nan_ranking_metrics_and_one_warning() -> None:
    with pytest.warns(UserWarning, match="no fake") as record:
        summary = F.detection_summary(torch.tensor([0.2, 0.7]), torch.tensor([0, 0]))
    assert len(record) == 1
    assert all(math.isnan(float(summary[k])) for k in ("auc", "eer", "min_dcf_01"))
    assert float(summary["acc"]) == 0.5


def test_summary_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="eer_method"):
        F.detection_summary(torch.tensor([0.2, 0.7]), torch.tensor([0, 1]), eer_method="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="p_target"):
        DetectionMetrics(p_targets=(0.0,))


# ---------------------------------------------------------------- de-duplication and aggregation


def test_deduplicate_keeps_one_of_each_id_in_id_order() -> None:
    ids = torch.tensor([4, 2, 4, 9, 2, 7])
    values = torch.tensor([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    kept_ids, kept = F.deduplicate(ids, values)
    assert kept_ids.tolist() == [2, 4, 7, 9]
    assert kept.tolist() == [20.0, 10.0, 60.0, 40.0]  # the first occurrence of each id


@pytest.mark.parametrize("reduce", ["mean", "max"])
def test_aggregate_by_group_matches_dict_loop(reduce: str) -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 500)
    video_label = rng.integers(0, 2, 30)
    labels, scores = video_label[groups], rng.uniform(size=500)
    got_scores, got_labels, got_groups = F.aggregate_by_group(
        torch.as_tensor(scores),
        torch.as_tensor(labels),
        torch.as_tensor(groups),
        reduce,  # type: ignore[arg-type]
    )
    by_group: dict[int, list[float]] = {}
    for g, s in zip(groups.tolist(), scores.tolist(), strict=True):
        by_group.setdefault(g, []).append(s)
    reducer = np.mean if reduce == "mean" else np.max
    assert got_groups.tolist() == sorted(by_group)
    np.testing.assert_allclose(
        got_scores.numpy(), [reducer(by_group[g]) for g in sorted(by_group)], rtol=1e-12
    )
    assert got_labels.tolist() == [int(video_label[g]) for g in sorted(by_group)]


def test_aggregate_refuses_a_video_with_both_labels() -> None:
    with pytest.raises(ValueError, match="group 3 has frames labelled both"):
        F.aggregate_by_group(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0, 0, 1]), torch.tensor([1, 3, 3]))


def test_metric_counts_each_sample_id_once() -> None:
    scores, labels = random_case(3, 101, None)
    s, y = as_tensors(scores, labels)
    metric = EER()
    metric.update(s[:60], y[:60], sample_id=torch.arange(60))
    # The repeats a DistributedSampler adds: the first 20 samples again.
    metric.update(s[:20], y[:20], sample_id=torch.arange(20))
    metric.update(s[60:], y[60:], sample_id=torch.arange(60, 101))
    assert torch.equal(metric.compute(), F.eer(s, y))
    without_ids = EER()
    without_ids.update(torch.cat([s, s[:20]]), torch.cat([y, y[:20]]))
    assert not torch.equal(without_ids.compute(), F.eer(s, y))  # the repeats do change the number


def test_video_aggregation_in_metric_classes() -> None:
    frame_scores = torch.tensor([0.1, 0.3, 0.9, 0.2, 0.6, 0.8])
    frame_labels = torch.tensor([0, 0, 1, 1, 0, 0])
    videos = torch.tensor([0, 0, 1, 1, 2, 2])  # mean scores 0.2, 0.55, 0.7
    metric = AUC(aggregate="mean")
    metric.update(frame_scores, frame_labels, group_id=videos)
    assert float(metric.compute()) == 0.5  # the fake video (0.55) beats one of two reals
    max_metric = Accuracy(aggregate="max")  # maxima 0.3, 0.9, 0.8
    max_metric.update(frame_scores, frame_labels, group_id=videos)
    assert float(max_metric.compute()) == pytest.approx(2 / 3)


def test_metric_update_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="needs group_id"):
        AUC(aggregate="mean").update(torch.tensor([0.1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="aggregate must be"):
        AUC(aggregate="median")  # type: ignore[arg-type]
    metric = MinDCF(p_target=0.1)
    metric.update(torch.tensor([0.1]), torch.tensor([0]), sample_id=torch.tensor([0]))
    with pytest.raises(ValueError, match="sample_id in every update or in none"):
        metric.update(torch.tensor([0.2]), torch.tensor([1]))


@pytest.mark.parametrize(
    ("metric", "function"),
    [
        (AUC(), F.auc),
        (Accuracy(threshold=0.4), lambda s, y: F.accuracy(s, y, threshold=0.4)),
        (Precision(), F.precision),
        (Recall(), F.recall),
        (F1Score(), F.f1_score),
        (LogLoss(), F.log_loss),
    ],
)
def test_metric_classes_equal_functional_on_concatenation(metric, function) -> None:
    probabilities, labels = thresholded_case(7)
    s, y = as_tensors(probabilities, labels)
    for chunk in torch.arange(200).split(37):
        metric.update(s[chunk], y[chunk])
    assert torch.equal(metric.compute(), function(s, y))


def test_detection_metrics_prefix_and_values() -> None:
    probabilities, labels = thresholded_case(1)
    s, y = as_tensors(probabilities, labels)
    metric = DetectionMetrics(prefix="test/video_")
    metric.update(s[:90], y[:90])
    metric.update(s[90:], y[90:])
    values = metric.compute()
    summary = F.detection_summary(s, y)
    assert values == {f"test/video_{k}": v for k, v in summary.items()}
    assert "test/video_min_dcf_005" in values
