"""Training losses, one nn.Module per file."""

from losses.auc_loss import AUCLoss

__all__ = ["AUCLoss"]
