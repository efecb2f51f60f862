"""SemiHardTripletLoss (FaceNet / TF semi-hard mining) on a hand-built 1-D batch and against loops."""

from __future__ import annotations

import pytest
import torch

from losses import SemiHardTripletLoss
from losses.semi_hard_triplet import pairwise_distances, semi_hard_negatives

# Class 0 at 0 and 2, class 1 at 0.5, 3 and 2.5 (indices 0..4). Every distance below is exact in
# binary floating point, including the tie D(4, 3) = D(4, 1) = 0.25 (squared) / 0.5.
POINTS = torch.tensor([[0.0], [2.0], [0.5], [3.0], [2.5]], dtype=torch.float64)
LABELS = torch.tensor([0, 0, 1, 1, 1])


def test_hand_built_batch_squared() -> None:
    # Squared distances, margin 1. For each ordered positive pair (a, p), D_ap, the negatives of a
    # with their distances, the mined one and the term max(0, 1 + D_ap - D_an*):
    #   (0,1) D=4     negs 2:.25 3:9 4:6.25   farther than 4: 3, 4 -> closest 4 (6.25)   0
    #   (1,0) D=4     negs 2:2.25 3:1 4:.25   none farther -> farthest 2 (2.25)          2.75
    #   (2,3) D=6.25  negs 0:.25 1:2.25       none farther -> farthest 1 (2.25)          5
    #   (2,4) D=4     same negatives          farthest 1 (2.25)                          2.75
    #   (3,2) D=6.25  negs 0:9 1:1            farther: 0 (9)                             0
    #   (3,4) D=.25   negs 0:9 1:1            farther: 0, 1 -> closest 1 (1), semi-hard  0.25
    #   (4,2) D=4     negs 0:6.25 1:.25       farther: 0 (6.25)                          0
    #   (4,3) D=.25   negs 0:6.25 1:.25       1 ties D_ap, not farther -> 0 (6.25)       0
    # Mean over the 8 pairs: 10.75 / 8.
    dist = pairwise_distances(POINTS)
    expected = torch.full((5, 5), -1)
    for (a, p), n in {
        (0, 1): 4,
        (1, 0): 2,
        (2, 3): 1,
        (2, 4): 1,
        (3, 2): 0,
        (3, 4): 1,
        (4, 2): 0,
        (4, 3): 0,
    }.items():
        expected[a, p] = n
    assert torch.equal(semi_hard_negatives(dist, LABELS), expected)
    assert SemiHardTripletLoss(margin=1.0)(POINTS, LABELS).item() == 10.75 / 8


def test_hand_built_batch_euclidean() -> None:
    # Same batch, plain distances: terms 0.5, 1.5, 2, 1.5, 0.5, 0.5, 0.5, 0 (the tie at 0.5 again
    # sends (4,3) to point 0 at 2.5). Mean 7 / 8.
    dist = pairwise_distances(POINTS, squared=False)
    assert dist[4, 3].item() == dist[4, 1].item() == 0.5
    assert SemiHardTripletLoss(margin=1.0, squared=False)(POINTS, LABELS).item() == 7.0 / 8


def loop_loss(
    embeddings: torch.Tensor, labels: list[int], margin: float, squared: bool, within_margin: bool = False
) -> torch.Tensor:
    """The rule written out over (a, p, n), distances from explicit differences (differentiable).

    ``within_margin`` uses FaceNet's wording (closest negative with D_ap < D_an < D_ap + margin,
    else the farthest negative), which must give the same loss as TF's rule.
    """
    n = len(labels)

    def d(i: int, j: int) -> torch.Tensor:
        sq = ((embeddings[i] - embeddings[j]) ** 2).sum()
        return sq if squared else sq.sqrt()

    dist = [[d(i, j) for j in range(n)] for i in range(n)]
    terms = []
    for a in range(n):
        negatives = [k for k in range(n) if labels[k] != labels[a]]
        for p in range(n):
            if p == a or labels[p] != labels[a] or not negatives:
                continue
            d_ap = dist[a][p].item()
            upper = d_ap + margin if within_margin else float("inf")
            candidates = [k for k in negatives if d_ap < dist[a][k].item() < upper]
            if candidates:
                chosen = min(candidates, key=lambda k: dist[a][k].item())
            else:
                chosen = max(negatives, key=lambda k: dist[a][k].item())
            terms.append((dist[a][p] - dist[a][chosen] + margin).clamp_min(0.0))
    if not terms:
        return embeddings.sum() * 0.0
    return torch.stack(terms).mean()


def random_batch(seed: int, n: int = 14, dim: int = 3, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=gen)
    embeddings = torch.randn(n, dim, generator=gen, dtype=torch.float64) + 0.7 * labels[:, None]
    return embeddings, labels


@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize(("seed", "margin", "classes"), [(0, 1.0, 2), (1, 0.2, 3), (2, 0.5, 4), (3, 2.0, 2)])
def test_matches_loop_values_and_gradients(seed: int, margin: float, classes: int, squared: bool) -> None:
    embeddings, labels = random_batch(seed, classes=classes)
    x = embeddings.clone().requires_grad_(True)
    value = SemiHardTripletLoss(margin, squared)(x, labels)
    value.backward()
    y = embeddings.clone().requires_grad_(True)
    reference = loop_loss(y, labels.tolist(), margin, squared)
    reference.backward()
    assert value.item() == pytest.approx(reference.item(), rel=1e-12) and value.item() > 0
    assert x.grad is not None and y.grad is not None
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-9, atol=1e-12)
    facenet_wording = loop_loss(embeddings, labels.tolist(), margin, squared, within_margin=True)
    assert facenet_wording.item() == pytest.approx(reference.item(), rel=1e-12)


@pytest.mark.parametrize("seed", [4, 5])
def test_matches_loop_with_ties(seed: int) -> None:
    # Integer points on a small grid: many equal distances, so strict ">" and tie-breaking matter.
    gen = torch.Generator().manual_seed(seed)
    embeddings = torch.randint(0, 3, (16, 2), generator=gen).double()
    labels = torch.randint(0, 2, (16,), generator=gen)
    for squared in (True, False):
        got = SemiHardTripletLoss(1.0, squared)(embeddings, labels).item()
        assert got == pytest.approx(loop_loss(embeddings, labels.tolist(), 1.0, squared).item(), rel=1e-12)


def test_gradcheck() -> None:
    embeddings, labels = random_batch(6, n=9)
    x = embeddings.clone().requires_grad_(True)
    for squared in (True, False):
        assert torch.autograd.gradcheck(lambda e, s=squared: SemiHardTripletLoss(0.5, s)(e, labels), (x,))


def test_clustered_embeddings_cost_nothing_and_mixed_ones_do() -> None:
    embeddings, labels = random_batch(7, n=30)
    loss = SemiHardTripletLoss(margin=0.2)
    clustered = 10.0 * torch.nn.functional.one_hot(labels, 3).double() + 0.01 * embeddings
    assert loss(clustered, labels).item() == 0.0
    assert loss(embeddings, labels).item() > 0.1
    gen = torch.Generator().manual_seed(8)
    shuffled = labels[torch.randperm(30, generator=gen)]
    assert loss(clustered, shuffled) > loss(clustered, labels)


@pytest.mark.parametrize("labels", [torch.zeros(5, dtype=torch.long), torch.arange(5)])
def test_batch_without_triplets_gives_connected_zero(labels: torch.Tensor) -> None:
    embeddings = torch.randn(5, 3, requires_grad=True)
    value = SemiHardTripletLoss()(embeddings, labels)
    assert value.item() == 0.0 and value.requires_grad
    value.backward()
    assert embeddings.grad is not None and torch.all(embeddings.grad == 0)


def test_mining_memory_is_quadratic() -> None:
    n = 1200
    embeddings, labels = random_batch(9, n=n, dim=16, classes=10)
    largest = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal largest
        largest = max(largest, t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        value = SemiHardTripletLoss()(embeddings.requires_grad_(True), labels)
    value.backward()
    assert torch.isfinite(value)
    assert largest <= n * n  # TF's tiled mask would be n^3 = 1.7e9 entries


def test_rejects_bad_arguments() -> None:
    for margin in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="margin"):
            SemiHardTripletLoss(margin=margin)
    loss = SemiHardTripletLoss()
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        loss(torch.randn(4), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"labels \(N,\)"):
        loss(torch.randn(4, 2), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="integer class ids"):
        loss(torch.randn(3, 2), torch.tensor([0.0, 1.0, 0.0]))
