"""LightningDataModules for face frames and video clips, and the dataset adapters behind them.

Attributes are imported lazily: the synthetic generator's worker processes import
``datamodules.synthetic`` and must not pay for importing Lightning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datamodules.clip_datamodule import ClipDataModule

__all__ = ["ClipDataModule"]


def __getattr__(name: str) -> Any:
    if name == "ClipDataModule":
        from datamodules.clip_datamodule import ClipDataModule

        return ClipDataModule
    raise AttributeError(f"module 'datamodules' has no attribute {name!r}")
