"""AUCLoss (dual-level paper, eqs. 2-3) against an explicit double loop and the pairwise form."""

from __future__ import annotations

import time

import pytest
import torch

import losses.auc_loss as auc_module
from losses import AUCLoss
from losses.auc_loss import auc_loss_pairwise

GAMMAS = (0.1, 0.15, 0.6, 1.0)


def double_loop_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float, p: float) -> float:
    """Eqs. 2-3 written out: mean over every (fake i, real j) pair of R(s_i, s_j), in float64."""
    scores = torch.sigmoid(logits.double()).tolist()
    fakes = [s for s, y in zip(scores, labels.tolist(), strict=True) if y == 1]
    reals = [s for s, y in zip(scores, labels.tolist(), strict=True) if y == 0]
    total = 0.0
    for s_i in fakes:
        for s_j in reals:
            if s_i - s_j < gamma:
                total += (-(s_i - s_j - gamma)) ** p
    return total / (len(fakes) * len(reals))


def batch(seed: int, n: int = 40, ties: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=gen)
    labels[:2] = torch.tensor([0, 1])
    logits = torch.randn(n, generator=gen, dtype=torch.float64) * 1.5 + 0.5 * labels
    if ties:
        logits = logits.round(decimals=1)
    return logits, labels


def grad_of(fn, logits: torch.Tensor, *args) -> torch.Tensor:
    x = logits.clone().requires_grad_(True)
    fn(x, *args).backward()
    assert x.grad is not None
    return x.grad


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, False)])
def test_matches_double_loop(gamma: float, seed: int, ties: bool) -> None:
    logits, labels = batch(seed, ties=ties)
    got = AUCLoss(gamma=gamma)(logits, labels).item()
    assert got == pytest.approx(double_loop_loss(logits, labels, gamma, 2.0), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_gradients_match_pairwise_form(gamma: float) -> None:
    logits, labels = batch(3, n=60, ties=True)
    fast = grad_of(AUCLoss(gamma=gamma), logits, labels)
    reference = grad_of(lambda x, y: auc_loss_pairwise(torch.sigmoid(x), y, gamma, 2.0), logits, labels)
    torch.testing.assert_close(fast, reference, rtol=1e-10, atol=1e-14)
    assert fast.abs().sum() > 0


def test_float32_input_keeps_accuracy_on_a_nearly_separated_batch() -> None:
    # Few, tiny violations: the p = 2 expansion subtracts sums of size ~N to get them, which in
    # float32 arithmetic would be off by ~1e-3 relative; the float64 accumulation is not.
    gen = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 2, (20_000,), generator=gen)
    logits32 = torch.randn(20_000, generator=gen) + 6.0 * labels - 3.0
    got = AUCLoss()(logits32, labels)
    assert got.dtype == torch.float32
    expected = AUCLoss()(logits32.double(), labels)  # float64 path, checked against the double loop
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_mask_excludes_entries_and_their_gradients() -> None:
    logits, labels = batch(5, n=50)
    mask = torch.rand(50, generator=torch.Generator().manual_seed(0)) > 0.3
    mask[:2] = True
    garbage = logits.clone()
    garbage[~mask] = -20.0  # padded "fakes" far below every real would dominate the loss
    labels_g = labels.clone()
    labels_g[~mask] = 1
    loss = AUCLoss()
    expected = double_loop_loss(logits[mask], labels[mask], 0.15, 2.0)
    assert loss(garbage, labels_g, mask).item() == pytest.approx(expected, rel=1e-12)
    grad = grad_of(loss, garbage, labels_g, mask)
    assert torch.all(grad[~mask] == 0)
    assert grad[mask].abs().sum() > 0


@pytest.mark.parametrize("labels", [torch.ones(6, dtype=torch.long), torch.zeros(6, dtype=torch.long)])
def test_single_class_batch_gives_connected_zero(labels: torch.Tensor) -> None:
    logits = torch.randn(6, requires_grad=True)
    value = AUCLoss()(logits, labels)
    assert value.item() == 0.0 and value.requires_grad
    value.backward()
    assert logits.grad is not None and torch.all(logits.grad == 0)


def test_fully_masked_batch_gives_connected_zero() -> None:
    logits = torch.randn(4, requires_grad=True)
    value = AUCLoss()(logits, torch.tensor([0, 1, 0, 1]), torch.zeros(4, dtype=torch.bool))
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(logits.grad).all()


def test_direction_pushes_fakes_above_reals_like_bce() -> None:
    logits, labels = batch(6, n=80)
    logits = logits.clone().requires_grad_(True)
    loss_fn = AUCLoss(gamma=0.6)
    value = loss_fn(logits, labels)
    value.backward()
    grad = logits.grad
    assert torch.all(grad[labels == 1] <= 0) and torch.all(grad[labels == 0] >= 0)
    assert grad[labels == 1].sum() < 0
    with torch.no_grad():
        raised = logits + 1.0 * labels
        assert loss_fn(raised, labels) < value
        # Fakes well above reals by more than gamma: no pair is penalised.
        separated = torch.where(labels == 1, 10.0, -10.0).double()
        assert loss_fn(separated, labels).item() == 0.0
        # Inverted: every pair at (gamma + sigmoid(10) - sigmoid(-10))^p.
        gap = torch.sigmoid(torch.tensor(10.0, dtype=torch.float64)).item() * 2 - 1
        assert loss_fn(-separated, labels).item() == pytest.approx((0.6 + gap) ** 2, rel=1e-12)


@pytest.mark.parametrize("p", [3.0, 2.5])
@pytest.mark.parametrize("gamma", [0.15, 1.0])
def test_general_p_matches_double_loop_and_gradients(p: float, gamma: float) -> None:
    logits, labels = batch(7, n=50, ties=True)
    loss = AUCLoss(gamma=gamma, p=p)
    assert loss(logits, labels).item() == pytest.approx(double_loop_loss(logits, labels, gamma, p), rel=1e-12)
    reference = grad_of(lambda x, y: auc_loss_pairwise(torch.sigmoid(x), y, gamma, p), logits, labels)
    torch.testing.assert_close(grad_of(loss, logits, labels), reference, rtol=1e-10, atol=1e-14)


def test_general_p_chunks_and_recomputes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks of 7 fakes exercise the chunk boundaries and the checkpointed backward.
    logits, labels = batch(8, n=90)
    n_real = int((labels == 0).sum())
    monkeypatch.setattr(auc_module, "_PAIRS_PER_CHUNK", 7 * n_real)
    loss = AUCLoss(p=3.0)
    assert loss(logits, labels).item() == pytest.approx(
        double_loop_loss(logits, labels, 0.15, 3.0), rel=1e-12
    )
    # Checkpointing keeps only the chunk inputs for backward, never a (chunk, N) block.
    largest_saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal largest_saved
        largest_saved = max(largest_saved, t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss(logits.clone().requires_grad_(True), labels)
    assert largest_saved <= logits.numel()
    reference = grad_of(lambda x, y: auc_loss_pairwise(torch.sigmoid(x), y, 0.15, 3.0), logits, labels)
    torch.testing.assert_close(grad_of(loss, logits, labels), reference, rtol=1e-10, atol=1e-14)


def test_200k_scores_in_linearithmic_memory() -> None:
    gen = torch.Generator().manual_seed(9)
    n = 200_000
    labels = torch.randint(0, 2, (n,), generator=gen)
    logits = (torch.randn(n, generator=gen) + labels).requires_grad_(True)
    largest_saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal largest_saved
        largest_saved = max(largest_saved, t.numel())
        return t

    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        value = AUCLoss()(logits, labels)
    value.backward()
    elapsed = time.perf_counter() - start
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    assert largest_saved <= n + 1  # nothing of size |P| * |N| (~1e10) is kept for backward
    assert elapsed < 10.0


def test_rejects_bad_hyperparameters_and_inputs() -> None:
    for gamma in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="gamma"):
            AUCLoss(gamma=gamma)
    for p in (1.0, 0.5):
        with pytest.raises(ValueError, match="p must"):
            AUCLoss(p=p)
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        AUCLoss()(torch.randn(4, 1), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="labels must be 0"):
        AUCLoss()(torch.randn(3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="mask"):
        AUCLoss()(torch.randn(3), torch.tensor([0, 1, 1]), torch.tensor([1, 0, 1]))


def test_float_labels_as_bce_targets() -> None:
    logits, labels = batch(10)
    loss = AUCLoss()
    assert torch.equal(loss(logits, labels.double()), loss(logits, labels))
