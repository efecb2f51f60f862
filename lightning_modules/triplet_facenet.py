r"""TripletFaceNet: Kumar, Bhavsar, Sehgal, "Detecting Deepfakes with Metric Learning", IWBF 2020.

MTCNN face crops -> FaceNet 512-d embeddings -> a triplet network trained with online semi-hard
mining on real/fake labels (Sec. III-E/F, eq. 1) -> Random Forest and SGD classifiers on the
triplet embeddings (Table III: P, R, F1, AUC, EER on FF++ c40). Also here: the 3D-convolution
comparison of Table II (:class:`R3DClipDetector`).

Where the paper is silent the authors' public scripts (github.com/AKASH2907/
deepfakes_video_classification) fix the value: frozen FaceNet (embeddings computed once), MLP
512-256-256-128-64 without L2-normalisation, TF's semi-hard loss with margin 1 on squared
distances, Adam 3e-4, batches of 32 frames, 25 frames per video, ``RandomForestClassifier
(n_estimators=100)`` and ``SGDClassifier(loss="log", max_iter=50, tol=None)`` fitted on training
frames, a video's probability the mean of its frames'.

Scores and metric keys
----------------------
* ``val/{frame,video}_*`` and ``test/{frame,video}_*``: the **nearest-centroid score**,
  :math:`p = d_r^2 / (d_r^2 + d_f^2)` with :math:`d_c` the distance to the mean training embedding
  of class :math:`c` (the logit is :math:`\log d_r^2 - \log d_f^2`; 0.5 on the boundary). During
  ``fit`` the centroids are running means of the epoch's training-batch embeddings (no extra pass
  over the data; the network moves during the epoch, so they are approximate); they are saved in
  checkpoints. ``test`` and ``predict`` recompute them exactly from the fit split with the weights
  being tested. Model selection uses ``val/video_auc`` of this score.
* ``test/frame_{clf}_{metric}`` and ``test/video_{clf}_{metric}`` for ``clf`` in ``rf``, ``sgd``:
  the classifiers' probability of fake, per frame and as the mean over a video's frames; Table III's
  P, R, F1, AUC, EER are ``precision``, ``recall``, ``f1``, ``auc``, ``eer`` (threshold 0.5 on the
  probability, i.e. the classifier's own decision), beside ``acc``, ``min_dcf_*``, ``log_loss``.

The classifiers are fitted at the start of ``test``/``predict``, on the embeddings of the
``classifier_fit_split`` (``train``, as the authors; ``val`` possible), computed in eval mode with
the datamodule's evaluation transform. The test split is never used for fitting. Every DDP rank
computes the same embeddings and fits the same seeded classifiers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torch.utils.data import DataLoader

from deepfake_suite.errors import SuiteError
from lightning_modules.base import DetectorModule, FrameDetector
from lightning_modules.eval_epoch import EpochCollector, shuffled_triplet_loss
from lightning_modules.triplet_networks import (
    KINETICS_PIXEL_CFG,
    FaceEmbedder,
    TripletMLP,
    VideoArch,
    video_resnet,
)
from losses.semi_hard_triplet import SemiHardTripletLoss
from metrics.detection import DEFAULT_P_TARGETS, DetectionMetrics
from metrics.functional.aggregation import Reduction

ClassifierName = Literal["rf", "sgd"]
SGDLoss = Literal["log_loss", "modified_huber", "hinge"]
CLASSIFIERS: tuple[str, ...] = ("rf", "sgd")


def paper_adam(params: Iterable[Any]) -> torch.optim.Optimizer:
    """Adam at 3e-4, the authors' triplet script (the paper gives no optimizer for it)."""
    return torch.optim.Adam(params, lr=3e-4)


def c3d_sgd(params: Iterable[Any]) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum 0.9 at 5e-3, the authors' C3D script."""
    return torch.optim.SGD(params, lr=5e-3, momentum=0.9, nesterov=True)


# --------------------------------------------------------------------------- embedding classifiers


def build_classifier(
    name: str, rf_trees: int = 100, sgd_loss: SGDLoss = "log_loss", sgd_max_iter: int = 50, seed: int = 0
) -> Any:
    """An unfitted scikit-learn classifier of the embeddings: ``rf`` or ``sgd`` (Table III).

    Args:
        name: ``rf`` (``RandomForestClassifier``) or ``sgd`` (``SGDClassifier``).
        rf_trees: Trees of the forest (authors: 100).
        sgd_loss: SGD's loss (authors: logistic, ``log_loss``; ``hinge`` is sklearn's default).
        sgd_max_iter: SGD epochs (authors: 50, run in full: ``tol=None``).
        seed: ``random_state``.
    """
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=rf_trees, random_state=seed, n_jobs=-1)
    if name == "sgd":
        from sklearn.linear_model import SGDClassifier

        return SGDClassifier(loss=sgd_loss, max_iter=sgd_max_iter, tol=None, random_state=seed)
    raise SuiteError(f"model.init_args.classifiers: unknown classifier {name!r}; known: {list(CLASSIFIERS)}")


def classifier_fake_probability(classifier: Any, features: np.ndarray) -> np.ndarray:
    """(N,) probability of fake (class 1) from a fitted binary classifier.

    A classifier without ``predict_proba`` (SGD with the hinge loss) gives the sigmoid of its
    decision function: 0.5 stays its decision boundary, but the value is not calibrated.
    """
    if hasattr(classifier, "predict_proba"):
        column = list(classifier.classes_).index(1)
        return np.asarray(classifier.predict_proba(features)[:, column], dtype=np.float64)
    decision = np.asarray(classifier.decision_function(features), dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-decision))


def _binary_labels(batch: dict[str, Any]) -> Tensor:
    """(N,) int64 labels a frame is trained with: its own label when annotated, else its video's."""
    labels = batch.get("frame_label", batch["label"])
    return labels.long()


@contextmanager
def _evaluation_transform(dataset: Any, transform: Any) -> Iterator[None]:
    """Serve ``dataset`` with the evaluation transform: classifiers are fitted on clean frames."""
    if not hasattr(dataset, "transform"):
        yield
        return
    saved = dataset.transform
    dataset.transform = transform
    try:
        yield
    finally:
        dataset.transform = saved


# --------------------------------------------------------------------------------------- detector


class TripletFaceNet(FrameDetector):
    r"""FaceNet embeddings, a semi-hard triplet network, and RF/SGD classifiers (see module docstring).

    The loss is :class:`~losses.semi_hard_triplet.SemiHardTripletLoss` (eq. 1, squared L2,
    TF/FaceNet mining) on the triplet embeddings of each batch, with the frames' real/fake labels;
    batches should hold both classes: ``data.init_args.sampler: pk`` (P videos x K frames).

    Args:
        embedder: ``facenet`` (paper: facenet-pytorch's ``InceptionResnetV1``, VGGFace2) or a
            timm model name, projected to 512-d when its width differs.
        pretrained: Embedder weights: ``True`` (offline cache), ``False``, or a local file.
        freeze_embedder: Keep the embedder fixed (paper: FaceNet used as a feature extractor).
        hidden_dims: Hidden widths of the triplet MLP (authors: 256, 256, 128).
        embedding_dim: Triplet embedding width (authors: 64).
        dropout: Dropout after each hidden layer (authors: 0.1).
        normalize: L2-normalise the triplet embeddings (authors: no).
        margin: Triplet margin :math:`\alpha` (authors: 1.0, TF's default).
        squared: Squared Euclidean distances in the loss (eq. 1: yes).
        classifiers: Embedding classifiers fitted for ``test``/``predict``: ``rf``, ``sgd``.
        classifier_fit_split: Split whose embeddings fit them: ``train`` (authors) or ``val``.
        rf_trees: Trees of the random forest.
        sgd_loss: Loss of the SGD classifier.
        sgd_max_iter: SGD epochs.
        classifier_seed: ``random_state`` of the classifiers.
        optimizer: Optimizer factory (authors: Adam, lr 3e-4); frozen weights are left out.
        p_targets: Target priors for minDCF.
        threshold: Probability from which ACC, precision, recall and F1 call a frame fake.
        video_aggregation: ``mean`` (authors) or ``max`` of frame probabilities per video.
        channels_last: Run the embedder in channels-last memory format.
        compile: ``torch.compile`` the embedder's backbone in place.
    """

    def __init__(
        self,
        embedder: str = "facenet",
        pretrained: bool | str = True,
        freeze_embedder: bool = True,
        hidden_dims: Sequence[int] = (256, 256, 128),
        embedding_dim: int = 64,
        dropout: float = 0.1,
        normalize: bool = False,
        margin: float = 1.0,
        squared: bool = True,
        classifiers: Sequence[ClassifierName] = ("rf", "sgd"),
        classifier_fit_split: Literal["train", "val"] = "train",
        rf_trees: int = 100,
        sgd_loss: SGDLoss = "log_loss",
        sgd_max_iter: int = 50,
        classifier_seed: int = 0,
        optimizer: OptimizerCallable = paper_adam,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        video_aggregation: Reduction = "mean",
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        unknown = [name for name in classifiers if name not in CLASSIFIERS]
        if unknown or len(set(classifiers)) != len(classifiers):
            raise SuiteError(
                f"model.init_args.classifiers must be distinct names among {list(CLASSIFIERS)}, "
                f"got {list(classifiers)}"
            )
        if classifier_fit_split not in ("train", "val"):
            raise SuiteError(
                "model.init_args.classifier_fit_split must be train or val (never test), "
                f"got {classifier_fit_split!r}"
            )
        super().__init__(("frame", "video"), optimizer, p_targets, threshold, video_aggregation)
        self.save_hyperparameters(ignore=["optimizer"])
        self.embedder = FaceEmbedder(embedder, pretrained, freeze_embedder, channels_last)
        self.set_pixel_stats(self.embedder.pretrained_cfg)
        if compile:
            self.embedder.backbone.compile()
        self.triplet_net = TripletMLP(self.embedder.out_dim, hidden_dims, embedding_dim, dropout, normalize)
        try:
            self.criterion = SemiHardTripletLoss(margin=margin, squared=squared)
        except ValueError as error:
            raise SuiteError(f"model.init_args.margin: {error}") from None
        for name in classifiers:
            for level, aggregate in (("frame", None), ("video", video_aggregation)):
                self.metrics[f"test_{level}_{name}"] = DetectionMetrics(
                    f"test/{level}_{name}_", p_targets, threshold, aggregate=aggregate
                )
        self.classifier_names = tuple(classifiers)
        self.fitted: dict[str, Any] = {}
        # Real (row 0) and fake (row 1) centroids: saved with checkpoints for validate/test.
        self.centroids: Tensor
        self.centroid_counts: Tensor
        self.register_buffer("centroids", torch.zeros(2, embedding_dim))
        self.register_buffer("centroid_counts", torch.zeros(2))
        self._running_sum: Tensor
        self._running_count: Tensor
        self.register_buffer("_running_sum", torch.zeros(2, embedding_dim), persistent=False)
        self.register_buffer("_running_count", torch.zeros(2), persistent=False)
        self._eval_rows = {"val": EpochCollector(), "test": EpochCollector()}

    # ------------------------------------------------------------------------------ network

    def embed(self, frames: Tensor) -> Tensor:
        """uint8 frames (N, 3, S, S) -> (N, embedding_dim) float32 triplet embeddings."""
        return self.triplet_net(self.embedder(self.normalize(frames))).float()

    def centroid_logits(self, embeddings: Tensor) -> Tensor:
        r"""(N,) :math:`\log d_r^2 - \log d_f^2`; zeros before any centroid exists."""
        if bool((self.centroid_counts == 0).any()):
            return embeddings.new_zeros(len(embeddings))
        distances = (embeddings[:, None, :] - self.centroids[None].to(embeddings.dtype)).pow(2).sum(-1)
        eps = torch.finfo(distances.dtype).tiny
        return (distances[:, 0] + eps).log() - (distances[:, 1] + eps).log()

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Args: batch with ``frames`` uint8 (N, 3, S, S).

        Returns:
            ``{"frame": (N,) nearest-centroid logits (zeros in training), "embedding": (N, D)}``.
        """
        embeddings = self.embed(batch["frames"])
        if self.training:  # no metric reads training scores; skip the centroids' host sync
            return {"frame": embeddings.new_zeros(len(embeddings)), "embedding": embeddings}
        return {"frame": self.centroid_logits(embeddings), "embedding": embeddings}

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        labels = _binary_labels(batch)
        loss = self.criterion(outputs["embedding"], labels)
        if self.training:
            self._accumulate_centroids(outputs["embedding"].detach(), labels)
        return {"loss": loss}

    # ------------------------------------------------------------------- evaluation loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluation_step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluation_step(batch, "test")

    def _evaluation_step(self, batch: dict[str, Any], stage: str) -> None:
        outputs = self(batch)
        self.update_metrics(stage, outputs, batch)
        # The loss comes at the epoch's end: sequential evaluation batches mostly hold one class,
        # hence no triplet and a loss of 0 that would say nothing.
        rows = {
            "embedding": outputs["embedding"].float(),
            "label": _binary_labels(batch),
            "index": batch["index"],
        }
        self._eval_rows[stage].add(rows)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_loss("val")
        super().on_validation_epoch_end()

    def on_test_epoch_end(self) -> None:
        self._log_epoch_loss("test")
        super().on_test_epoch_end()

    def _log_epoch_loss(self, stage: str) -> None:
        """``<stage>/loss``: the semi-hard loss over the epoch's embeddings in shuffled batches of the
        training size (:func:`~lightning_modules.eval_epoch.shuffled_triplet_loss`); every process
        gathers every embedding, so all log the same value."""
        collector = self._eval_rows[stage]
        if collector:
            data = collector.gathered(self, self.trainer.world_size)
            datamodule = getattr(self.trainer, "datamodule", None)
            batch_size = int(getattr(datamodule, "batch_size", 32))
            loss = shuffled_triplet_loss(self.criterion, data["embedding"], data["label"], batch_size, seed=0)
            self.log(f"{stage}/loss", loss)
        collector.reset()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory([p for p in self.parameters() if p.requires_grad])

    # ---------------------------------------------------------------------------- centroids

    def _accumulate_centroids(self, embeddings: Tensor, labels: Tensor) -> None:
        # Masks rather than index_add_/bincount: no host sync in the training step.
        masks = torch.stack([labels == 0, labels == 1]).to(self._running_sum.dtype)  # (2, N)
        self._running_sum += masks @ embeddings.to(self._running_sum.dtype)
        self._running_count += masks.sum(1)

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self._running_sum.zero_()
        self._running_count.zero_()

    def on_validation_epoch_start(self) -> None:
        # Every rank reaches this hook, so the reduction cannot deadlock; the sanity check runs
        # before any training batch and keeps the saved (or empty) centroids.
        total = self.trainer.strategy.reduce(self._running_sum.clone(), reduce_op="sum")
        count = self.trainer.strategy.reduce(self._running_count.clone(), reduce_op="sum")
        if bool((count > 0).all()):
            self.centroids.copy_(total / count[:, None])
            self.centroid_counts.copy_(count)

    # --------------------------------------------------------------------------- classifiers

    def on_test_epoch_start(self) -> None:
        self.fit_classifiers(self.trainer.datamodule)  # type: ignore[attr-defined]

    def on_predict_epoch_start(self) -> None:
        self.fit_classifiers(self.trainer.datamodule)  # type: ignore[attr-defined]

    def fit_classifiers(self, datamodule: Any) -> None:
        """Fit the centroids and classifiers on ``classifier_fit_split``'s embeddings (never test)."""
        split = self.hparams["classifier_fit_split"]
        features, labels = self.collect_embeddings(datamodule, split)
        present = set(np.unique(labels).tolist())
        if present != {0, 1}:
            raise SuiteError(
                f"TripletFaceNet fits its classifiers on the '{split}' split, which holds only class(es) "
                f"{sorted(present)}; it needs real (0) and fake (1) frames"
            )
        tensor = torch.from_numpy(features).to(self.centroids)
        label_tensor = torch.from_numpy(labels).to(self.centroids.device)
        for c in (0, 1):
            self.centroids[c] = tensor[label_tensor == c].mean(0)
            self.centroid_counts[c] = float((label_tensor == c).sum())
        hp = self.hparams
        self.fitted = {
            name: build_classifier(
                name, hp["rf_trees"], hp["sgd_loss"], hp["sgd_max_iter"], hp["classifier_seed"]
            ).fit(features, labels)
            for name in self.classifier_names
        }

    def collect_embeddings(self, datamodule: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (N, D) float32 and labels (N,) int64 of all frames of ``split``, in eval mode."""
        dataset = self._split_dataset(datamodule, split)
        loader = DataLoader(
            dataset,
            batch_size=int(getattr(datamodule, "eval_batch_size", 64)),
            shuffle=False,
            num_workers=int(getattr(datamodule, "num_workers", 0)),
        )
        trainer = self._trainer
        precision = trainer.precision_plugin.forward_context() if trainer is not None else nullcontext()
        was_training = self.training
        self.eval()
        features, labels = [], []
        try:
            with (
                _evaluation_transform(dataset, getattr(datamodule, "eval_augmentation", None)),
                torch.inference_mode(),
                precision,
            ):
                for batch in loader:
                    if batch["frames"].ndim != 4:
                        raise SuiteError(
                            "TripletFaceNet scores single frames: use datamodules.FrameDataModule"
                        )
                    features.append(self.embed(batch["frames"].to(self.device)).float().cpu())
                    labels.append(_binary_labels(batch).cpu())
        finally:
            self.train(was_training)
        if not features:
            raise SuiteError(f"TripletFaceNet: the '{split}' split has no frames to fit the classifiers on")
        return torch.cat(features).numpy(), torch.cat(labels).numpy()

    @staticmethod
    def _split_dataset(datamodule: Any, split: str) -> Any:
        datasets = getattr(datamodule, "datasets", None)
        if not isinstance(datasets, dict):
            raise SuiteError(
                f"TripletFaceNet fits its classifiers on the '{split}' split: it needs the suite's "
                f"datamodules.FrameDataModule, got {type(datamodule).__name__}"
            )
        if split not in datasets:
            datamodule.setup("fit")  # `test` in a new process set up the test split only
        return datasets[split]

    # ------------------------------------------------------------------------------ metrics

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        super().update_metrics(stage, outputs, batch)
        if stage != "test" or not self.classifier_names:
            return
        labels = batch["label"].long()
        for name, probabilities in self._classifier_probabilities(outputs["embedding"]).items():
            self.metrics[f"test_frame_{name}"].update(probabilities, labels, sample_id=batch["index"])
            self.metrics[f"test_video_{name}"].update(
                probabilities, labels, sample_id=batch["index"], group_id=batch["video_index"]
            )

    def _classifier_probabilities(self, embeddings: Tensor) -> dict[str, Tensor]:
        if not self.fitted:
            raise SuiteError("TripletFaceNet's classifiers are not fitted: call fit_classifiers first")
        features = embeddings.detach().float().cpu().numpy()
        return {
            name: torch.from_numpy(classifier_fake_probability(classifier, features)).to(embeddings.device)
            for name, classifier in self.fitted.items()
        }

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        outputs = self(batch)
        row: dict[str, Any] = {
            "video_id": list(batch["video_id"]),
            "frame_score": self.fake_probability(outputs),
        }
        for name, probabilities in self._classifier_probabilities(outputs["embedding"]).items():
            row[f"frame_score_{name}"] = probabilities
        return row


# ------------------------------------------------------------------------- Table II: 3D convolution


class R3DClipDetector(DetectorModule):
    """The 3D-convolution comparison of Table II: a video ResNet-18 on a clip, one fake logit per video.

    The paper gives no architecture; the authors' script trains a C3D from scratch on 32 frames of
    112x112 with SGD (Nesterov, lr 5e-3). Here torchvision's R3D-18 (or MC3-18, R(2+1)D-18) plays
    that part. Clips come from :class:`datamodules.ClipDataModule` (evenly spaced frames; a short
    video's clip is padded by repeating its last frame, which a 3D convolution sees as a still end).

    Args:
        arch: ``r3d_18``, ``mc3_18`` or ``r2plus1d_18``.
        pretrained: ``False`` (paper: no ImageNet/Kinetics prior), ``True`` for cached Kinetics-400
            weights, or a local file.
        optimizer: Optimizer factory (authors: SGD, Nesterov momentum 0.9, lr 5e-3).
        p_targets: Target priors for minDCF.
        threshold: Probability from which ACC, precision, recall and F1 call a video fake.
        channels_last: Run the network in channels-last-3d memory format.
        compile: ``torch.compile`` the network in place.
    """

    scored_levels = ("video",)

    def __init__(
        self,
        arch: VideoArch = "r3d_18",
        pretrained: bool | str = False,
        optimizer: OptimizerCallable = c3d_sgd,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__(("video",), optimizer, p_targets, threshold)
        self.save_hyperparameters(ignore=["optimizer"])
        network = video_resnet(arch, pretrained)
        if channels_last:
            network = network.to(memory_format=torch.channels_last_3d)
        self.network = network
        if compile:
            self.network.compile()
        self.set_pixel_stats(KINETICS_PIXEL_CFG)
        self.channels_last = channels_last
        self.criterion = nn.BCEWithLogitsLoss()

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Args: batch with ``frames`` uint8 (N, T, 3, S, S). Returns: ``{"video": (N,) logits}``."""
        clips = self.normalize(batch["frames"]).permute(0, 2, 1, 3, 4)  # (N, 3, T, S, S)
        if self.channels_last:
            clips = clips.contiguous(memory_format=torch.channels_last_3d)
        return {"video": self.network(clips)}

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        return {"loss": self.criterion(outputs["video"].float(), batch["label"].float())}

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        self.metrics[f"{stage}_video"].update(
            outputs["video"].float().sigmoid(), batch["label"].long(), sample_id=batch["index"]
        )

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        return {"video_id": list(batch["video_id"]), "score": self(batch)["video"].float().sigmoid()}


__all__ = ["R3DClipDetector", "TripletFaceNet", "build_classifier", "classifier_fake_probability"]
