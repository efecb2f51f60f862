"""Plain networks of the MFoM paper's detectors (Kukanov et al., APSIPA 2020, Sec. IV-A).

- :class:`FrameClassifier`: a CNN (MobileNet in the paper) scoring one face frame.
- :class:`SequenceClassifier`: CNN features of each frame, an LSTM over the sequence and an MLP
  on its last valid output, after Güera & Delp (AVSS 2018), the paper's reference [14].

Both give one logit of fake per input. A two-class softmax over ``(g_real, g_fake)`` depends on
``g_fake - g_real`` only, so one logit ``z`` loses nothing: softmax CE on ``(0, z)`` is BCE on
``z``, and :class:`losses.mfom_loss.MFoMLoss` reads an (N,) logit as exactly those two scores.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class FrameClassifier(nn.Module):
    """CNN features -> dropout -> one logit of fake.

    Args:
        backbone: Module mapping (N, 3, H, W) to pooled features (N, F).
        feature_dim: F.
        dropout: Dropout before the classifier (0 disables it).
    """

    def __init__(self, backbone: nn.Module, feature_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, 1)

    def forward(self, frames: Tensor) -> Tensor:
        """Args: frames (N, 3, H, W), normalised. Returns: (N,) logits of fake."""
        return self.head(self.dropout(self.backbone(frames))).squeeze(-1)


class SequenceClassifier(nn.Module):
    """Per-frame CNN features -> LSTM -> FC + ReLU -> one logit of fake for the whole sequence.

    Güera & Delp feed InceptionV3's 2048-d pooled features to a 2048-unit LSTM with dropout 0.5,
    then a 512-unit fully-connected layer with dropout 0.5 and a two-way softmax (here one logit,
    see the module docstring). The sequence's score is read at its last *valid* step: the clip
    loader pads short videos by repeating their last frame, and those repeats must not move the
    score of an LSTM that reads its final state.

    Args:
        backbone: Module mapping (B, 3, H, W) to pooled features (B, F).
        feature_dim: F.
        hidden_size: LSTM width (Güera & Delp: 2048).
        fc_size: Width of the fully-connected layer after the LSTM (Güera & Delp: 512).
        dropout: Dropout on the LSTM's input and after the fully-connected layer (0.5).
        freeze_backbone: Use the CNN as a fixed feature extractor: no gradients, and its batch-norm
            statistics stay those it was pretrained with.
    """

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        hidden_size: int = 2048,
        fc_size: int = 512,
        dropout: float = 0.5,
        freeze_backbone: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            backbone.requires_grad_(False)
        self.input_dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(feature_dim, hidden_size, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(hidden_size, fc_size), nn.ReLU(), nn.Dropout(dropout), nn.Linear(fc_size, 1)
        )

    def train(self, mode: bool = True) -> SequenceClassifier:
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def forward(self, frames: Tensor, mask: Tensor) -> Tensor:
        """Args: frames (N, T, 3, H, W) normalised; mask bool (N, T), False on padding at the end.

        Returns:
            (N,) logits of fake, one per sequence.
        """
        n, t = frames.shape[:2]
        features = self.backbone(frames.flatten(0, 1)).reshape(n, t, -1)
        outputs, _ = self.lstm(self.input_dropout(features))
        # The LSTM is causal: the output at the last valid step has seen no padding.
        last = (mask.long().sum(1) - 1).clamp_min(0)
        final = outputs[torch.arange(n, device=outputs.device), last]
        return self.head(final).squeeze(-1)
