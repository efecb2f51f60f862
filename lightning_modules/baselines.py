"""Frame-level baselines of the dual-level paper (Pu et al., 2022, Sec. 4.2.2) as one LightningModule.

Meso4, MesoInception4, Xception (with or without the AUC loss) and the MLP on frame features
differ only in the network and the loss, so both are injected (``class_path`` in the config)
into :class:`BinaryFrameClassifier`. The video-level baselines CNN+LSTM and CNN+GRU (LRCN) are
:class:`~lightning_modules.dual_level.DualLevelAUCNet` configs with the frame classifier off and
BCE only (``experiments/baselines/cnn_gru.yaml``), not a second copy of that network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from deepfake_suite.errors import SuiteError
from lightning_modules.base import FrameDetector, default_adam
from metrics.detection import DEFAULT_P_TARGETS
from metrics.functional.aggregation import Reduction


class BinaryFrameClassifier(FrameDetector):
    """One fake logit per face frame; video scores aggregate the frame probabilities.

    Args:
        network: Maps normalised frames (N, 3, S, S) to (N,) logits, e.g.
            :class:`~lightning_modules.baseline_networks.Meso4` or ``TimmClassifier``. Its
            ``pretrained_cfg`` (timm style) gives the pixel mean/std; ImageNet's if it has none.
        criterion: Loss ``(logits (N,), labels (N,)) -> Tensor`` or a dict with ``"loss"``:
            ``torch.nn.BCEWithLogitsLoss`` (default, the papers' cross-entropy),
            ``losses.bce_auc_loss.BCEAUCLoss`` (Xception "w AUC loss", Tables 7-9) or
            ``losses.FocalLoss``.
        optimizer: Optimizer factory (paper: Adam, lr 1e-4).
        p_targets: Target priors for minDCF.
        threshold: Probability above which ACC counts a frame as fake.
        video_aggregation: ``mean`` or ``max`` of frame probabilities per video.
        channels_last: Run the network in channels-last memory format (faster convs on GPU).
        compile: ``torch.compile`` the network (in place, so checkpoints keep their keys).
        init_checkpoint: A Lightning checkpoint of this class to start from, e.g. the FF++ model
            the paper fine-tunes on its imbalanced subsets (Sec. 4.2.2); ``--ckpt_path`` of
            ``test`` still loads over it.
    """

    def __init__(
        self,
        network: nn.Module,
        criterion: nn.Module | None = None,
        optimizer: OptimizerCallable = default_adam,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        video_aggregation: Reduction = "mean",
        channels_last: bool = False,
        compile: bool = False,
        init_checkpoint: str | None = None,
    ) -> None:
        super().__init__(("frame", "video"), optimizer, p_targets, threshold, video_aggregation)
        self.save_hyperparameters(ignore=["network", "criterion", "optimizer"])
        self.set_pixel_stats(getattr(network, "pretrained_cfg", {}))
        if channels_last:
            network = network.to(memory_format=torch.channels_last)  # weights too, or convs fall back
        self.network = network
        self.criterion = criterion if criterion is not None else nn.BCEWithLogitsLoss()
        self.channels_last = channels_last
        if compile:
            self.network.compile()
        if init_checkpoint is not None:
            self._load_weights(init_checkpoint)

    def _load_weights(self, path: str) -> None:
        key = "model.init_args.init_checkpoint"
        if not Path(path).is_file():
            raise SuiteError(f"{key}: checkpoint not found: {path}")
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        state = checkpoint.get("state_dict", checkpoint)
        try:
            self.load_state_dict(state)
        except RuntimeError as error:
            raise SuiteError(f"{key}: {path} does not fit this network: {error}") from None

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Args: batch with ``frames`` uint8 (N, 3, S, S).

        Returns:
            ``{"frame": (N,) logits of fake}``.
        """
        frames = self.normalize(batch["frames"])
        if self.channels_last:
            frames = frames.contiguous(memory_format=torch.channels_last)
        return {"frame": self.network(frames)}

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        """The criterion on each frame's own label (the video's, unless the data annotate frames).

        Returns:
            ``{"loss"}``, plus the criterion's parts when it returns a dict (``bce``, ``auc``).
        """
        labels = batch.get("frame_label", batch["label"]).to(outputs["frame"].dtype)
        value = self.criterion(outputs["frame"], labels)
        return {"loss": value} if isinstance(value, Tensor) else dict(value)


__all__ = ["BinaryFrameClassifier"]
