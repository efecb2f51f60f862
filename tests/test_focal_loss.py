"""FocalLoss (Lin et al.) against a float64 loop, torchvision's sigmoid_focal_loss and hand values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from losses import FocalLoss


def loop_focal(logits: torch.Tensor, labels: torch.Tensor, alpha: float | None, gamma: float) -> float:
    """-alpha_t (1 - p_t)^gamma log p_t averaged, written out with math on Python floats."""
    total = 0.0
    for z, y in zip(logits.tolist(), labels.tolist(), strict=True):
        p = 1.0 / (1.0 + math.exp(-z))
        p_t = p if y == 1 else 1.0 - p
        a_t = 1.0 if alpha is None else (alpha if y == 1 else 1.0 - alpha)
        total += -a_t * (1.0 - p_t) ** gamma * math.log(p_t)
    return total / len(labels)


def batch(seed: int, n: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=gen)
    return torch.randn(n, generator=gen, dtype=torch.float64) * 2.0 + labels, labels


@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (0.6, 2.0), (0.3, 0.5), (None, 1.0), (0.5, 0.0)])
def test_matches_loop_and_torchvision(alpha: float | None, gamma: float) -> None:
    logits, labels = batch(0)
    got = FocalLoss(alpha=alpha, gamma=gamma)(logits, labels)
    assert got.item() == pytest.approx(loop_focal(logits, labels, alpha, gamma), rel=1e-12)
    # torchvision disables class weighting with a negative alpha.
    reference = sigmoid_focal_loss(logits, labels.double(), -1.0 if alpha is None else alpha, gamma, "mean")
    torch.testing.assert_close(got, reference, rtol=1e-12, atol=0.0)


def test_hand_values() -> None:
    loss = FocalLoss(alpha=0.25, gamma=2.0)
    # p = 0.5 for a fake: 0.25 * 0.5^2 * ln 2.
    assert loss(torch.tensor([0.0]), torch.tensor([1])).item() == pytest.approx(
        0.0625 * math.log(2), rel=1e-6
    )
    # A real at logit ln 3 has p = 0.75, p_t = 0.25: 0.75 * 0.75^2 * ln 4.
    value = loss(torch.tensor([math.log(3.0)], dtype=torch.float64), torch.tensor([0])).item()
    assert value == pytest.approx(0.75 * 0.5625 * math.log(4.0), rel=1e-12)


def test_gamma_zero_without_alpha_is_bce() -> None:
    logits, labels = batch(1)
    expected = F.binary_cross_entropy_with_logits(logits, labels.double())
    torch.testing.assert_close(
        FocalLoss(alpha=None, gamma=0.0)(logits, labels), expected, rtol=1e-13, atol=0.0
    )


def test_extreme_logits_stay_finite() -> None:
    logits = torch.tensor([-100.0, 100.0, 100.0, -100.0], requires_grad=True)
    labels = torch.tensor([1, 0, 1, 0])
    value = FocalLoss(alpha=0.25, gamma=2.0)(logits, labels)
    # Wrong by 100: (1 - p_t)^2 -> 1 and -log p_t -> 100; the right ones cost ~0.
    assert value.item() == pytest.approx((0.25 * 100 + 0.75 * 100) / 4, rel=1e-5)
    value.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_gradcheck() -> None:
    logits, labels = batch(2, n=12)
    x = logits.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: FocalLoss(0.6, 2.0)(z, labels), (x,))


def test_separated_logits_cost_less_and_gradient_pushes_fakes_up() -> None:
    _, labels = batch(3)
    loss = FocalLoss()
    separated = torch.where(labels == 1, 4.0, -4.0).double()
    constant = torch.zeros_like(separated, requires_grad=True)
    assert loss(separated, labels) < 1e-3 * loss(constant, labels).item()
    loss(constant, labels).backward()
    assert constant.grad is not None
    assert torch.all(constant.grad[labels == 1] < 0) and torch.all(constant.grad[labels == 0] > 0)


def test_alpha_weights_the_fakes() -> None:
    logits = torch.zeros(2, dtype=torch.float64)
    labels = torch.tensor([1, 0])
    fake_only = FocalLoss(alpha=1.0, gamma=2.0)(logits, labels).item()
    real_only = FocalLoss(alpha=0.0, gamma=2.0)(logits, labels).item()
    assert fake_only == pytest.approx(real_only) and fake_only > 0
    # alpha = 1 sees only the fake: moving the real's logit changes nothing.
    moved = torch.tensor([0.0, 3.0], dtype=torch.float64)
    assert FocalLoss(alpha=1.0, gamma=2.0)(moved, labels).item() == pytest.approx(fake_only, rel=1e-12)


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_batch(label: int) -> None:
    logits, _ = batch(4, n=10)
    labels = torch.full((10,), label)
    assert FocalLoss()(logits, labels).item() == pytest.approx(
        loop_focal(logits, labels, 0.25, 2.0), rel=1e-12
    )


def test_empty_batch_gives_connected_zero() -> None:
    logits = torch.zeros(0, requires_grad=True)
    value = FocalLoss()(logits, torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0 and value.requires_grad


def test_float_and_bool_labels() -> None:
    logits, labels = batch(5)
    loss = FocalLoss()
    assert torch.equal(loss(logits, labels.double()), loss(logits, labels))
    assert torch.equal(loss(logits, labels.bool()), loss(logits, labels))


def test_rejects_bad_arguments() -> None:
    for alpha in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            FocalLoss(alpha=alpha)
    for gamma in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="gamma"):
            FocalLoss(gamma=gamma)
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        FocalLoss()(torch.randn(4, 1), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="labels must be 0"):
        FocalLoss()(torch.randn(3), torch.tensor([0, 1, 2]))
