"""ArcFaceMod (Korshunov et al. 2022 on ArcFace eq. 3) against a float64 loop with acos."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from losses import ArcFaceMod


def loop_arcface(
    embeddings: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, margins: list[float], scale: float
) -> float:
    """Mean of -log softmax with s cos(theta_y + m_y) for the target, s cos(theta_j) elsewhere;
    theta from math.acos on explicitly normalised vectors."""

    def unit(v: list[float]) -> list[float]:
        norm = math.sqrt(sum(x * x for x in v))
        return [x / norm for x in v]

    centres = [unit(w) for w in weight.tolist()]
    total = 0.0
    for e, y in zip(embeddings.tolist(), labels.tolist(), strict=True):
        x = unit(e)
        cosines = [sum(a * b for a, b in zip(x, c, strict=True)) for c in centres]
        logits = [scale * c for c in cosines]
        logits[y] = scale * math.cos(math.acos(cosines[y]) + margins[y])
        top = max(logits)
        log_norm = top + math.log(sum(math.exp(v - top) for v in logits))
        total += log_norm - logits[y]
    return total / len(labels)


def setup(seed: int, n: int, dim: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=gen, dtype=torch.float64), torch.randint(
        0, num_classes, (n,), generator=gen
    )


@pytest.mark.parametrize(
    ("num_classes", "margins", "scale", "expected_margins"),
    [
        (2, None, 64.0, [0.6, 0.4]),
        (2, None, 4.0, [0.6, 0.4]),
        (5, {"real": 0.6, "fake": 0.4}, 16.0, [0.6, 0.4, 0.4, 0.4, 0.4]),
        (3, [0.2, 0.5, 1.1], 8.0, [0.2, 0.5, 1.1]),
    ],
)
def test_matches_loop(num_classes: int, margins: object, scale: float, expected_margins: list[float]) -> None:
    head = ArcFaceMod(6, num_classes, margins, scale).double()  # type: ignore[arg-type]
    assert head.margins.tolist() == pytest.approx(expected_margins)
    embeddings, labels = setup(0, 30, 6, num_classes)
    expected = loop_arcface(embeddings, labels, head.weight.detach(), head.margins.tolist(), scale)
    assert head(embeddings, labels).item() == pytest.approx(expected, rel=1e-10)


def test_hand_values() -> None:
    head = ArcFaceMod(2, scale=1.0).double()
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 0.5]]))  # norms do not matter
    # A real on its own centre: logits (cos 0.6, 0), loss log(1 + e^{-cos 0.6}).
    real = head(torch.tensor([[2.0, 0.0]], dtype=torch.float64), torch.tensor([0])).item()
    assert real == pytest.approx(math.log1p(math.exp(-math.cos(0.6))), rel=1e-12)
    # A fake at 45 degrees: logits (cos 45, cos(45 deg + 0.4)).
    c = math.cos(math.pi / 4)
    fake = head(torch.tensor([[1.0, 1.0]], dtype=torch.float64), torch.tensor([1])).item()
    assert fake == pytest.approx(math.log1p(math.exp(c - math.cos(math.pi / 4 + 0.4))), rel=1e-12)
    embeddings = torch.tensor([[1.0, 1.0], [2.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(head.cosine_logits(embeddings), torch.tensor([[c, c], [1.0, 0.0]]).double())
    torch.testing.assert_close(head.fake_logit(embeddings), torch.tensor([0.0, -1.0]).double())


def test_inference_logits_have_no_margin_and_fake_logit_is_log_odds() -> None:
    head = ArcFaceMod(6, 4, scale=10.0).double()
    embeddings, _ = setup(1, 9, 6, 4)
    logits = head.cosine_logits(embeddings)
    expected = (
        10.0
        * torch.nn.functional.normalize(embeddings, dim=1)
        @ torch.nn.functional.normalize(head.weight, dim=1).T
    )
    torch.testing.assert_close(logits, expected)
    probs = logits.softmax(dim=1)
    torch.testing.assert_close(head.fake_logit(embeddings), torch.log(probs[:, 1:].sum(1) / probs[:, 0]))


def test_gradcheck_embeddings_and_centres() -> None:
    head = ArcFaceMod(5, 3, scale=3.0).double()
    embeddings, labels = setup(2, 8, 5, 3)
    x = embeddings.clone().requires_grad_(True)
    w = head.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda e, c: functional_call(head, {"weight": c}, (e, labels)), (x, w))


def test_embedding_on_its_centre_has_finite_gradients() -> None:
    # cos = 1 exactly: the textbook cos(acos(c) + m) gives NaN gradients here.
    head = ArcFaceMod(4, scale=1.0)
    with torch.no_grad():
        head.weight.copy_(torch.eye(4)[:2])
    embeddings = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0]], requires_grad=True)
    value = head(embeddings, torch.tensor([0, 1]))
    expected = [math.log1p(math.exp(-math.cos(m))) for m in (0.6, 0.4)]
    assert value.item() == pytest.approx(sum(expected) / 2, rel=1e-6)
    value.backward()
    assert embeddings.grad is not None and torch.isfinite(embeddings.grad).all()
    assert head.weight.grad is not None and torch.isfinite(head.weight.grad).all()


def test_clustered_embeddings_cost_less_and_margins_add_cost() -> None:
    head = ArcFaceMod(8, 3, scale=16.0).double()
    _, labels = setup(3, 40, 8, 3)
    gen = torch.Generator().manual_seed(4)
    noise = torch.randn(40, 8, generator=gen, dtype=torch.float64)
    clustered = head.weight.detach()[labels] * 100 + 0.1 * noise * head.weight.detach().norm(dim=1).mean()
    assert head(clustered, labels) < 0.1 * head(noise, labels)
    assert head(clustered, labels) < head(head.weight.detach()[(labels + 1) % 3], labels)
    no_margin = ArcFaceMod(8, 3, [0.0, 0.0, 0.0], scale=16.0).double()
    no_margin.weight.data.copy_(head.weight.data)
    assert head(noise, labels) > no_margin(noise, labels)


def test_single_class_batch_is_finite_and_exact() -> None:
    head = ArcFaceMod(4, scale=8.0).double()
    embeddings, _ = setup(5, 6, 4, 2)
    labels = torch.zeros(6, dtype=torch.long)
    expected = loop_arcface(embeddings, labels, head.weight.detach(), [0.6, 0.4], 8.0)
    assert head(embeddings, labels).item() == pytest.approx(expected, rel=1e-10)


def test_empty_batch_gives_connected_zero() -> None:
    head = ArcFaceMod(4)
    value = head(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0 and value.requires_grad


def test_margins_are_exact_and_not_in_the_state_dict() -> None:
    head = ArcFaceMod(4)
    assert head.margins.tolist() == [0.6, 0.4]
    assert set(head.state_dict()) == {"weight"}
    assert "margins=[0.6, 0.4]" in repr(head)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="degrees"):
        ArcFaceMod(4, margins={"real": 34.4, "fake": 22.9})
    with pytest.raises(ValueError, match="radians"):
        ArcFaceMod(4, margins=[-0.1, 0.4])
    with pytest.raises(ValueError, match="'real' and 'fake'"):
        ArcFaceMod(4, margins={"real": 0.6})
    with pytest.raises(ValueError, match="num_classes is 3"):
        ArcFaceMod(4, 3, margins=[0.6, 0.4])
    with pytest.raises(ValueError, match="num_classes"):
        ArcFaceMod(4, 1)
    with pytest.raises(ValueError, match="embedding_dim"):
        ArcFaceMod(0)
    for scale in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="scale"):
            ArcFaceMod(4, scale=scale)
    head = ArcFaceMod(4)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        head(torch.randn(3, 5), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="integer tensor of shape"):
        head(torch.randn(3, 4), torch.tensor([0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        head(torch.randn(3, 4), torch.tensor([0, 1, 2]))
