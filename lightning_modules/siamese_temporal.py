r"""SiameseTemporalLSTM: Lee, Kim and Yoon, "Deepfake Detection using Supervised Temporal Feature
Extraction model and LSTM" (Hanyang University, 2021).

Two stages, two configs chained through a checkpoint (Sec. 2, Fig. 2):

1. :class:`SiameseFeatureExtractor` trains the frame feature extractor (the 4-layer CNN or
   ResNet-50, to 512-d) on sequences of consecutive frames with the cosine-similarity hinge loss
   (eqs. 1-2, :class:`losses.cosine_hinge.CosineSimilarityHingeLoss`): a fake clip's frame features
   pulled to mutually orthogonal, a real clip's pushed away from that. It has no classifier, so
   it reports ``val/loss`` only, which selects its checkpoint.
2. :class:`SiameseTemporalLSTM` loads that extractor (``extractor_checkpoint``), freezes it, and
   trains a detection head on its features with BCE (eq. 3): the 4-layer LSTM of the paper
   (``head: lstm``) or Table 3's 4-layer MLP (``head: mlp``). It reports the shared detection
   metrics per clip (the paper's unit, a "set of frames") and per video (mean of its clips'
   probabilities), and Table 1's mean and standard deviation of accuracy and log loss over
   random test subsets (``test_repeats``, see :func:`split_test_groups`).

Table 2's first row (ImageNet InceptionResNetV2 features, no hinge training) is stage 2 alone:
``extractor: inception_resnet_v2``, ``pretrained: true``, ``feature_dim: null``,
``extractor_checkpoint: null``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torchmetrics.utilities import dim_zero_cat

from deepfake_suite.errors import SuiteError
from lightning_modules.base import DetectorModule
from lightning_modules.mfom import load_network_weights
from lightning_modules.siamese_networks import FrameMLPHead, LSTMHead, build_frame_encoder, encode_frames
from losses.cosine_hinge import CosineSimilarityHingeLoss
from metrics.detection import DEFAULT_P_TARGETS
from metrics.functional import accuracy, aggregate_by_group, deduplicate, log_loss

Head = Literal["lstm", "mlp"]
REPEAT_LEVELS = ("clip", "video")
REPEAT_METRICS = ("acc", "log_loss")
_CHECKPOINT_KEY = "model.init_args.extractor_checkpoint"


def paper_adam(params: Any) -> torch.optim.Optimizer:
    """Adam at lr 0.001, the paper's extractor optimiser (Sec. 3, Training A)."""
    return torch.optim.Adam(params, lr=1e-3)


# ------------------------------------------------------------------------------- Table 1 protocol


def split_test_groups(
    groups: np.ndarray, repeats: int, subset_size: int | None = None, seed: int = 0
) -> list[np.ndarray]:
    """Random test subsets of videos, Table 1's protocol.

    The paper "randomly chose and excluded 100 sets of frames 6 times from the 5908" sequences and
    reports the mean and standard deviation over the 6 test sets (retraining on the rest each
    time; here one trained model is tested on each subset, so the spread measures the test
    sampling only). Subsets are drawn over whole videos so that a video's clips stay together.

    Args:
        groups: (G,) distinct video ids.
        repeats: Number of subsets (paper: 6).
        subset_size: ``None`` splits the videos into ``repeats`` disjoint random subsets of
            near-equal size; a number draws that many videos without replacement for each subset,
            independently (subsets may overlap), as the paper's 100-sequence draws.
        seed: Seed of the draws.

    Returns:
        ``repeats`` arrays of video ids.

    Raises:
        SuiteError: fewer videos than subsets, or than ``subset_size``.
    """
    groups = np.asarray(groups)
    if repeats > len(groups) or (subset_size is not None and subset_size > len(groups)):
        raise SuiteError(
            f"model.init_args.test_repeats={repeats} / test_subset_size={subset_size}: the test set has "
            f"only {len(groups)} videos"
        )
    rng = np.random.default_rng(seed)
    if subset_size is None:
        return [np.sort(part) for part in np.array_split(rng.permutation(groups), repeats)]
    return [np.sort(rng.choice(groups, size=subset_size, replace=False)) for _ in range(repeats)]


def repeated_test_metrics(
    scores: Tensor,
    labels: Tensor,
    groups: Tensor,
    subsets: Sequence[np.ndarray],
    threshold: float = 0.5,
    eps: float = 1e-15,
) -> dict[str, float]:
    r"""Mean and standard deviation of accuracy and log loss over test subsets (Table 1).

    For each subset of videos, accuracy and log loss (eq. 5) are computed over its clips and over
    its videos (the mean of each video's clip probabilities), then

    .. math::
        \bar m = \frac{1}{K} \sum_{k=1}^{K} m_k, \qquad
        \sigma = \sqrt{\frac{1}{K} \sum_{k=1}^{K} (m_k - \bar m)^2}

    over the :math:`K` subsets: the *population* standard deviation (``numpy.std``, ddof = 0).
    Table 1 must have used it: with 100-sequence test sets every accuracy is a multiple of 0.01,
    and six such values around 0.81 can give :math:`\sigma = 0.028867513 = \sqrt{1/1200}` with
    ddof = 0 (e.g. 0.76, 0.81 x 4, 0.86) but never with ddof = 1.

    Args:
        scores: (N,) clip probabilities of fake.
        labels: (N,) clip labels, 1 = fake.
        groups: (N,) video id of each clip.
        subsets: Video ids of each subset (:func:`split_test_groups`).
        threshold: Probability from which a clip or video is called fake.
        eps: Probability clip of the log loss.

    Returns:
        ``{f"{level}_{metric}_{stat}": value}`` for level ``clip``/``video``, metric
        ``acc``/``log_loss``, stat ``mean``/``std``.
    """
    values: dict[str, list[float]] = {f"{lv}_{m}": [] for lv in REPEAT_LEVELS for m in REPEAT_METRICS}
    group_array = groups.cpu().numpy()
    for subset in subsets:
        chosen = torch.from_numpy(np.isin(group_array, subset)).to(scores.device)
        clip = (scores[chosen], labels[chosen])
        video_scores, video_labels, _ = aggregate_by_group(*clip, groups[chosen], "mean")
        for level, (level_scores, level_labels) in zip(
            REPEAT_LEVELS, (clip, (video_scores, video_labels)), strict=True
        ):
            values[f"{level}_acc"].append(float(accuracy(level_scores, level_labels, threshold)))
            values[f"{level}_log_loss"].append(float(log_loss(level_scores, level_labels, eps)))
    summary = {}
    for key, per_subset in values.items():
        summary[f"{key}_mean"] = float(np.mean(per_subset))
        summary[f"{key}_std"] = float(np.std(per_subset, ddof=0))
    return summary


# ----------------------------------------------------------------------------------- the modules


class _SiameseModule(DetectorModule):
    """The frame encoder both stages share: build, normalise, channels-last, compile, encode."""

    def _build_extractor(
        self,
        extractor: str,
        pretrained: bool | str,
        feature_dim: int | None,
        cnn_widths: Sequence[int],
        channels_last: bool,
        compile: bool,
    ) -> None:
        try:
            self.extractor = build_frame_encoder(extractor, pretrained, feature_dim, cnn_widths)
        except ValueError as error:
            raise SuiteError(f"model.init_args: {error}") from None
        self.set_pixel_stats(self.extractor.pretrained_cfg)
        self.channels_last = channels_last
        if channels_last:
            self.extractor.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if compile:
            self.extractor.compile()  # in place: state-dict keys stay those of the eager module

    def frame_features(self, batch: dict[str, Any]) -> Tensor:
        """(N, T, D) features of the clips' frames ``batch["frames"]`` uint8 (N, T, 3, H, W)."""
        frames = self.normalize(batch["frames"])
        if self.channels_last:
            n, t = frames.shape[:2]
            frames = frames.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (n, t))
        return encode_frames(self.extractor, frames)


class SiameseFeatureExtractor(_SiameseModule):
    """Stage 1: the frame feature extractor trained with the cosine-similarity hinge loss.

    Batches come from :class:`datamodules.ClipDataModule` with consecutive windows
    (``frames`` uint8 (N, T, 3, S, S), ``mask`` (N, T), ``label`` (N,)). ``forward`` returns
    ``{"features": (N, T, D)}``; the loss is computed in float32 (cosines of bf16 features lose
    the small differences the hinge works on). No detection metrics: ``val/loss`` selects the
    checkpoint that stage 2 loads.

    Args:
        extractor: ``cnn4`` (the paper's 4-layer CNN) or a timm name (``resnet50.tv_in1k``).
        pretrained: ImageNet weights for a timm extractor (``True``/``False``/local file).
        feature_dim: Width of the frame features (paper: 512); ``None`` keeps a timm backbone's.
        cnn_widths: Channels of the four conv layers of ``cnn4``.
        delta: Margin :math:`\\Delta` of the hinge for real clips (paper: 1).
        optimizer: Optimizer factory (paper: Adam, lr 0.001).
        channels_last: Run the CNN in channels-last memory format (faster on GPUs).
        compile: ``torch.compile`` the extractor in place.
    """

    def __init__(
        self,
        extractor: str = "resnet50.tv_in1k",
        pretrained: bool | str = False,
        feature_dim: int | None = 512,
        cnn_widths: Sequence[int] = (32, 64, 128, 256),
        delta: float = 1.0,
        optimizer: OptimizerCallable = paper_adam,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__(levels=(), optimizer=optimizer)
        self.save_hyperparameters(ignore=["optimizer"])
        self._build_extractor(extractor, pretrained, feature_dim, cnn_widths, channels_last, compile)
        self.criterion = CosineSimilarityHingeLoss(delta)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Returns: ``{"features": (N, T, D)}``."""
        return {"features": self.frame_features(batch)}

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        mask = batch["mask"].bool()
        return {"loss": self.criterion(outputs["features"].float(), batch["label"], mask)}

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        """No classifier in this stage: nothing to score."""

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        return {"video_id": list(batch["video_id"]), "features": self(batch)["features"].float()}


class SiameseTemporalLSTM(_SiameseModule):
    """Stage 2: a detection head trained with BCE on the frozen features of the stage-1 extractor.

    The extractor is loaded from ``extractor_checkpoint`` at the start of ``fit`` (``test`` and
    ``predict`` take every weight, the extractor's included, from their own checkpoint), gets no
    gradient, stays out of the optimizer and stays in eval mode (its batch-norm statistics are
    those stage 1 learned). Each clip gets one logit (level ``clip``); a video's score is the
    mean of its clips' probabilities (level ``video``, clips grouped by ``video_index``).

    Args:
        head: ``lstm`` (the paper's detection model) or ``mlp`` (Table 3's comparison).
        extractor, pretrained, feature_dim, cnn_widths: As in :class:`SiameseFeatureExtractor`;
            they must describe the stage-1 network. ``pretrained`` is normally ``False``: the
            weights come from the checkpoint.
        extractor_checkpoint: The stage-1 run's ``checkpoints/best.ckpt``. Required for ``fit``
            unless ``pretrained`` gives ImageNet features to use as they are (Table 2, row 1).
        hidden_size: LSTM width (paper: 512).
        num_layers: LSTM layers (paper: 4).
        dropout: Dropout of the LSTM and of the MLP (paper: 0.3).
        mlp_hidden_sizes: Widths of the MLP's three hidden layers (not in the paper).
        test_repeats: Random test subsets for Table 1's mean and standard deviation (paper: 6);
            1 reports the whole test set only. With more, ``test/{clip,video}_{acc,log_loss}_
            {mean,std}`` are logged too (:func:`repeated_test_metrics`).
        test_subset_size: Videos per subset (paper: 100 sequences); ``None`` splits the test set
            into ``test_repeats`` disjoint subsets (:func:`split_test_groups`).
        test_split_seed: Seed of the subsets.
        optimizer: Optimizer factory, given the head's parameters only.
        p_targets: Priors at which minDCF is reported.
        threshold: Probability from which a clip or video is called fake (ACC, F1, ...).
        channels_last, compile: As in :class:`SiameseFeatureExtractor`.
    """

    scored_levels = ("clip",)

    def __init__(
        self,
        head: Head = "lstm",
        extractor: str = "resnet50.tv_in1k",
        pretrained: bool | str = False,
        feature_dim: int | None = 512,
        cnn_widths: Sequence[int] = (32, 64, 128, 256),
        extractor_checkpoint: str | None = None,
        hidden_size: int = 512,
        num_layers: int = 4,
        dropout: float = 0.3,
        mlp_hidden_sizes: Sequence[int] = (512, 256, 128),
        test_repeats: int = 1,
        test_subset_size: int | None = None,
        test_split_seed: int = 0,
        optimizer: OptimizerCallable = paper_adam,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        if head not in ("lstm", "mlp"):
            raise SuiteError(f"model.init_args.head must be 'lstm' or 'mlp', got {head!r}")
        if test_repeats < 1 or (test_subset_size is not None and test_subset_size < 1):
            raise SuiteError(
                "model.init_args.test_repeats and test_subset_size must be >= 1, got "
                f"{test_repeats} and {test_subset_size}"
            )
        super().__init__(("video", "clip"), optimizer, p_targets, threshold)
        self.save_hyperparameters(ignore=["optimizer"])
        self._build_extractor(extractor, pretrained, feature_dim, cnn_widths, channels_last, compile)
        self.extractor.requires_grad_(False)
        # Lightning never calls .train() at the start of fit: it restores each submodule's mode as
        # captured before validation, so the extractor must already be in eval mode here, or its
        # batch norm would track the new batches despite the train() override below.
        self.extractor.eval()
        width = self.extractor.feature_dim
        self.head: nn.Module = (
            LSTMHead(width, hidden_size, num_layers, dropout)
            if head == "lstm"
            else FrameMLPHead(width, mlp_hidden_sizes, dropout)
        )
        self.criterion = nn.BCEWithLogitsLoss()
        self.extractor_checkpoint = extractor_checkpoint
        self.pretrained = pretrained
        self.test_repeats = test_repeats
        self.test_subset_size = test_subset_size
        self.test_split_seed = test_split_seed

    def setup(self, stage: str) -> None:
        # Loaded for `fit` only: a stage-2 checkpoint holds the extractor it was trained on, so
        # `test` and `predict` must not need the stage-1 file; a resumed fit restores its own
        # checkpoint after this hook.
        if stage != "fit":
            return
        if self.extractor_checkpoint is None:
            if not self.pretrained:
                raise SuiteError(
                    f"{_CHECKPOINT_KEY} is not set: stage 2 trains on the features of a stage-1 "
                    "extractor; give its checkpoints/best.ckpt (run the siamese_extractor config first)"
                )
            return
        if not Path(self.extractor_checkpoint).expanduser().is_file():
            raise SuiteError(
                f"{_CHECKPOINT_KEY}: checkpoint file not found: {self.extractor_checkpoint}. Train the "
                "extractor first (experiments/siamese_extractor.yaml) or point at its best.ckpt"
            )
        load_network_weights(
            self.extractor, self.extractor_checkpoint, prefix="extractor.", key=_CHECKPOINT_KEY
        )

    def train(self, mode: bool = True) -> SiameseTemporalLSTM:
        super().train(mode)
        self.extractor.eval()  # frozen: batch norm keeps stage 1's statistics
        return self

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Args: batch with ``frames`` uint8 (N, T, 3, H, W), ``mask`` (N, T). Returns: ``{"clip": (N,)}``."""
        with torch.no_grad():
            features = self.frame_features(batch)
        return {"clip": self.head(features, batch["mask"].bool())}

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        return {"loss": self.criterion(outputs["clip"].float(), batch["label"].float())}

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        probabilities = outputs["clip"].float().sigmoid()
        labels = batch["label"].long()
        index = batch["index"]
        groups = batch.get("video_index", index)
        # The clip metric keeps the video of each clip too: Table 1's subsets are drawn over videos.
        self.metrics[f"{stage}_clip"].update(probabilities, labels, sample_id=index, group_id=groups)
        self.metrics[f"{stage}_video"].update(probabilities, labels, sample_id=index, group_id=groups)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory([p for p in self.parameters() if p.requires_grad])

    def repeated_test_summary(self) -> dict[str, float]:
        """Table 1 over this test epoch's clips: ``{"test/clip_acc_mean": ..., ...}``.

        Collective under DDP (every rank gathers the scores); empty before any test batch.
        """
        metric = self.metrics["test_clip"]
        if not metric.update_count:
            return {}
        with metric.sync_context():
            states = [
                dim_zero_cat(s) for s in (metric.sample_ids, metric.scores, metric.labels, metric.group_ids)
            ]
        _, scores, labels, groups = deduplicate(*states)
        subsets = split_test_groups(
            np.unique(groups.cpu().numpy()), self.test_repeats, self.test_subset_size, self.test_split_seed
        )
        summary = repeated_test_metrics(
            scores, labels, groups, subsets, metric.threshold, metric.log_loss_eps
        )
        return {f"test/{key}": value for key, value in summary.items()}

    def on_test_epoch_end(self) -> None:
        if self.test_repeats > 1:
            self.log_dict(self.repeated_test_summary())
        super().on_test_epoch_end()

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        return {"video_id": list(batch["video_id"]), "clip_score": self(batch)["clip"].float().sigmoid()}
