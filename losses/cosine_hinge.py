r"""Cosine-similarity hinge loss of the temporal LSTM paper (Lee, Kim and Yoon, "Deepfake detection
using supervised temporal feature extraction model and LSTM", eqs. 1-2), for the frame-feature
extractor.

For clip n with frame features :math:`f_1, \dots, f_T`, :math:`C^{(n)}_{ij} = \cos(f_i, f_j)` is
its T x T cosine-similarity matrix and, with eq. 1's mean over the :math:`T^2` entries,

.. math::
    \mathcal{L}_1^{(n)} = \frac{1}{T^2} \sum_{i=1}^{T} \sum_{j=1}^{T} \bigl|C^{(n)}_{ij} - I_{ij}\bigr|,
    \qquad
    \mathcal{L}^{(n)} = \begin{cases} \mathcal{L}_1^{(n)} & \text{fake } (y_n = 1) \\
        \max\bigl(0,\ \Delta - \mathcal{L}_1^{(n)}\bigr) & \text{real} \end{cases}
    \qquad (\text{eq. 2}),

and the loss is the mean of :math:`\mathcal{L}^{(n)}` over the clips of the batch. Eq. 2 gives the
L1 term to :math:`y_n = 1` and the hinge to :math:`y_n = -1`, and the text says which is which:
"For Deepfake videos, we used cosine similarity matrix ... to target identity matrix in L1 norm.
For real videos, we picked the max values between 0 and 1 minus L1 Loss." Fake clips are pulled
towards mutually orthogonal frame features, real clips pushed away from it (the paper wants
similarity near 1 between a real clip's frames). Eq. 2 is ``torch.nn.HingeEmbeddingLoss`` with
input :math:`\mathcal{L}_1^{(n)}` and target +1 for fakes, -1 for reals.

Consequences of the formula kept as is: the diagonal contributes :math:`|1 - 1| = 0`, so
:math:`\mathcal{L}_1 \le (T - 1)/T < \Delta = 1` and a real clip's hinge is never zero; and the
absolute value makes anti-parallel frames (cos = -1) as good as parallel ones for a real clip.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def cosine_identity_l1(features: Tensor, mask: Tensor | None = None) -> Tensor:
    r"""Eq. 1 per clip: mean over the valid :math:`T_n^2` entries of :math:`|C - I|`.

    Args:
        features: (N, T, D) frame features.
        mask: optional (N, T) bool, True for real frames (False = padding).

    Returns:
        (N,) :math:`\mathcal{L}_1`; a clip without valid frames gives 0.
    """
    unit = F.normalize(features, dim=-1)
    cos = unit @ unit.transpose(1, 2)
    n, t = features.shape[:2]
    # Diagonal entries are |cos(f, f) - 1| = 0 exactly; leaving them out keeps rounding of
    # cos(f, f) = 1 +- eps out of the value and the gradient.
    pair = ~torch.eye(t, dtype=torch.bool, device=features.device).expand(n, t, t)
    if mask is None:
        count = torch.full((n,), float(t * t), dtype=cos.dtype, device=cos.device)
    else:
        pair = pair & mask[:, :, None] & mask[:, None, :]
        count = mask.sum(dim=1).to(cos.dtype).square()
    total = torch.where(pair, cos.abs(), 0.0).sum(dim=(1, 2))
    return total / count.clamp_min(1.0)


class CosineSimilarityHingeLoss(nn.Module):
    r"""Eqs. 1-2 of the temporal LSTM paper: L1 to the identity for fakes, hinge for reals.

    .. math::
        \mathcal{L} = \frac{1}{N} \sum_{n} \begin{cases} \mathcal{L}_1^{(n)} & y_n = 1 \text{ (fake)} \\
            \max(0, \Delta - \mathcal{L}_1^{(n)}) & y_n = 0 \text{ (real)} \end{cases}, \qquad
        \mathcal{L}_1^{(n)} = \frac{1}{T^2} \lVert C^{(n)} - I \rVert_1

    (see the module docstring for the reading of the paper).

    Args:
        delta: hinge margin :math:`\Delta` > 0 (1 in the paper).
    """

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        if not (delta > 0.0 and math.isfinite(delta)):
            raise ValueError(f"delta must be a finite number > 0, got {delta}")
        self.delta = delta

    def forward(self, features: Tensor, labels: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean hinge loss over the clips.

        Args:
            features: (N, T, D) frame features of N clips.
            labels: (N,) labels in {0, 1} (bool, int or float), 1 = fake.
            mask: optional (N, T) bool, True for real frames; padded frames take no part and
                :math:`T` becomes the clip's number of valid frames.

        Returns:
            0-dim loss; an empty batch gives 0 connected to the graph.
        """
        if features.ndim != 3 or labels.shape != (features.shape[0],):
            raise ValueError(
                f"features must be (N, T, D) and labels (N,), got features {tuple(features.shape)} "
                f"and labels {tuple(labels.shape)}"
            )
        if bool(((labels != 0) & (labels != 1)).any()):
            raise ValueError("labels must be 0 (real) or 1 (fake)")
        if mask is not None and (mask.shape != features.shape[:2] or mask.dtype != torch.bool):
            raise ValueError(
                f"mask must be a bool tensor of shape {tuple(features.shape[:2])}, "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        if features.shape[0] == 0:
            return features.sum() * 0.0
        l1 = cosine_identity_l1(features, mask)
        per_clip = torch.where(labels == 1, l1, (self.delta - l1).clamp_min(0.0))
        return per_clip.mean()

    def extra_repr(self) -> str:
        return f"delta={self.delta}"
