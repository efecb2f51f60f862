"""Plain networks of the baselines the dual-level paper compares against (Pu et al., 2022, Sec. 4.2.2).

Each maps normalised face crops (N, 3, S, S) to (N,) logits of fake and carries a timm-style
``pretrained_cfg`` with the pixel mean/std it expects, so the LightningModule that trains it
(:class:`lightning_modules.baselines.BinaryFrameClassifier`) normalises its input correctly.

- :class:`Meso4` and :class:`MesoInception4`: Afchar et al., "MesoNet: a compact facial video
  forgery detection network", WIFS 2018, layer for layer as the authors' Keras code
  (github.com/DariusAf/MesoNet, ``classifiers.py``): 27,977 and 28,615 trainable parameters at
  their 256x256 input.
- :class:`TimmClassifier`: any timm backbone with one fake logit (Xception, Rössler et al. 2019).
- :class:`FeatureMLP`: a 4-layer MLP on per-frame CNN features (the MLP comparison of the
  temporal-LSTM paper, Table 3).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lightning_modules.backbones import backbone_width, create_backbone

# Keras' ImageDataGenerator(rescale=1/255) in MesoNet: pixels in [0, 1], no mean/std.
_UNIT_RANGE = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}
# MesoNet's pooling: 2, 2, 2, then 4 (a 256 input ends at 8x8).
_MESO_POOLS = (2, 2, 2, 4)


def _meso_flat_side(input_size: int) -> int:
    """Side of the last feature map: Keras ``MaxPooling2D(padding="same")`` rounds up."""
    side = input_size
    for pool in _MESO_POOLS:
        side = math.ceil(side / pool)
    return side


def _keras_init(module: nn.Module) -> None:
    # Keras defaults: Glorot-uniform kernels, zero biases (PyTorch's default init differs).
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def _conv_relu(in_channels: int, out_channels: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    """Keras ``Conv2D(out, kernel, padding="same", dilation_rate=d, activation="relu")``."""
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=padding, dilation=dilation), nn.ReLU()
    )


def _bn(channels: int, momentum: float) -> nn.BatchNorm2d:
    # Keras BatchNormalization: epsilon 1e-3; its momentum m is PyTorch's 1 - m.
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=momentum)


class _MesoNet(nn.Module):
    """Shared MesoNet tail: two more 5x5 conv blocks, then Dropout-Dense(16)-LeakyReLU-Dropout-Dense(1)."""

    pretrained_cfg: dict[str, Any] = _UNIT_RANGE

    def __init__(
        self, features: nn.Sequential, out_channels: int, input_size: int, dropout: float, bn_momentum: float
    ) -> None:
        super().__init__()
        if input_size < 1:
            raise ValueError(f"input_size must be >= 1, got {input_size}")
        self.input_size = input_size
        self.features = nn.Sequential(
            *features,
            _conv_relu(out_channels, 16, 5),
            _bn(16, bn_momentum),
            nn.MaxPool2d(2, ceil_mode=True),
            _conv_relu(16, 16, 5),
            _bn(16, bn_momentum),
            nn.MaxPool2d(4, ceil_mode=True),
        )
        side = _meso_flat_side(input_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(16 * side * side, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(dropout),
            nn.Linear(16, 1),
        )
        _keras_init(self)

    def forward(self, images: Tensor) -> Tensor:
        """Args: images (N, 3, S, S) with S = ``input_size``, pixels in [0, 1].

        Returns:
            (N,) logits of fake (the Keras model ends in a sigmoid; the loss applies it here).
        """
        if images.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"{type(self).__name__} was built for {self.input_size}x{self.input_size} input "
                f"(network input_size) but got {tuple(images.shape[-2:])}; set it to the data's frame_size"
            )
        return self.classifier(self.features(images)).squeeze(-1)


class Meso4(_MesoNet):
    """Meso-4 (Afchar et al., 2018, Fig. 2): four conv blocks of 8, 8, 16, 16 filters.

    Conv(3x3, 8) and three Conv(5x5) layers, each ReLU -> BatchNorm -> MaxPool (2, 2, 2, 4), then
    Dropout(0.5) -> Dense(16) -> LeakyReLU(0.1) -> Dropout(0.5) -> Dense(1). The original works
    on 256x256 faces; ``input_size`` sizes the first dense layer for other inputs (the dual-level
    paper trains it on 64x64 crops).

    Args:
        input_size: Side S of the square input (paper: 256).
        dropout: Dropout before each dense layer (paper: 0.5).
        bn_momentum: PyTorch BatchNorm momentum; Keras' default 0.99 is 0.01 here.
    """

    def __init__(self, input_size: int = 256, dropout: float = 0.5, bn_momentum: float = 0.01) -> None:
        features = nn.Sequential(
            _conv_relu(3, 8, 3),
            _bn(8, bn_momentum),
            nn.MaxPool2d(2, ceil_mode=True),
            _conv_relu(8, 8, 5),
            _bn(8, bn_momentum),
            nn.MaxPool2d(2, ceil_mode=True),
        )
        super().__init__(features, 8, input_size, dropout, bn_momentum)


class InceptionLayer(nn.Module):
    """MesoInception's block: 1x1 | 1x1->3x3 | 1x1->3x3 dilated 2 | 1x1->3x3 dilated 3, concatenated.

    Args:
        in_channels: Input channels.
        a, b, c, d: Output channels of the four branches (the output has ``a + b + c + d``).
    """

    def __init__(self, in_channels: int, a: int, b: int, c: int, d: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [
                _conv_relu(in_channels, a, 1),
                nn.Sequential(_conv_relu(in_channels, b, 1), _conv_relu(b, b, 3)),
                nn.Sequential(_conv_relu(in_channels, c, 1), _conv_relu(c, c, 3, dilation=2)),
                nn.Sequential(_conv_relu(in_channels, d, 1), _conv_relu(d, d, 3, dilation=3)),
            ]
        )
        self.out_channels = a + b + c + d

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, a + b + c + d, H, W)."""
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class MesoInception4(_MesoNet):
    """MesoInception-4 (Afchar et al., 2018, Fig. 3): Meso-4 with its first two convs replaced by
    inception blocks of (1, 4, 4, 2) and (2, 4, 4, 2) channels.

    Args:
        input_size: Side S of the square input (paper: 256).
        dropout: Dropout before each dense layer (paper: 0.5).
        bn_momentum: PyTorch BatchNorm momentum; Keras' default 0.99 is 0.01 here.
    """

    def __init__(self, input_size: int = 256, dropout: float = 0.5, bn_momentum: float = 0.01) -> None:
        first = InceptionLayer(3, 1, 4, 4, 2)
        second = InceptionLayer(first.out_channels, 2, 4, 4, 2)
        features = nn.Sequential(
            first,
            _bn(first.out_channels, bn_momentum),
            nn.MaxPool2d(2, ceil_mode=True),
            second,
            _bn(second.out_channels, bn_momentum),
            nn.MaxPool2d(2, ceil_mode=True),
        )
        super().__init__(features, second.out_channels, input_size, dropout, bn_momentum)


class TimmClassifier(nn.Module):
    """A timm backbone with one linear fake logit (the FF++ Xception baseline and its kin).

    Args:
        backbone: timm model name (Xception: ``legacy_xception``, ImageNet weights).
        pretrained: ``True``, ``False`` or a local weight file (see :func:`create_backbone`).
        drop_rate: Dropout before the logit (Rössler et al.'s ``TransferModel`` option; 0 = none).
    """

    def __init__(
        self, backbone: str = "legacy_xception", pretrained: bool | str = True, drop_rate: float = 0.0
    ):
        super().__init__()
        self.backbone = create_backbone(backbone, pretrained)
        self.pretrained_cfg: dict[str, Any] = dict(getattr(self.backbone, "pretrained_cfg", {}))
        features = backbone_width(self.backbone)
        self.head = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(features, 1))

    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, S, S) normalised -> (N,) logits of fake."""
        return self.head(self.backbone(images)).squeeze(-1)


class FeatureMLP(nn.Module):
    """Per-frame CNN features -> 4-layer MLP -> one fake logit.

    The temporal-LSTM paper (Table 3) compares its LSTM with "a 4-layer MLP" on the features of
    its extractor, without giving widths; the defaults halve from the 512-d features it uses.
    With ``freeze_backbone`` the CNN is a fixed feature extractor, as in that paper's second
    stage (its BatchNorm statistics stay frozen too).

    Args:
        backbone: timm model name of the feature extractor.
        pretrained: ``True``, ``False`` or a local weight file (see :func:`create_backbone`).
        hidden_sizes: Widths of the three hidden layers (four linear layers in all).
        dropout: Dropout after each hidden layer.
        freeze_backbone: Train the MLP only.
    """

    def __init__(
        self,
        backbone: str = "resnet50.tv_in1k",
        pretrained: bool | str = True,
        hidden_sizes: Sequence[int] = (512, 256, 128),
        dropout: float = 0.3,
        freeze_backbone: bool = True,
    ) -> None:
        super().__init__()
        if len(hidden_sizes) != 3 or min(hidden_sizes) < 1:
            raise ValueError(
                f"hidden_sizes must be 3 positive widths (a 4-layer MLP), got {list(hidden_sizes)}"
            )
        self.backbone = create_backbone(backbone, pretrained)
        self.pretrained_cfg: dict[str, Any] = dict(getattr(self.backbone, "pretrained_cfg", {}))
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            self.backbone.requires_grad_(False)
        widths = [backbone_width(self.backbone), *hidden_sizes]
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [nn.Linear(width_in, width_out), nn.ReLU(), nn.Dropout(dropout)]
        self.mlp = nn.Sequential(*layers, nn.Linear(widths[-1], 1))

    def train(self, mode: bool = True) -> FeatureMLP:
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()  # a fixed extractor: BatchNorm must not track the new data
        return self

    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, S, S) normalised -> (N,) logits of fake."""
        if self.freeze_backbone:
            with torch.no_grad():
                features = self.backbone(images)
        else:
            features = self.backbone(images)
        return self.mlp(features).squeeze(-1)


__all__ = ["FeatureMLP", "InceptionLayer", "Meso4", "MesoInception4", "TimmClassifier"]
