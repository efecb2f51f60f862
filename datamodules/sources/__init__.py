"""Dataset adapters: each turns a dataset folder into a manifest of :class:`VideoRecord` rows."""

from typing import Any

from datamodules.sources.base import VideoRecord, VideoSource, read_manifest
from datamodules.sources.celeb_df import CelebDFSource
from datamodules.sources.csv_source import CsvSource
from datamodules.sources.deeper_forensics import DeeperForensicsSource
from datamodules.sources.deepfake_timit import DeepfakeTIMITSource
from datamodules.sources.dfdc import DFDCSource
from datamodules.sources.faceforensics import DeepFakeDetectionSource, FaceForensicsSource
from datamodules.sources.folder import FolderSource
from datamodules.sources.reencoded import ReencodedSource
from datamodules.sources.synthetic import SyntheticSource

__all__ = [
    "CelebDFSource",
    "CropStoreSource",
    "CsvSource",
    "DFDCSource",
    "DeepFakeDetectionSource",
    "DeeperForensicsSource",
    "DeepfakeTIMITSource",
    "FaceForensicsSource",
    "FolderSource",
    "ReencodedSource",
    "SyntheticSource",
    "VideoRecord",
    "VideoSource",
    "read_manifest",
]


def __getattr__(name: str) -> Any:
    # The face-crop store's source lives with the store format, which imports this package:
    # exported lazily to avoid the import cycle.
    if name == "CropStoreSource":
        from datamodules.crop_store import CropStoreSource

        return CropStoreSource
    raise AttributeError(f"module 'datamodules.sources' has no attribute {name!r}")
