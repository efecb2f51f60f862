r"""Binary focal loss (Lin et al., ICCV 2017) on logits: the dual-level paper's comparison loss.

.. math::
    \mathcal{L} = \frac{1}{n} \sum_{i=1}^{n} -\alpha_{t,i} (1 - p_{t,i})^\gamma \log p_{t,i}, \qquad
    p_t = \begin{cases} \sigma(z) & y = 1 \\ 1 - \sigma(z) & y = 0 \end{cases}, \qquad
    \alpha_t = \begin{cases} \alpha & y = 1 \\ 1 - \alpha & y = 0 \end{cases}

for fake logits :math:`z` and labels :math:`y` (1 = fake). :math:`\alpha` weights the fakes, the
positive class of Lin et al. The dual-level paper (Pu et al., Sec. 4.4) replaces its AUC loss by
this one with :math:`\gamma = 2` and :math:`\alpha = 0.6` (0.3 on Celeb-10), tuned on FF++
validation; the defaults here are Lin et al.'s :math:`\alpha = 0.25, \gamma = 2`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FocalLoss(nn.Module):
    r"""Mean binary focal loss :math:`-\alpha_t (1 - p_t)^\gamma \log p_t` over the batch.

    Computed in log space, :math:`\log p_t = \log\sigma(z_t)` and
    :math:`(1 - p_t)^\gamma = \exp(\gamma \log\sigma(-z_t))` with :math:`z_t = z` for fakes and
    :math:`-z` for reals, so logits of any size give finite values and gradients (a fake at
    logit -100 costs :math:`100\,\alpha`, not ``inf``). ``gamma=0, alpha=None`` is BCE.

    Args:
        alpha: weight of the fakes (label 1) in [0, 1]; reals get ``1 - alpha``. ``None``
            weights both classes 1.
        gamma: focusing exponent, >= 0.

    Example:
        >>> loss = FocalLoss(alpha=0.25, gamma=2.0)
        >>> loss(torch.tensor([0.0]), torch.tensor([1]))  # 0.25 * 0.5**2 * ln 2
        tensor(0.0433)
    """

    def __init__(self, alpha: float | None = 0.25, gamma: float = 2.0) -> None:
        super().__init__()
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1] or None, got {alpha}")
        if not (gamma >= 0.0 and math.isfinite(gamma)):
            raise ValueError(f"gamma must be a finite number >= 0, got {gamma}")
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Mean focal loss.

        Args:
            logits: (N,) logits of fake.
            labels: (N,) labels in {0, 1} (bool, int or float), 1 = fake.

        Returns:
            0-dim loss; an empty batch gives 0 connected to the graph.
        """
        if logits.ndim != 1 or logits.shape != labels.shape:
            raise ValueError(
                f"logits and labels must both have shape (N,), got logits {tuple(logits.shape)} "
                f"and labels {tuple(labels.shape)}"
            )
        if bool(((labels != 0) & (labels != 1)).any()):
            raise ValueError("labels must be 0 (real) or 1 (fake)")
        if logits.numel() == 0:
            return logits.sum() * 0.0
        is_fake = labels == 1
        z_t = torch.where(is_fake, logits, -logits)
        loss = -torch.exp(self.gamma * F.logsigmoid(-z_t)) * F.logsigmoid(z_t)
        if self.alpha is not None:
            loss = torch.where(is_fake, self.alpha * loss, (1.0 - self.alpha) * loss)
        return loss.mean()

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}"
