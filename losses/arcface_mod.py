r"""ArcFaceMod: additive angular margin loss with a per-class margin (Korshunov et al., "Custom
attribution loss for improving generalization and interpretability of deepfake detection",
ICASSP 2022, Sec. 2.1), built on ArcFace (Deng et al., CVPR 2019, eq. 3).

.. math::
    \mathcal{L} = -\frac{1}{n} \sum_{i=1}^{n}
        \log \frac{e^{s \cos(\theta_{y_i} + m_{y_i})}}
                  {e^{s \cos(\theta_{y_i} + m_{y_i})} + \sum_{j \ne y_i} e^{s \cos\theta_j}},
    \qquad \cos\theta_j = \frac{W_j^\top x_i}{\lVert W_j \rVert \lVert x_i \rVert}

with learnable class centres :math:`W_j`. The modification is the margin :math:`m_{y}` that
depends on the sample's class: 0.6 rad for real (class 0) and 0.4 rad for every fake class, up
from and down from ArcFace's 0.5, to push the real class further from all the fakes. Margins are
in **radians**; pytorch-metric-learning's ``ArcFaceLoss(margin=28.6)`` takes degrees
(28.6 deg = 0.5 rad).

Scale: the attribution paper gives none and says it changes only the margin, so :math:`s = 64`,
ArcFace's value, is the default.

:math:`\cos(\theta + m)` is eq. 3 as written, computed as
:math:`\cos\theta\cos m - \sin\theta\sin m` so no ``acos`` gradient blows up at
:math:`\cos\theta = \pm 1`. For :math:`\theta_y > \pi - m_y` (an embedding nearly opposite its
own centre) that target logit rises again with :math:`\theta_y`; the ArcFace authors' code
substitutes :math:`\cos\theta - m \sin m` there. This module keeps the paper's formula.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The attribution paper's margins (Sec. 2.1), read-only so no caller can change the default.
PAPER_MARGINS: Mapping[str, float] = MappingProxyType({"real": 0.6, "fake": 0.4})


def _margin_vector(margins: Mapping[str, float] | Sequence[float] | None, num_classes: int) -> list[float]:
    """Per-class margins in radians, class 0 = real."""
    if margins is None:
        margins = PAPER_MARGINS
    if isinstance(margins, Mapping):
        if set(margins) != {"real", "fake"}:
            raise ValueError(
                f"margins as a mapping needs exactly the keys 'real' and 'fake', got {sorted(margins)}"
            )
        values = [float(margins["real"])] + [float(margins["fake"])] * (num_classes - 1)
    else:
        values = [float(m) for m in margins]
        if len(values) != num_classes:
            raise ValueError(f"margins has {len(values)} values but num_classes is {num_classes}")
    for value in values:
        if not 0.0 <= value < math.pi:
            hint = " (degrees? pytorch-metric-learning's ArcFaceLoss takes them)" if value >= math.pi else ""
            raise ValueError(f"each margin must be in radians, 0 <= m < pi, got {value}{hint}")
    return values


class ArcFaceMod(nn.Module):
    r"""ArcFace cross-entropy with class-dependent additive angular margins and learnable centres.

    Args:
        embedding_dim: size D of the embeddings (64 in the attribution paper).
        num_classes: number of classes C; class 0 is real, 1..C-1 fake (one per method for
            attribution, or a single fake class).
        margins: ``{"real": m_real, "fake": m_fake}`` (every fake class gets ``m_fake``) or a
            sequence of C margins, in radians; ``None`` is the paper's ``{"real": 0.6,
            "fake": 0.4}``.
        scale: the scale :math:`s` of the cosine logits, > 0.

    Example:
        >>> head = ArcFaceMod(embedding_dim=64)
        >>> embeddings, labels = torch.randn(8, 64), torch.randint(0, 2, (8,))
        >>> loss = head(embeddings, labels)
        >>> fake_score = head.fake_logit(embeddings)  # (8,), higher = more fake
    """

    margins: Tensor

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int = 2,
        margins: Mapping[str, float] | Sequence[float] | None = None,
        scale: float = 64.0,
    ) -> None:
        super().__init__()
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
        if num_classes < 2:
            raise ValueError(
                f"num_classes must be >= 2 (real and at least one fake class), got {num_classes}"
            )
        if not (scale > 0.0 and math.isfinite(scale)):
            raise ValueError(f"scale must be a finite number > 0, got {scale}")
        self.embedding_dim = embedding_dim
        self.num_classes = num_classes
        self.scale = scale
        # Float64 so that 0.6 stays 0.6 for float64 runs; cast to the cosines' dtype in forward.
        # Not persistent: the constructor arguments define the margins, not a checkpoint.
        self.register_buffer(
            "margins",
            torch.tensor(_margin_vector(margins, num_classes), dtype=torch.float64),
            persistent=False,
        )
        # Only the direction of a centre matters; a small normal draw is uniform on the sphere.
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim).normal_(std=0.01))

    def cosine(self, embeddings: Tensor) -> Tensor:
        r"""Cosines between L2-normalised embeddings and class centres.

        Args:
            embeddings: (N, D).

        Returns:
            (N, C) :math:`\cos\theta_j`.
        """
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"embeddings must have shape (N, {self.embedding_dim}), got {tuple(embeddings.shape)}"
            )
        return F.normalize(embeddings, dim=1) @ F.normalize(self.weight, dim=1).T

    def cosine_logits(self, embeddings: Tensor) -> Tensor:
        r"""Scaled cosines without margin, the logits to use at inference.

        Args:
            embeddings: (N, D).

        Returns:
            (N, C) :math:`s \cos\theta_j`.
        """
        return self.scale * self.cosine(embeddings)

    def fake_logit(self, embeddings: Tensor) -> Tensor:
        r"""Log-odds of "any fake class" under the softmax of :meth:`cosine_logits`.

        Args:
            embeddings: (N, D).

        Returns:
            (N,) fake score, higher = more fake; for C = 2 it is :math:`s(\cos\theta_1 - \cos\theta_0)`.
        """
        logits = self.cosine_logits(embeddings)
        return torch.logsumexp(logits[:, 1:], dim=1) - logits[:, 0]

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """Mean ArcFaceMod cross-entropy.

        Args:
            embeddings: (N, D) embeddings (normalised inside).
            labels: (N,) integer classes in [0, C), 0 = real.

        Returns:
            0-dim loss.
        """
        cos = self.cosine(embeddings)
        if labels.shape != (cos.shape[0],) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(
                f"labels must be an integer tensor of shape ({cos.shape[0]},), "
                f"got {labels.dtype} {tuple(labels.shape)}"
            )
        if bool(((labels < 0) | (labels >= self.num_classes)).any()):
            raise ValueError(f"labels must be in [0, {self.num_classes}), got {labels.unique().tolist()}")
        if labels.numel() == 0:
            return cos.sum() * 0.0
        target_cos = cos.gather(1, labels[:, None]).squeeze(1)
        margin = self.margins.to(cos.dtype)[labels]
        # sin(theta) >= 0 on [0, pi]. At cos = +-1 (or past it by rounding) sin is exactly 0 with
        # a zero gradient instead of sqrt's infinite one; elsewhere the value is exact.
        sin_sq = 1.0 - target_cos * target_cos
        sin = torch.where(sin_sq > 0, sin_sq.clamp_min(torch.finfo(cos.dtype).tiny).sqrt(), 0.0)
        target_logit = target_cos * torch.cos(margin) - sin * torch.sin(margin)
        logits = cos.scatter(1, labels[:, None], target_logit[:, None])
        return F.cross_entropy(self.scale * logits, labels)

    def extra_repr(self) -> str:
        return (
            f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, "
            f"margins={self.margins.tolist()}, scale={self.scale}"
        )
