"""CosineSimilarityHingeLoss (temporal LSTM paper, eqs. 1-2) against loops and HingeEmbeddingLoss."""

from __future__ import annotations

import math

import pytest
import torch

from losses import CosineSimilarityHingeLoss


def loop_loss(
    features: torch.Tensor, labels: list[int], delta: float, lengths: list[int] | None = None
) -> float:
    """Eq. 1 over the full T x T matrix (diagonal included) of the first ``lengths[n]`` frames,
    eq. 2 with fake -> L1 and real -> hinge, then the mean over clips."""
    total = 0.0
    for n, clip in enumerate(features.tolist()):
        t = len(clip) if lengths is None else lengths[n]
        l1 = 0.0
        for i in range(t):
            for j in range(t):
                dot = sum(a * b for a, b in zip(clip[i], clip[j], strict=True))
                norms = math.sqrt(sum(a * a for a in clip[i])) * math.sqrt(sum(b * b for b in clip[j]))
                l1 += abs(dot / norms - (1.0 if i == j else 0.0))
        l1 /= max(t * t, 1)
        total += l1 if labels[n] == 1 else max(0.0, delta - l1)
    return total / len(labels)


def batch(seed: int, n: int = 6, t: int = 5, d: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=gen)
    labels[:2] = torch.tensor([0, 1])
    shared = torch.randn(n, 1, d, generator=gen, dtype=torch.float64)
    return torch.randn(n, t, d, generator=gen, dtype=torch.float64) + 0.8 * shared, labels


@pytest.mark.parametrize(("seed", "delta"), [(0, 1.0), (1, 0.3), (2, 2.0)])
def test_matches_loop(seed: int, delta: float) -> None:
    features, labels = batch(seed)
    got = CosineSimilarityHingeLoss(delta)(features, labels).item()
    assert got == pytest.approx(loop_loss(features, labels.tolist(), delta), rel=1e-12)


def test_equals_hinge_embedding_loss_on_per_clip_l1() -> None:
    # Eq. 2 is torch's HingeEmbeddingLoss with target +1 (fake) / -1 (real), eq. 1 is L1Loss.
    features, labels = batch(3)
    unit = torch.nn.functional.normalize(features, dim=-1)
    eye = torch.eye(features.shape[1], dtype=torch.float64)
    l1 = torch.stack([torch.nn.functional.l1_loss(u @ u.T, eye) for u in unit])
    expected = torch.nn.HingeEmbeddingLoss(margin=1.0)(l1, labels * 2 - 1)
    torch.testing.assert_close(CosineSimilarityHingeLoss()(features, labels), expected, rtol=1e-12, atol=0.0)


def test_hand_values() -> None:
    orthogonal = torch.tensor([[1.0, 0.0], [0.0, 3.0]])  # C = I, L1 = 0
    parallel = torch.tensor([[1.0, 1.0], [2.0, 2.0]])  # C = all ones, L1 = 2 / 4
    opposite = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # off-diagonal -1, L1 = 2 / 4
    loss = CosineSimilarityHingeLoss()
    cases = [
        (orthogonal, 1, 0.0),
        (orthogonal, 0, 1.0),
        (parallel, 1, 0.5),
        (parallel, 0, 0.5),
        (opposite, 0, 0.5),
    ]
    for clip, label, expected in cases:
        assert loss(clip[None], torch.tensor([label])).item() == pytest.approx(expected, abs=1e-7)
    # A batch averages the clips: (0 + 0.5) / 2.
    both = torch.stack([orthogonal, parallel])
    assert loss(both, torch.tensor([1, 0])).item() == pytest.approx(0.25, abs=1e-7)


def test_real_hinge_never_reaches_zero_with_delta_one() -> None:
    # L1 <= (T - 1) / T because the diagonal always matches the identity.
    t = 8
    collinear = torch.ones(1, t, 3)
    value = CosineSimilarityHingeLoss()(collinear, torch.tensor([0])).item()
    assert value == pytest.approx(1.0 - (t - 1) / t, abs=1e-6)


def test_mask_drops_padded_frames() -> None:
    features, labels = batch(4, t=6)
    lengths = [6, 3, 1, 4, 6, 2]
    mask = torch.arange(6)[None, :] < torch.tensor(lengths)[:, None]
    padded = features.clone()
    padded[~mask] = 7.0  # repeated garbage frames would be collinear with each other
    x = padded.clone().requires_grad_(True)
    value = CosineSimilarityHingeLoss()(x, labels, mask)
    assert value.item() == pytest.approx(loop_loss(features, labels.tolist(), 1.0, lengths), rel=1e-12)
    value.backward()
    assert x.grad is not None and torch.all(x.grad[~mask] == 0) and x.grad[mask].abs().sum() > 0


def test_gradcheck() -> None:
    features, labels = batch(5, n=4, t=4, d=3)
    x = features.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: CosineSimilarityHingeLoss(1.0)(f, labels), (x,))


def test_intended_geometry_costs_less() -> None:
    # Real clips with near-collinear frames and fake clips with near-orthogonal frames beat the swap.
    gen = torch.Generator().manual_seed(6)
    labels = torch.tensor([0, 1, 0, 1])
    t, d = 4, 8
    steady = torch.randn(1, 1, d, generator=gen).expand(4, t, d) + 0.05 * torch.randn(4, t, d, generator=gen)
    jumpy = torch.eye(d)[:t].expand(4, t, d) + 0.05 * torch.randn(4, t, d, generator=gen)
    good = torch.where(labels[:, None, None] == 0, steady, jumpy)
    bad = torch.where(labels[:, None, None] == 0, jumpy, steady)
    loss = CosineSimilarityHingeLoss()
    assert loss(good, labels) < loss(bad, labels)
    x = jumpy.clone().requires_grad_(True)
    loss(x, torch.zeros(4, dtype=torch.long)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # reals are pushed away from orthogonality


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_batch(label: int) -> None:
    features, _ = batch(7)
    labels = torch.full((6,), label)
    got = CosineSimilarityHingeLoss()(features, labels).item()
    assert got == pytest.approx(loop_loss(features, labels.tolist(), 1.0), rel=1e-12)


def test_empty_batch_gives_connected_zero() -> None:
    features = torch.zeros(0, 4, 3, requires_grad=True)
    value = CosineSimilarityHingeLoss()(features, torch.zeros(0, dtype=torch.long))
    assert value.item() == 0.0 and value.requires_grad


def test_float_and_bool_labels() -> None:
    features, labels = batch(8)
    loss = CosineSimilarityHingeLoss()
    assert torch.equal(loss(features, labels.double()), loss(features, labels))
    assert torch.equal(loss(features, labels.bool()), loss(features, labels))


def test_rejects_bad_arguments() -> None:
    for delta in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="delta"):
            CosineSimilarityHingeLoss(delta)
    loss = CosineSimilarityHingeLoss()
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        loss(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"labels \(N,\)"):
        loss(torch.randn(4, 3, 2), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="labels must be 0"):
        loss(torch.randn(3, 3, 2), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="mask"):
        loss(torch.randn(2, 3, 2), torch.tensor([0, 1]), torch.ones(2, 3))
