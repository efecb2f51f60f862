"""AttributionXception: Korshunov, Jain and Marcel, "Custom attribution loss for improving
generalization and interpretability of deepfake detection", ICASSP 2022.

One Xception (timm ``legacy_xception``, ImageNet weights) scores single face frames; four tops
compared in the paper are selected by ``head`` (Sec. 2):

- ``binary``: one logit, binary cross-entropy;
- ``attribution``: one logit per class (real + each manipulation method of the training
  super-set), cross-entropy on ``method_label``; fake score ``1 - p(real)``;
- ``triplet``: 64-d embedding, semi-hard triplet loss on the attribution classes (the paper's
  embeddings are turned "into ten classes", so the triplets are mined on classes, not real/fake);
- ``arcface``: 64-d embedding, ArcFaceMod (margin 0.6 rad for real, 0.4 rad for every fake
  class) on the attribution classes; fake score from the loss's class centres
  (:meth:`losses.ArcFaceMod.fake_logit`).

Video scores average frame probabilities (``video_aggregation``).

What is fitted on what (no test leak)
-------------------------------------
Everything a test number depends on besides the network comes from the **validation** set of the
epoch whose checkpoint is tested, the "validation reference": its labels, videos, fake scores
and (metric heads) embeddings, kept at the end of every validation epoch and saved in the
checkpoint. Test embeddings are scored, never fitted:

- TripletLoss's own fake score: distance to class centroids of the validation embeddings
  (:class:`NearestCentroidScorer`). During validation the centroids of that same epoch's
  validation embeddings score them (validation metrics only; model selection uses ``val/loss``);
- the kNN (k = 14), logistic regression (C = 0.001) and SVM (C = 0.01) of Sec. 2.1, fitted on the
  validation embeddings (metric heads; :class:`EmbeddingClassifiers`);
- every HTER threshold: on validation scores, where ``hter_p_miss`` (10 %) of the fakes are
  accepted as real (the paper calls real the positive class: its "FPR of 10 %" is our P_miss),
  applied unchanged to every test set. The classifiers' validation scores are out-of-fold by
  video (``classifier_folds``), since a classifier scoring its own training frames (kNN: the
  frame itself and its video's other frames) would set a threshold far too optimistic.

Model selection uses ``val/loss``, as the paper does. For the triplet head that loss is computed
at the end of the epoch on the validation embeddings cut into shuffled batches of the training
batch size: sequential evaluation batches mostly hold frames of one method, hence no triplet.

A test without such a reference (no checkpoint, or one saved outside a validation end) first
scores the datamodule's validation split, with a warning.

Test keys, besides the shared ``test/{frame,video}_{auc,eer,min_dcf_*,acc,...}``:

- ``test/{level}_{hter,far,frr}``: the head's own fake score at the validation threshold;
  FAR = fakes accepted as real (the paper's FPR), FRR = reals flagged fake (the paper's FNR);
- ``test/{level}_{auc,hter,far,frr}_{knn,logreg,svm}``: the embedding classifiers (metric heads);
- ``test/<dataset>/{level}_{auc,hter,far,frr}[_{knn,logreg,svm}]``: each source dataset of the
  test split on its own (Tables 1 and 2), ``<dataset>`` being the first part of ``video_id``.

``level`` is ``frame`` or ``video``. A t-SNE of the test embeddings (the layer before last for
``binary``/``attribution``), coloured by predicted class and marked by true class (Figs. 2-3),
is written to ``<run folder>/tsne_test.png`` (and ``tsne_test_<dataset>.png`` per dataset) and
logged to W&B when the logger is a ``WandbLogger``.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.utilities import move_data_to_device, rank_zero_warn
from torch import Tensor, nn

from deepfake_suite.errors import SuiteError
from lightning_modules.attribution_heads import (
    HEADS,
    METRIC_HEADS,
    AttributionNet,
    Head,
    fake_log_odds,
    head_width,
)
from lightning_modules.backbones import backbone_width, create_backbone
from lightning_modules.base import LOSS_BATCH_SIZE, FrameDetector
from lightning_modules.embedding_classifiers import (
    CLASSIFIER_NAMES,
    EmbeddingClassifiers,
    NearestCentroidScorer,
)
from lightning_modules.eval_epoch import EpochCollector, shuffled_triplet_loss
from losses.arcface_mod import ArcFaceMod
from losses.semi_hard_triplet import SemiHardTripletLoss
from metrics import functional as MF
from metrics.detection import DEFAULT_P_TARGETS
from metrics.functional.aggregation import Reduction, aggregate_by_group

#: Sec. 2.2: the threshold where 10 % of the fake videos are accepted as real.
PAPER_HTER_P_MISS = 0.10
REFERENCE_KEY = "attribution_val_reference"
LEVELS = ("frame", "video")


def paper_adam(params: Iterable[Any]) -> torch.optim.Optimizer:
    """Adam with the paper's learning rate, 0.0002 (Sec. 2)."""
    return torch.optim.Adam(params, lr=2e-4)


def dataset_of(video_id: str) -> str:
    """Source dataset of a video: the first part of its id (``dataset/method/compression/name``)."""
    return video_id.split("/", 1)[0]


def operating_point(scores: Tensor, labels: Tensor, threshold: Tensor) -> dict[str, float]:
    """AUC, and FAR, FRR, HTER at a fixed threshold (fake iff score >= threshold).

    FAR (fakes accepted as real) needs fakes and FRR (reals flagged fake) needs reals; each is
    reported when its class is present, so a fakes-only test set still shows its FAR. AUC and
    HTER need both classes and are NaN otherwise, as they are with a NaN threshold (validation
    without both classes).

    Args:
        scores: (N,) fake scores.
        labels: (N,) 1 = fake.
        threshold: 0-dim threshold set on validation scores.
    """
    nan = float("nan")
    is_fake = labels.bool()
    called_fake = scores >= threshold
    far = float((~called_fake[is_fake]).double().mean()) if bool(is_fake.any()) else nan
    frr = float(called_fake[~is_fake].double().mean()) if bool((~is_fake).any()) else nan
    if bool(torch.isnan(threshold)):
        far = frr = nan
    return {"auc": float(MF.auc(scores, labels)), "far": far, "frr": frr, "hter": (far + frr) / 2}


class AttributionXception(FrameDetector):
    """The attribution paper's detector with its four heads, as a LightningModule.

    Args:
        head: ``binary``, ``attribution``, ``triplet`` or ``arcface`` (see the module docstring).
        num_classes: Attribution classes, real included (paper: 10, i.e. real + 9 methods). Must
            equal ``len(datamodule.class_names)``; checked at setup. Unused by ``binary``.
        backbone: timm model name (paper: ``legacy_xception`` with ImageNet weights).
        pretrained: ``True``, ``False`` or a local weight file (see :func:`create_backbone`).
        embedding_dim: Embedding size of the metric heads (paper: 64).
        normalize_embedding: L2-normalise the embeddings (FaceNet's convention for triplets; the
            ArcFace loss is blind to their norm).
        triplet_margin: Semi-hard triplet margin on squared distances (TF-Addons' default 1.0;
            the paper gives none).
        arcface_margin_real: ArcFaceMod margin of the real class, radians (paper: 0.6).
        arcface_margin_fake: ArcFaceMod margin of every fake class, radians (paper: 0.4).
        arcface_scale: ArcFace scale s (paper: not given; ArcFace's 64).
        knn_k: kNN neighbours (paper: 14).
        logreg_c: Logistic regression ``C`` (paper: 0.001).
        svm_c: SVM ``C`` (paper: 0.01).
        svm_kernel: SVM kernel (paper: not given; scikit-learn's ``rbf``).
        classifier_folds: Folds (by video) of the classifiers' out-of-fold validation scores
            that their thresholds are set on; 1 uses in-sample scores.
        hter_p_miss: Fraction of validation fakes accepted as real at the HTER threshold
            (paper: 0.10).
        tsne: Draw the t-SNE of the test embeddings at the end of ``test``.
        tsne_max_points: Test frames drawn at most per t-SNE (a random subset).
        tsne_per_dataset: Also one t-SNE per source dataset when the test split has several.
        seed: Seed of the classifiers and the t-SNE.
        optimizer: Optimizer factory (paper: Adam, lr 0.0002).
        p_targets: Target priors for minDCF.
        threshold: Probability from which ACC/precision/recall/F1 call a frame fake.
        video_aggregation: ``mean`` (paper) or ``max`` of frame probabilities per video.
        channels_last: Channels-last memory format for the CNN (GPU speed).
        compile: ``torch.compile`` the CNN (in place: checkpoints keep their keys).
    """

    def __init__(
        self,
        head: Head = "attribution",
        num_classes: int = 10,
        backbone: str = "legacy_xception",
        pretrained: bool | str = True,
        embedding_dim: int = 64,
        normalize_embedding: bool = True,
        triplet_margin: float = 1.0,
        arcface_margin_real: float = 0.6,
        arcface_margin_fake: float = 0.4,
        arcface_scale: float = 64.0,
        knn_k: int = 14,
        logreg_c: float = 1e-3,
        svm_c: float = 1e-2,
        svm_kernel: str = "rbf",
        classifier_folds: int = 5,
        hter_p_miss: float = PAPER_HTER_P_MISS,
        tsne: bool = True,
        tsne_max_points: int = 5000,
        tsne_per_dataset: bool = True,
        seed: int = 0,
        optimizer: OptimizerCallable = paper_adam,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        video_aggregation: Reduction = "mean",
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        if head not in HEADS:
            raise SuiteError(f"model.init_args.head must be one of {', '.join(HEADS)}, got {head!r}")
        if not 0.0 <= hter_p_miss <= 1.0:
            raise SuiteError(f"model.init_args.hter_p_miss must be in [0, 1], got {hter_p_miss}")
        try:
            width = head_width(head, num_classes, embedding_dim)
            # Built before the backbone, so a bad value fails without loading weights.
            criterion = self._criterion(
                head, num_classes, embedding_dim, triplet_margin, arcface_margin_real, arcface_margin_fake,
                arcface_scale,
            )  # fmt: skip
            new_classifiers = functools.partial(
                EmbeddingClassifiers, knn_k, logreg_c, svm_c, svm_kernel, classifier_folds, seed
            )
            new_classifiers()
        except ValueError as error:
            raise SuiteError(f"model.init_args: {error}") from None
        super().__init__(LEVELS, optimizer, p_targets, threshold, video_aggregation)
        self.save_hyperparameters(ignore=["optimizer"])
        cnn = create_backbone(backbone, pretrained)
        if channels_last:
            cnn = cnn.to(memory_format=torch.channels_last)  # weights too, or convs fall back
        if compile:
            cnn.compile()  # in place: the state-dict keys stay those of the plain module
        feature_dim = backbone_width(cnn)
        self.set_pixel_stats(getattr(cnn, "pretrained_cfg", {}))
        self.net = AttributionNet(
            cnn, feature_dim, width, normalize=head in METRIC_HEADS and normalize_embedding
        )
        self.criterion = criterion
        self.head = head
        self.num_classes = num_classes
        self.channels_last = channels_last
        self._new_classifiers = new_classifiers
        self.hter_p_miss = hter_p_miss
        self.tsne = tsne
        self.tsne_max_points = tsne_max_points
        self.tsne_per_dataset = tsne_per_dataset
        self.seed = seed
        self._epoch = {"val": EpochCollector(), "test": EpochCollector()}
        #: Validation data the test protocol is fitted on (see the module docstring).
        self.val_reference: dict[str, Tensor] | None = None
        self._centroids: NearestCentroidScorer | None = None
        self._classifiers: EmbeddingClassifiers | None = None
        self._classifiers_failed = False
        self._dataset_codes: dict[str, int] = {}

    @staticmethod
    def _criterion(
        head: str,
        num_classes: int,
        embedding_dim: int,
        triplet_margin: float,
        margin_real: float,
        margin_fake: float,
        scale: float,
    ) -> nn.Module:
        if head == "binary":
            return nn.BCEWithLogitsLoss()
        if head == "attribution":
            return nn.CrossEntropyLoss()
        if head == "triplet":
            return SemiHardTripletLoss(margin=triplet_margin)
        return ArcFaceMod(embedding_dim, num_classes, {"real": margin_real, "fake": margin_fake}, scale)

    def _arcface(self) -> ArcFaceMod:
        assert isinstance(self.criterion, ArcFaceMod), "only the arcface head has class centres"
        return self.criterion

    # ------------------------------------------------------------------ setup and forward

    def setup(self, stage: str) -> None:
        """Check that the head has one output per attribution class of the data."""
        if self.head == "binary":
            return
        datamodule = getattr(self._trainer, "datamodule", None)
        names = list(getattr(datamodule, "class_names", None) or [])
        if names and len(names) != self.num_classes:
            raise SuiteError(
                f"model.init_args.num_classes={self.num_classes} but the datamodule has {len(names)} "
                f"attribution classes (data class_names: {names}); "
                f"set model.init_args.num_classes={len(names)}"
            )

    @contextlib.contextmanager
    def _full_precision(self) -> Iterator[None]:
        # Margins of 0.4 rad and squared distances deserve float32, whatever the trainer's autocast.
        with torch.autocast(device_type=self.device.type, enabled=False):
            yield

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Args: batch with ``frames`` uint8 (N, 3, H, W).

        Returns:
            ``features`` (N, F), the layer before last; ``logits`` (N, 1 or C) for the binary and
            attribution heads or ``embedding`` (N, D) for the metric heads; ``frame`` (N,) the
            log-odds of fake, except for ``triplet``, whose score needs validation centroids.
        """
        frames = self.normalize(batch["frames"])
        if self.channels_last:
            frames = frames.contiguous(memory_format=torch.channels_last)
        features, output = self.net(frames)
        if self.head in METRIC_HEADS:
            outputs = {"features": features, "embedding": output}
            if self.head == "arcface":
                with self._full_precision():
                    outputs["frame"] = self._arcface().fake_logit(output.float())
            return outputs
        return {"features": features, "logits": output, "frame": fake_log_odds(output)}

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        if self.head == "binary":
            return {"loss": self.criterion(outputs["logits"][:, 0].float(), batch["label"].float())}
        target = batch["method_label"].long()
        if not self.training:
            # Methods outside the training classes (cross-dataset test sets) have no head output:
            # the eval loss covers the frames of known classes; base._step logs it with their count.
            known = target < self.num_classes
            if not bool(known.all()):
                if not bool(known.any()):
                    # Logged with weight 0 rather than skipped: every DDP rank must log the same keys.
                    return {"loss": batch["label"].new_zeros((), dtype=torch.float32), LOSS_BATCH_SIZE: 0}
                kept = {k: v[known] for k, v in outputs.items() if k in ("logits", "embedding")}
                return {**self._class_loss(kept, target[known]), LOSS_BATCH_SIZE: int(known.sum())}
        return self._class_loss(outputs, target)

    def _class_loss(self, outputs: dict[str, Tensor], target: Tensor) -> dict[str, Tensor]:
        if self.head == "attribution":
            return {"loss": self.criterion(outputs["logits"].float(), target)}
        with self._full_precision():
            return {"loss": self.criterion(outputs["embedding"].float(), target)}

    def fake_probability(self, outputs: dict[str, Tensor]) -> Tensor:
        """(N,) probability of fake: ``1 - p(real)`` for ``attribution``, sigmoid of the log-odds else."""
        if self.head == "attribution":
            return 1.0 - outputs["logits"].float().softmax(dim=1)[:, 0]
        if "frame" in outputs:
            return outputs["frame"].float().sigmoid()
        return self.centroid_scorer().fake_log_odds(outputs["embedding"]).sigmoid()

    # ------------------------------------------------------------------ collecting epochs

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        # Scores reach the metrics at the epoch's end: the triplet head's need every validation
        # embedding first, and the test protocol needs them all together anyway.
        self._epoch[stage].add(self.epoch_rows(outputs, batch, stage))

    def epoch_rows(self, outputs: dict[str, Tensor], batch: dict[str, Any], stage: str) -> dict[str, Tensor]:
        """What an epoch keeps of a batch: per-frame ids, labels, log-odds and/or embeddings.

        Args:
            outputs: :meth:`forward`'s output.
            batch: A frame batch (``index``, ``label``, ``method_label``, ``video_index``, ``video_id``).
            stage: ``val`` or ``test`` (test also keeps the source dataset and t-SNE inputs).

        Returns:
            (N, ...) tensors keyed ``index``, ``label``, ``method``, ``video``, and ``log_odds``,
            ``embedding``, ``dataset``, ``features``, ``predicted`` where they apply.
        """
        rows = {
            "index": torch.as_tensor(batch["index"], device=self.device).long(),
            "label": batch["label"].long(),
            "method": batch["method_label"].long(),
            "video": torch.as_tensor(batch["video_index"], device=self.device).long(),
        }
        if "frame" in outputs:
            rows["log_odds"] = outputs["frame"].float()
        if "embedding" in outputs:
            rows["embedding"] = outputs["embedding"].float()
        if stage == "test":
            codes = [self._dataset_code(dataset_of(v)) for v in batch["video_id"]]
            rows["dataset"] = torch.tensor(codes, device=self.device)
            if self.tsne and self.head not in METRIC_HEADS:
                rows["features"] = outputs["features"].half()  # t-SNE only; halves the memory
            if self.head == "attribution":
                rows["predicted"] = outputs["logits"].argmax(dim=1)
        return rows

    def _world_size(self) -> int:
        return int(self._trainer.world_size) if self._trainer is not None else 1

    def _sanity_checking(self) -> bool:
        return self._trainer is not None and bool(self._trainer.sanity_checking)

    def _feed_metrics(self, stage: str, data: dict[str, Tensor]) -> None:
        probabilities = data["log_odds"].double().sigmoid()
        labels, index = data["label"], data["index"]
        self.metrics[f"{stage}_frame"].update(probabilities, labels, sample_id=index)
        self.metrics[f"{stage}_video"].update(probabilities, labels, sample_id=index, group_id=data["video"])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if self.head == "triplet":
            self.update_metrics("val", self(batch), batch)  # its loss comes at the epoch's end
        else:
            super().validation_step(batch, batch_idx)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if self.val_reference is None:
            # Inside the test step, so the trainer's precision and no-grad settings apply.
            self.set_val_reference(self._score_validation_split())
        if self.head == "triplet":
            self.update_metrics("test", self(batch), batch)
        else:
            super().test_step(batch, batch_idx)

    def shuffled_triplet_loss(self, embeddings: Tensor, classes: Tensor) -> Tensor:
        """Semi-hard triplet loss of an evaluation epoch on shuffled training-size batches
        (:func:`~lightning_modules.eval_epoch.shuffled_triplet_loss`): ``val/loss`` of the triplet head.

        Args:
            embeddings: (N, D) embeddings of the whole epoch.
            classes: (N,) attribution classes.
        """
        batch_size = int(getattr(getattr(self._trainer, "datamodule", None), "batch_size", 16))
        with self._full_precision():
            return shuffled_triplet_loss(self.criterion, embeddings, classes, batch_size, self.seed)

    def on_validation_epoch_end(self) -> None:
        collector = self._epoch["val"]
        if collector:
            data = collector.gathered(self, self._world_size())
            if self.head == "triplet":
                loss = self.shuffled_triplet_loss(data["embedding"], data["method"])
                self.log("val/loss", loss, prog_bar=True)
            if not self._sanity_checking():
                self.set_val_reference(self._reference_from(data))
                if self.head == "triplet":
                    data["log_odds"] = self.centroid_scorer().fake_log_odds(data["embedding"])
                self._feed_metrics("val", data)
        collector.reset()
        super().on_validation_epoch_end()

    def on_test_epoch_end(self) -> None:
        collector = self._epoch["test"]
        if collector:
            data = collector.gathered(self, self._world_size())
            if self.head == "triplet":
                self.log("test/loss", self.shuffled_triplet_loss(data["embedding"], data["method"]))
                data["log_odds"] = self.centroid_scorer().fake_log_odds(data["embedding"])
            self._feed_metrics("test", data)
            report = self.test_report(data)
            self.log_dict(report, sync_dist=False)
            if self.tsne and (self._trainer is None or self._trainer.is_global_zero):
                self._draw_tsne(data)
        collector.reset()
        super().on_test_epoch_end()

    # ------------------------------------------------------------------ validation reference

    def _reference_from(self, data: dict[str, Tensor]) -> dict[str, Tensor]:
        # The head's own scores where the network gives them (not triplet), embeddings where
        # classifiers are fitted on them (metric heads).
        keys = ["label", "method", "video", "log_odds"] + (["embedding"] if self.head in METRIC_HEADS else [])
        reference = {key: data[key].detach().cpu() for key in keys if key in data}
        step = self._trainer.global_step if self._trainer is not None else -1
        reference["global_step"] = torch.tensor(step)
        return reference

    def set_val_reference(self, reference: dict[str, Tensor] | None) -> None:
        """Use ``reference`` (validation labels, videos, scores or embeddings) for the test protocol."""
        self.val_reference = reference
        self._centroids = None
        self._classifiers = None
        self._classifiers_failed = False

    def _score_validation_split(self) -> dict[str, Tensor]:
        datamodule = getattr(self._trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "val_dataloader"):
            raise SuiteError(
                "AttributionXception: the test protocol (HTER thresholds, embedding classifiers) needs "
                "validation scores; test a checkpoint saved by `fit` or give a datamodule with a val split"
            )
        rank_zero_warn(
            "AttributionXception: no validation reference in this checkpoint; scoring the validation "
            "split first (thresholds and classifiers are fitted on validation data only)"
        )
        datamodule.setup("validate")
        collector = EpochCollector()
        for batch in datamodule.val_dataloader():
            batch = move_data_to_device(batch, self.device)
            collector.add(self.epoch_rows(self(batch), batch, "val"))
        # Every process read the whole split: nothing to gather.
        return self._reference_from(collector.gathered())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)  # the random states a resumed fit needs
        if self.val_reference is not None:
            checkpoint[REFERENCE_KEY] = dict(self.val_reference)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        reference = checkpoint.get(REFERENCE_KEY)
        # A reference from another step than the weights' (a checkpoint saved mid-epoch) would pair
        # these weights with another network's validation scores.
        if reference is not None and int(reference["global_step"]) != int(checkpoint.get("global_step", -2)):
            rank_zero_warn(
                "AttributionXception: the checkpoint's validation reference is from another step than its "
                "weights; it will be computed again"
            )
            reference = None
        self.set_val_reference(reference)

    def _require_reference(self) -> dict[str, Tensor]:
        if self.val_reference is None:
            raise SuiteError(
                "AttributionXception: no validation reference; run `fit` or `validate` first, or test a "
                "checkpoint saved by `fit`"
            )
        return self.val_reference

    def centroid_scorer(self) -> NearestCentroidScorer:
        """Class centroids of the validation reference's embeddings (metric heads)."""
        if self._centroids is None:
            reference = self._require_reference()
            self._centroids = NearestCentroidScorer().fit(reference["embedding"], reference["method"])
        return self._centroids

    def embedding_classifiers(self) -> EmbeddingClassifiers | None:
        """kNN, LR and SVM fitted on the validation reference's embeddings; None if it lacks a class."""
        if self._classifiers is None and not self._classifiers_failed:
            reference = self._require_reference()
            try:
                self._classifiers = self._new_classifiers().fit(
                    reference["embedding"].numpy(), reference["method"].numpy(), reference["video"].numpy()
                )
            except ValueError as error:
                rank_zero_warn(f"AttributionXception: no embedding classifiers: {error}")
                self._classifiers_failed = True
        return self._classifiers

    # ------------------------------------------------------------------ test protocol

    def _dataset_code(self, name: str) -> int:
        if not self._dataset_codes:
            # Codes from the datamodule's test records agree across processes, whatever each saw.
            datasets = getattr(getattr(self._trainer, "datamodule", None), "datasets", None) or {}
            records = getattr(datasets.get("test"), "records", None) or []
            for known in sorted({dataset_of(r.video_id) for r in records}):
                self._dataset_codes[known] = len(self._dataset_codes)
        if name not in self._dataset_codes:
            self._dataset_codes[name] = len(self._dataset_codes)
        return self._dataset_codes[name]

    def _levels(self, scores: Tensor, labels: Tensor, videos: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        """``{"frame": (scores, labels), "video": (per-video scores, labels)}``."""
        video_scores, video_labels, _ = aggregate_by_group(scores, labels, videos, self.video_aggregation)
        return {"frame": (scores, labels), "video": (video_scores, video_labels)}

    def _scorers(self, data: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        """``{suffix: (validation scores, test scores)}``: the head's own, then each classifier's."""
        reference = self._require_reference()
        if self.head == "triplet":
            val_log_odds = self.centroid_scorer().fake_log_odds(reference["embedding"])
        else:
            val_log_odds = reference["log_odds"]
        scorers = {"": (val_log_odds.double().sigmoid(), data["log_odds"].double().cpu().sigmoid())}
        classifiers = self.embedding_classifiers() if self.head in METRIC_HEADS else None
        if classifiers is not None:
            test_scores = classifiers.fake_scores(data["embedding"].cpu().numpy())
            for name in CLASSIFIER_NAMES:
                scorers[f"_{name}"] = (
                    torch.from_numpy(classifiers.val_scores[name]),
                    torch.from_numpy(test_scores[name]),
                )
        return scorers

    def test_report(self, data: dict[str, Tensor]) -> dict[str, float]:
        """HTER at the validation threshold, classifier metrics, and both per source dataset.

        Args:
            data: Gathered test rows: ``label``, ``video``, ``dataset`` (N,), and ``log_odds`` (N,)
                or ``embedding`` (N, D).

        Returns:
            Keys as listed in the module docstring, NaN where a class is missing.
        """
        reference = self._require_reference()
        data = {key: value.cpu() for key, value in data.items()}
        names = {code: name for name, code in self._dataset_codes.items()}
        subsets = {"": torch.ones_like(data["label"], dtype=torch.bool)}
        for code in torch.unique(data["dataset"]).tolist():
            subsets[f"{names.get(code, f'dataset{code}')}/"] = data["dataset"] == code
        report: dict[str, float] = {}
        with warnings.catch_warnings():
            # A source dataset with one class (a fakes-only set) gives NaN, which the results show.
            warnings.filterwarnings("ignore", message=r".*no (real|fake) \(label", category=UserWarning)
            for suffix, (val_scores, test_scores) in self._scorers(data).items():
                val_levels = self._levels(val_scores, reference["label"], reference["video"])
                thresholds = {
                    level: MF.threshold_at(scores, labels, p_miss=self.hter_p_miss)
                    for level, (scores, labels) in val_levels.items()
                }
                for prefix, chosen in subsets.items():
                    levels = self._levels(test_scores[chosen], data["label"][chosen], data["video"][chosen])
                    for level, (scores, labels) in levels.items():
                        for name, value in operating_point(scores, labels, thresholds[level]).items():
                            if prefix or suffix or name != "auc":  # test/{level}_auc is the shared metric's
                                report[f"test/{prefix}{level}_{name}{suffix}"] = value
        return report

    # ------------------------------------------------------------------ t-SNE

    def _predicted_classes(self, data: dict[str, Tensor]) -> tuple[Tensor, list[str]]:
        """Predicted class of every test frame and the names of the predicted classes."""
        class_names = self._class_names(max(self.num_classes, int(data["method"].max()) + 1))
        if self.head == "binary":
            return (data["log_odds"] >= 0).long(), ["real", "fake"]
        if self.head == "attribution":
            return data["predicted"], class_names
        if self.head == "arcface":
            with self._full_precision():
                cosines = self._arcface().cosine_logits(data["embedding"].float())
            return cosines.argmax(dim=1), class_names
        # TripletLoss: the paper's best classifier for it, the kNN (Table 1, "TripletLoss-NN").
        classifiers = self.embedding_classifiers()
        if classifiers is None:
            return self.centroid_scorer().predict(data["embedding"]), class_names
        predicted = classifiers.predict("knn", data["embedding"].cpu().numpy())
        return torch.from_numpy(predicted), class_names

    def _class_names(self, count: int) -> list[str]:
        """The datamodule's attribution classes then its unseen (test-only) methods, up to ``count``."""
        datamodule = getattr(self._trainer, "datamodule", None)
        names = list(getattr(datamodule, "class_names", None) or [])
        names += [f"{m} (unseen)" for m in getattr(datamodule, "unseen_methods", None) or []]
        return names[:count] + [f"class {c}" for c in range(len(names), count)]

    def _draw_tsne(self, data: dict[str, Tensor]) -> None:
        from lightning_modules.embedding_plots import save_tsne_plot, subsample, tsne_2d

        points = (data["embedding"] if self.head in METRIC_HEADS else data["features"]).float().cpu()
        predicted, predicted_names = self._predicted_classes(data)
        true, predicted = data["method"].cpu(), predicted.cpu()
        run_dir = Path(self._trainer.default_root_dir if self._trainer is not None else ".")
        names = {code: name for name, code in self._dataset_codes.items()}
        groups: list[tuple[str, Tensor]] = [("", torch.ones_like(true, dtype=torch.bool))]
        codes = torch.unique(data["dataset"].cpu()).tolist()
        if self.tsne_per_dataset and len(codes) > 1:
            groups += [(f"_{names.get(c, c)}", data["dataset"].cpu() == c) for c in codes]
        for suffix, chosen in groups:
            index = np.flatnonzero(chosen.numpy())
            index = index[subsample(len(index), self.tsne_max_points, self.seed)]
            if len(index) < 2:
                continue
            path = save_tsne_plot(
                tsne_2d(points[index].numpy(), seed=self.seed),
                predicted[index].numpy(),
                true[index].numpy(),
                predicted_names,
                self._class_names(int(true.max()) + 1),
                run_dir / f"tsne_test{suffix}.png",
                title=f"{self.head} head, test{suffix.replace('_', ' ')}: colour = predicted, marker = true",
            )
            self._log_image(f"test/tsne{suffix}", path)

    def _log_image(self, key: str, path: Path) -> None:
        from lightning.pytorch.loggers import WandbLogger

        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key=key, images=[str(path)])
