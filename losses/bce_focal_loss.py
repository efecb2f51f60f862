"""alpha * BCE + (1 - alpha) * focal loss: the dual-level paper's "Ours with FL" comparison."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from losses.focal_loss import FocalLoss


class BCEFocalLoss(nn.Module):
    r"""Eq. 4 of Pu et al. (2022) with the AUC term replaced by focal loss (Sec. 4.4, Tables 7-9).

    .. math:: L = \alpha \, L_{BCE}(s, y) + (1 - \alpha) \, L_{FL}(s, y)

    The paper says its AUC loss is "replaced with focal loss" and tunes focal's own weight
    (0.6, 0.3 on Celeb-10) with its focusing exponent fixed at 2; it does not say whether the BCE
    term stays. Keeping it matches "replaced" literally; ``alpha=0`` gives focal loss alone.

    Args:
        alpha: Weight of BCE in [0, 1].
        focal_alpha: Focal loss's weight of the fakes (paper: 0.6).
        focal_gamma: Focal loss's focusing exponent (paper: 2).
    """

    def __init__(self, alpha: float = 0.5, focal_alpha: float | None = 0.6, focal_gamma: float = 2.0) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.alpha = alpha
        self.focal = FocalLoss(alpha=focal_alpha, gamma=focal_gamma)

    def forward(self, logits: Tensor, labels: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """Loss over the entries where ``mask`` is True.

        Args:
            logits: (M,) logits of fake.
            labels: (M,) 1 = fake, 0 = real.
            mask: optional bool (M,); padded frames are excluded.

        Returns:
            ``{"loss", "bce", "focal"}``, each 0-dim.
        """
        if mask is not None:
            logits, labels = logits[mask], labels[mask]
        labels = labels.to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, labels)
        focal = self.focal(logits, labels)
        return {"loss": self.alpha * bce + (1.0 - self.alpha) * focal, "bce": bce, "focal": focal}
