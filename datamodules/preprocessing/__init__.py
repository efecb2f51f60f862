"""Face preprocessing: videos -> tracked, cropped, resized faces in a face-crop store.

``deepfake-suite preprocess`` runs :func:`preprocess`; :class:`datamodules.crop_store.CropStoreSource`
reads the store back for training.
"""

from datamodules.preprocessing.detectors import DETECTORS, Detection, FaceDetector, build_detector
from datamodules.preprocessing.extract import CropParams, extract_face_crops
from datamodules.preprocessing.pipeline import build_store, preprocess
from datamodules.preprocessing.report import StoreSummary
from datamodules.preprocessing.tracking import FaceTrack, track_main_face

__all__ = [
    "DETECTORS",
    "CropParams",
    "Detection",
    "FaceDetector",
    "FaceTrack",
    "StoreSummary",
    "build_detector",
    "build_store",
    "extract_face_crops",
    "preprocess",
    "track_main_face",
]
