"""From ``predict_step`` outputs to one score per video, as each detector scores its videos.

Detectors answer ``predict_step`` with ``video_id`` and one of (see ``lightning_modules``):

- ``frame_score`` (N,): a frame-level detector; the video score aggregates the frame
  probabilities with the model's ``video_aggregation`` (mean by default), as its video metrics do;
  a bagged ensemble voting by majority (``bag_scores`` (N, K)) scores a video by the fraction of
  members whose mean frame probability reaches the model's threshold, as its video metric does;
- ``clip_score`` (N,): a clip-level detector; the clips of a video are aggregated the same way;
- ``score`` (N,): a video-level head; several clips of one video are averaged. ``frame_scores``
  (a list of (T_i,) tensors over the unpadded frames of each clip) gives the per-frame scores.

Every video's items are consecutive in the loader (sequential, one device), which is what lets
the rows of ``predict`` be matched with dataset items without an index in the outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from deepfake_suite.errors import SuiteError
from metrics.functional.aggregation import Reduction

SCORE_KEYS = ("frame_score", "clip_score", "score")


@dataclass
class ItemScores:
    """``predict`` outputs of a whole loader, one entry per dataset item (frame or clip).

    Attributes:
        video_ids: Video of each item.
        kind: ``frame_score``, ``clip_score`` or ``score``: which key held the item scores.
        scores: (N,) float64 probability of fake per item.
        frame_scores: Per item, the probabilities of its unpadded frames (``score`` detectors
            with a frame head), else ``None``.
        bag_scores: (N, K) per-member probabilities of a bagged ensemble that votes, else ``None``.
    """

    video_ids: list[str]
    kind: str
    scores: Tensor
    frame_scores: list[Tensor] | None = None
    bag_scores: Tensor | None = None


def collect_predictions(batches: Sequence[dict[str, Any]], model: Any) -> ItemScores:
    """Concatenate the per-batch dicts ``Trainer.predict`` returned.

    Raises:
        SuiteError: The model's ``predict_step`` gives no probability of fake (a feature
            extractor, e.g. the stage-1 siamese network).
    """
    if not batches:
        raise SuiteError("predict returned no batches")
    kind = next((key for key in SCORE_KEYS if key in batches[0]), None)
    if kind is None:
        raise SuiteError(
            f"{type(model).__name__}.predict_step returns {sorted(batches[0])}, no score of fake "
            f"({', '.join(SCORE_KEYS)}): screen with a detector's checkpoint, not a feature extractor's"
        )
    video_ids = [vid for batch in batches for vid in batch["video_id"]]
    scores = torch.cat([batch[kind].detach().flatten().cpu() for batch in batches]).to(torch.float64)
    frame_scores = None
    if "frame_scores" in batches[0]:
        frame_scores = [s.detach().cpu().to(torch.float64) for b in batches for s in b["frame_scores"]]
    bag_scores = None
    if "bag_scores" in batches[0] and getattr(model, "ensemble", None) == "vote":
        bag_scores = torch.cat([b["bag_scores"].detach().cpu() for b in batches]).to(torch.float64)
    if len(video_ids) != len(scores):
        raise SuiteError(f"predict gave {len(scores)} scores for {len(video_ids)} items")
    return ItemScores(video_ids, kind, scores, frame_scores, bag_scores)


def _groups(video_ids: list[str]) -> tuple[list[str], Tensor]:
    """Videos in order of first appearance and the (N,) group number of each item."""
    order: dict[str, int] = {}
    groups = torch.tensor([order.setdefault(vid, len(order)) for vid in video_ids], dtype=torch.int64)
    return list(order), groups


def video_scores(items: ItemScores, model: Any) -> dict[str, float]:
    """One score per video, aggregated as the detector's video-level metrics aggregate it."""
    from metrics.functional import aggregate_by_group

    videos, groups = _groups(items.video_ids)
    zeros = torch.zeros_like(groups)
    if items.bag_scores is not None:
        members = [
            aggregate_by_group(items.bag_scores[:, k], zeros, groups, "mean")[0]
            for k in range(items.bag_scores.shape[1])
        ]
        threshold = float(model.hparams["threshold"])
        per_video = (torch.stack(members, 1) >= threshold).to(torch.float64).mean(1)
    else:
        reduce: Reduction = getattr(model, "video_aggregation", "mean") if items.kind != "score" else "mean"
        per_video = aggregate_by_group(items.scores, zeros, groups, reduce)[0]
    return {vid: float(score) for vid, score in zip(videos, per_video.tolist(), strict=True)}


@dataclass
class FrameLayout:
    """Which stored crops each dataset item holds, in dataset order.

    Attributes:
        video_ids: Video of each item.
        positions: Per item, the crop positions of its unpadded frames (one for a frame item).
    """

    video_ids: list[str] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)


def frame_layout(dataset: Any) -> FrameLayout:
    """The crops behind each item of a :class:`~datamodules.frame_dataset.FrameDataset` or
    :class:`~datamodules.clip_dataset.ClipDataset`, from the sampling functions they use.

    Raises:
        RuntimeError: The layout disagrees with the dataset's length (the datasets changed how
            they sample; this function must follow).
    """
    from datamodules.clip_dataset import ClipDataset
    from datamodules.frame_dataset import FrameDataset
    from datamodules.sampling import clip_windows, evenly_spaced_indices

    layout = FrameLayout()
    for record in dataset.records:
        if isinstance(dataset, FrameDataset):
            n = record.n_frames
            wanted = n if dataset.frames_per_video is None else min(n, dataset.frames_per_video)
            windows = [(np.array([i]), np.ones(1, bool)) for i in evenly_spaced_indices(n, wanted)[0]]
        elif isinstance(dataset, ClipDataset):
            windows = clip_windows(
                record.n_frames,
                dataset.clip_len,
                dataset.sampling,
                dataset.frame_gap,
                dataset.clips_per_video,
            )
        else:
            raise SuiteError(
                f"cannot screen with a {type(dataset).__name__}: use FrameDataset or ClipDataset"
            )
        for indices, mask in windows:
            layout.video_ids.append(record.video_id)
            layout.positions.append(np.asarray(indices)[np.asarray(mask)])
    if len(layout.video_ids) != len(dataset):
        raise RuntimeError(f"frame layout has {len(layout.video_ids)} items, the dataset {len(dataset)}")
    return layout


@dataclass(frozen=True)
class VideoResult:
    """The screening result of one video.

    Attributes:
        score: Video score (probability of fake).
        n_frames_scored: Distinct frames the score saw.
        frames: ``(source frame index, score)`` per scored frame, for detectors that score frames.
    """

    score: float
    n_frames_scored: int
    frames: list[tuple[int, float]]


def video_results(
    items: ItemScores, layout: FrameLayout, frame_indices: dict[str, list[int]], model: Any
) -> dict[str, VideoResult]:
    """Video scores with their per-frame scores, frames named by their index in the source video.

    Args:
        items: ``predict`` outputs over the dataset.
        layout: :func:`frame_layout` of the same dataset.
        frame_indices: ``video_id ->`` source frame index of each stored crop.
        model: The detector (its aggregation settings).
    """
    if items.video_ids != layout.video_ids:
        raise RuntimeError("predict outputs are not in dataset order (a shuffled or distributed loader?)")
    scores = video_scores(items, model)
    seen: dict[str, set[int]] = {vid: set() for vid in scores}
    per_frame: dict[str, dict[int, list[float]]] = {vid: {} for vid in scores}
    for i, (vid, positions) in enumerate(zip(layout.video_ids, layout.positions, strict=True)):
        source = [frame_indices[vid][p] for p in positions.tolist()]
        seen[vid].update(source)
        if items.kind == "frame_score":
            frame_values = [float(items.scores[i])]
        elif items.frame_scores is not None:
            frame_values = items.frame_scores[i].tolist()
        else:
            continue
        for frame, value in zip(source, frame_values, strict=True):
            # Overlapping clips score a frame more than once: its row is the mean.
            per_frame[vid].setdefault(frame, []).append(value)
    return {
        vid: VideoResult(
            score,
            len(seen[vid]),
            [(frame, float(np.mean(values))) for frame, values in sorted(per_frame[vid].items())],
        )
        for vid, score in scores.items()
    }
