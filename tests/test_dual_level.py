"""DualLevelAUCNet on hand-made batches: shapes, the paper's loss, padding, weights handling."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from deepfake_suite.errors import SuiteError
from lightning_modules import DualLevelAUCNet, backbones
from losses.dual_level_loss import DualLevelLoss


def _model(**kwargs) -> DualLevelAUCNet:
    torch.manual_seed(0)
    defaults = {"backbone": "resnet10t", "pretrained": False, "hidden_size": 16, "num_layers": 2}
    return DualLevelAUCNet(**{**defaults, **kwargs})


def _batch(n: int = 4, t: int = 5, size: int = 32) -> dict:
    generator = torch.Generator().manual_seed(1)
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])[:n]
    return {
        "frames": torch.randint(0, 256, (n, t, 3, size, size), dtype=torch.uint8, generator=generator),
        "mask": torch.ones(n, t, dtype=torch.bool),
        "frame_labels": labels[:, None].expand(n, t).clone(),
        "label": labels,
        "video_id": [f"v{i}" for i in range(n)],
    }


def test_forward_gives_a_logit_per_frame_and_per_video() -> None:
    out = _model().eval()(_batch())
    assert out["frame"].shape == (4, 5)
    assert out["video"].shape == (4,)


def test_backbone_with_a_head_conv_after_pooling_is_sized_by_its_output() -> None:
    # MobileNetV3's num_classes=0 output passes a conv head (576 -> 1024 here), so sizing the GRU
    # from num_features would fail at the first batch.
    model = _model(backbone="mobilenetv3_small_050").eval()
    assert model.net.backbone.num_features != model.net.backbone.head_hidden_size
    out = model(_batch())
    assert out["video"].shape == (4,)


def test_channels_last_gives_the_same_logits() -> None:
    batch = _batch()
    reference = _model().eval()
    fast = _model(channels_last=True).eval()
    fast.load_state_dict(reference.state_dict())
    assert fast.net.backbone.conv1[0].weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(fast(batch)["video"], reference(batch)["video"], rtol=1e-4, atol=1e-5)


def test_padding_does_not_change_the_video_score() -> None:
    # Default init: with the paper's N(0, 0.01) the RNN outputs are nearly constant over time,
    # and pooling that wrongly included padded steps would go unnoticed.
    model = _model(init_std=None).eval()
    batch = _batch(n=1, t=6)
    padded = {**batch, "mask": torch.tensor([[True, True, True, True, False, False]])}
    padded["frames"] = batch["frames"].clone()
    padded["frames"][:, 4:] = batch["frames"][:, 3:4]
    truncated = {**batch, "frames": batch["frames"][:, :4], "mask": batch["mask"][:, :4]}
    with torch.no_grad():
        a, b = model(padded), model(truncated)
    torch.testing.assert_close(a["video"], b["video"])
    torch.testing.assert_close(a["frame"][:, :4], b["frame"])


def _pairwise_auc(scores: list[float], labels: list[float], gamma: float, p: float) -> float:
    """Eqs. 2-3 written out as the double sum, fakes (1) against reals (0)."""
    fakes = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    reals = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    total = sum(max(0.0, gamma - (f - r)) ** p for f, r in itertools.product(fakes, reals))
    return total / (len(fakes) * len(reals))


def test_total_loss_equals_the_paper_formula_on_random_inputs() -> None:
    torch.manual_seed(3)
    alpha, beta, gamma, p = 0.3, 0.7, 0.15, 2.0
    video_logits = torch.randn(6, dtype=torch.float64)
    video_labels = torch.tensor([1, 0, 1, 1, 0, 0], dtype=torch.float64)
    frame_logits = torch.randn(6, 4, dtype=torch.float64)
    frame_labels = video_labels[:, None].expand(6, 4).clone()
    frame_labels[1, 2] = 1.0  # a partly manipulated real video
    mask = torch.rand(6, 4) > 0.3
    mask[:, 0] = True
    got = DualLevelLoss(alpha=alpha, beta=beta, gamma=gamma, p=p)(
        video_logits, video_labels, frame_logits, frame_labels, mask
    )

    def level(logits: torch.Tensor, labels: torch.Tensor) -> float:
        bce = F.binary_cross_entropy_with_logits(logits, labels).item()
        auc = _pairwise_auc(logits.sigmoid().tolist(), labels.tolist(), gamma, p)
        return alpha * bce + (1 - alpha) * auc

    expected = beta * level(video_logits, video_labels) + (1 - beta) * level(
        frame_logits[mask], frame_labels[mask]
    )
    assert got["loss"].item() == pytest.approx(expected, rel=1e-9)


def test_auc_term_pushes_fakes_above_reals() -> None:
    loss = DualLevelLoss(alpha=0.0, beta=1.0)
    logits = torch.tensor([0.0, 0.0], requires_grad=True)
    labels = torch.tensor([1.0, 0.0])
    out = loss(logits, labels, logits[:, None], labels[:, None], torch.ones(2, 1, dtype=torch.bool))
    out["loss"].backward()
    assert logits.grad[0] < 0 < logits.grad[1]  # descending raises the fake, lowers the real


def test_single_class_batch_gives_finite_loss_and_gradients() -> None:
    model = _model()
    batch = _batch()
    batch["label"] = torch.ones(4)
    batch["frame_labels"] = torch.ones(4, 5)
    loss = model._step(batch, "train")
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_predict_step_returns_ids_and_probabilities() -> None:
    batch = _batch()
    batch["mask"][0, 3:] = False
    out = _model().eval().predict_step(batch, 0)
    assert out["video_id"] == batch["video_id"]
    assert ((out["score"] >= 0) & (out["score"] <= 1)).all()
    assert [len(s) for s in out["frame_scores"]] == [3, 5, 5, 5]


def test_pretrained_as_a_quoted_boolean_is_refused() -> None:
    with pytest.raises(SuiteError, match="string 'False'"):
        _model(pretrained="False")


def test_missing_local_weight_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"weight file not found: .*missing\.pth"):
        _model(pretrained=str(tmp_path / "missing.pth"))


def test_local_weight_file_is_loaded(tmp_path: Path) -> None:
    weights = tmp_path / "resnet10t.pth"
    source = _model().net.backbone
    torch.save({k: v + 1.0 if v.is_floating_point() else v for k, v in source.state_dict().items()}, weights)
    loaded = _model(pretrained=str(weights)).net.backbone
    torch.testing.assert_close(loaded.conv1[0].weight, source.conv1[0].weight + 1.0)


def test_offline_without_cached_weights_fails_fast_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbones, "cached_weights_file", lambda name: None)
    monkeypatch.setattr(backbones, "_reachable", lambda host, timeout=3.0: False)
    with pytest.raises(SuiteError, match="pretrained=false") as error:
        _model(pretrained=True)
    assert "model.init_args.pretrained=/path/to/weights.pth" in str(error.value)


def test_unknown_backbone_is_named() -> None:
    with pytest.raises(SuiteError, match="no_such_net"):
        _model(backbone="no_such_net")


# ---------------------------------------------------------------- Table 6 ablation switches


@pytest.mark.parametrize(
    ("switches", "levels"),
    [
        ({"frame_classifier": True, "video_classifier": False, "temporal": "none"}, {"frame"}),  # CNN+FLC
        ({"frame_classifier": False, "video_classifier": True, "temporal": "none"}, {"video"}),  # CNN+VLC
        ({"frame_classifier": False, "video_classifier": True}, {"video"}),  # CNN+VLC+TLM
        ({"aux_loss": "none"}, {"video", "frame"}),  # CNN+VLC+TLM+FLC, no AUC loss
    ],
)
def test_ablations_output_and_report_only_their_levels(switches: dict, levels: set[str]) -> None:
    model = _model(**switches)
    batch = {**_batch(), "index": torch.arange(4)}
    outputs = model(batch)
    assert set(outputs) == levels
    assert {key.split("_")[1] for key in model.metrics} == levels
    losses = model.compute_loss(outputs, batch)
    assert {key.split("_")[0] for key in losses if key != "loss"} == levels
    model.update_metrics("val", outputs, batch)  # no KeyError for the missing level


def test_single_level_loss_ignores_beta_and_equals_that_level() -> None:
    torch.manual_seed(5)
    frame_logits = torch.randn(3, 4, dtype=torch.float64)
    frame_labels = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)[:, None].expand(3, 4)
    mask = torch.ones(3, 4, dtype=torch.bool)
    only_frames = DualLevelLoss(alpha=0.4, beta=0.9, video_level=False)
    got = only_frames(None, frame_labels[:, 0], frame_logits, frame_labels, mask)
    both = DualLevelLoss(alpha=0.4, beta=0.0)(
        frame_logits[:, 0], frame_labels[:, 0], frame_logits, frame_labels, mask
    )
    torch.testing.assert_close(got["loss"], both["frame_loss"])


def test_focal_variant_replaces_the_auc_term_by_focal_loss() -> None:
    torch.manual_seed(6)
    logits = torch.randn(8, dtype=torch.float64)
    labels = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0], dtype=torch.float64)
    loss = DualLevelLoss(alpha=0.3, aux_loss="focal", focal_alpha=0.6, focal_gamma=2.0, frame_level=False)
    got = loss(logits, labels, None, labels[:, None], torch.ones(8, 1, dtype=torch.bool))
    p = torch.sigmoid(logits)
    p_t = torch.where(labels == 1, p, 1 - p)
    alpha_t = torch.where(labels == 1, 0.6, 0.4)
    focal = (-alpha_t * (1 - p_t) ** 2 * torch.log(p_t)).mean()
    bce = F.binary_cross_entropy_with_logits(logits, labels)
    torch.testing.assert_close(got["loss"], 0.3 * bce + 0.7 * focal)
    assert set(got) == {"loss", "video_loss", "video_bce", "video_focal"}


def test_no_classifier_at_all_is_refused() -> None:
    with pytest.raises(SuiteError, match="cannot both be false"):
        _model(frame_classifier=False, video_classifier=False)
    with pytest.raises(ValueError, match="aux_loss"):
        DualLevelLoss(aux_loss="hinge")  # type: ignore[arg-type]


def test_logged_loss_parts_never_collide_with_metric_keys() -> None:
    from lightning_modules.base import loss_key

    model = _model()
    batch = {**_batch(), "index": torch.arange(4)}
    outputs = model(batch)
    model.update_metrics("val", outputs, batch)
    metric_keys = {key for name in ("val_video", "val_frame") for key in model.metrics[name].compute()}
    loss_keys = {loss_key("val", name) for name in model.compute_loss(outputs, batch)}
    assert "val/video_auc" in metric_keys and "val/loss" in loss_keys
    assert not loss_keys & metric_keys
