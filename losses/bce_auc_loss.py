"""alpha * BCE + (1 - alpha) * AUC loss: the dual-level paper's per-level loss (eq. 4)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from losses.auc_loss import AUCLoss


class BCEAUCLoss(nn.Module):
    r"""Joint loss of one prediction level (eq. 4 of Pu et al., 2022).

    .. math:: L = \alpha \, L_{BCE}(s, y) + (1 - \alpha) \, L_{AUC}(\sigma(s), y)

    Args:
        alpha: Weight of BCE; ``1.0`` removes the AUC loss (the paper's "w/o AUC loss" ablation).
        gamma: Margin of the AUC loss.
        p: Exponent of the AUC loss.
    """

    def __init__(self, alpha: float = 0.5, gamma: float = 0.15, p: float = 2.0) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.alpha = alpha
        self.auc = AUCLoss(gamma=gamma, p=p)

    def forward(self, logits: Tensor, labels: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """Loss over the entries where ``mask`` is True.

        Args:
            logits: (M,) logits of fake.
            labels: (M,) 1 = fake, 0 = real.
            mask: optional bool (M,); padded frames are excluded.

        Returns:
            ``{"loss", "bce", "auc"}``, each 0-dim.
        """
        if mask is not None:
            logits, labels = logits[mask], labels[mask]
        labels = labels.to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, labels)
        auc = self.auc(logits, labels) if self.alpha < 1.0 else logits.sum() * 0.0
        return {"loss": self.alpha * bce + (1.0 - self.alpha) * auc, "bce": bce, "auc": auc}


__all__ = ["BCEAUCLoss"]
