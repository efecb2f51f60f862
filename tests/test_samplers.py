"""Batch samplers: class guarantees, epoch coverage, determinism, DDP shares and Lightning wiring.

References are brute-force counts over the yielded indices; the epoch length is checked against
its definition (the smallest batch count whose slots hold every draw) by a separate loop.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, SequentialSampler

from datamodules.samplers import BothClassesBatchSampler, ClassBalancedSampler, PKBatchSampler


def binary_labels(n_real: int, n_fake: int, seed: int = 0) -> np.ndarray:
    """Shuffled so that class membership does not follow index order."""
    return np.random.default_rng(seed).permutation(np.array([0] * n_real + [1] * n_fake))


def dataset_of(labels: np.ndarray) -> torch.utils.data.TensorDataset:
    return torch.utils.data.TensorDataset(torch.from_numpy(labels))


def smallest_epoch(counts: list[int], batch_size: int, m: int) -> int:
    """The epoch length by its definition, by trying every count from 1."""
    n = 1
    while n * batch_size < sum(max(c, m * n) for c in counts):
        n += 1
    return n


IMBALANCES = [(500, 5), (1000, 10), (5, 500), (50, 50), (712, 23), (3, 3)]


@pytest.mark.parametrize(("n_real", "n_fake"), IMBALANCES)
@pytest.mark.parametrize("batch_size", [2, 16, 33])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_batch_holds_both_classes(n_real: int, n_fake: int, batch_size: int, drop_last: bool) -> None:
    labels = binary_labels(n_real, n_fake)
    for m in (1, 2):
        if 2 * m > batch_size:
            continue
        if drop_last and len(labels) < batch_size:
            with pytest.raises(ValueError, match="no full batch"):
                BothClassesBatchSampler(labels, batch_size, min_per_class=m, drop_last=True)
            continue
        for seed in range(3):
            sampler = BothClassesBatchSampler(
                labels, batch_size, min_per_class=m, drop_last=drop_last, seed=seed
            )
            for epoch in range(3):
                sampler.set_epoch(epoch)
                batches = list(sampler)
                assert len(batches) == len(sampler) > 0
                for batch in batches:
                    per_class = Counter(int(labels[i]) for i in batch)
                    assert per_class[0] >= m and per_class[1] >= m, (seed, epoch, per_class)
                    assert len(set(batch)) == len(batch), "an index repeats inside a batch"
                    assert len(batch) <= batch_size
                    if drop_last:
                        assert len(batch) == batch_size


@pytest.mark.parametrize(
    ("n_real", "n_fake", "batch_size", "m"), [(500, 5, 16, 1), (1000, 10, 16, 2), (7, 300, 8, 1)]
)
def test_epoch_sees_each_majority_sample_once_and_reuses_rare_evenly(
    n_real: int, n_fake: int, batch_size: int, m: int
) -> None:
    labels = binary_labels(n_real, n_fake)
    sampler = BothClassesBatchSampler(labels, batch_size, min_per_class=m, seed=4)
    batches = list(sampler)
    n_batches = smallest_epoch([n_real, n_fake], batch_size, m)
    assert len(batches) == n_batches
    seen = Counter(i for batch in batches for i in batch)
    majority = 0 if n_real > n_fake else 1
    rare = 1 - majority
    assert all(seen[i] == 1 for i in np.flatnonzero(labels == majority).tolist())
    draws = m * n_batches
    n_rare = int((labels == rare).sum())
    assert {seen[i] for i in np.flatnonzero(labels == rare).tolist()} <= {
        draws // n_rare,
        -(-draws // n_rare),
    }
    assert sum(seen.values()) == sum(max(c, draws) for c in (n_real, n_fake))
    assert all(len(b) == batch_size for b in batches[:-2])


def test_balanced_data_gives_a_plain_loader_epoch() -> None:
    labels = binary_labels(100, 100)
    batches = list(BothClassesBatchSampler(labels, 16, seed=0))
    reference = list(BatchSampler(SequentialSampler(range(200)), 16, drop_last=False))
    assert [len(b) for b in batches] == [len(b) for b in reference]
    assert sorted(i for b in batches for i in b) == list(range(200))


def test_drop_last_keeps_full_batches_and_drops_fewer_than_a_batch() -> None:
    labels = binary_labels(500, 5)
    batches = list(BothClassesBatchSampler(labels, 16, drop_last=True, seed=1))
    seen = Counter(i for b in batches for i in b)
    reals = np.flatnonzero(labels == 0).tolist()
    assert all(len(b) == 16 for b in batches)
    assert max(seen[i] for i in reals) == 1
    assert 0 <= sum(seen[i] == 0 for i in reals) < 16


def test_determinism_per_seed_and_epoch() -> None:
    labels = binary_labels(300, 6)
    a = BothClassesBatchSampler(labels, 16, seed=7)
    b = BothClassesBatchSampler(labels, 16, seed=7)
    assert list(a) == list(b) == list(a)
    epoch0 = list(a)
    a.set_epoch(1)
    assert list(a) != epoch0
    assert list(BothClassesBatchSampler(labels, 16, seed=8)) != epoch0
    # An epoch's batches do not depend on the epochs iterated before it (resuming reproduces them).
    for epoch in range(4):
        b.set_epoch(epoch)
        list(b)
    fresh = BothClassesBatchSampler(labels, 16, seed=7)
    fresh.set_epoch(3)
    assert list(fresh) == list(b)


@pytest.mark.parametrize("replicas", [2, 3])
@pytest.mark.parametrize(("n_real", "n_fake"), [(500, 5), (97, 40)])
def test_ddp_shares_are_disjoint_and_equal_length(replicas: int, n_real: int, n_fake: int) -> None:
    labels = binary_labels(n_real, n_fake)
    majority = np.flatnonzero(labels == 0).tolist()
    for drop_last in (False, True):
        ranks = [
            BothClassesBatchSampler(labels, 16, drop_last=drop_last, seed=3, num_replicas=replicas, rank=r)
            for r in range(replicas)
        ]
        for epoch in (0, 5):
            for sampler in ranks:
                sampler.set_epoch(epoch)
            shares = [list(s) for s in ranks]
            assert len({len(s) for s in shares}) == 1 and len(shares[0]) == len(ranks[0]) > 0
            plan = ranks[0].global_batches()
            assert all(share == plan[r::replicas] for r, share in enumerate(shares))
            assert shares[0] != shares[1]
            seen = Counter(i for share in shares for b in share for i in b)
            if drop_last:
                # Disjoint: no majority sample reaches two ranks (or one rank twice).
                assert max(seen[i] for i in majority) == 1
            else:
                assert min(seen[i] for i in majority) >= 1
                assert all(len(b) == 16 for share in shares for b in share)
                padding = sum(seen[i] - 1 for i in majority)
                assert padding < replicas * 16


def test_injected_distributed_sampler_gives_world_size_and_rank() -> None:
    labels = binary_labels(200, 4)
    injected: DistributedSampler = DistributedSampler(
        dataset_of(labels), num_replicas=3, rank=2, shuffle=True
    )
    via_sampler = BothClassesBatchSampler(labels, 8, seed=2, sampler=injected)
    explicit = BothClassesBatchSampler(labels, 8, seed=2, num_replicas=3, rank=2)
    assert (via_sampler.num_replicas, via_sampler.rank) == (3, 2)
    assert list(via_sampler) == list(explicit)
    with pytest.raises(ValueError, match="disagrees"):
        BothClassesBatchSampler(labels, 8, num_replicas=2, sampler=injected)
    with pytest.raises(ValueError, match="DistributedSampler"):
        BothClassesBatchSampler(labels, 8, sampler=SequentialSampler(range(len(labels))))


def test_invalid_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="only class"):
        BothClassesBatchSampler([0, 0, 0], 2)
    with pytest.raises(ValueError, match="min_per_class"):
        BothClassesBatchSampler([0, 0, 0, 1], 4, min_per_class=2)
    with pytest.raises(ValueError, match="batch_size"):
        BothClassesBatchSampler([0, 0, 1, 1], 3, min_per_class=2)
    with pytest.raises(ValueError, match="no full batch"):
        BothClassesBatchSampler([0] * 10 + [1], 8, drop_last=True, num_replicas=2, rank=0)
    with pytest.raises(TypeError, match="use_distributed_sampler"):
        BothClassesBatchSampler(SequentialSampler(range(4)), 2)  # type: ignore[arg-type]


def test_loader_yields_both_classes() -> None:
    labels = binary_labels(120, 2)
    dataset = dataset_of(labels)
    loader = DataLoader(dataset, batch_sampler=BothClassesBatchSampler(labels, 10, seed=0))
    assert all(set(batch[0].tolist()) == {0, 1} for batch in loader)


# --- PK ------------------------------------------------------------------------------------------


def test_pk_batches_hold_p_classes_times_k() -> None:
    classes = np.random.default_rng(0).permutation(np.repeat(np.arange(10), 30))
    sampler = PKBatchSampler(classes, p=5, k=6, seed=1)
    batches = list(sampler)
    assert len(batches) == 10  # ceil(300 / 30)
    for batch in batches:
        per_class = Counter(int(classes[i]) for i in batch)
        assert len(per_class) == 5 and set(per_class.values()) == {6}
        assert len(set(batch)) == 30
    # Classes come in shuffled passes (5 passes of 10 over 10 batches) and samples in passes, so
    # this epoch shows every sample exactly once.
    assert sorted(i for b in batches for i in b) == list(range(300))


def test_pk_small_class_is_sampled_with_replacement_evenly() -> None:
    classes = np.array([0] * 20 + [1] * 2)
    for batch in PKBatchSampler(classes, p=2, k=5, seed=0):
        small = Counter(i for i in batch if classes[i] == 1)
        big = [i for i in batch if classes[i] == 0]
        assert sorted(small.values()) == [2, 3]  # 5 draws over 2 samples, as even as possible
        assert len(set(big)) == 5


def test_pk_groups_spread_over_classes() -> None:
    rng = np.random.default_rng(2)
    videos = np.repeat(np.arange(30), 12)  # 30 videos of 12 frames
    video_label = (np.arange(30) < 6).astype(int)  # 6 fake videos, 24 real
    order = rng.permutation(len(videos))
    group, labels = videos[order], video_label[videos[order]]
    sampler = PKBatchSampler(labels, p=8, k=3, seed=0, group=group, batches_per_epoch=40)
    batches = list(sampler)
    assert len(batches) == 40
    for batch in batches:
        per_group = Counter(int(group[i]) for i in batch)
        assert len(per_group) == 8 and set(per_group.values()) == {3}
        fake_groups = sum(video_label[g] for g in per_group)
        assert fake_groups == 4, "8 groups over 2 classes must split 4 + 4"
        assert len(set(batch)) == 24


def test_pk_odd_p_and_capacity_limits() -> None:
    group = np.repeat(np.arange(6), 4)
    labels = (group < 1).astype(int)  # a single fake group
    for batch in PKBatchSampler(labels, p=3, k=2, seed=0, group=group):
        fakes = {int(group[i]) for i in batch if labels[i] == 1}
        reals = {int(group[i]) for i in batch if labels[i] == 0}
        assert len(fakes) == 1 and len(reals) == 2


def test_pk_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="exceeds the 2 classes"):
        PKBatchSampler([0, 1, 0, 1], p=3, k=1)
    with pytest.raises(ValueError, match="several classes"):
        PKBatchSampler([0, 1, 0, 1], p=2, k=1, group=[7, 7, 8, 8])
    with pytest.raises(ValueError, match="p >= 2"):
        PKBatchSampler([0, 1], p=1, k=1)


def test_pk_ddp_shares_equal_and_deterministic() -> None:
    classes = np.repeat(np.arange(4), 25)
    for replicas in (2, 3):
        ranks = [
            PKBatchSampler(classes, p=2, k=4, seed=5, num_replicas=replicas, rank=r) for r in range(replicas)
        ]
        shares = [list(s) for s in ranks]
        assert len({len(s) for s in shares}) == 1 and len(ranks[0]) * replicas >= math.ceil(100 / 8)
        assert all(share == ranks[0].global_batches()[r::replicas] for r, share in enumerate(shares))
    a = PKBatchSampler(classes, p=2, k=4, seed=5)
    epoch0 = list(a)
    assert list(PKBatchSampler(classes, p=2, k=4, seed=5)) == epoch0
    a.set_epoch(1)
    assert list(a) != epoch0


# --- class-balanced ------------------------------------------------------------------------------


def test_class_balanced_weights_and_frequencies() -> None:
    labels = binary_labels(900, 100)
    draws = 20_000
    sampler = ClassBalancedSampler(labels, num_samples=draws, seed=0)
    expected = [1 / 900 if y == 0 else 1 / 100 for y in labels]
    assert torch.allclose(sampler.weights, torch.tensor(expected, dtype=torch.double))
    drawn = list(sampler)
    assert len(drawn) == draws
    # Each draw is fake with probability 1/2: the fake count is Binomial(20000, 1/2), sd 70.7;
    # 5 sd (two-sided tail 6e-7) keeps a correct sampler from failing on any seed.
    fakes = sum(int(labels[i]) for i in drawn)
    assert abs(fakes - draws / 2) < 5 * math.sqrt(draws * 0.25)
    # Each fake sample is drawn with probability 1/2 * 1/100: Binomial(20000, 1/200), mean 100,
    # sd 9.97; 6 sd over 100 samples fails a correct sampler with probability about 2e-7.
    per_fake = Counter(i for i in drawn if labels[i] == 1)
    assert len(per_fake) == 100
    p = 1 / 200
    assert max(abs(c - draws * p) for c in per_fake.values()) < 6 * math.sqrt(draws * p * (1 - p))


def test_class_balanced_is_seeded_per_epoch() -> None:
    labels = binary_labels(50, 5)
    a, b = ClassBalancedSampler(labels, seed=3), ClassBalancedSampler(labels, seed=3)
    assert list(a) == list(b) == list(a)
    epoch0 = list(a)
    a.set_epoch(1)
    assert list(a) != epoch0
    assert list(ClassBalancedSampler(labels, seed=4)) != epoch0


# --- Lightning -----------------------------------------------------------------------------------


def test_lightning_sets_the_epoch_and_reinjects_under_ddp() -> None:
    """What Lightning 2.6 does to a train loader: ``set_epoch`` each epoch and, under DDP with
    ``use_distributed_sampler=True``, re-create the batch sampler with its DistributedSampler."""
    fabric_data = pytest.importorskip("lightning.fabric.utilities.data")
    from lightning.pytorch.trainer.states import RunningStage
    from lightning.pytorch.utilities.data import _update_dataloader

    labels = binary_labels(150, 3)
    dataset = dataset_of(labels)
    makers = (
        lambda **kw: BothClassesBatchSampler(labels, 8, seed=1, **kw),
        lambda **kw: PKBatchSampler(labels, p=2, k=3, seed=1, **kw),
    )
    for make in makers:
        loader = DataLoader(dataset, batch_sampler=make())
        fabric_data._set_sampler_epoch(loader, 4)
        assert loader.batch_sampler.epoch == 4  # type: ignore[union-attr]

        # Inside a *_dataloader hook Lightning records the constructor arguments.
        with fabric_data._replace_dunder_methods(BatchSampler):
            loader = DataLoader(dataset, batch_sampler=make())
        injected: DistributedSampler = DistributedSampler(dataset, num_replicas=2, rank=1, shuffle=True)
        rebuilt = _update_dataloader(loader, injected, mode=RunningStage.TRAINING).batch_sampler
        reference = make(num_replicas=2, rank=1)
        assert type(rebuilt) is type(reference)
        assert (rebuilt.num_replicas, rebuilt.rank) == (2, 1)  # type: ignore[union-attr]
        assert list(rebuilt) == list(reference)

    # Built outside the hook, the sampler cannot be re-created: the error says what to do.
    loader = DataLoader(dataset, batch_sampler=BothClassesBatchSampler(labels, 8))
    with pytest.raises(TypeError, match="use_distributed_sampler=False"):
        _update_dataloader(
            loader, DistributedSampler(dataset, num_replicas=2, rank=0), mode=RunningStage.TRAINING
        )
