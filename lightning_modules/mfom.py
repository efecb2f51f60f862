r"""MFoMDetector: Kukanov et al., "Cost Sensitive Optimization of Deepfake Detector" (APSIPA 2020).

The paper trains two baselines with cross-entropy (Sec. IV-A) and fine-tunes the CNN for 5 epochs
with the MFoM objectives (Sec. III, eqs. 6-14; :class:`losses.mfom_loss.MFoMLoss`):

- :class:`MFoMDetector`: a MobileNet trained from scratch on single face frames; a video's score
  is the mean of its frames' probabilities of fake. ``objective`` picks cross-entropy (the
  baseline) or MFoM-EER / MFoM-DCF at ``p_target`` (the fine-tunes), and ``init_from`` starts a
  fine-tune from the baseline's checkpoint.
- :class:`MFoMLSTMDetector`: InceptionV3 features, an LSTM over 20-frame subsequences and the mean
  of the subsequence scores per video (after Güera & Delp, the paper's [14]).

Table I reports EER and minDCF at :math:`P_\text{tar} \in \{0.1, 0.05, 0.01\}` (the shared
``DetectionMetrics``); Fig. 1 draws DET curves, whose points each test run writes to
``<run folder>/det_points.csv`` (:func:`write_det_points`).

Both networks output one logit of fake: cross-entropy on it is BCE (equal to a two-class softmax CE
on ``(0, z)``) and MFoMLoss reads it as the discriminant functions ``(g_real, g_fake) = (0, z)``,
so baseline and fine-tune share one head and the fine-tune loads every baseline weight.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from deepfake_suite.atomic import atomic_write_text
from deepfake_suite.errors import SuiteError
from lightning_modules.backbones import backbone_width, create_backbone
from lightning_modules.base import DetectorModule, FrameDetector, default_adam
from lightning_modules.mfom_networks import FrameClassifier, SequenceClassifier
from losses.mfom_loss import MFoMLoss
from metrics.detection import DEFAULT_P_TARGETS, DetectionMetrics, min_dcf_name
from metrics.functional.aggregation import Reduction
from metrics.functional.curves import det_curve

Objective = Literal["ce", "mfom_eer", "mfom_dcf"]
_OBJECTIVES: tuple[str, ...] = get_args(Objective)
DET_POINTS_FILE = "det_points.csv"


def build_objective(
    objective: Objective,
    p_target: float,
    eta: float = 1.0,
    lam: float = 0.5,
    alpha_init: float = 1.0,
    beta_init: float = 0.0,
) -> nn.Module:
    """The training criterion ``criterion(logits (N,), labels (N,) float) -> 0-dim loss``.

    ``"ce"`` is :class:`torch.nn.BCEWithLogitsLoss`; ``"mfom_eer"`` / ``"mfom_dcf"`` are
    :class:`MFoMLoss` (eq. 14 / eq. 13), whose learnable ``alpha`` and ``beta`` (eq. 8) are then
    parameters of the returned module.
    """
    if objective not in _OBJECTIVES:
        raise SuiteError(f"model.init_args.objective must be one of {_OBJECTIVES}, got {objective!r}")
    if not 0.0 < p_target < 1.0:
        raise SuiteError(f"model.init_args.p_target must be in (0, 1), got {p_target}")
    if objective == "ce":
        return nn.BCEWithLogitsLoss()
    kind: Literal["dcf", "eer"] = "dcf" if objective == "mfom_dcf" else "eer"
    return MFoMLoss(kind, p_target=p_target, eta=eta, lam=lam, alpha_init=alpha_init, beta_init=beta_init)


def load_network_weights(
    net: nn.Module, path: str | Path, prefix: str = "net.", key: str = "model.init_args.init_from"
) -> None:
    """Copy the weights under ``prefix`` of a Lightning checkpoint into ``net`` (no optimizer state).

    Every tensor of ``net`` must be in the checkpoint with the same shape and nothing else may be
    under ``prefix``, so a baseline trained with another backbone or head fails here, naming the
    first offending key, instead of fine-tuning a half-initialised network.

    Args:
        net: The network to fill (``module.net`` of the detector).
        path: A ``.ckpt`` file written by Lightning (``checkpoints/best.ckpt`` of the baseline run).
        prefix: Where the network's weights sit in the checkpoint's ``state_dict``.
        key: Config key named in error messages.

    Raises:
        SuiteError: missing or unreadable file, no ``state_dict``, or weights that do not match.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise SuiteError(f"{key}: checkpoint file not found: {path}. Train the baseline run first.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a corrupt or foreign file
        raise SuiteError(f"{key}: cannot read checkpoint {path}: {error}") from None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise SuiteError(f"{key}: {path} is not a Lightning checkpoint (it has no 'state_dict')")
    weights = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    expected = net.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    mismatched = [k for k in expected if k in weights and weights[k].shape != expected[k].shape]
    if missing:
        raise SuiteError(
            f"{key}: {path} lacks '{prefix}{missing[0]}' ({len(missing)} of the network's "
            f"{len(expected)} tensors missing): was it trained with the same backbone and head?"
        )
    if unexpected:
        raise SuiteError(
            f"{key}: {path} has '{prefix}{unexpected[0]}', which this network does not "
            f"({len(unexpected)} unexpected tensors): was it trained with the same backbone and head?"
        )
    if mismatched:
        name = mismatched[0]
        raise SuiteError(
            f"{key}: '{prefix}{name}' in {path} has shape {tuple(weights[name].shape)}, the network "
            f"expects {tuple(expected[name].shape)} ({len(mismatched)} tensors differ in shape)"
        )
    net.load_state_dict(weights, strict=True)


def det_points_csv(curves: Mapping[str, tuple[Tensor, Tensor]]) -> str:
    """DET points per level as CSV text: ``level,threshold,p_fa,p_miss``, one row per threshold.

    Args:
        curves: ``{level: (scores (N,), labels (N,))}``, labels 1 = fake.

    Returns:
        The CSV text; rows follow :func:`metrics.functional.det_curve` (thresholds ascending, the
        last ``inf`` where everything is called real). Values are written with ``repr`` so they
        read back exactly.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["level", "threshold", "p_fa", "p_miss"])
    for level, (scores, labels) in curves.items():
        p_fa, p_miss, thresholds = det_curve(scores, labels)
        for t, fa, miss in zip(thresholds.tolist(), p_fa.tolist(), p_miss.tolist(), strict=True):
            writer.writerow([level, repr(t), repr(fa), repr(miss)])
    return buffer.getvalue()


def gather_scores(metrics: Mapping[str, DetectionMetrics]) -> dict[str, tuple[Tensor, Tensor]]:
    """``{level: (scores, labels)}`` exactly as each metric computes on, for levels with data.

    Scores are gathered across processes, de-duplicated by sample id and, for a frame-level
    detector's video level, averaged per video. Under DDP every rank must call this: the gather
    is collective.
    """
    curves = {}
    for level, metric in metrics.items():
        if metric.update_count:
            with metric.sync_context():
                curves[level] = metric._gathered()
    return curves


def write_det_points(metrics: Mapping[str, DetectionMetrics], path: str | Path) -> Path:
    """Write the DET points of every metric that has data to ``path``, atomically (paper Fig. 1).

    Args:
        metrics: ``{level: DetectionMetrics}``, e.g. ``{"frame": ..., "video": ...}``.
        path: Output CSV file, in the :func:`det_points_csv` format.
    """
    return atomic_write_text(path, det_points_csv(gather_scores(metrics)))


class _CostSensitiveModule(DetectorModule):
    """What both MFoM-paper detectors share: the objective, ``init_from``, selection and DET points.

    Subclasses build ``self.net`` and set ``score_level``, the level their network scores.
    """

    score_level: str = "frame"
    net: nn.Module

    def __init__(
        self,
        levels: Sequence[str],
        objective: Objective,
        p_target: float,
        eta: float,
        lam: float,
        alpha_init: float,
        beta_init: float,
        init_from: str | None,
        criterion_lr: float | None,
        optimizer: OptimizerCallable,
        p_targets: Sequence[float],
        threshold: float,
        video_aggregation: Reduction,
        det_points_file: str | None,
    ) -> None:
        criterion = build_objective(objective, p_target, eta, lam, alpha_init, beta_init)
        p_targets = tuple(p_targets)
        if objective == "mfom_dcf" and p_target not in p_targets:
            p_targets = (*p_targets, p_target)  # model selection needs minDCF at the trained prior
        super().__init__(levels, optimizer, p_targets, threshold, video_aggregation)
        self.criterion = criterion
        self.objective = objective
        self.p_target = p_target
        self.init_from = init_from
        if criterion_lr is not None and not criterion_lr > 0.0:
            raise SuiteError(f"model.init_args.criterion_lr must be > 0 or null, got {criterion_lr}")
        self.criterion_lr = criterion_lr
        self.det_points_file = det_points_file
        # The evaluation metric the objective stands for: what model selection should minimise.
        metric_name = min_dcf_name(p_target) if objective == "mfom_dcf" else "eer"
        self._selection_key = f"val/video_{metric_name}"

    def setup(self, stage: str) -> None:
        # Loaded for `fit` only: `test`, `predict` and `load_from_checkpoint` get every weight from
        # their own checkpoint and must not need the baseline's file; a resumed fit (`--ckpt_path`)
        # restores its checkpoint after this hook, so it is not reset to the baseline either.
        if stage == "fit" and self.init_from is not None:
            load_network_weights(self.net, self.init_from)

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        # float32: under bf16 autocast the smoothed error counts of MFoM would lose their small terms.
        logits = outputs[self.score_level].float()
        return {"loss": self.criterion(logits, batch["label"].float())}

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss = super().training_step(batch, batch_idx)
        if isinstance(self.criterion, MFoMLoss):  # eq. 8's scale and shift, learnt with the network
            self.log("train/mfom_alpha", self.criterion.alpha.detach(), on_step=False, on_epoch=True)
            self.log("train/mfom_beta", self.criterion.beta.detach(), on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # The criterion's alpha and beta (eq. 8) train with the network, in their own parameter
        # group when criterion_lr is set; a frozen feature extractor is left out.
        trainable = [(name, p) for name, p in self.named_parameters() if p.requires_grad]
        of_criterion = [p for name, p in trainable if name.startswith("criterion.")]
        if self.criterion_lr is None or not of_criterion:
            return self.optimizer_factory([p for _, p in trainable])
        of_network = [p for name, p in trainable if not name.startswith("criterion.")]
        return self.optimizer_factory(
            [{"params": of_network}, {"params": of_criterion, "lr": self.criterion_lr}]
        )

    def on_validation_epoch_end(self) -> None:
        metric = self.metrics["val_video"]
        if not self.trainer.sanity_checking and metric.update_count:
            # ``val/video_objective``: minDCF at p_target for MFoM-DCF, EER otherwise (lower is
            # better), so one ModelCheckpoint monitor follows a --model.init_args.p_target override.
            self.log("val/video_objective", metric.compute()[self._selection_key])
        super().on_validation_epoch_end()

    def on_test_epoch_end(self) -> None:
        if self.det_points_file and not self.trainer.sanity_checking:
            test_metrics = {
                key.removeprefix("test_"): metric
                for key, metric in self.metrics.items()
                if key.startswith("test_")
            }
            curves = gather_scores(test_metrics)  # every rank: the gather is collective
            # trainer.log_dir broadcasts from rank 0: read on every rank, or the others never answer.
            run_dir = Path(self.trainer.log_dir or self.trainer.default_root_dir)
            if self.trainer.is_global_zero:
                atomic_write_text(run_dir / self.det_points_file, det_points_csv(curves))
        super().on_test_epoch_end()


class MFoMDetector(_CostSensitiveModule, FrameDetector):
    """The paper's CNN: MobileNet on single faces, CE baseline or MFoM-EER/DCF fine-tune.

    Batches come from :class:`datamodules.FrameDataModule` (``frames`` uint8 (N, 3, S, S),
    ``label`` (N,), ``video_index`` (N,), ``index`` (N,)); video scores are the mean of the frame
    probabilities (``video_aggregation``).

    Args:
        backbone: timm model name. The paper uses MobileNet (Howard et al. 2017, its [26]), i.e.
            MobileNetV1: ``mobilenetv1_100``.
        pretrained: ``False`` for the paper ("we chose to train one from scratch"), ``True`` or a
            local weight file (see :func:`create_backbone`).
        dropout: Dropout before the classifier (the paper does not say; 0 keeps timm's model).
        objective: ``"ce"`` (baseline), ``"mfom_eer"`` (eq. 14) or ``"mfom_dcf"`` (eq. 13).
        p_target: :math:`P_\\text{tar}` of MFoM-DCF (0.1, 0.05 or 0.01 in Table I); also picks the
            minDCF that ``val/video_objective`` reports.
        eta: Smoothing constant of eq. 6 (paper: 1).
        lam: Lagrange multiplier of MFoM-EER, eq. 14 (paper: 0.5).
        alpha_init: Initial scale of the smooth error counter, eq. 8 (trained with the network).
        beta_init: Initial shift of eq. 8 (trained with the network).
        init_from: Lightning checkpoint whose network weights start a ``fit`` (the CE baseline's
            ``checkpoints/best.ckpt`` for a fine-tune); optimizer state and the criterion's
            parameters are not taken from it.
        criterion_lr: Learning rate of the criterion's alpha and beta, in their own parameter group;
            ``None`` trains them at the optimizer's rate (the paper says only that they are learnt
            by backpropagation; at a fine-tuning rate such as 1e-5 they barely move).
        optimizer: Optimizer factory; it receives the network's and the criterion's parameters.
        p_targets: Priors at which minDCF is reported (Table I: 0.1, 0.05, 0.01).
        threshold: Probability from which ACC/precision/recall/F1 call a sample fake.
        video_aggregation: ``"mean"`` (as in the paper) or ``"max"`` of frame probabilities.
        channels_last: Run the CNN in channels-last memory format (faster on GPUs).
        compile: ``torch.compile`` the CNN in place (state-dict keys stay unchanged, so
            checkpoints and ``init_from`` work across compiled and eager runs).
        det_points_file: File name in the run folder for the test set's DET points; ``None``
            writes nothing.
    """

    score_level = "frame"
    net: FrameClassifier

    def __init__(
        self,
        backbone: str = "mobilenetv1_100",
        pretrained: bool | str = False,
        dropout: float = 0.0,
        objective: Objective = "ce",
        p_target: float = 0.1,
        eta: float = 1.0,
        lam: float = 0.5,
        alpha_init: float = 1.0,
        beta_init: float = 0.0,
        init_from: str | None = None,
        criterion_lr: float | None = None,
        optimizer: OptimizerCallable = default_adam,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        video_aggregation: Reduction = "mean",
        channels_last: bool = False,
        compile: bool = False,
        det_points_file: str | None = DET_POINTS_FILE,
    ) -> None:
        super().__init__(
            ("video", "frame"),
            objective,
            p_target,
            eta,
            lam,
            alpha_init,
            beta_init,
            init_from,
            criterion_lr,
            optimizer,
            p_targets,
            threshold,
            video_aggregation,
            det_points_file,
        )
        self.save_hyperparameters(ignore=["optimizer"])
        cnn, feature_dim = _prepare_backbone(backbone, pretrained, channels_last)
        self.set_pixel_stats(getattr(cnn, "pretrained_cfg", {}))
        self.net = FrameClassifier(cnn, feature_dim, dropout)
        if compile:
            cnn.compile()
        self.channels_last = channels_last

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Args: batch with ``frames`` uint8 (N, 3, H, W). Returns: ``{"frame": (N,) logits}``."""
        frames = self.normalize(batch["frames"])
        if self.channels_last:
            frames = frames.contiguous(memory_format=torch.channels_last)
        return {"frame": self.net(frames)}


class MFoMLSTMDetector(_CostSensitiveModule):
    """The paper's LSTM baseline: InceptionV3 features, an LSTM per subsequence, mean per video.

    Each sample is one subsequence of frames (``frames`` uint8 (N, T, 3, S, S), ``mask`` (N, T)),
    scored as a whole (level ``clip``); the ``video`` level averages the subsequence probabilities
    of each video, grouped by ``video_index`` when the batch has it and by ``index`` otherwise.

    The paper cuts each video into subsequences of 20 *consecutive* frames and averages their
    scores: :class:`datamodules.ClipDataModule` with ``clip_sampling: consecutive`` and
    ``clips_per_video`` gives those windows, all carrying their video's ``video_index``.

    Args:
        backbone: timm model name (paper: InceptionV3 pretrained on ImageNet, as in Güera & Delp's
            Keras model: ``inception_v3.tf_in1k``, 299x299 inputs).
        pretrained: ``True`` (paper), ``False`` or a local weight file.
        hidden_size: LSTM width (Güera & Delp: 2048).
        fc_size: Fully-connected layer after the LSTM (Güera & Delp: 512).
        dropout: Dropout on the LSTM input and after the fully-connected layer (0.5).
        freeze_backbone: Use the CNN as a fixed feature extractor instead of training it too.
        objective, p_target, eta, lam, alpha_init, beta_init, init_from, criterion_lr, optimizer, p_targets,
        threshold, video_aggregation, channels_last, compile, det_points_file: as in
            :class:`MFoMDetector` (the paper trains this baseline with ``"ce"`` only).
    """

    scored_levels = ("clip",)
    score_level = "clip"
    net: SequenceClassifier

    def __init__(
        self,
        backbone: str = "inception_v3.tf_in1k",
        pretrained: bool | str = True,
        hidden_size: int = 2048,
        fc_size: int = 512,
        dropout: float = 0.5,
        freeze_backbone: bool = False,
        objective: Objective = "ce",
        p_target: float = 0.1,
        eta: float = 1.0,
        lam: float = 0.5,
        alpha_init: float = 1.0,
        beta_init: float = 0.0,
        init_from: str | None = None,
        criterion_lr: float | None = None,
        optimizer: OptimizerCallable = default_adam,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        video_aggregation: Reduction = "mean",
        channels_last: bool = False,
        compile: bool = False,
        det_points_file: str | None = DET_POINTS_FILE,
    ) -> None:
        super().__init__(
            ("video", "clip"),
            objective,
            p_target,
            eta,
            lam,
            alpha_init,
            beta_init,
            init_from,
            criterion_lr,
            optimizer,
            p_targets,
            threshold,
            video_aggregation,
            det_points_file,
        )
        self.save_hyperparameters(ignore=["optimizer"])
        cnn, feature_dim = _prepare_backbone(backbone, pretrained, channels_last)
        self.set_pixel_stats(getattr(cnn, "pretrained_cfg", {}))
        self.net = SequenceClassifier(cnn, feature_dim, hidden_size, fc_size, dropout, freeze_backbone)
        if compile:
            cnn.compile()
        self.channels_last = channels_last

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Args: batch with ``frames`` uint8 (N, T, 3, H, W) and ``mask`` (N, T).

        Returns:
            ``{"clip": (N,) logits}``, one per subsequence.
        """
        frames = self.normalize(batch["frames"])
        if self.channels_last:
            n, t = frames.shape[:2]
            frames = frames.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (n, t))
        return {"clip": self.net(frames, batch["mask"])}

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        probabilities = outputs["clip"].float().sigmoid()
        labels = batch["label"].long()
        index = batch["index"]
        self.metrics[f"{stage}_clip"].update(probabilities, labels, sample_id=index)
        self.metrics[f"{stage}_video"].update(
            probabilities, labels, sample_id=index, group_id=batch.get("video_index", index)
        )

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        return {"video_id": list(batch["video_id"]), "clip_score": self(batch)["clip"].float().sigmoid()}


def _prepare_backbone(name: str, pretrained: bool | str, channels_last: bool) -> tuple[nn.Module, int]:
    """The timm feature extractor and the width of what it returns."""
    cnn = create_backbone(name, pretrained)
    if channels_last:
        cnn = cnn.to(memory_format=torch.channels_last)  # weights too, or convolutions fall back
    return cnn, backbone_width(cnn)
