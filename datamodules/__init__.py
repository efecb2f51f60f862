"""LightningDataModules for face frames and video clips, and the dataset adapters behind them.

Attributes are imported lazily: the synthetic generator's worker processes import
``datamodules.synthetic`` and must not pay for importing Lightning.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datamodules.clip_datamodule import ClipDataModule
    from datamodules.combined import CombinedSource
    from datamodules.face_crop_step import FaceCrops
    from datamodules.frame_datamodule import FrameDataModule
    from datamodules.transforms import AugmentationStep

__all__ = ["AugmentationStep", "ClipDataModule", "CombinedSource", "FaceCrops", "FrameDataModule"]

_HOMES = {
    "AugmentationStep": "datamodules.transforms",
    "ClipDataModule": "datamodules.clip_datamodule",
    "CombinedSource": "datamodules.combined",
    "FaceCrops": "datamodules.face_crop_step",
    "FrameDataModule": "datamodules.frame_datamodule",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'datamodules' has no attribute {name!r}")
