"""DualLevelAUCNet: Pu et al., "Learning a deep dual-level network for robust DeepFake detection" (2022).

A CNN encodes each face, a GRU (or LSTM) runs over the clip, one head scores every frame and
one scores the mean-pooled sequence; both levels train with alpha * BCE + (1 - alpha) * AUC loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from deepfake_suite.errors import SuiteError
from lightning_modules.backbones import backbone_width, create_backbone
from lightning_modules.base import DetectorModule
from losses.dual_level_loss import AuxLoss, DualLevelLoss
from metrics.detection import DEFAULT_P_TARGETS, GatheredScores


def paper_adam(params: Iterable[Any]) -> torch.optim.Optimizer:
    """Adam with the paper's learning rate, 1e-4 (section 4.2.3)."""
    return torch.optim.Adam(params, lr=1e-4)


class DualLevelNet(nn.Module):
    """Backbone -> temporal RNN -> frame head on every step and video head on the masked mean.

    Args:
        backbone: A module mapping (B, 3, H, W) to (B, F) features.
        feature_dim: F.
        temporal: ``gru`` (paper), ``lstm``, or ``none`` (the ablation without a temporal module).
        hidden_size: RNN width (paper: 256).
        num_layers: RNN depth (paper: 3).
        init_std: Std of the normal init of the layers after the CNN (paper: 0.01, biases 0);
            ``None`` keeps PyTorch's default init.
        frame_head: Keep the frame-level classifier (FLC of Table 6).
        video_head: Keep the video-level classifier (VLC of Table 6).
    """

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        temporal: Literal["gru", "lstm", "none"] = "gru",
        hidden_size: int = 256,
        num_layers: int = 3,
        init_std: float | None = 0.01,
        frame_head: bool = True,
        video_head: bool = True,
    ) -> None:
        super().__init__()
        if not (frame_head or video_head):
            raise ValueError("DualLevelNet needs at least one of frame_head and video_head")
        self.backbone = backbone
        if temporal == "none":
            self.temporal: nn.Module | None = None
            self.project: nn.Module = nn.Linear(feature_dim, hidden_size)
        else:
            rnn = nn.GRU if temporal == "gru" else nn.LSTM
            self.temporal = rnn(feature_dim, hidden_size, num_layers=num_layers, batch_first=True)
            self.project = nn.Identity()
        self.frame_head = nn.Linear(hidden_size, 1) if frame_head else None
        self.video_head = nn.Linear(hidden_size, 1) if video_head else None
        if init_std is not None:
            self._init_new_layers(init_std)

    def _init_new_layers(self, std: float) -> None:
        # Section 4.2.3: layers after the CNN start from N(0, 0.01) weights and zero biases.
        for module in (self.temporal, self.project, self.frame_head, self.video_head):
            if module is None:
                continue
            for name, param in module.named_parameters():
                if "weight" in name:
                    nn.init.normal_(param, mean=0.0, std=std)
                elif "bias" in name:
                    nn.init.zeros_(param)

    def forward(self, frames: Tensor, mask: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Args: frames (N, T, 3, H, W) normalised; mask bool (N, T), False on padding.

        Returns:
            ``(frame_logits (N, T), video_logits (N,))``; ``None`` for a level without its head.
        """
        n, t = frames.shape[:2]
        features = self.backbone(frames.flatten(0, 1)).reshape(n, t, -1)
        if self.temporal is not None:
            # The RNN is causal, so padding appended at the end cannot change the valid steps.
            hidden, _ = self.temporal(features)
        else:
            hidden = self.project(features)
        frame_logits = self.frame_head(hidden).squeeze(-1) if self.frame_head is not None else None
        if self.video_head is None:
            return frame_logits, None
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return frame_logits, self.video_head(pooled).squeeze(-1)


class DualLevelAUCNet(DetectorModule):
    """The dual-level detector with its joint BCE + AUC loss, as a LightningModule.

    Scores are logits of fake (label 1); metrics use their sigmoid. Video-level scores come from
    the video head, not from averaging frames. The ablations of Table 6 and the loss comparisons
    of Tables 7-9 are switches: ``frame_classifier``, ``video_classifier``, ``temporal="none"``,
    ``aux_loss`` (``auc``, ``focal`` or ``none``); a level without its classifier reports no
    metrics, as in the paper's table.

    Args:
        backbone: timm model name (paper: ResNet-50 with ImageNet weights, ``resnet50.tv_in1k``).
        pretrained: ``True``, ``False`` or a local weight file (see :func:`create_backbone`).
        temporal: ``gru`` (paper), ``lstm`` or ``none``.
        hidden_size: RNN width (paper: 256).
        num_layers: RNN depth (paper: 3).
        alpha: BCE weight in each level's loss (paper: 0.5).
        beta: Video-level weight in the total loss (paper: 0.5).
        gamma: AUC-loss margin (paper: 0.15).
        p: AUC-loss exponent (paper: 2).
        optimizer: Optimizer factory (paper: Adam, lr 1e-4).
        p_targets: Target priors for minDCF.
        threshold: Probability above which ACC counts a prediction as fake.
        channels_last: Run the CNN in channels-last memory format (faster on GPUs).
        compile: ``torch.compile`` the CNN in place (state-dict keys unchanged, so checkpoints load
            in eager runs too). The recurrent module stays eager: cuDNN's fused GRU/LSTM kernel is
            what it would compile to anyway.
        init_std: Init std of the RNN and heads (paper: 0.01); ``None`` for PyTorch's default,
            which lets a small CNN trained from scratch start learning sooner.
        frame_classifier: Keep the frame-level classifier (FLC).
        video_classifier: Keep the video-level classifier (VLC).
        aux_loss: Term beside BCE in each level's loss: ``auc`` (paper), ``focal`` (Tables 7-9's
            "Ours with FL") or ``none`` (BCE only).
        focal_alpha: Focal loss's weight of the fakes (paper: 0.6; 0.3 on Celeb-10).
        focal_gamma: Focal loss's focusing exponent (paper: 2).
    """

    def __init__(
        self,
        backbone: str = "resnet50.tv_in1k",
        pretrained: bool | str = True,
        temporal: Literal["gru", "lstm", "none"] = "gru",
        hidden_size: int = 256,
        num_layers: int = 3,
        alpha: float = 0.5,
        beta: float = 0.5,
        gamma: float = 0.15,
        p: float = 2.0,
        optimizer: OptimizerCallable = paper_adam,
        p_targets: Sequence[float] = DEFAULT_P_TARGETS,
        threshold: float = 0.5,
        channels_last: bool = False,
        init_std: float | None = 0.01,
        frame_classifier: bool = True,
        video_classifier: bool = True,
        aux_loss: AuxLoss = "auc",
        focal_alpha: float | None = 0.6,
        focal_gamma: float = 2.0,
        compile: bool = False,
    ) -> None:
        if not (frame_classifier or video_classifier):
            raise SuiteError("model.init_args: frame_classifier and video_classifier cannot both be false")
        levels = [name for name, on in (("video", video_classifier), ("frame", frame_classifier)) if on]
        super().__init__(levels, optimizer, p_targets, threshold)
        self.save_hyperparameters(ignore=["optimizer"])
        cnn = create_backbone(backbone, pretrained)
        if channels_last:
            cnn = cnn.to(memory_format=torch.channels_last)  # weights too, or convs fall back
        feature_dim = backbone_width(cnn)
        if compile:
            cnn.compile()
        self.set_pixel_stats(getattr(cnn, "pretrained_cfg", {}))
        self.net = DualLevelNet(
            cnn, feature_dim, temporal, hidden_size, num_layers, init_std, frame_classifier, video_classifier
        )
        self.criterion = DualLevelLoss(
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            p=p,
            aux_loss=aux_loss,
            focal_alpha=focal_alpha,
            focal_gamma=focal_gamma,
            video_level=video_classifier,
            frame_level=frame_classifier,
        )
        self.channels_last = channels_last
        self._clip_len: int | None = None  # frames per clip, for naming frame-level score rows

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Args: batch with ``frames`` uint8 (N, T, 3, H, W) and ``mask`` (N, T).

        Returns:
            ``{"frame": (N, T) logits, "video": (N,) logits}``.
        """
        frames = self.normalize(batch["frames"])
        if self.channels_last:
            n, t = frames.shape[:2]
            frames = frames.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (n, t))
        frame_logits, video_logits = self.net(frames, batch["mask"])
        outputs = {"frame": frame_logits, "video": video_logits}
        return {level: logits for level, logits in outputs.items() if logits is not None}

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        # Under bf16 autocast the heads give bf16 logits: sigmoid scores 0.004 apart at 0.5 would
        # tie, and the AUC hinge gamma - (s_pos - s_neg) would move in those steps.
        video, frame = (outputs.get(level) for level in ("video", "frame"))
        return self.criterion(
            None if video is None else video.float(),
            batch["label"],
            None if frame is None else frame.float(),
            batch["frame_labels"],
            batch["mask"],
        )

    def score_video_ids(self, level: str, gathered: GatheredScores) -> list[str] | None:
        """Frame rows have ids ``clip * T + t`` (see :meth:`update_metrics`): their clip names them."""
        if level != "frame" or self._clip_len is None:
            return super().score_video_ids(level, gathered)
        clips = gathered.ids.detach().cpu() // self._clip_len
        return super().score_video_ids(level, gathered._replace(ids=clips))

    def update_metrics(self, stage: str, outputs: dict[str, Tensor], batch: dict[str, Any]) -> None:
        # Ids let the metrics drop the repeats DistributedSampler pads the ranks with.
        index, mask = batch["index"], batch["mask"]
        self._clip_len = int(mask.shape[1])
        frame_ids = index[:, None] * mask.shape[1] + torch.arange(mask.shape[1], device=mask.device)
        if "video" in outputs:
            self.metrics[f"{stage}_video"].update(
                outputs["video"].float().sigmoid(), batch["label"].long(), sample_id=index
            )
        if "frame" not in outputs:
            return
        self.metrics[f"{stage}_frame"].update(
            outputs["frame"][mask].float().sigmoid(),
            batch["frame_labels"][mask].long(),
            sample_id=frame_ids[mask],
        )

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        logits = self(batch)
        row: dict[str, Any] = {"video_id": list(batch["video_id"])}
        if "video" in logits:
            row["score"] = logits["video"].sigmoid()
        if "frame" in logits:
            frame_scores = logits["frame"].sigmoid()  # (N, T)
            row["frame_scores"] = [s[m] for s, m in zip(frame_scores, batch["mask"], strict=True)]
        return row
