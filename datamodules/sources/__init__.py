"""Dataset adapters: each turns a dataset folder into a manifest of :class:`VideoRecord` rows."""

from datamodules.sources.base import VideoRecord, VideoSource, read_manifest
from datamodules.sources.folder import FolderSource
from datamodules.sources.synthetic import SyntheticSource

__all__ = ["FolderSource", "SyntheticSource", "VideoRecord", "VideoSource", "read_manifest"]
