"""Training losses, one nn.Module per file."""

from losses.arcface_mod import ArcFaceMod
from losses.auc_loss import AUCLoss
from losses.cosine_hinge import CosineSimilarityHingeLoss
from losses.focal_loss import FocalLoss
from losses.mfom_loss import MFoMLoss
from losses.semi_hard_triplet import SemiHardTripletLoss

__all__ = [
    "AUCLoss",
    "ArcFaceMod",
    "CosineSimilarityHingeLoss",
    "FocalLoss",
    "MFoMLoss",
    "SemiHardTripletLoss",
]
