"""LightningDataModule of single face frames (frame-level detectors)."""

from __future__ import annotations

import numpy as np

from datamodules.clip_datamodule import SamplerName, VideoDataModule
from datamodules.face_crop_step import FaceCrops
from datamodules.frame_dataset import FrameDataset, collate_frames
from datamodules.sources.base import VideoRecord, VideoSource
from datamodules.transforms import AugmentationStep
from deepfake_suite.errors import SuiteError


class FrameDataModule(VideoDataModule):
    """Face frames, ``frames_per_video`` evenly spaced per video, one item per frame.

    Batches are dicts of ``frames`` uint8 (N, 3, S, S) in channels-last memory (see
    :func:`~datamodules.frame_dataset.collate_frames`), ``label`` (N,) float (the video's,
    1 = fake), ``frame_label`` (N,) float (the frame's own when annotated), ``method_label`` (N,)
    int64 (attribution class, see :attr:`class_names`), ``video_index`` (N,) int64 (unique per
    video: the group id for video-level scores, e.g.
    ``DetectionMetrics(aggregate="mean")``), ``video_id`` (list of N str) and ``index`` (N,)
    (the item's dataset position; metrics drop DDP padding by it).

    The manifest is checked before any loader exists, as for :class:`ClipDataModule`: unique
    video ids, no file in two splits, no test identity in train/val when the source promises
    identity-disjoint splits. Raw videos are decoded at the sampled frames and cropped at the
    face boxes of their ``.json`` sidecar; for training at speed, preprocess them into a
    face-crop store (``deepfake-suite preprocess``) or use ``preload``.

    Args:
        source: Dataset adapter (``datamodules.sources.*``), e.g. ``CropStoreSource``.
        frames_per_video: Evenly spaced frames per video; ``null`` for every frame.
        frame_size: Side of the face crops (S): 224 or 299 (Xception), 64, ...
        face_margin: Crop margin around the face box, as a fraction of its longer side (raw
            videos only; a store keeps the margin it was made with).
        batch_size: Frames per training batch.
        eval_batch_size: Frames per validation/test batch; defaults to ``batch_size``.
        num_workers: DataLoader worker processes (also threads for probing and preloading).
        preload: Read every sampled frame once at setup (small datasets; raw videos).
        pin_memory: Pin host memory for faster copies to the GPU.
        sampler: Training batches: ``shuffle``, ``both_classes`` (every batch holds
            ``min_per_class`` real and fake frames), ``pk`` (``pk_p`` videos of ``pk_k`` frames,
            real and fake videos in equal numbers, for triplet mining) or ``balanced`` (real and
            fake frames drawn equally often, with replacement).
        min_per_class: Real and fake frames guaranteed per batch with ``both_classes``.
        pk_p: Videos per batch with ``pk``.
        pk_k: Frames per video with ``pk``; defaults to ``batch_size // pk_p``.
        seed: Seed of the samplers and augmentations.
        imbalance: Imbalanced subset, drawn after the manifest checks: a preset (``celeb-10/20/30``,
            ``dfdc-100/200``; see :mod:`datamodules.subsets`) or a ``"real:fake"`` ratio such as
            ``"10:1"`` (quoted in YAML, which reads a bare 10:1 as the base-60 number 601), which
            cuts train and test and leaves the validation split whole.
        imbalance_seed: Seed of the subset.
        train_transform: Augmentation steps for training frames (see :mod:`datamodules.transforms`).
        eval_transform: Steps for validation/test frames; none by default.
        face_crops: Crop faces before training (:class:`~datamodules.face_crop_step.FaceCrops`):
            every dataset of ``source`` becomes a face-crop store at this ``frame_size`` and
            ``face_margin`` in ``prepare_data``, and the datasets read the stores. Off by default.
    """

    collate_fn = staticmethod(collate_frames)

    def __init__(
        self,
        source: VideoSource,
        frames_per_video: int | None = 15,
        frame_size: int = 224,
        face_margin: float = 0.3,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        num_workers: int = 4,
        preload: bool = False,
        pin_memory: bool = True,
        sampler: SamplerName = "shuffle",
        min_per_class: int = 1,
        pk_p: int = 8,
        pk_k: int | None = None,
        seed: int = 0,
        imbalance: str | None = None,
        imbalance_seed: int = 0,
        train_transform: list[AugmentationStep] | None = None,
        eval_transform: list[AugmentationStep] | None = None,
        face_crops: FaceCrops | None = None,
    ) -> None:
        if frames_per_video is not None and frames_per_video < 1:
            raise SuiteError(
                f"data.init_args.frames_per_video must be >= 1 or null (every frame), got {frames_per_video}"
            )
        super().__init__(
            source,
            frame_size=frame_size,
            face_margin=face_margin,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            preload=preload,
            pin_memory=pin_memory,
            sampler=sampler,
            min_per_class=min_per_class,
            pk_p=pk_p,
            pk_k=pk_k,
            seed=seed,
            imbalance=imbalance,
            imbalance_seed=imbalance_seed,
            train_transform=train_transform,
            eval_transform=eval_transform,
            face_crops=face_crops,
        )
        self.frames_per_video = frames_per_video

    def _frames_read(self) -> int | None:
        return self.frames_per_video

    def _make_dataset(self, split: str, records: list[VideoRecord]) -> FrameDataset:
        return FrameDataset(
            records,
            frames_per_video=self.frames_per_video,
            frame_size=self.frame_size,
            video_index=self._video_index,
            class_index=self._class_index,
            face_margin=self.face_margin,
            transform=self.train_augmentation if split == "train" else self.eval_augmentation,
            preload=self.preload,
            num_threads=self.num_workers,
        )

    def _item_labels(self, dataset: FrameDataset) -> np.ndarray:
        return dataset.labels

    def _pk_groups(self, dataset: FrameDataset) -> np.ndarray:
        # Frames of one video are near-duplicates: a unit of P x K is a video, so that positives of
        # an anchor come from K of its frames and negatives from other videos of the other class.
        return dataset.video_index
