"""What every detector shares: pixel normalisation, exact metrics per level, logging, optimizer.

Every detector answers one interface (DESIGN.md):

- ``forward(batch) -> dict[str, Tensor]`` of logits of fake per level (``"frame"``, ``"video"``);
- ``compute_loss(outputs, batch) -> dict[str, Tensor]`` with the training objective under ``"loss"``
  and any parts worth logging beside it;
- ``update_metrics(stage, outputs, batch)`` feeding :class:`metrics.DetectionMetrics`, logged at
  the end of each validation/test epoch as ``{stage}/{level}_{name}`` (``val/video_auc``,
  ``test/frame_eer``, ``test/video_min_dcf_001`` ...);
- ``predict_step`` rows keyed by ``video_id``.

Metrics get the dataset ``index`` of each sample (``sample_id``), so the repeats that
``DistributedSampler`` pads ranks with count once and a multi-GPU test equals a one-GPU test.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor, nn

from deepfake_suite.atomic import atomic_write_text
from metrics.detection import DEFAULT_P_TARGETS, DetectionMetrics, GatheredScores
from metrics.functional.aggregation import Reduction
from metrics.functional.curves import det_curve, roc_curve

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Shown in the progress bar; everything else goes to the logger only.
_PROGRESS_METRICS = ("video_auc", "video_eer")
#: Per-level test scores in the run folder (``test_scores_video.csv``): what the figures are drawn from.
TEST_SCORES_FILE = "test_scores_{level}.csv"
#: Curves sent to W&B are thinned to this many points: a chart of every threshold of a large test
#: set is slow to draw and adds nothing at screen resolution.
WANDB_CURVE_POINTS = 500
#: Rates are clipped into [eps, 1 - eps] before the probit of a DET curve (0 and 1 map to infinity).
_DET_CLIP = 1e-4
#: Checkpoint entry with the global random generators' states (see :func:`rng_states`).
RNG_STATES_KEY = "rng_states"


def rng_states() -> dict[str, Any]:
    """The global torch (CPU and CUDA), numpy and Python random states, as checkpoint-safe values.

    Lightning saves no random state, so a fit resumed from a checkpoint would draw other shuffles
    (``shuffle=True`` loaders seed each epoch from torch's generator), dropout masks and worker
    seeds than the run it continues. Only tensors, ints, floats and tuples: checkpoints stay
    loadable with ``torch.load(..., weights_only=True)``.
    """
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)  # type: ignore[misc]
    version, python_state, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": tuple(torch.cuda.get_rng_state_all()) if torch.cuda.is_initialized() else (),
        "numpy": (
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            int(position),
            int(has_gauss),
            float(cached_gaussian),
        ),
        "python": (version, tuple(python_state), gauss_next),
    }


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`rng_states` returned (CUDA states only when as many devices are visible)."""
    torch.set_rng_state(states["torch"])
    cuda = list(states.get("cuda", ()))
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    keys, position, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    version, python_state, gauss_next = states["python"]
    random.setstate((version, tuple(python_state), gauss_next))


#: Optional entry of :meth:`DetectorModule.compute_loss`'s dict in val/test: the number of samples
#: its losses average over, when not the whole batch (0: the batch adds nothing to the epoch mean).
LOSS_BATCH_SIZE = "_loss_batch_size"


def loss_key(stage: str, name: str) -> str:
    """Logged name of a loss or loss part: ``val/loss``, ``val/loss_video``, ``val/loss_video_auc``.

    Parts carry a ``loss_`` prefix so that they can never collide with a metric: the AUC-loss
    part of the video level would otherwise be logged as ``val/video_auc``, the key of the
    video-level AUC that selects checkpoints.
    """
    if name == "loss":
        return f"{stage}/loss"
    return f"{stage}/loss_{name.removesuffix('_loss')}"


def format_test_scores(gathered: GatheredScores, video_ids: Sequence[str] | None = None) -> str:
    """CSV text of one level's test scores: ``<id_kind>,label,score[,video_id]``, one row per sample or video.

    The first column is named after what the ids are (``sample_id``, ``group_id`` for a frame-level
    detector's videos, or ``position``); ``score`` is the probability of fake, written with ``repr``
    so that it reads back exactly; ``video_id`` (when the data can name the rows) joins the file
    with the manifest and other tools' outputs.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([gathered.id_kind, "label", "score", *(["video_id"] if video_ids is not None else [])])
    ids, scores, labels = (t.detach().cpu().tolist() for t in gathered[:3])
    names = list(video_ids) if video_ids is not None else None
    if names is not None and len(names) != len(ids):
        raise ValueError(f"{len(names)} video ids for {len(ids)} score rows")
    for row, (sample, label, score) in enumerate(zip(ids, labels, scores, strict=True)):
        writer.writerow(
            [int(sample), int(label), repr(float(score)), *([names[row]] if names is not None else [])]
        )
    return buffer.getvalue()


def thinned(count: int, max_points: int) -> Tensor:
    """Indices of at most ``max_points`` evenly spaced points of ``count``, first and last kept."""
    if count <= max_points:
        return torch.arange(count)
    return torch.linspace(0, count - 1, max_points, dtype=torch.float64).round().long().unique()


def curve_points(scores: Tensor, labels: Tensor, max_points: int = WANDB_CURVE_POINTS) -> dict[str, Tensor]:
    """ROC and DET points of one level, thinned to ``max_points`` each, for logging.

    Args:
        scores: (N,) probabilities of fake; labels: (N,) 1 = fake, both classes present.

    Returns:
        ``fpr``, ``tpr`` (ROC, thresholds descending as in scikit-learn), ``p_fa``, ``p_miss`` (DET,
        thresholds ascending) and ``probit_p_fa``, ``probit_p_miss``: the DET axes' normal deviates,
        rates clipped into [1e-4, 1 - 1e-4]. Float64 CPU tensors.
    """
    fpr, tpr, _ = roc_curve(scores.detach().cpu(), labels.detach().cpu())
    p_fa, p_miss, _ = det_curve(scores.detach().cpu(), labels.detach().cpu())
    roc, det = thinned(len(fpr), max_points), thinned(len(p_fa), max_points)
    p_fa, p_miss = p_fa[det], p_miss[det]
    probit = [torch.special.ndtri(r.clamp(_DET_CLIP, 1.0 - _DET_CLIP)) for r in (p_fa, p_miss)]
    return {
        "fpr": fpr[roc],
        "tpr": tpr[roc],
        "p_fa": p_fa,
        "p_miss": p_miss,
        "probit_p_fa": probit[0],
        "probit_p_miss": probit[1],
    }


def wandb_curve_plots(prefix: str, scores: Tensor, labels: Tensor) -> dict[str, Any]:
    """``{prefix}_roc`` and ``{prefix}_det`` W&B line plots (``wandb.plot.line`` of a ``wandb.Table``)."""
    import wandb

    points = {name: values.tolist() for name, values in curve_points(scores, labels).items()}
    roc_columns: list[str | int] = ["fpr", "tpr"]
    det_columns: list[str | int] = ["p_fa", "p_miss", "probit_p_fa", "probit_p_miss"]
    roc, det = (
        wandb.Table(
            columns=columns, data=[list(row) for row in zip(*(points[str(c)] for c in columns), strict=True)]
        )
        for columns in (roc_columns, det_columns)
    )
    return {
        f"{prefix}_roc": wandb.plot.line(roc, "fpr", "tpr", title=f"{prefix} ROC"),
        f"{prefix}_det": wandb.plot.line(
            det, "probit_p_fa", "probit_p_miss", title=f"{prefix} DET (normal deviates of P_fa, P_miss)"
        ),
    }


def default_adam(params: Iterable[Any]) -> torch.optim.Optimizer:
    """Adam at 1e-4, what most of the papers here train with."""
    return torch.optim.Adam(params, lr=1e-4)


class DetectorModule(LightningModule):
    """Base LightningModule of the suite's detectors.

    Args:
        levels: Levels the detector scores, e.g. ``("frame", "video")``.
        optimizer: Optimizer factory, called with the parameters to train.
        p_targets: Priors of a fake at which minDCF is reported.
        threshold: Probability from which ACC, precision, recall and F1 call a sample fake.
        video_aggregation: How frame-level detectors turn frame probabilities into a video's score
            (``mean``, as the papers do, or ``max``).
    """

    #: Levels the network scores directly; other levels are aggregated from these.
    scored_levels: tuple[str, ...] = ("frame", "video")

    def __init__(
        self,
        levels: Sequence[str],
        optimizer: OptimizerCallable = default_adam,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        video_aggregation: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.optimizer_factory = optimizer
        self.video_aggregation = video_aggregation
        self.metrics: dict[str, DetectionMetrics] = nn.ModuleDict(  # type: ignore[assignment]
            {
                f"{stage}_{level}": DetectionMetrics(
                    f"{stage}/{level}_",
                    p_targets,
                    threshold,
                    # A frame-level detector's video level is the aggregation of its frames.
                    aggregate=video_aggregation
                    if level == "video" and "video" not in self.scored_levels
                    else None,
                )
                for stage in ("val", "test")
                for level in levels
            }
        )
        self.pixel_mean: Tensor
        self.pixel_std: Tensor
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN) * 255.0, persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD) * 255.0, persistent=False)

    def set_pixel_stats(self, pretrained_cfg: dict[str, Any]) -> None:
        """Normalise with the statistics the backbone was trained with (timm's ``pretrained_cfg``)."""
        mean = torch.tensor(pretrained_cfg.get("mean", IMAGENET_MEAN), dtype=torch.float32)
        std = torch.tensor(pretrained_cfg.get("std", IMAGENET_STD), dtype=torch.float32)
        self.pixel_mean = mean.to(self.pixel_mean.device) * 255.0
        self.pixel_std = std.to(self.pixel_std.device) * 255.0

    def normalize(self, frames: Tensor) -> Tensor:
        """uint8 frames (..., 3, H, W) to normalised float, on the device (loaders stay uint8)."""
        shape = (3, 1, 1)
        return (frames.float() - self.pixel_mean.view(shape)) / self.pixel_std.view(shape)

    # ------------------------------------------------------------------ interface for subclasses

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        """The training objective under ``"loss"``, plus parts worth logging."""
        raise NotImplementedError

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        """Feed this batch's probabilities of fake to ``self.metrics[f"{stage}_{level}"]``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared loop

    def _step(self, batch: dict[str, Any], stage: str) -> Tensor:
        outputs = self(batch)
        losses = dict(self.compute_loss(outputs, batch))
        # A loss over part of the batch says how many samples it averages (see LOSS_BATCH_SIZE).
        batch_size = int(losses.pop(LOSS_BATCH_SIZE, len(batch["label"])))
        # Under DDP each rank sees its shard: val/test losses are averaged over ranks so that every
        # rank (and the checkpoint callback) agrees on val/loss. DistributedSampler's padding
        # repeats still count in that mean; the exact metrics (AUC, EER, ...) drop them.
        sync = stage != "train"
        for name, value in losses.items():
            main = name == "loss"
            self.log(
                loss_key(stage, name),
                value,
                prog_bar=main,
                on_step=main and stage == "train",
                on_epoch=True,
                batch_size=batch_size,
                sync_dist=sync,
            )
        if stage in ("val", "test"):
            self.update_metrics(stage, outputs, batch)
        return losses["loss"]

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._step(batch, "test")

    def _log_epoch_metrics(self, stage: str) -> None:
        for key, metric in self.metrics.items():
            if not key.startswith(f"{stage}_"):
                continue
            # The sanity check sees a couple of batches, often of one class: nothing to report.
            if not self.trainer.sanity_checking and metric.update_count:
                values = metric.compute()
                shown = {f"val/{name}" for name in _PROGRESS_METRICS}
                self.log_dict({k: v for k, v in values.items() if k in shown}, prog_bar=True)
                self.log_dict({k: v for k, v in values.items() if k not in shown})
                # A detector's own metric class (a bagged ensemble's vote) has no per-sample scores.
                if stage == "test" and isinstance(metric, DetectionMetrics):
                    self._dump_test_scores(key.removeprefix("test_"), metric)
            metric.reset()

    def score_video_ids(self, level: str, gathered: GatheredScores) -> list[str] | None:
        """The ``video_id`` of each test-score row of ``level``, from the datamodule; ``None`` if unknown.

        Group ids are video indices and sample ids test-dataset items, as :meth:`update_metrics`
        passes them; a detector whose sample ids mean something else overrides this.
        """
        lookup = getattr(getattr(self.trainer, "datamodule", None), "test_video_ids", None)
        if lookup is None:
            return None
        return lookup(gathered.id_kind, gathered.ids.detach().cpu().tolist())

    def _dump_test_scores(self, level: str, metric: DetectionMetrics) -> None:
        """Write ``test_scores_<level>.csv`` to the run folder and log the level's curves to W&B."""
        with metric.sync_context():  # every rank: the gather is collective
            gathered = metric.gathered()
        run_dir = Path(self.trainer.log_dir or self.trainer.default_root_dir)  # a broadcast: every rank
        if not self.trainer.is_global_zero:
            return
        text = format_test_scores(gathered, self.score_video_ids(level, gathered))
        atomic_write_text(run_dir / TEST_SCORES_FILE.format(level=level), text)
        loggers = [logger for logger in self.trainer.loggers if isinstance(logger, WandbLogger)]
        # Curves need both classes; a one-class test set still gets its scores file.
        if loggers and gathered.labels.unique().numel() == 2:
            plots = wandb_curve_plots(f"test/{level}", gathered.scores, gathered.labels)
            for logger in loggers:
                logger.experiment.log(plots)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def on_train_epoch_start(self) -> None:
        """Tell the datamodule the epoch: its augmentations are seeded per (seed, epoch, item)."""
        datamodule = self.trainer.datamodule
        if hasattr(datamodule, "set_epoch"):
            datamodule.set_epoch(self.current_epoch)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Save the random generators' states: a resumed fit then draws what the unbroken one drew.

        Under DDP rank 0 saves its states and every rank restores them; ranks seeded alike that
        make the same draws hold the same states anyway (Lightning's samplers and loader seeds
        are shared from rank 0).
        """
        checkpoint[RNG_STATES_KEY] = rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the random states when ``fit`` resumes (``test`` and ``load_from_checkpoint`` do not)."""
        states = checkpoint.get(RNG_STATES_KEY)
        if states is not None and self._trainer is not None and self._trainer.state.fn == TrainerFn.FITTING:
            set_rng_states(states)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())


class FrameDetector(DetectorModule):
    """A detector that scores single frames; its video score aggregates the frames of a video.

    Batches come from :class:`datamodules.FrameDataModule`: ``frames`` uint8 (N, 3, S, S),
    ``label`` (N,) the video's label, ``video_index`` (N,) an integer per video, ``video_id`` and
    ``index`` (N,). ``forward`` returns ``{"frame": (N,) logits of fake}``.
    """

    scored_levels = ("frame",)

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        probabilities = self.fake_probability(outputs)
        labels = batch["label"].long()
        self.metrics[f"{stage}_frame"].update(probabilities, labels, sample_id=batch["index"])
        self.metrics[f"{stage}_video"].update(
            probabilities, labels, sample_id=batch["index"], group_id=batch["video_index"]
        )

    def fake_probability(self, outputs: dict[str, Tensor]) -> Tensor:
        """(N,) probability of fake of each frame; a multi-class head overrides this."""
        return outputs["frame"].float().sigmoid()

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        return {
            "video_id": list(batch["video_id"]),
            "frame_score": self.fake_probability(self(batch)),
        }
