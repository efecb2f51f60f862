"""One LightningModule per paper; plain nn.Module networks live beside them."""

from lightning_modules.dual_level import DualLevelAUCNet, DualLevelNet

__all__ = ["DualLevelAUCNet", "DualLevelNet"]
