"""The bagged Xception of Kumar et al. (IWBF 2020, Sec. IV-B1, Table I) for imbalanced Celeb-DF.

Celeb-DF's training set holds about seven times more fake than real frames (66.5K vs 9.5K in the
paper). The paper divides the data into seven parts of about 1400 videos / 19K frames each: every
real video plus a seventh of the fake videos, so each bag is balanced; one Xception, trained end to
end, per bag (Nadam, lr 0.002, schedule decay 0.004, 30-50 epochs); the seven predictions are
combined by majority vote.

Design: one LightningModule holds the K sub-models and trains them in one run. Fake training
videos are dealt to bags once, at ``fit`` start (a seeded permutation of the training fakes split
into K parts whose sizes differ by at most one; all frames of a video go to the same bag); real
videos belong to every bag. In a training batch, sub-model ``k`` sees the batch's reals and the
fakes of bag ``k`` and is trained with BCE averaged over those frames; the total loss is the sum
over bags, so each sub-model's gradient is exactly that of training on its own bag. One epoch
shows each sub-model its whole bag once. One run, one checkpoint and one results file, rather
than K runs and a separate vote over their results.

Evaluation runs all K sub-models on every frame. The vote (``ensemble="vote"``, the paper's):

* frame level (``{stage}/frame_*``): score = fraction of sub-models whose probability is
  ``>= threshold``;
* video level (``{stage}/video_*``): each sub-model's video probability is the mean of its frame
  probabilities; score = fraction of sub-models whose video probability is ``>= threshold``.

A video (or frame) is called fake when at least half the sub-models say fake: DetectionMetrics'
threshold is inclusive, so with an even K a tie counts as fake; with the paper's K = 7 there are
no ties. AUC and EER rank the vote fractions (K + 1 levels, so many ties among scores); the log
loss of a vote fraction is reported but means little. ``ensemble="mean"`` averages the
probabilities instead (frames, then videos). The validation/test loss is the mean over sub-models
of their BCE on every frame (the training loss needs bags, which only training videos have).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from deepfake_suite.errors import SuiteError
from lightning_modules.backbones import backbone_width, create_backbone
from lightning_modules.base import FrameDetector
from metrics.detection import DEFAULT_P_TARGETS
from metrics.functional import aggregate_by_group, deduplicate, detection_summary
from metrics.functional.classification import DFDC_EPS
from metrics.functional.eer import EERMethod

REAL_BAG = -1
"""Bag of a real video: it belongs to every bag."""
_UNKNOWN = -2


def paper_nadam(params: Iterable[Any]) -> torch.optim.Optimizer:
    """Keras' Nadam(lr=0.002, schedule_decay=0.004) of Sec. IV-C: torch's ``momentum_decay`` is that decay."""
    return torch.optim.NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3)


# ------------------------------------------------------------------------------ bags and the vote


def assign_bags(labels: np.ndarray, num_bags: int, seed: int = 0) -> np.ndarray:
    """Deal the fake videos to ``num_bags`` disjoint bags of near-equal size; reals go to every bag.

    Args:
        labels: (V,) label of each training video, 1 = fake, 0 = real.
        num_bags: K >= 1, at most the number of fakes (no empty bag).
        seed: Seed of the permutation of the fakes.

    Returns:
        (V,) int64 bag of each video: ``0..K-1`` for fakes (sizes differ by at most one),
        :data:`REAL_BAG` for reals.
    """
    labels = np.asarray(labels)
    fakes = np.flatnonzero(labels == 1)
    if num_bags < 1 or num_bags > len(fakes):
        raise SuiteError(
            f"model.init_args.num_bags must be between 1 and the {len(fakes)} fake training videos, "
            f"got {num_bags}"
        )
    bags = np.full(len(labels), REAL_BAG, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(fakes)
    for bag, members in enumerate(np.array_split(order, num_bags)):
        bags[members] = bag
    return bags


def bag_membership(item_bags: Tensor, num_bags: int) -> Tensor:
    """(K, N) bool: item ``i`` trains sub-model ``k`` iff it is real or a fake of bag ``k``.

    Args:
        item_bags: (N,) bag of each item's video (:data:`REAL_BAG` for reals).
        num_bags: K.
    """
    bags = torch.arange(num_bags, device=item_bags.device)[:, None]
    return (item_bags[None, :] == bags) | (item_bags[None, :] == REAL_BAG)


def majority_vote(probabilities: Tensor, threshold: float = 0.5) -> Tensor:
    """(N,) fraction of the K sub-models that call each sample fake (``p >= threshold``).

    Args:
        probabilities: (K, N) each sub-model's probability of fake.
        threshold: A sub-model's decision threshold.

    Example:
        >>> majority_vote(torch.tensor([[0.9, 0.2], [0.6, 0.5], [0.1, 0.4]]))
        tensor([0.6667, 0.3333])
    """
    return (probabilities >= threshold).float().mean(0)


class VideoMajorityVote(Metric):
    """Video-level metrics of a bagged ensemble: the fraction of sub-models whose video score says fake.

    Each sub-model's video probability is the mean of its frame probabilities; the video's score is
    the fraction of sub-models with a video probability ``>= threshold``; then every number of
    :func:`metrics.functional.detection_summary`, keyed ``{prefix}{name}``. Frames repeated by
    DDP padding count once (``sample_id``).

    Args:
        prefix: Prepended to every key, e.g. ``test/video_``.
        p_targets: Priors of a fake for minDCF.
        threshold: A sub-model's decision threshold, and the vote fraction's (inclusive: ties fake).
        eer_method: EER convention.
        log_loss_eps: Probability clip of the log loss.
        kwargs: Passed to :class:`torchmetrics.Metric`.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None

    probabilities: list[Tensor]
    labels: list[Tensor]
    sample_ids: list[Tensor]
    group_ids: list[Tensor]

    def __init__(
        self,
        prefix: str = "",
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        eer_method: EERMethod = "interpolate",
        log_loss_eps: float = DFDC_EPS,
        **kwargs: Any,
    ) -> None:
        detection_summary(Tensor([0.0, 1.0]), Tensor([0, 1]), p_targets, threshold, eer_method, log_loss_eps)
        super().__init__(**kwargs)
        self.prefix = prefix
        self.p_targets = tuple(p_targets)
        self.threshold = threshold
        self.eer_method = eer_method
        self.log_loss_eps = log_loss_eps
        for name in ("probabilities", "labels", "sample_ids", "group_ids"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, probabilities: Tensor, target: Tensor, sample_id: Tensor, group_id: Tensor) -> None:
        """Args: probabilities (K, N); target, sample_id, group_id (N,)."""
        n = target.shape[0]
        shapes_ok = probabilities.ndim == 2 and probabilities.shape[1] == n
        if not shapes_ok or (n,) != sample_id.shape or (n,) != group_id.shape:
            raise ValueError(
                f"probabilities must be (K, N) and target, sample_id, group_id (N,), got "
                f"{tuple(probabilities.shape)}, {tuple(target.shape)}, {tuple(sample_id.shape)}, "
                f"{tuple(group_id.shape)}"
            )
        self.probabilities.append(probabilities.detach().float().T)
        self.labels.append(target.detach().long())
        self.sample_ids.append(sample_id.detach().long())
        self.group_ids.append(group_id.detach().long())

    def compute(self) -> dict[str, Tensor]:  # type: ignore[override]
        """Every number over the videos seen, as 0-dim float64 tensors keyed ``{prefix}{name}``."""
        if not self.probabilities:
            raise ValueError("VideoMajorityVote.compute() called before any update()")
        _, probabilities, labels, groups = deduplicate(
            dim_zero_cat(self.sample_ids),
            dim_zero_cat(self.probabilities),
            dim_zero_cat(self.labels),
            dim_zero_cat(self.group_ids),
        )
        per_model = []
        video_labels = labels
        for k in range(probabilities.shape[1]):
            video_scores, video_labels, _ = aggregate_by_group(probabilities[:, k], labels, groups, "mean")
            per_model.append(video_scores)
        fraction = majority_vote(torch.stack(per_model), self.threshold).double()
        summary = detection_summary(
            fraction, video_labels, self.p_targets, self.threshold, self.eer_method, self.log_loss_eps
        )
        return {f"{self.prefix}{name}": value for name, value in summary.items()}


# --------------------------------------------------------------------------------------- networks


class BagClassifier(nn.Module):
    """One bag's binary classifier: a timm backbone, then the authors' head (Dense 512 ReLU, dropout, logit).

    Alone, it is also the paper's single Xception ("frames only", Table II) as the ``network`` of
    :class:`~lightning_modules.baselines.BinaryFrameClassifier` (``experiments/triplet_frames_only.yaml``).

    Args:
        backbone: timm model name (paper: Xception, ``legacy_xception``).
        pretrained: ``True``/``False`` or a local weight file (paper: ImageNet weights).
        head_hidden: Width of the hidden dense layer (authors: 512); ``None`` for a linear head.
        dropout: Dropout before the logit (authors: 0.4 then 0.5 in a row, i.e. 0.7).
    """

    def __init__(
        self, backbone: str, pretrained: bool | str, head_hidden: int | None = 512, dropout: float = 0.7
    ) -> None:
        super().__init__()
        self.backbone = create_backbone(backbone, pretrained)
        features = backbone_width(self.backbone)
        layers: list[nn.Module] = []
        if head_hidden is not None:
            layers += [nn.Linear(features, head_hidden), nn.ReLU()]
            features = head_hidden
        layers += [nn.Dropout(dropout), nn.Linear(features, 1)]
        self.head = nn.Sequential(*layers)
        for layer in self.head:
            if isinstance(layer, nn.Linear):  # Keras he_uniform kernels, zero biases
                nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """The backbone's timm config: the pixel mean/std a trainer must normalise with."""
        return dict(getattr(self.backbone, "pretrained_cfg", {}))

    def forward(self, images: Tensor) -> Tensor:
        """Args: images (N, 3, S, S) normalised. Returns: (N,) logits of fake."""
        return self.head(self.backbone(images)).squeeze(-1)


class BaggedXception(FrameDetector):
    """K Xceptions, each trained on all reals plus a K-th of the fakes, combined by majority vote.

    See the module docstring for the bags, the loss and the vote. Batches come from
    :class:`datamodules.FrameDataModule` (``video_index`` identifies each frame's video).

    Args:
        backbone: timm model name (paper: Xception, ``legacy_xception``).
        pretrained: ``True``/``False`` or a local weight file (paper: ImageNet weights).
        num_bags: K (paper: 7).
        bag_seed: Seed of the deal of fake videos to bags.
        head_hidden: Hidden width of each head (authors: 512); ``None`` for a linear head.
        dropout: Dropout before each logit (authors: 0.7 in all).
        ensemble: ``vote`` (paper: majority vote) or ``mean`` (average probability).
        optimizer: Optimizer factory (paper: Nadam, lr 0.002, schedule decay 0.004).
        p_targets: Target priors for minDCF.
        threshold: Each sub-model's decision threshold and the ensemble's.
        channels_last: Run the CNNs in channels-last memory format.
        compile: ``torch.compile`` each sub-model's backbone in place.
    """

    def __init__(
        self,
        backbone: str = "legacy_xception",
        pretrained: bool | str = True,
        num_bags: int = 7,
        bag_seed: int = 0,
        head_hidden: int | None = 512,
        dropout: float = 0.7,
        ensemble: Literal["vote", "mean"] = "vote",
        optimizer: OptimizerCallable = paper_nadam,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        if num_bags < 1:
            raise SuiteError(f"model.init_args.num_bags must be >= 1, got {num_bags}")
        if ensemble not in ("vote", "mean"):
            raise SuiteError(f"model.init_args.ensemble must be vote or mean, got {ensemble!r}")
        super().__init__(("frame", "video"), optimizer, p_targets, threshold, "mean")
        self.save_hyperparameters(ignore=["optimizer"])
        members = [BagClassifier(backbone, pretrained, head_hidden, dropout) for _ in range(num_bags)]
        self.set_pixel_stats(members[0].pretrained_cfg)
        self.members = nn.ModuleList(members)
        if channels_last:
            self.members = self.members.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if compile:
            for member in self.members:
                assert isinstance(member, BagClassifier)
                member.backbone.compile()
        if ensemble == "vote":
            for stage in ("val", "test"):
                vote = VideoMajorityVote(f"{stage}/video_", p_targets, threshold)
                self.metrics[f"{stage}_video"] = vote  # type: ignore[assignment]
        self.num_bags = num_bags
        self.ensemble = ensemble
        self.channels_last = channels_last
        # Bag of each video (indexed by video_index), set at fit start from the training split.
        self.bag_of_video: Tensor
        self.register_buffer("bag_of_video", torch.empty(0, dtype=torch.long), persistent=False)

    # ------------------------------------------------------------------------------- bags

    def on_fit_start(self) -> None:
        self.set_bags_from(self.trainer.datamodule.datasets["train"])  # type: ignore[attr-defined]

    def set_bags_from(self, dataset: Any) -> None:
        """Deal the training fakes of ``dataset`` (per-frame ``video_index``, ``labels`` arrays) to bags."""
        if not (hasattr(dataset, "video_index") and hasattr(dataset, "labels")):
            raise SuiteError(
                "BaggedXception deals training videos to bags from the dataset's video_index and labels: "
                "use datamodules.FrameDataModule"
            )
        videos, first = np.unique(np.asarray(dataset.video_index), return_index=True)
        labels = np.asarray(dataset.labels)[first]
        bags = assign_bags(labels, self.num_bags, self.hparams["bag_seed"])
        table = torch.full((int(videos.max()) + 1,), _UNKNOWN, dtype=torch.long)
        table[torch.from_numpy(videos)] = torch.from_numpy(bags)
        self.bag_of_video = table.to(self.device)

    def item_bags(self, video_index: Tensor) -> Tensor:
        """(N,) bag of each item's video; fails on a video that was not in the training split."""
        if self.bag_of_video.numel() == 0:
            raise SuiteError("BaggedXception has no bags: they are dealt at fit start (set_bags_from)")
        if bool((video_index >= self.bag_of_video.numel()).any()):
            raise SuiteError("BaggedXception: a training batch holds a video outside the training split")
        bags = self.bag_of_video[video_index]
        if bool((bags == _UNKNOWN).any()):
            raise SuiteError("BaggedXception: a training batch holds a video outside the training split")
        return bags

    # ---------------------------------------------------------------------------- network

    def _frames(self, batch: dict[str, Any]) -> Tensor:
        frames = self.normalize(batch["frames"])
        if self.channels_last:
            frames = frames.contiguous(memory_format=torch.channels_last)
        return frames

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Training: each sub-model on its bag's items; evaluation: every sub-model on every item.

        Returns:
            Training: ``{"member_logits": (M,), "member_labels": (M,), "member_bags": (M,)}`` over
            the (bag, item) pairs of the batch. Evaluation: ``{"bag_logits": (K, N)}``.
        """
        frames = self._frames(batch)
        if not self.training:
            return {"bag_logits": torch.stack([member(frames) for member in self.members]).float()}
        membership = bag_membership(self.item_bags(batch["video_index"]), self.num_bags)
        labels = batch.get("frame_label", batch["label"]).float()
        logits, targets, bags = [], [], []
        for k, member in enumerate(self.members):
            rows = membership[k].nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            logits.append(member(frames[rows]).float())
            targets.append(labels[rows])
            bags.append(torch.full_like(rows, k))
        return {
            "member_logits": torch.cat(logits),
            "member_labels": torch.cat(targets),
            "member_bags": torch.cat(bags),
        }

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        if "bag_logits" in outputs:
            logits = outputs["bag_logits"]
            labels = batch.get("frame_label", batch["label"]).float().expand_as(logits)
            per_model = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(1)
            return {"loss": per_model.mean()}
        per_item = F.binary_cross_entropy_with_logits(
            outputs["member_logits"], outputs["member_labels"], reduction="none"
        )
        bags = outputs["member_bags"]
        sums = per_item.new_zeros(self.num_bags).index_add(0, bags, per_item)
        counts = torch.bincount(bags, minlength=self.num_bags)
        present = counts > 0
        return {"loss": (sums[present] / counts[present]).sum()}

    # ---------------------------------------------------------------------------- scores

    def fake_probability(self, outputs: dict[str, Tensor]) -> Tensor:
        """(N,) ensemble score per frame: the vote fraction, or the mean probability."""
        probabilities = outputs["bag_logits"].sigmoid()
        if self.ensemble == "vote":
            return majority_vote(probabilities, self.hparams["threshold"])
        return probabilities.mean(0)

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        labels, index = batch["label"].long(), batch["index"]
        self.metrics[f"{stage}_frame"].update(self.fake_probability(outputs), labels, sample_id=index)
        video_metric = self.metrics[f"{stage}_video"]
        if self.ensemble == "vote":
            video_metric.update(outputs["bag_logits"].sigmoid(), labels, index, batch["video_index"])
        else:
            video_metric.update(
                self.fake_probability(outputs), labels, sample_id=index, group_id=batch["video_index"]
            )

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        outputs = self(batch)
        return {
            "video_id": list(batch["video_id"]),
            "frame_score": self.fake_probability(outputs),
            "bag_scores": outputs["bag_logits"].sigmoid().T,
        }


__all__ = ["BaggedXception", "VideoMajorityVote", "assign_bags", "bag_membership", "majority_vote"]
