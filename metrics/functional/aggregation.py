"""Per-sample de-duplication (DDP padding) and per-video aggregation of frame scores."""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor

Reduction = Literal["mean", "max"]
_REDUCTIONS: tuple[str, ...] = get_args(Reduction)


def deduplicate(sample_ids: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
    """Keep the first occurrence of each sample id, ordered by sample id, in every tensor.

    ``DistributedSampler`` pads the ranks to equal length by repeating samples; after gathering,
    each repeat appears twice. Their scores are identical in evaluation, so keeping the first is
    exact, and EER, AUC and minDCF then equal the one-process numbers. Ordering by id makes the
    order independent of how samples were spread over processes and batches, so sums such as the
    log loss are bit-identical too.

    Args:
        sample_ids: (N,) integer id unique to each sample (e.g. the dataset index).
        tensors: each (N, ...), aligned with ``sample_ids``.

    Returns:
        ``(sample_ids, *tensors)`` restricted to first occurrences.

    Example:
        >>> deduplicate(torch.tensor([3, 1, 3, 2]), torch.tensor([0.3, 0.1, 0.3, 0.2]))
        (tensor([1, 2, 3]), tensor([0.1000, 0.2000, 0.3000]))
    """
    sample_ids = torch.as_tensor(sample_ids)
    if sample_ids.ndim != 1 or sample_ids.is_floating_point():
        raise ValueError(
            f"sample_ids must be a 1-D integer tensor, got {sample_ids.dtype} {tuple(sample_ids.shape)}"
        )
    for tensor in tensors:
        if tensor.shape[:1] != sample_ids.shape:
            raise ValueError(
                f"every tensor must have {sample_ids.numel()} rows, got shape {tuple(tensor.shape)}"
            )
    sorted_ids, order = torch.sort(sample_ids, stable=True)
    first = torch.ones_like(sorted_ids, dtype=torch.bool)
    first[1:] = sorted_ids[1:] != sorted_ids[:-1]
    keep = order[first]
    return (sample_ids[keep], *(tensor[keep] for tensor in tensors))


def aggregate_by_group(
    scores: Tensor, labels: Tensor, group_ids: Tensor, reduce: Reduction = "mean"
) -> tuple[Tensor, Tensor, Tensor]:
    """Video-level scores from frame scores: one score per group (video), its mean or max.

    A frame-level detector scores frames; the papers report video-level numbers by averaging the
    frame probabilities of each video (DESIGN.md: mean by default, max as an option). Groups are
    integer video ids; every frame of a video must carry the video's label.

    Args:
        scores: (N,) frame scores (probabilities of fake, for a mean that means something).
        labels: (N,) frame labels in {0, 1}, constant within a group.
        group_ids: (N,) integer video id of each frame.
        reduce: ``"mean"`` or ``"max"``.

    Returns:
        ``(group_scores, group_labels, group_ids)``, each (G,), groups in ascending id order;
        scores float64 for ``mean``, the scores' dtype for ``max``.

    Raises:
        ValueError: on mismatched shapes, an unknown ``reduce``, or a group whose frames carry both
            labels (naming the first such group).

    Example:
        >>> aggregate_by_group(torch.tensor([0.2, 0.4, 0.9, 0.7]), torch.tensor([0, 0, 1, 1]),
        ...                    torch.tensor([5, 5, 8, 8]))
        (tensor([0.3000, 0.8000], dtype=torch.float64), tensor([0, 1]), tensor([5, 8]))
    """
    if reduce not in _REDUCTIONS:
        raise ValueError(f"reduce must be one of {_REDUCTIONS}, got {reduce!r}")
    scores, labels, group_ids = (torch.as_tensor(t).flatten() for t in (scores, labels, group_ids))
    if not scores.shape == labels.shape == group_ids.shape:
        raise ValueError(
            f"scores, labels and group_ids must have the same length, got {scores.numel()}, "
            f"{labels.numel()} and {group_ids.numel()}"
        )
    if group_ids.is_floating_point():
        raise ValueError(f"group_ids must be integers, got {group_ids.dtype}")
    unique_groups, inverse = torch.unique(group_ids, return_inverse=True)
    n_groups = unique_groups.numel()
    label_values = labels.to(torch.int64)
    low = torch.full((n_groups,), 2, dtype=torch.int64, device=labels.device)
    high = torch.full((n_groups,), -1, dtype=torch.int64, device=labels.device)
    low = low.scatter_reduce(0, inverse, label_values, "amin")
    high = high.scatter_reduce(0, inverse, label_values, "amax")
    mixed = low != high
    if bool(mixed.any()):
        bad = int(unique_groups[mixed][0])
        raise ValueError(f"group {bad} has frames labelled both real and fake; a video has one label")
    if reduce == "mean":
        values = scores.to(torch.float64)
        sums = torch.zeros(n_groups, dtype=torch.float64, device=scores.device).index_add_(0, inverse, values)
        counts = torch.bincount(inverse, minlength=n_groups).to(torch.float64)
        group_scores = sums / counts
    else:
        start = torch.full((n_groups,), -torch.inf, dtype=scores.dtype, device=scores.device)
        group_scores = start.scatter_reduce(0, inverse, scores, "amax")
    return group_scores, low.to(labels.dtype), unique_groups
