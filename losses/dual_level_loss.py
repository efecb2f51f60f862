"""The dual-level paper's total loss: beta * L_video + (1 - beta) * L_frame (eq. 5), with its ablations."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from losses.bce_auc_loss import BCEAUCLoss
from losses.bce_focal_loss import BCEFocalLoss

AuxLoss = Literal["auc", "focal", "none"]


class DualLevelLoss(nn.Module):
    r"""Video- and frame-level joint losses of Pu et al. (2022), eqs. 4-5.

    .. math:: L = \beta L_v + (1 - \beta) L_f,\quad L_\ell = \alpha L_{BCE} + (1 - \alpha) L_{AUC}

    The frame-level AUC term ranks every valid frame of the batch against every other, across
    videos; padded frames (mask False) take no part.

    The ablations of Table 6 and the comparisons of Tables 7-9 are switches: ``aux_loss="none"``
    trains with BCE only ("w/o AUC loss"), ``"focal"`` replaces the AUC term by focal loss
    (:class:`~losses.bce_focal_loss.BCEFocalLoss`); a network without one of the two classifiers
    trains on the other level alone (``video_level`` / ``frame_level`` False), whatever ``beta``.

    Args:
        alpha: BCE weight inside each level.
        beta: Weight of the video level when both levels are trained.
        gamma: AUC-loss margin.
        p: AUC-loss exponent.
        aux_loss: The term beside BCE: ``auc`` (paper), ``focal`` or ``none``.
        focal_alpha: Focal loss's weight of the fakes (paper: 0.6).
        focal_gamma: Focal loss's focusing exponent (paper: 2).
        video_level: Train the video-level classifier.
        frame_level: Train the frame-level classifier.
    """

    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        gamma: float = 0.15,
        p: float = 2.0,
        aux_loss: AuxLoss = "auc",
        focal_alpha: float | None = 0.6,
        focal_gamma: float = 2.0,
        video_level: bool = True,
        frame_level: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        if not (video_level or frame_level):
            raise ValueError("at least one of video_level and frame_level must be trained")
        self.beta = beta if video_level and frame_level else float(video_level)
        self.video_level = video_level
        self.frame_level = frame_level
        self.aux_name = aux_loss
        self.level_loss: nn.Module
        if aux_loss == "auc":
            self.level_loss = BCEAUCLoss(alpha=alpha, gamma=gamma, p=p)
        elif aux_loss == "focal":
            self.level_loss = BCEFocalLoss(alpha=alpha, focal_alpha=focal_alpha, focal_gamma=focal_gamma)
        elif aux_loss == "none":
            self.level_loss = BCEAUCLoss(alpha=1.0, gamma=gamma, p=p)
        else:
            raise ValueError(f"aux_loss must be 'auc', 'focal' or 'none', got {aux_loss!r}")

    def forward(
        self,
        video_logits: Tensor | None,
        video_labels: Tensor,
        frame_logits: Tensor | None,
        frame_labels: Tensor,
        frame_mask: Tensor,
    ) -> dict[str, Tensor]:
        """Args: video_logits, video_labels (N,); frame_logits, frame_labels, frame_mask (N, T).

        A level that is not trained may pass ``None`` logits.

        Returns:
            ``loss`` and, per trained level, ``{level}_loss``, ``{level}_bce`` and the auxiliary
            term (``{level}_auc`` or ``{level}_focal``).
        """
        parts: dict[str, Tensor] = {}
        if self.video_level:
            if video_logits is None:
                raise ValueError("video_level=True needs video logits")
            parts.update(_prefixed("video", self.level_loss(video_logits, video_labels)))
        if self.frame_level:
            if frame_logits is None:
                raise ValueError("frame_level=True needs frame logits")
            flat = self.level_loss(frame_logits.reshape(-1), frame_labels.reshape(-1), frame_mask.reshape(-1))
            parts.update(_prefixed("frame", flat))
        video = parts.get("video_loss", 0.0)
        frame = parts.get("frame_loss", 0.0)
        loss = self.beta * video + (1.0 - self.beta) * frame
        assert isinstance(loss, Tensor)  # at least one level is trained
        if self.aux_name == "none":
            parts = {k: v for k, v in parts.items() if not k.endswith("_auc")}
        return {"loss": loss, **parts}


def _prefixed(level: str, losses: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"{level}_{name}": value for name, value in losses.items()}
