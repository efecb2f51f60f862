"""LightningDataModule of fixed-length face clips per video (video-level detectors)."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from datamodules.clip_dataset import ClipDataset
from datamodules.leakage import check_split_integrity
from datamodules.sources.base import VideoRecord, VideoSource
from datamodules.video_io import VideoDecodeError, count_frames
from deepfake_suite.errors import SuiteError

_STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}


class ClipDataModule(LightningDataModule):
    """Clips of ``clip_len`` evenly spaced face crops, one clip per video.

    Batches are dicts of ``frames`` uint8 (N, T, 3, S, S), ``mask`` bool (N, T), ``frame_labels``
    (N, T), ``label`` (N,), ``video_id`` (list of N str) and ``index`` (N,).

    The manifest is checked before any loader exists: unique video ids, no file in two splits,
    and no test identity in train/val when the source promises identity-disjoint splits.

    Args:
        source: Dataset adapter (``datamodules.sources.*``).
        clip_len: Frames per clip (T); the dual-level paper uses 300.
        frame_size: Side of the face crops (S); the dual-level paper uses 64.
        face_margin: Crop margin around the face box, as a fraction of its longer side.
        batch_size: Videos per training batch.
        eval_batch_size: Videos per validation/test batch; defaults to ``batch_size``.
        num_workers: DataLoader worker processes (also threads for probing and preloading).
        preload: Decode all clips once at setup; right for small datasets such as the smoke set.
        pin_memory: Pin host memory for faster copies to the GPU.
    """

    def __init__(
        self,
        source: VideoSource,
        clip_len: int = 300,
        frame_size: int = 64,
        face_margin: float = 0.3,
        batch_size: int = 16,
        eval_batch_size: int | None = None,
        num_workers: int = 4,
        preload: bool = False,
        pin_memory: bool = True,
    ) -> None:
        super().__init__()
        if clip_len < 1 or frame_size < 8 or batch_size < 1:
            raise SuiteError(
                "data.init_args: clip_len and batch_size must be >= 1 and frame_size >= 8, got "
                f"clip_len={clip_len}, frame_size={frame_size}, batch_size={batch_size}"
            )
        self.source = source
        self.clip_len = clip_len
        self.frame_size = frame_size
        self.face_margin = face_margin
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.preload = preload
        self.pin_memory = pin_memory
        self.datasets: dict[str, ClipDataset] = {}

    def prepare_data(self) -> None:
        self.source.prepare()

    def setup(self, stage: str) -> None:
        records = self.source.records()
        check_split_integrity(records, identity_disjoint=self.source.identity_disjoint)
        for split in _STAGE_SPLITS[stage]:
            if split in self.datasets:
                continue
            split_records = self._with_frame_counts([r for r in records if r.split == split])
            dataset = ClipDataset(
                split_records,
                clip_len=self.clip_len,
                frame_size=self.frame_size,
                face_margin=self.face_margin,
                preload=self.preload,
                num_threads=self.num_workers,
            )
            if len(dataset) == 0:
                raise SuiteError(f"no usable videos in split '{split}' of {type(self.source).__name__}")
            self.datasets[split] = dataset

    def _with_frame_counts(self, records: list[VideoRecord]) -> list[VideoRecord]:
        """Fill unknown frame counts by decoding; drop undecodable videos with a warning naming them."""
        unknown = [r for r in records if r.n_frames <= 0]
        if not unknown:
            return records

        def probe(record: VideoRecord) -> VideoRecord | None:
            try:
                return replace(record, n_frames=count_frames(record.path))
            except VideoDecodeError as error:
                warnings.warn(f"skipping video: {error}", stacklevel=2)
                return None

        with ThreadPoolExecutor(max(1, self.num_workers)) as pool:
            probed = dict(zip((r.video_id for r in unknown), pool.map(probe, unknown), strict=True))
        kept = []
        for record in records:
            if record.n_frames > 0:
                kept.append(record)
            elif (probed_record := probed[record.video_id]) is not None:
                kept.append(probed_record)
        return kept

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            raise SuiteError(f"split '{split}' was not set up; call setup() with the right stage")
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size if shuffle else self.eval_batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
