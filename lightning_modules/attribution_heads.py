"""Networks of the attribution paper (Korshunov et al., ICASSP 2022, Sec. 2): one backbone, four tops.

The four approaches differ only "in the top layers and losses": a single neuron (Binary), a dense
layer with one output per class (Attribution), or a 64-d embedding layer (TripletLoss and
ArcFaceMod). The losses live in :mod:`losses`; these modules only map frames to outputs.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Head = Literal["binary", "attribution", "triplet", "arcface"]
HEADS: tuple[str, ...] = get_args(Head)
#: Heads whose output is an embedding, turned into classes by classifiers fitted afterwards.
METRIC_HEADS: tuple[str, ...] = ("triplet", "arcface")


def head_width(head: Head, num_classes: int, embedding_dim: int) -> int:
    """Outputs of the top layer: 1 (binary), the number of classes, or the embedding size."""
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if head == "binary":
        return 1
    if head == "attribution":
        if num_classes < 2:
            raise ValueError(
                f"the attribution head needs num_classes >= 2 (real + methods), got {num_classes}"
            )
        return num_classes
    if embedding_dim < 1:
        raise ValueError(f"embedding_dim must be >= 1, got {embedding_dim}")
    return embedding_dim


class AttributionNet(nn.Module):
    """Backbone -> pooled features -> one linear top layer (logits or embedding).

    Args:
        backbone: Maps (N, 3, H, W) to pooled features (N, F) (a timm model with ``num_classes=0``).
        feature_dim: F.
        out_dim: Width of the top layer, see :func:`head_width`.
        normalize: L2-normalise the top layer's output (for embeddings: FaceNet's convention; the
            ArcFace loss sees only directions anyway, so the norm carries nothing it trained).
    """

    def __init__(self, backbone: nn.Module, feature_dim: int, out_dim: int, normalize: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.top = nn.Linear(feature_dim, out_dim)
        self.normalize = normalize

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """Args: frames (N, 3, H, W), normalised.

        Returns:
            ``(features (N, F), output (N, out_dim))``: the layer before last (what the paper's
            t-SNE of the Attribution model shows) and the logits or embedding.
        """
        features = self.backbone(frames)
        output = self.top(features)
        if self.normalize:
            output = F.normalize(output.float(), dim=1)
        return features, output


def fake_log_odds(logits: Tensor) -> Tensor:
    r"""Log-odds of fake from a binary logit or from class logits with class 0 = real.

    For C > 1 classes it is :math:`\log \sum_{k \ge 1} e^{z_k} - z_0`, whose sigmoid is exactly
    :math:`1 - \mathrm{softmax}(z)_0`, the Attribution model's fake score.

    Args:
        logits: (N, 1) or (N, C).

    Returns:
        (N,) float32 log-odds, higher = more fake.
    """
    logits = logits.float()
    if logits.shape[1] == 1:
        return logits[:, 0]
    return torch.logsumexp(logits[:, 1:], dim=1) - logits[:, 0]
