"""Evaluation-epoch helpers of the metric-learning detectors: per-frame rows gathered over processes,
and a triplet loss that means something on sequential evaluation batches."""

from __future__ import annotations

from collections.abc import Callable

import torch
from lightning.pytorch import LightningModule
from torch import Tensor

from metrics.functional.aggregation import deduplicate


class EpochCollector:
    """Per-frame tensors of one validation or test epoch, gathered over processes at its end."""

    def __init__(self) -> None:
        self.parts: dict[str, list[Tensor]] = {}

    def add(self, rows: dict[str, Tensor]) -> None:
        for key, value in rows.items():
            self.parts.setdefault(key, []).append(value.detach())

    def __bool__(self) -> bool:
        return bool(self.parts)

    def reset(self) -> None:
        self.parts = {}

    def gathered(self, module: LightningModule | None = None, world_size: int = 1) -> dict[str, Tensor]:
        """Every process's rows, each sample once (by ``index``).

        ``DistributedSampler`` gives every rank the same number of samples (it pads with
        repeats), so ``all_gather`` sees equal shapes; the repeats go by ``index``.
        """
        data = {key: torch.cat(parts) for key, parts in self.parts.items()}
        if world_size > 1 and module is not None:
            data = {
                key: torch.as_tensor(module.all_gather(value)).flatten(0, 1) for key, value in data.items()
            }
        keys = list(data)
        kept = deduplicate(data["index"], *(data[key] for key in keys))
        return dict(zip(keys, kept[1:], strict=True))


def shuffled_triplet_loss(
    criterion: Callable[[Tensor, Tensor], Tensor],
    embeddings: Tensor,
    classes: Tensor,
    batch_size: int,
    seed: int,
) -> Tensor:
    """Triplet loss of an evaluation epoch, on batches drawn as in training.

    Evaluation loaders are sequential, and frames of one class follow each other: most of their
    batches hold one class, no triplet, and a loss of 0 that would make ``val/loss`` useless. The
    epoch's embeddings are instead cut into batches of the training batch size after a
    permutation fixed by ``seed`` (the same every epoch, so epochs compare), and the loss is
    averaged over them, weighted by their size. Computed in float32.

    Args:
        criterion: The training loss, ``criterion(embeddings, classes)``.
        embeddings: (N, D) embeddings of the whole epoch (every process's, each sample once).
        classes: (N,) the classes the triplets are mined on.
        batch_size: Training batch size.
        seed: Seed of the permutation.

    Returns:
        0-dim loss; 0 for an empty epoch.
    """
    order = torch.randperm(len(classes), generator=torch.Generator().manual_seed(seed))
    total = embeddings.new_zeros((), dtype=torch.float32)
    for chunk in order.to(embeddings.device).split(max(1, batch_size)):
        total = total + criterion(embeddings[chunk].float(), classes[chunk]) * len(chunk)
    return total / max(len(classes), 1)
