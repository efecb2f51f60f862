"""One LightningModule per paper; plain nn.Module networks live beside them."""

from lightning_modules.attribution import AttributionXception
from lightning_modules.bagging import BaggedXception
from lightning_modules.base import DetectorModule, FrameDetector
from lightning_modules.baseline_networks import FeatureMLP, Meso4, MesoInception4, TimmClassifier
from lightning_modules.baselines import BinaryFrameClassifier
from lightning_modules.dual_level import DualLevelAUCNet, DualLevelNet
from lightning_modules.mfom import MFoMDetector, MFoMLSTMDetector
from lightning_modules.siamese_temporal import SiameseFeatureExtractor, SiameseTemporalLSTM
from lightning_modules.triplet_facenet import R3DClipDetector, TripletFaceNet

__all__ = [
    "AttributionXception",
    "BaggedXception",
    "BinaryFrameClassifier",
    "DetectorModule",
    "DualLevelAUCNet",
    "DualLevelNet",
    "FeatureMLP",
    "FrameDetector",
    "MFoMDetector",
    "MFoMLSTMDetector",
    "Meso4",
    "MesoInception4",
    "R3DClipDetector",
    "SiameseFeatureExtractor",
    "SiameseTemporalLSTM",
    "TimmClassifier",
    "TripletFaceNet",
]
