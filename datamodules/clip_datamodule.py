"""LightningDataModule of fixed-length face clips per video (video-level detectors).

Also the base class it shares with :class:`~datamodules.frame_datamodule.FrameDataModule`:
manifest checks, imbalanced subsets, attribution classes, training samplers and loaders.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from datamodules.clip_dataset import ClipDataset
from datamodules.face_crop_step import FaceCrops
from datamodules.leakage import check_split_integrity
from datamodules.preprocessing.extract import CropParams
from datamodules.samplers import BothClassesBatchSampler, ClassBalancedSampler, PKBatchSampler
from datamodules.sampling import ClipSampling
from datamodules.sources.base import FAKE, VideoRecord, VideoSource
from datamodules.subsets import IMBALANCED_PRESETS, imbalanced_subset
from datamodules.transforms import Augmentation, AugmentationStep, build_augmentation
from datamodules.video_io import VideoDecodeError, count_frames
from deepfake_suite.errors import SuiteError

_STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
SamplerName = Literal["shuffle", "both_classes", "pk", "balanced"]
REAL_CLASS = "real"
"""Name of attribution class 0, whatever method name a source gives its real videos."""


def parse_imbalance(imbalance: str | None) -> tuple[int, int] | None:
    """Check ``data.init_args.imbalance``: a preset name, or a ``"real:fake"`` ratio such as ``"10:1"``.

    Args:
        imbalance: ``None``, a key of :data:`~datamodules.subsets.IMBALANCED_PRESETS`, or two
            positive integers joined by ``:`` (real videos per fake video, e.g. ``"30:1"``).

    Returns:
        ``(real, fake)`` for a ratio; ``None`` for a preset or no subset.

    Raises:
        SuiteError: Neither a known preset nor a ratio of two positive integers, naming the key.
    """
    if imbalance is None or imbalance in IMBALANCED_PRESETS:
        return None
    parts = str(imbalance).split(":")
    if len(parts) == 2 and all(part.strip().isdigit() and int(part) > 0 for part in parts):
        return int(parts[0]), int(parts[1])
    raise SuiteError(
        f"data.init_args.imbalance: unknown preset {imbalance!r} and not a real:fake ratio of two "
        f"positive integers such as '10:1'; presets: {', '.join(IMBALANCED_PRESETS)}"
    )


class VideoDataModule(LightningDataModule):
    """What the clip and frame datamodules share; subclasses say what an item is.

    ``setup`` reads the manifest once: the split checks (:func:`check_split_integrity`), then the
    attribution classes and video indices, then the imbalanced subset. The classes are ``real``
    and the methods of the **training** split's fakes, sorted by name (computed before any subset,
    so an imbalanced cut that loses a method keeps the numbering): the classes a model can learn,
    ten on the attribution paper's super-set. Methods seen only in val or test (a cross-dataset
    test set such as DF-Mobio) are :attr:`unseen_methods`, numbered after the classes, beyond a
    model head's outputs. A manifest with no training split (test only) makes every method a
    class. The classes are saved in checkpoints (:meth:`state_dict`) so that a later ``test``
    labels its videos as training did.

    Training batches come from the sampler named by ``sampler``, built in :meth:`train_dataloader`
    where Lightning can rebuild it for DDP (see :mod:`datamodules.samplers`); validation and test
    loaders are sequential and Lightning shards them.
    """

    #: Batches the items of a loader; None for torch's default_collate.
    collate_fn: Callable[[list[Any]], Any] | None = None

    def __init__(
        self,
        source: VideoSource,
        frame_size: int,
        face_margin: float,
        batch_size: int,
        eval_batch_size: int | None,
        num_workers: int,
        preload: bool,
        pin_memory: bool,
        sampler: SamplerName,
        min_per_class: int,
        pk_p: int,
        pk_k: int | None,
        seed: int,
        imbalance: str | None,
        imbalance_seed: int,
        train_transform: Sequence[AugmentationStep] | None,
        eval_transform: Sequence[AugmentationStep] | None,
        face_crops: FaceCrops | None = None,
    ) -> None:
        super().__init__()
        if frame_size < 8 or batch_size < 1:
            raise SuiteError(
                "data.init_args: batch_size must be >= 1 and frame_size >= 8, got "
                f"frame_size={frame_size}, batch_size={batch_size}"
            )
        if sampler not in ("shuffle", "both_classes", "pk", "balanced"):
            raise SuiteError(
                f"data.init_args.sampler must be shuffle, both_classes, pk or balanced, got {sampler!r}"
            )
        imbalance_ratio = parse_imbalance(imbalance)
        self.source = source
        self.face_crops = face_crops
        self._source_cropped = face_crops is None
        self.frame_size = frame_size
        self.face_margin = face_margin
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.preload = preload
        self.pin_memory = pin_memory
        self.sampler = sampler
        self.min_per_class = min_per_class
        self.pk_p = pk_p
        self.pk_k = pk_k
        self.seed = seed
        self.imbalance = imbalance
        self.imbalance_ratio = imbalance_ratio
        self.imbalance_seed = imbalance_seed
        self.train_augmentation = build_augmentation(train_transform, seed, "data.init_args.train_transform")
        self.eval_augmentation = build_augmentation(eval_transform, seed, "data.init_args.eval_transform")
        self.datasets: dict[str, Any] = {}
        #: Attribution classes: ``class_names[c]`` is class ``c``; 0 is ``real``.
        self.class_names: list[str] = []
        #: Fake methods outside the classes (not in the training split): method label
        #: ``len(class_names) + i`` is ``unseen_methods[i]``.
        self.unseen_methods: list[str] = []
        # Mutated in place, never replaced: datasets hold a reference and read it per item.
        self._class_index: dict[str, int] = {}
        self._video_index: dict[str, int] = {}
        self._records: list[VideoRecord] | None = None
        self._methods: set[str] = set()
        self._trained_methods: set[str] = set()
        self._saved_class_names: list[str] | None = None

    # ----------------------------------------------------------------------------- manifest

    def prepare_data(self) -> None:
        if self.face_crops is None:
            self.source.prepare()
        else:
            self.face_crops.prepare(self.source, self._crop_params())

    def _frames_read(self) -> int | None:
        """Frames per video the datasets read (None: every frame): what a face-crop store must hold."""
        return None

    def _crop_params(self) -> CropParams:
        assert self.face_crops is not None
        return self.face_crops.params(self.frame_size, self.face_margin, self._frames_read())

    def setup(self, stage: str) -> None:
        records = self._manifest()
        for split in _STAGE_SPLITS[stage]:
            if split in self.datasets:
                continue
            dataset = self._make_dataset(
                split, self._with_frame_counts([r for r in records if r.split == split])
            )
            if len(dataset) == 0:
                raise SuiteError(f"no usable videos in split '{split}' of {type(self.source).__name__}")
            self.datasets[split] = dataset

    def _manifest(self) -> list[VideoRecord]:
        """The checked manifest, its classes and video indices, then its subset (once)."""
        if self._records is None:
            if not self._source_cropped:
                assert self.face_crops is not None
                self.source = self.face_crops.cropped(self.source, self._crop_params())
                self._source_cropped = True
            records = self.source.records()
            check_split_integrity(records, identity_disjoint=self.source.identity_disjoint)
            self._methods = {r.method for r in records if r.label == FAKE}
            has_train = any(r.split == "train" for r in records)
            self._trained_methods = (
                {r.method for r in records if r.label == FAKE and r.split == "train"}
                if has_train
                else self._methods
            )
            self._set_classes()
            self._video_index.update({vid: i for i, vid in enumerate(sorted(r.video_id for r in records))})
            if self.imbalance_ratio is not None:
                # Like a preset, a ratio cuts train and test only: the validation split that
                # selects the model stays whole (the paper validates on balanced FF++).
                cut = imbalanced_subset(
                    [r for r in records if r.split != "val"],
                    ratio=self.imbalance_ratio,
                    seed=self.imbalance_seed,
                )
                kept = {r.video_id for r in cut}
                records = [r for r in records if r.split == "val" or r.video_id in kept]
            elif self.imbalance is not None:
                records = imbalanced_subset(records, preset=self.imbalance, seed=self.imbalance_seed)
            self._records = records
        return self._records

    def _set_classes(self) -> None:
        # Sorted names, never order of appearance: the authors' code indexed labels by appearance,
        # so a test set listing methods in another order got other labels than training.
        names = [REAL_CLASS, *sorted(self._trained_methods)]
        saved = self._saved_class_names
        if saved is not None and saved != names:
            new = [m for m in names[1:] if m not in saved]
            if new:
                warnings.warn(
                    f"training methods {new} are not among the checkpoint's attribution classes {saved}; "
                    f"they get classes {len(saved)}..{len(saved) + len(new) - 1}, which the model never "
                    "learned",
                    stacklevel=2,
                )
            names = [*saved, *new]
        self.class_names[:] = names
        self.unseen_methods[:] = sorted(self._methods - set(names))
        self._class_index.clear()
        self._class_index.update({name: c for c, name in enumerate(names) if c > 0})
        self._class_index.update({name: len(names) + i for i, name in enumerate(self.unseen_methods)})

    def state_dict(self) -> dict[str, Any]:
        """The attribution classes, saved with every checkpoint."""
        return {"class_names": list(self.class_names)} if self.class_names else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Use a checkpoint's attribution classes (Lightning calls this after ``setup``)."""
        saved = state_dict.get("class_names")
        if not saved:
            return
        self._saved_class_names = list(saved)
        if self._records is not None:
            self._set_classes()

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

    # ------------------------------------------------------------------------ for subclasses

    def _make_dataset(self, split: str, records: list[VideoRecord]) -> Any:
        raise NotImplementedError

    def _item_labels(self, dataset: Any) -> np.ndarray:
        """Binary label (1 = fake) of every item of ``dataset``, shape (N,)."""
        raise NotImplementedError

    def _pk_groups(self, dataset: Any) -> np.ndarray:
        """Group key of every item for the P x K sampler, shape (N,)."""
        raise NotImplementedError

    def _augmented(self, dataset: Any, augmentation: Augmentation | None) -> Dataset:
        return dataset

    # -------------------------------------------------------------------------------- loaders

    def _dataset(self, split: str) -> Any:
        if split not in self.datasets:
            raise SuiteError(f"split '{split}' was not set up; call setup() with the right stage")
        return self.datasets[split]

    def _loader(self, dataset: Dataset, **batching: Any) -> DataLoader:
        return DataLoader(
            dataset,
            collate_fn=self.collate_fn,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            **batching,
        )

    def _training_batches(self, dataset: Any) -> dict[str, Any]:
        """DataLoader arguments that choose the training items of each batch."""
        if self.sampler == "shuffle":
            return {"batch_size": self.batch_size, "shuffle": True}
        labels = self._item_labels(dataset)
        try:
            if self.sampler == "balanced":
                return {
                    "batch_size": self.batch_size,
                    "sampler": ClassBalancedSampler(labels, seed=self.seed),
                }
            if self.sampler == "both_classes":
                batch_sampler: Any = BothClassesBatchSampler(
                    labels, self.batch_size, min_per_class=self.min_per_class, seed=self.seed
                )
            else:
                k = self.pk_k if self.pk_k is not None else self.batch_size // self.pk_p
                batch_sampler = PKBatchSampler(
                    labels, p=self.pk_p, k=k, seed=self.seed, group=self._pk_groups(dataset)
                )
        except ValueError as error:
            raise SuiteError(f"data.init_args.sampler={self.sampler}: {error}") from None
        return {"batch_sampler": batch_sampler}

    def train_dataloader(self) -> DataLoader:
        dataset = self._dataset("train")
        if self.train_augmentation is not None:
            self.train_augmentation.rank = self.trainer.global_rank if self.trainer is not None else 0
            # A resumed fit creates this loader's first iterator before on_train_epoch_start runs.
            self.set_epoch(self.trainer.current_epoch if self.trainer is not None else 0)
        return self._loader(
            self._augmented(dataset, self.train_augmentation), **self._training_batches(dataset)
        )

    def test_video_ids(self, id_kind: str, ids: Sequence[int]) -> list[str] | None:
        """The ``video_id`` of each row of a test-scores file, ``None`` where the ids say nothing.

        Args:
            id_kind: ``group_id`` (video indices, as :attr:`video_index` numbers videos) or
                ``sample_id`` (item indices of the test dataset).
            ids: The rows' ids.
        """
        if id_kind == "group_id":
            names = {number: video_id for video_id, number in self._video_index.items()}
            return [names.get(int(i), "") for i in ids]
        dataset = self.datasets.get("test")
        if id_kind != "sample_id" or dataset is None:
            return None
        return [dataset.item_video_id(int(i)) for i in ids]

    def set_epoch(self, epoch: int) -> None:
        """Seed the training augmentation's per-item draws for ``epoch``.

        ``DetectorModule.on_train_epoch_start`` calls it, before Lightning creates that epoch's
        loader iterator (and with it the workers' first items).
        """
        if self.train_augmentation is not None:
            self.train_augmentation.set_epoch(epoch)

    def _eval_loader(self, split: str) -> DataLoader:
        dataset = self._augmented(self._dataset(split), self.eval_augmentation)
        return self._loader(dataset, batch_size=self.eval_batch_size, shuffle=False)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._eval_loader("test")


class AugmentedClips(Dataset):
    """A clip dataset whose frames pass through one augmentation draw per clip.

    Args:
        clips: Items with ``frames`` uint8 (T, 3, S, S).
        augmentation: Applied with :meth:`Augmentation.clip`: every frame of a clip gets the same
            flip, JPEG quality, blur, ... as a real video would.
    """

    def __init__(self, clips: Dataset, augmentation: Augmentation) -> None:
        self.clips = clips
        self.augmentation = augmentation

    def __len__(self) -> int:
        return len(self.clips)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.clips[index]
        frames = np.ascontiguousarray(item["frames"].permute(0, 2, 3, 1).numpy())
        augmented = self.augmentation.clip(frames, index)
        return {**item, "frames": torch.from_numpy(augmented).permute(0, 3, 1, 2).contiguous()}


class ClipDataModule(VideoDataModule):
    """Clips of ``clip_len`` face crops: one evenly spaced clip per video, or consecutive windows.

    Batches are dicts of ``frames`` uint8 (N, T, 3, S, S), ``mask`` bool (N, T), ``frame_labels``
    (N, T), ``label`` (N,), ``video_id`` (list of N str), ``video_index`` (N,) and ``index`` (N,).

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
        sampler: Training batches: ``shuffle`` (plain shuffled loader), ``both_classes`` (every batch
            holds ``min_per_class`` reals and fakes; the AUC loss needs both), ``pk`` (``pk_p``
            groups of ``pk_k`` clips, a group being one identity's real or fake videos, for triplet
            mining) or ``balanced`` (reals and fakes drawn equally often, with replacement).
        min_per_class: Reals and fakes guaranteed per batch with ``both_classes``.
        pk_p: Groups per batch with ``pk``.
        pk_k: Clips per group with ``pk``; defaults to ``batch_size // pk_p``.
        seed: Seed of the samplers and augmentations.
        imbalance: Imbalanced subset, drawn after the manifest checks: a preset (``celeb-10/20/30``,
            ``dfdc-100/200``; see :mod:`datamodules.subsets`) or a ``"real:fake"`` ratio such as
            ``"10:1"`` (quoted in YAML, which reads a bare 10:1 as the base-60 number 601), which
            cuts train and test and leaves the validation split whole.
        imbalance_seed: Seed of the subset.
        train_transform: Augmentation steps for training clips (see :mod:`datamodules.transforms`),
            the same random draw for every frame of a clip.
        eval_transform: Steps for validation/test clips (e.g. a fixed JPEG quality for robustness
            tests); none by default.
        clip_sampling: ``even`` (one clip spread over the whole video; dual-level paper),
            ``consecutive`` (windows of ``clip_len`` frames ``frame_gap`` apart: the MFoM LSTM's
            20-frame subsequences), or ``face_runs`` (such windows inside runs of frames where
            the face was detected, the temporal LSTM paper's two-pointer selection; needs
            ``face_crops`` or a face-crop store, see :mod:`datamodules.face_runs`).
        frame_gap: Step between the frames of a ``consecutive`` or ``face_runs`` window.
        clips_per_video: Windows per video with ``consecutive`` or ``face_runs``; they share the
            video's ``video_index``, so a detector can average them into one video score.
        face_crops: Crop faces before training (:class:`~datamodules.face_crop_step.FaceCrops`):
            every dataset of ``source`` becomes a face-crop store at this ``frame_size`` and
            ``face_margin`` in ``prepare_data``, and the datasets read the stores. Off by default.
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
        sampler: SamplerName = "shuffle",
        min_per_class: int = 1,
        pk_p: int = 8,
        pk_k: int | None = None,
        seed: int = 0,
        imbalance: str | None = None,
        imbalance_seed: int = 0,
        train_transform: list[AugmentationStep] | None = None,
        eval_transform: list[AugmentationStep] | None = None,
        clip_sampling: ClipSampling = "even",
        frame_gap: int = 1,
        clips_per_video: int = 1,
        face_crops: FaceCrops | None = None,
    ) -> None:
        if clip_len < 1:
            raise SuiteError(f"data.init_args.clip_len must be >= 1, got clip_len={clip_len}")
        if frame_gap < 1 or clips_per_video < 1:
            raise SuiteError(
                "data.init_args.frame_gap and clips_per_video must be >= 1, got "
                f"{frame_gap} and {clips_per_video}"
            )
        if clip_sampling == "even" and clips_per_video != 1:
            raise SuiteError(
                "data.init_args.clips_per_video > 1 needs clip_sampling: consecutive or face_runs"
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
        self.clip_len = clip_len
        self.clip_sampling: ClipSampling = clip_sampling
        self.frame_gap = frame_gap
        self.clips_per_video = clips_per_video

    def _frames_read(self) -> int | None:
        # An even clip takes the same evenly spaced frames a store of clip_len frames holds;
        # consecutive windows and face runs need every frame.
        return self.clip_len if self.clip_sampling == "even" else None

    def _make_dataset(self, split: str, records: list[VideoRecord]) -> ClipDataset:
        return ClipDataset(
            records,
            clip_len=self.clip_len,
            frame_size=self.frame_size,
            face_margin=self.face_margin,
            preload=self.preload,
            num_threads=self.num_workers,
            sampling=self.clip_sampling,
            frame_gap=self.frame_gap,
            clips_per_video=self.clips_per_video,
            video_indices=self._video_index,
        )

    def _item_labels(self, dataset: ClipDataset) -> np.ndarray:
        return np.array([r.label for r in dataset.item_records], dtype=np.int64)

    def _pk_groups(self, dataset: ClipDataset) -> np.ndarray:
        # One clip per video: a group of K clips must span videos, so it is an identity's real
        # (or fake) videos; Celeb-DF fakes carry their target's identity, hence the label in the key.
        return np.array([f"{r.identity or r.video_id}|{r.label}" for r in dataset.item_records])

    def _augmented(self, dataset: ClipDataset, augmentation: Augmentation | None) -> Dataset:
        return dataset if augmentation is None else AugmentedClips(dataset, augmentation)
