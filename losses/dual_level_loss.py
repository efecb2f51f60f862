"""The dual-level paper's total loss: beta * L_video + (1 - beta) * L_frame (eq. 5)."""

from __future__ import annotations

from torch import Tensor, nn

from losses.bce_auc_loss import BCEAUCLoss


class DualLevelLoss(nn.Module):
    r"""Video- and frame-level joint losses of Pu et al. (2022), eqs. 4-5.

    .. math:: L = \beta L_v + (1 - \beta) L_f,\quad L_\ell = \alpha L_{BCE} + (1 - \alpha) L_{AUC}

    The frame-level AUC term ranks every valid frame of the batch against every other, across
    videos; padded frames (mask False) take no part.

    Args:
        alpha: BCE weight inside each level.
        beta: Weight of the video level.
        gamma: AUC-loss margin.
        p: AUC-loss exponent.
    """

    def __init__(self, alpha: float = 0.5, beta: float = 0.5, gamma: float = 0.15, p: float = 2.0) -> None:
        super().__init__()
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        self.beta = beta
        self.level_loss = BCEAUCLoss(alpha=alpha, gamma=gamma, p=p)

    def forward(
        self,
        video_logits: Tensor,
        video_labels: Tensor,
        frame_logits: Tensor,
        frame_labels: Tensor,
        frame_mask: Tensor,
    ) -> dict[str, Tensor]:
        """Args: video_logits, video_labels (N,); frame_logits, frame_labels, frame_mask (N, T).

        Returns:
            ``loss`` and its parts ``video_loss``, ``frame_loss``, ``video_bce``, ``video_auc``,
            ``frame_bce``, ``frame_auc``.
        """
        video = self.level_loss(video_logits, video_labels)
        frame = self.level_loss(frame_logits.reshape(-1), frame_labels.reshape(-1), frame_mask.reshape(-1))
        return {
            "loss": self.beta * video["loss"] + (1.0 - self.beta) * frame["loss"],
            "video_loss": video["loss"],
            "frame_loss": frame["loss"],
            "video_bce": video["bce"],
            "video_auc": video["auc"],
            "frame_bce": frame["bce"],
            "frame_auc": frame["auc"],
        }
