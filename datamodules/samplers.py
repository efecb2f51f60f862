"""Training samplers that control what a batch holds: every class, P x K groups, or balanced draws.

The AUC loss of the dual-level paper compares every fake with every real of a batch, so a batch
without both classes teaches it nothing; on a 1:100 subset a plain shuffled loader of 16 videos
misses the fakes in most batches. Triplet losses need positives and negatives in each batch.

DDP and Lightning (2.6)
-----------------------
Both batch samplers shard themselves: every rank builds the same global list of batches from
``(seed, epoch)`` and keeps batches ``rank, rank + R, ...``; the global count is rounded to a
multiple of ``R`` so that all ranks run the same number of steps. ``num_replicas`` and ``rank``
come, in this order, from the arguments, from a ``DistributedSampler`` passed as ``sampler``, or
from ``torch.distributed`` when it is initialised.

Lightning under DDP with ``Trainer(use_distributed_sampler=True)`` (the default) rebuilds the
DataLoader of a custom batch sampler: for a ``BatchSampler`` subclass created inside a
``*_dataloader()`` hook it re-calls ``__init__`` with the saved arguments and its own
``DistributedSampler`` put in the argument named ``sampler``
(``lightning.pytorch.utilities.data._dataloader_init_kwargs_resolve_sampler``). Both batch
samplers therefore subclass ``BatchSampler`` and take a ``sampler`` argument, from which they
read only ``num_replicas`` and ``rank``; its order is ignored, since a rank's share of single
indices cannot guarantee classes per batch. The val/test loaders keep Lightning's automatic
``DistributedSampler``. With ``use_distributed_sampler=False`` Lightning leaves the loader alone
and the samplers read ``torch.distributed``; the batches are the same either way (the
val/test loaders must then be sharded by the datamodule). A batch sampler built outside the
hook (no saved arguments) cannot be re-created and fails with a message saying so.

Lightning calls ``set_epoch`` only on ``loader.sampler`` and ``loader.batch_sampler.sampler``
(``lightning.fabric.utilities.data._set_sampler_epoch``), never on the batch sampler itself, so
the batch samplers answer ``.sampler`` with themselves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, DistributedSampler, Sampler, WeightedRandomSampler

__all__ = ["BothClassesBatchSampler", "ClassBalancedSampler", "PKBatchSampler"]


def _as_int_array(values: Any, name: str) -> np.ndarray:
    """A 1-D int64 copy of ``values`` (list, numpy array or tensor of integral numbers)."""
    if isinstance(values, Sampler):
        raise TypeError(
            f"{name} is a {type(values).__name__}: Lightning tried to inject its distributed sampler "
            "into a batch sampler built outside a *_dataloader() hook. Build the sampler inside "
            "train_dataloader() or set Trainer(use_distributed_sampler=False)."
        )
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.mod(array, 1) == 0):
        raise ValueError(f"{name} must hold integer class ids, got dtype {array.dtype}")
    return array.astype(np.int64)


def _epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """One generator per (seed, epoch): a plan never depends on how many epochs ran before."""
    return np.random.default_rng([seed, epoch])


def _world(num_replicas: int | None, rank: int | None, sampler: Sampler | None) -> tuple[int, int]:
    """Resolve ``(num_replicas, rank)`` from the arguments, Lightning's sampler or torch.distributed."""
    if sampler is not None:
        if not isinstance(sampler, DistributedSampler):
            raise ValueError(
                "sampler is only accepted as the DistributedSampler that Lightning injects under DDP "
                f"(it gives num_replicas and rank), got {type(sampler).__name__}"
            )
        for name, given, injected in (
            ("num_replicas", num_replicas, sampler.num_replicas),
            ("rank", rank, sampler.rank),
        ):
            if given is not None and given != injected:
                raise ValueError(f"{name}={given} disagrees with the injected DistributedSampler: {injected}")
        num_replicas, rank = sampler.num_replicas, sampler.rank
    initialised = torch.distributed.is_available() and torch.distributed.is_initialized()
    if num_replicas is None:
        num_replicas = torch.distributed.get_world_size() if initialised else 1
    if rank is None:
        rank = torch.distributed.get_rank() if initialised else 0
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        raise ValueError(f"need num_replicas >= 1 and 0 <= rank < num_replicas, got {num_replicas}, {rank}")
    return num_replicas, rank


class _Cycle:
    """Endless draws from ``items``: shuffled passes, every item used once per pass.

    ``take(n)`` returns ``n`` distinct items whenever ``n <= len(items)``: items already drawn for
    the current batch move to the back of a fresh pass instead of repeating inside the batch.
    Larger ``n`` wraps around, so each item then appears ``n // len(items)`` or one more times.
    """

    def __init__(self, items: np.ndarray, rng: np.random.Generator) -> None:
        self.items = items
        self.rng = rng
        self.queue: deque[int] = deque()

    def take(self, n: int) -> list[int]:
        out: list[int] = []
        while len(out) < n:
            if not self.queue:
                fresh = self.rng.permutation(self.items).tolist()
                if n <= len(self.items) and out:
                    taken = set(out)
                    fresh = [x for x in fresh if x not in taken] + [x for x in fresh if x in taken]
                self.queue.extend(fresh)
            out.append(self.queue.popleft())
        return out


class _ShardedBatchSampler(BatchSampler):
    """Shared epoch and DDP logic: a global plan per ``(seed, epoch)``, batches ``rank::R`` per rank.

    Subclasses set ``_n_global`` (a multiple of ``num_replicas``) and implement :meth:`_plan`.
    ``BatchSampler.__init__`` is not called: it wants a sampler of single indices, which these
    classes do not have.
    """

    seed: int
    epoch: int
    num_replicas: int
    rank: int
    _n_global: int

    def _init_sharding(
        self, seed: int, num_replicas: int | None, rank: int | None, sampler: Sampler | None
    ) -> None:
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.seed = seed
        self.epoch = 0
        self.num_replicas, self.rank = _world(num_replicas, rank, sampler)

    @property
    def sampler(self) -> _ShardedBatchSampler:  # type: ignore[override]
        """Itself, so that Lightning's ``batch_sampler.sampler.set_epoch`` reaches :meth:`set_epoch`."""
        return self

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batches :meth:`__iter__` yields (as ``DistributedSampler.set_epoch``)."""
        self.epoch = epoch

    def __len__(self) -> int:
        """Batches per epoch on this rank; the same on every rank."""
        return self._n_global // self.num_replicas

    def __iter__(self) -> Iterator[list[int]]:
        plan = self._plan(_epoch_rng(self.seed, self.epoch))
        yield from plan[self.rank :: self.num_replicas]

    def global_batches(self) -> list[list[int]]:
        """The current epoch's batches of all ranks, in order (rank ``r`` gets items ``r::R``)."""
        return self._plan(_epoch_rng(self.seed, self.epoch))

    def _plan(self, rng: np.random.Generator) -> list[list[int]]:
        raise NotImplementedError


class BothClassesBatchSampler(_ShardedBatchSampler):
    """Batches with at least ``min_per_class`` samples of every class, at any imbalance.

    Each batch reserves ``min_per_class`` slots per class; the other slots take the remaining
    samples of all classes in shuffled order. A class too small to fill its reserved slots in every
    batch once (a *rare* class: fewer than ``min_per_class * n_batches`` samples) is drawn in
    repeated shuffled passes, each sample ``floor`` or ``ceil`` of ``min_per_class * n_batches /
    n_class`` times, never twice in one batch. This is the paper's "weighted probability ... to
    ensure that at least one positive sample is selected" made a guarantee.

    Epoch: with one process and ``drop_last=False``, every sample of a non-rare class appears
    exactly once and ``n_batches`` is the smallest count whose slots hold all draws, i.e.
    ``n_batches * batch_size >= sum_c max(n_c, min_per_class * n_batches)``. Every batch is full
    except the last (or the last two, when the remainder is too small to hold every class).
    ``drop_last=True`` keeps only full batches: at most ``batch_size - 1`` randomly chosen
    non-rare samples sit out the epoch. Under DDP the count is rounded to a multiple of the world
    size: down with ``drop_last`` (more samples sit out), otherwise up, with all batches full and
    padded by repeating samples, as ``DistributedSampler`` pads.

    Args:
        labels: Class of each dataset item, shape (N,); 1 = fake, 0 = real (any integer ids work).
        batch_size: Items per batch; at least ``min_per_class`` times the number of classes.
        min_per_class: Guaranteed items of each class per batch; at most the smallest class size,
            so that no batch repeats an item.
        drop_last: Keep only full batches.
        seed: Same on every rank; with the epoch it fixes the batches.
        num_replicas: World size; see the module docstring for the defaults.
        rank: This process's rank.
        sampler: Only Lightning's injected ``DistributedSampler`` (read for world size and rank).

    Example:
        >>> labels = [0] * 98 + [1] * 2
        >>> sampler = BothClassesBatchSampler(labels, batch_size=8, seed=0)
        >>> all({labels[i] for i in batch} == {0, 1} for batch in sampler)
        True
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray | torch.Tensor,
        batch_size: int,
        min_per_class: int = 1,
        drop_last: bool = False,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        array = _as_int_array(labels, "labels")
        classes, counts = np.unique(array, return_counts=True)
        if len(classes) < 2:
            raise ValueError(f"labels hold only class {classes.tolist()}: no batch can hold two classes")
        if min_per_class < 1 or min_per_class > counts.min():
            raise ValueError(
                f"min_per_class must be in [1, {counts.min()}] (the smallest class size), got {min_per_class}"
            )
        if batch_size < min_per_class * len(classes):
            raise ValueError(
                f"batch_size={batch_size} cannot hold {min_per_class} of each of {len(classes)} classes"
            )
        self._init_sharding(seed, num_replicas, rank, sampler)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.min_per_class = min_per_class
        self._class_indices = [np.flatnonzero(array == c) for c in classes]
        self._n = len(array)
        self._n_global = self._count_batches(counts.tolist())

    def _draws(self, n_batches: int) -> int:
        """Items an epoch of ``n_batches`` batches must place: rare classes fill their reserved slots."""
        return sum(max(len(idx), self.min_per_class * n_batches) for idx in self._class_indices)

    def _count_batches(self, counts: list[int]) -> int:
        # Slack (slots minus draws) never decreases as batches are added, since a batch adds
        # batch_size slots but at most min_per_class draws per class: the first count with
        # non-negative slack is the smallest epoch that holds every sample.
        n = -(-self._n // self.batch_size)
        while n * self.batch_size < self._draws(n):
            n += 1
        replicas = self.num_replicas
        if not self.drop_last:
            return -(-n // replicas) * replicas
        if n * self.batch_size != self._draws(n):
            n -= 1
        n = n // replicas * replicas
        if n == 0:
            raise ValueError(
                f"drop_last=True leaves no full batch of {self.batch_size} for each of {replicas} "
                f"replica(s) from {self._n} samples (class sizes {counts})"
            )
        return n

    def _plan(self, rng: np.random.Generator) -> list[list[int]]:
        n_batches, m = self._n_global, self.min_per_class
        free_per_batch = self.batch_size - m * len(self._class_indices)
        reserved = np.empty((n_batches, m * len(self._class_indices)), dtype=np.int64)
        spare = [np.empty(0, dtype=np.int64)]
        for j, indices in enumerate(self._class_indices):
            columns = slice(j * m, (j + 1) * m)
            if len(indices) >= m * n_batches:
                order = rng.permutation(indices)
                reserved[:, columns] = order[: m * n_batches].reshape(n_batches, m)
                spare.append(order[m * n_batches :])
            else:
                cycle = _Cycle(indices, rng)
                reserved[:, columns] = [cycle.take(m) for _ in range(n_batches)]
        free = rng.permutation(np.concatenate(spare))
        n_slots = n_batches * free_per_batch
        if len(free) > n_slots:  # drop_last: the surplus sits out this epoch
            free = free[:n_slots]
        elif len(free) < n_slots and self.num_replicas > 1:
            source = free if len(free) else np.arange(self._n)
            free = np.concatenate([free, np.resize(source, n_slots - len(free))])
        return [
            rng.permutation(
                np.concatenate([reserved[b], free[b * free_per_batch : (b + 1) * free_per_batch]])
            ).tolist()
            for b in range(n_batches)
        ]


class PKBatchSampler(_ShardedBatchSampler):
    """Batches of ``p`` units times ``k`` samples each, for online triplet mining.

    Without ``group`` a unit is a class (attribution classes, or real/fake with ``p = 2``): each
    batch holds ``p`` distinct classes with ``k`` samples each. With ``group`` (for example a video
    index per frame, or an identity-and-label key) a unit is a group, so "P videos x K frames"
    batches are possible with only two classes: the ``p`` groups are spread over the classes as
    evenly as their group counts allow (``p = 8`` with real/fake gives 4 real and 4 fake videos),
    so every batch holds positives and negatives. Each group must be of one class; group identities
    rather than videos when an identity appears both real and fake (Celeb-DF fakes carry their
    target's identity): key on ``(identity, label)``.

    Units and samples are drawn in repeated shuffled passes: within a batch units are distinct and
    a unit's ``k`` samples are distinct when it has at least ``k``, otherwise repeated as evenly as
    possible (sampling with replacement). A batch lists its units' samples consecutively.

    Epoch: ``batches_per_epoch`` batches in all ranks together (default ``ceil(N / (p * k))``,
    about one look at each sample), rounded up to a multiple of the world size.

    Args:
        class_labels: Class of each dataset item, shape (N,).
        p: Units per batch, at least 2 (a single class has no negatives).
        k: Samples per unit.
        seed: Same on every rank; with the epoch it fixes the batches.
        group: Optional group key of each item, shape (N,); units become groups.
        batches_per_epoch: Global batches per epoch.
        num_replicas: World size; see the module docstring for the defaults.
        rank: This process's rank.
        sampler: Only Lightning's injected ``DistributedSampler`` (read for world size and rank).
    """

    def __init__(
        self,
        class_labels: Sequence[int] | np.ndarray | torch.Tensor,
        p: int,
        k: int,
        seed: int = 0,
        group: Sequence[Any] | np.ndarray | None = None,
        batches_per_epoch: int | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        labels = _as_int_array(class_labels, "class_labels")
        if p < 2 or k < 1:
            raise ValueError(f"need p >= 2 (negatives) and k >= 1, got p={p}, k={k}")
        self._init_sharding(seed, num_replicas, rank, sampler)
        self.p, self.k = p, k
        self.batch_size = p * k
        self.drop_last = False
        self._classes = np.unique(labels)
        if len(self._classes) < 2:
            raise ValueError(f"class_labels hold only class {self._classes.tolist()}: no negatives")
        self._members = [np.flatnonzero(labels == c) for c in self._classes]
        self._groups_of_class: list[np.ndarray] | None = None
        if group is None:
            if p > len(self._classes):
                raise ValueError(
                    f"p={p} exceeds the {len(self._classes)} classes; pass group= to draw P groups"
                )
        else:
            self._init_groups(labels, np.asarray(group))
        wanted = batches_per_epoch if batches_per_epoch is not None else -(-len(labels) // self.batch_size)
        if wanted < 1:
            raise ValueError(f"batches_per_epoch must be >= 1, got {batches_per_epoch}")
        self._n_global = -(-wanted // self.num_replicas) * self.num_replicas

    def _init_groups(self, labels: np.ndarray, group: np.ndarray) -> None:
        if group.shape != labels.shape:
            raise ValueError(f"group must have one key per item: shape {group.shape} vs {labels.shape}")
        keys, codes = np.unique(group, return_inverse=True)
        pairs = np.unique(np.stack([codes, labels]), axis=1)
        if pairs.shape[1] != len(keys):
            mixed = keys[np.flatnonzero(np.bincount(pairs[0]) > 1)[0]]
            raise ValueError(f"group {mixed!r} holds several classes; key groups on (group, label)")
        # Every unit is now a group; _members is indexed by group code.
        self._members = [np.flatnonzero(codes == g) for g in range(len(keys))]
        group_class = np.empty(len(keys), dtype=np.int64)
        group_class[pairs[0]] = pairs[1]
        self._groups_of_class = [np.flatnonzero(group_class == c) for c in self._classes]
        if len(keys) < self.p:
            raise ValueError(f"p={self.p} exceeds the {len(keys)} groups")

    def _units_per_class(self, class_cycle: _Cycle) -> list[list[int]]:
        """How many groups each class gives a batch: round-robin in a fresh class order."""
        assert self._groups_of_class is not None
        order = class_cycle.take(len(self._classes))
        shares = dict.fromkeys(order, 0)
        remaining, position = self.p, 0
        while remaining:
            c = order[position % len(order)]
            if shares[c] < len(self._groups_of_class[c]):
                shares[c] += 1
                remaining -= 1
            position += 1
        return [[c, n] for c, n in shares.items() if n]

    def _plan(self, rng: np.random.Generator) -> list[list[int]]:
        class_cycle = _Cycle(np.arange(len(self._classes)), rng)
        member_cycles: dict[int, _Cycle] = {}
        group_cycles: dict[int, _Cycle] = {}

        def samples(unit: int) -> list[int]:
            if unit not in member_cycles:
                member_cycles[unit] = _Cycle(self._members[unit], rng)
            return member_cycles[unit].take(self.k)

        plan = []
        for _ in range(self._n_global):
            if self._groups_of_class is None:
                units = class_cycle.take(self.p)
            else:
                units = []
                for c, n in self._units_per_class(class_cycle):
                    if c not in group_cycles:
                        group_cycles[c] = _Cycle(self._groups_of_class[c], rng)
                    units += group_cycles[c].take(n)
            plan.append([index for unit in units for index in samples(unit)])
        return plan


class ClassBalancedSampler(WeightedRandomSampler):
    """Draws with replacement, each item weighted ``1 / size of its class``: classes come out equally often.

    torch's ``WeightedRandomSampler`` with the weights computed from the labels and its random
    stream fixed per ``(seed, epoch)``, so that every DDP rank draws the same list (Lightning's
    default ``DistributedSamplerWrapper`` then shards it and forwards ``set_epoch``) and a resumed
    run repeats the epochs it would have seen. Unlike :class:`BothClassesBatchSampler` it gives no
    per-batch guarantee: a batch of 16 misses a class with probability about ``2 * 2**-16``.

    Args:
        labels: Class of each dataset item, shape (N,).
        num_samples: Draws per epoch; defaults to N.
        seed: Same on every rank.
    """

    def __init__(
        self, labels: Sequence[int] | np.ndarray | torch.Tensor, num_samples: int | None = None, seed: int = 0
    ) -> None:
        array = _as_int_array(labels, "labels")
        _, codes, counts = np.unique(array, return_inverse=True, return_counts=True)
        weights = (1.0 / counts[codes]).tolist()
        super().__init__(weights, num_samples if num_samples is not None else len(array), replacement=True)
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose draws :meth:`__iter__` yields."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        state = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, dtype=np.uint64)[0]
        generator = torch.Generator().manual_seed(int(state))
        drawn = torch.multinomial(self.weights, self.num_samples, self.replacement, generator=generator)
        yield from drawn.tolist()
