"""Plain networks of the temporal LSTM paper (Lee, Kim and Yoon, Sec. 2 "Model architecture").

- :class:`CNN4`: the "simply designed 4-layer CNN" feature extractor (no widths in the paper).
- :class:`TimmEncoder`: a timm backbone (the paper's ResNet-50) projected to the 512-d features.
- :func:`build_frame_encoder`: either, by name (``"cnn4"`` or any timm name).
- :class:`LSTMHead`: "a 4-layer LSTM with 512 hidden units and 0.3 chance of dropout", one output
  through a sigmoid.
- :class:`FrameMLPHead`: the 4-layer MLP of Table 3, the same features without their order.

Heads return logits; the paper's sigmoid output is ``sigmoid(logit)``, applied inside
``BCEWithLogitsLoss`` for training (the same loss, computed stably) and in the metrics.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lightning_modules.backbones import backbone_width, create_backbone

IMAGENET_CFG = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


class CNN4(nn.Module):
    """Four conv blocks (3x3 conv, batch norm, ReLU, 2x2 max-pool), global average pool, linear.

    The paper gives no layer sizes for its "4-layer CNN" (citing AlexNet); the widths double
    from 32 by default. Any input size >= 16 works: the pooling is global.

    Args:
        widths: Channels of the four conv layers.
        feature_dim: Width of the output features (paper: 512).
    """

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256), feature_dim: int = 512) -> None:
        super().__init__()
        if len(widths) != 4 or min(widths) < 1 or feature_dim < 1:
            raise ValueError(
                f"CNN4 needs 4 positive widths and feature_dim >= 1, got {list(widths)} and {feature_dim}"
            )
        blocks: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise([3, *widths]):
            blocks += [
                nn.Conv2d(width_in, width_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(width_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.project = nn.Linear(widths[-1], feature_dim)
        self.feature_dim = feature_dim
        self.pretrained_cfg: dict[str, Any] = dict(IMAGENET_CFG)

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) normalised -> (B, feature_dim)."""
        return self.project(self.features(images))


class TimmEncoder(nn.Module):
    """A timm backbone's pooled features, linearly projected to ``feature_dim``.

    The paper's ResNet-50 "outputs are 512 dimensional vectors": its 2048-d pooled features go
    through a linear layer to 512 (how the paper reduced them is not said).

    Args:
        name: timm model name (``resnet50``; ``resnet50.tv_in1k`` for torchvision's weights).
        pretrained: ``False``, ``True`` or a local weight file (see :func:`create_backbone`).
        feature_dim: Output width; ``None`` keeps the backbone's own features (no projection).
    """

    def __init__(self, name: str, pretrained: bool | str = False, feature_dim: int | None = 512) -> None:
        super().__init__()
        self.backbone = create_backbone(name, pretrained)
        width = backbone_width(self.backbone)
        self.project: nn.Module = nn.Identity() if feature_dim is None else nn.Linear(width, feature_dim)
        self.feature_dim = width if feature_dim is None else feature_dim
        self.pretrained_cfg = dict(getattr(self.backbone, "pretrained_cfg", IMAGENET_CFG))

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) normalised -> (B, feature_dim)."""
        return self.project(self.backbone(images))


def build_frame_encoder(
    name: str,
    pretrained: bool | str = False,
    feature_dim: int | None = 512,
    cnn_widths: Sequence[int] = (32, 64, 128, 256),
) -> CNN4 | TimmEncoder:
    """The paper's frame feature extractor: ``"cnn4"`` (:class:`CNN4`) or a timm name.

    Raises:
        ValueError: ``cnn4`` with ``pretrained`` or without a ``feature_dim``.
    """
    if name == "cnn4":
        if pretrained:
            raise ValueError("extractor cnn4 has no pretrained weights: set pretrained: false")
        if feature_dim is None:
            raise ValueError("extractor cnn4 needs a feature_dim")
        return CNN4(cnn_widths, feature_dim)
    return TimmEncoder(name, pretrained, feature_dim)


def encode_frames(encoder: nn.Module, frames: Tensor) -> Tensor:
    """Run a per-frame encoder over clips: (N, T, 3, H, W) -> (N, T, D)."""
    n, t = frames.shape[:2]
    return encoder(frames.flatten(0, 1)).unflatten(0, (n, t))


def last_valid(outputs: Tensor, mask: Tensor) -> Tensor:
    """(N, T, H) outputs read at each sequence's last True step of ``mask`` (N, T) -> (N, H).

    Clips are padded at the end (``datamodules.sampling``), so for a causal RNN the output at the
    last valid step has seen no padding. A clip without valid steps reads step 0.
    """
    last = (mask.long().sum(1) - 1).clamp_min(0)
    return outputs[torch.arange(len(outputs), device=outputs.device), last]


class LSTMHead(nn.Module):
    """The detection model: a stacked LSTM over frame features, one logit of fake per clip.

    Dropout 0.3 acts between the LSTM layers (PyTorch's ``dropout`` argument) and on the last
    hidden state before the output layer; the paper says only "0.3 chance of dropout".

    Args:
        input_dim: Feature width (paper: 512).
        hidden_size: LSTM width (paper: 512).
        num_layers: Stacked LSTM layers (paper: 4).
        dropout: Dropout probability (paper: 0.3).
    """

    def __init__(
        self, input_dim: int = 512, hidden_size: int = 512, num_layers: int = 4, dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            input_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        """Args: features (N, T, D); mask bool (N, T), False on end padding. Returns: (N,) logits."""
        outputs, _ = self.lstm(features)
        return self.out(self.dropout(last_valid(outputs, mask))).squeeze(-1)


class FrameMLPHead(nn.Module):
    """Table 3's 4-layer MLP: each frame's features scored alone, the logits averaged per clip.

    The paper compares its LSTM with "4-layer MLP" on the same extractor features to show that
    their order matters; an MLP applied to every frame and averaged over the clip's valid frames
    sees exactly the LSTM's features but not their order. Widths are not in the paper; the
    defaults are those of the suite's per-frame baseline
    (:class:`lightning_modules.baseline_networks.FeatureMLP`).

    Args:
        input_dim: Feature width (paper: 512).
        hidden_sizes: Widths of the three hidden layers (four linear layers in all).
        dropout: Dropout after each hidden layer.
    """

    def __init__(
        self, input_dim: int = 512, hidden_sizes: Sequence[int] = (512, 256, 128), dropout: float = 0.3
    ) -> None:
        super().__init__()
        if len(hidden_sizes) != 3 or min(hidden_sizes) < 1:
            raise ValueError(
                f"hidden_sizes must be 3 positive widths (a 4-layer MLP), got {list(hidden_sizes)}"
            )
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise([input_dim, *hidden_sizes]):
            layers += [nn.Linear(width_in, width_out), nn.ReLU(), nn.Dropout(dropout)]
        self.mlp = nn.Sequential(*layers, nn.Linear(hidden_sizes[-1], 1))

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        """Args: features (N, T, D); mask bool (N, T). Returns: (N,) mean of valid frames' logits."""
        logits = self.mlp(features).squeeze(-1)
        weights = mask.to(logits.dtype)
        return (logits * weights).sum(1) / weights.sum(1).clamp_min(1.0)
