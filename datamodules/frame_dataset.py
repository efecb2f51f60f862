"""A dataset of single face frames: ``frames_per_video`` evenly spaced crops of every video."""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from datamodules.clip_dataset import load_sidecar
from datamodules.face_crop import crop_and_resize, square_crop_box, warn_without_face_boxes
from datamodules.sampling import evenly_spaced_indices
from datamodules.sources.base import REAL, VideoRecord
from datamodules.transforms import Augmentation
from datamodules.video_io import VideoDecodeError, decode_frames
from deepfake_suite.errors import SuiteError

# Decoded frames of this many raw videos are kept per process: evaluation reads a video's frames
# one after another, so each video is decoded once rather than once per frame.
_DECODED_CACHE = 32


@dataclass(frozen=True)
class _StoredArray:
    """Where a crop store's (T, S, S, 3) uint8 array lies in its ``.npy`` file."""

    offset: int
    n_frames: int
    side: int


def read_npy_header(path: Path) -> _StoredArray:
    """Shape and data offset of a face-crop ``.npy``, read without touching the crops.

    Raises:
        VideoDecodeError: The file is missing, not a ``.npy``, or not uint8 (T, S, S, 3).
    """
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle)
            offset = handle.tell()
    except (OSError, ValueError) as error:
        raise VideoDecodeError(f"cannot read face crops {path}: {error}") from None
    if (
        len(shape) != 4
        or shape[3] != 3
        or shape[1] != shape[2]
        or dtype != np.uint8
        or fortran
        or not shape[0]
    ):
        raise VideoDecodeError(
            f"{path} is not a face-crop array: expected C-ordered uint8 (T, S, S, 3), got {dtype} {shape}"
        )
    return _StoredArray(offset, int(shape[0]), int(shape[1]))


class FrameDataset(Dataset):
    """Single face frames, ``frames_per_video`` evenly spaced over each whole video.

    Each item is a dict:
        ``frames``: uint8 (3, S, S) face crop, a view of the (S, S, 3) crop (normalisation
        happens on the device; batch with :func:`collate_frames`),
        ``label``: float, the video's label (1 = fake),
        ``frame_label``: float, the frame's own label when the video annotates one (a fake video
        may leave frames untouched), else the video's label,
        ``method_label``: int, attribution class (0 = real, 1..K = manipulation methods),
        ``video_index``: int, unique per video within the datamodule (aggregating frame scores),
        ``video_id``: str,
        ``index``: int, the item's position (metrics drop DDP padding by it).

    A video with fewer frames than ``frames_per_video`` gives all of its frames, none repeated:
    a repeated frame would count twice in frame-level metrics.

    Args:
        records: Videos of one split, each with a known ``n_frames``. A ``.npy`` path is a video
            of a face-crop store (``preprocess``): its crops are read from the file at their
            offsets instead of decoded, and ``face_margin`` is the one chosen at preprocessing.
        frames_per_video: Frames per video, evenly spaced; ``None`` for every frame.
        frame_size: Side of the square crops (S). Larger stored crops are shrunk; smaller are refused.
        face_margin: Crop margin around a video's face box, as a fraction of its longer side.
        video_index: ``video_id -> int``, unique within the datamodule.
        class_index: ``method -> attribution class`` of fake videos (reals are 0). Read at every
            item, so a mapping restored from a checkpoint after setup still applies.
        transform: Augmentation applied to each uint8 (S, S, 3) crop.
        preload: Read or decode every sampled frame up front into one array. Videos that cannot
            be read are skipped with a warning naming the file (stores are checked either way).
        num_threads: Threads used to read annotations and to preload.
    """

    def __init__(
        self,
        records: list[VideoRecord],
        frames_per_video: int | None,
        frame_size: int,
        video_index: Mapping[str, int],
        class_index: Mapping[str, int],
        face_margin: float = 0.3,
        transform: Augmentation | None = None,
        preload: bool = False,
        num_threads: int = 2,
    ) -> None:
        if frames_per_video is not None and frames_per_video < 1:
            raise SuiteError(f"frames_per_video must be >= 1 or null (every frame), got {frames_per_video}")
        self.frames_per_video = frames_per_video
        self.frame_size = frame_size
        self.face_margin = face_margin
        self.class_index = class_index
        self.transform = transform
        with ThreadPoolExecutor(max(1, num_threads)) as pool:
            plans = list(pool.map(self._plan, records))
        kept = [(r, plan) for r, plan in zip(records, plans, strict=True) if plan is not None]
        self.records = [r for r, _ in kept]
        self._stored: list[_StoredArray | None] = [plan[0] for _, plan in kept]
        self._boxes: list[list[Any] | None] = [plan[3] for _, plan in kept]
        uncropped = [r.path for r, (stored, _, _, boxes) in kept if stored is None and boxes is None]
        warn_without_face_boxes(uncropped, len(kept))
        # Per-item arrays rather than lists of objects: forked workers then share these pages
        # instead of copying them as reference counts change.
        counts = np.array([len(plan[1]) for _, plan in kept], np.int64)
        self._video = np.repeat(np.arange(len(kept)), counts)
        self._starts = np.concatenate([[0], np.cumsum(counts)])
        self._frame = np.concatenate([np.empty(0, np.int64)] + [p[1] for _, p in kept]).astype(np.int64)
        self.frame_labels = np.concatenate([np.empty(0, np.float32)] + [p[2] for _, p in kept])
        self.labels = np.array([r.label for r in self.records], np.int64)[self._video]
        video_numbers = np.array([video_index[r.video_id] for r in self.records], np.int64)
        self.video_index = video_numbers[self._video]
        self._preloaded: np.ndarray | None = None
        self._decoded: OrderedDict[int, dict[int, np.ndarray]] = OrderedDict()
        if preload:
            self._preload(num_threads)

    def __len__(self) -> int:
        return len(self._video)

    def item_video_id(self, index: int) -> str:
        """The ``video_id`` of item ``index`` (a frame)."""
        return self.records[int(self._video[index])].video_id

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes start with an empty decode cache, not a copy of the main process's.
        return {**self.__dict__, "_decoded": OrderedDict()}

    def _plan(self, record: VideoRecord) -> tuple[_StoredArray | None, np.ndarray, np.ndarray, Any] | None:
        """``(store header, frame indices, frame labels, face boxes)`` of a video, or None if unreadable."""
        stored = None
        try:
            if record.path.suffix == ".npy":
                stored = read_npy_header(record.path)
                if stored.side < self.frame_size:
                    raise SuiteError(
                        f"{record.path} holds {stored.side}x{stored.side} crops, smaller than "
                        f"frame_size={self.frame_size}: preprocess again with --frame_size "
                        f"{self.frame_size} rather than upsampling"
                    )
                n_frames = stored.n_frames
            else:
                n_frames = record.n_frames
            sidecar = load_sidecar(record.path)
        except VideoDecodeError as error:
            warnings.warn(f"skipping video: {error}", stacklevel=2)
            return None
        if n_frames <= 0:
            raise SuiteError(f"{record.path}: frame count unknown; the datamodule probes it before this")
        wanted = n_frames if self.frames_per_video is None else min(n_frames, self.frames_per_video)
        indices, _ = evenly_spaced_indices(n_frames, wanted)
        labels = np.full(len(indices), float(record.label), np.float32)
        if sidecar.get("frame_labels"):
            annotated = np.asarray(sidecar["frame_labels"], dtype=np.float32)
            labels = annotated[np.minimum(indices, len(annotated) - 1)]
        return stored, indices, labels, sidecar.get("boxes")

    def _preload(self, num_threads: int) -> None:
        def load(video: int) -> np.ndarray | None:
            try:
                return self._read_video(video, self._frames_of(video))
            except VideoDecodeError as error:
                warnings.warn(f"skipping video: {error}", stacklevel=2)
                return None

        with ThreadPoolExecutor(max(1, num_threads)) as pool:
            crops = list(pool.map(load, range(len(self.records))))
        keep_video = np.array([c is not None for c in crops], dtype=bool)
        if not keep_video.all():
            self._drop_videos(keep_video)
        side = self.frame_size
        loaded = [c for c in crops if c is not None]
        self._preloaded = np.concatenate([np.empty((0, side, side, 3), np.uint8), *loaded])

    def _drop_videos(self, keep_video: np.ndarray) -> None:
        keep_item = keep_video[self._video]
        renumber = np.cumsum(keep_video) - 1
        counts = np.diff(self._starts)[keep_video]
        self._starts = np.concatenate([[0], np.cumsum(counts)])
        self.records = [r for r, k in zip(self.records, keep_video, strict=True) if k]
        self._stored = [s for s, k in zip(self._stored, keep_video, strict=True) if k]
        self._boxes = [b for b, k in zip(self._boxes, keep_video, strict=True) if k]
        self._video = renumber[self._video[keep_item]]
        self._frame = self._frame[keep_item]
        self.frame_labels = self.frame_labels[keep_item]
        self.labels = self.labels[keep_item]
        self.video_index = self.video_index[keep_item]

    def _frames_of(self, video: int) -> np.ndarray:
        """Frame indices of the video at position ``video`` (its items are consecutive)."""
        return self._frame[self._starts[video] : self._starts[video + 1]]

    def _read_video(self, video: int, frames: np.ndarray) -> np.ndarray:
        """uint8 (len(frames), S, S, 3) crops of one video at the given frame indices."""
        record, stored = self.records[video], self._stored[video]
        if stored is not None:
            array = np.load(record.path, mmap_mode="r")
            return self._resized(np.asarray(array[frames]))
        boxes = self._boxes[video]

        def crop(frame: np.ndarray, index: int) -> np.ndarray:
            box = boxes[index] if boxes is not None and index < len(boxes) else None
            height, width = frame.shape[:2]
            return crop_and_resize(
                frame, square_crop_box(box, width, height, self.face_margin), self.frame_size
            )

        decoded = decode_frames(record.path, frames.tolist(), crop)
        if len(decoded) < len(frames):
            # As ClipDataset does: a file shorter than its recorded frame count repeats its last
            # decoded frame rather than stopping an epoch half-way.
            warnings.warn(
                f"{record.path}: only {len(decoded)} of {len(frames)} sampled frames could be decoded; "
                "repeating the last one",
                stacklevel=2,
            )
            decoded += [decoded[-1]] * (len(frames) - len(decoded))
        return np.stack(decoded)

    def _read_stored(self, video: int, stored: _StoredArray, frame: int) -> np.ndarray:
        """One (S, S, 3) crop read at its offset in the ``.npy``.

        ``os.preadv`` into a new array costs about a fifth of ``np.fromfile`` (12 vs 57 us for a
        64x64 crop) and, unlike a memory map per video, keeps no file descriptor open.
        """
        crop = np.empty((stored.side, stored.side, 3), np.uint8)
        path = self.records[video].path
        fd = os.open(path, os.O_RDONLY)
        try:
            read = os.preadv(fd, [crop.data], stored.offset + frame * crop.nbytes)
        finally:
            os.close(fd)
        if read != crop.nbytes:
            raise VideoDecodeError(f"cannot read face crops {path}: the file is truncated")
        return crop

    def _resized(self, crops: np.ndarray) -> np.ndarray:
        if crops.shape[1] == self.frame_size:
            return crops
        size = (self.frame_size, self.frame_size)
        return np.stack([cv2.resize(c, size, interpolation=cv2.INTER_AREA) for c in crops])

    def _read_frame(self, index: int) -> np.ndarray:
        if self._preloaded is not None:
            return self._preloaded[index]
        video, frame = int(self._video[index]), int(self._frame[index])
        stored = self._stored[video]
        if stored is not None:
            return self._resized(self._read_stored(video, stored, frame)[None])[0]
        if video not in self._decoded:
            frames = self._frames_of(video)
            crops = self._read_video(video, frames)
            self._decoded[video] = dict(zip(frames.tolist(), crops, strict=True))
            if len(self._decoded) > _DECODED_CACHE:
                self._decoded.popitem(last=False)
        self._decoded.move_to_end(video)
        return self._decoded[video][frame]

    def method_label(self, video: int) -> int:
        """Attribution class of the video at position ``video`` (0 for reals)."""
        record = self.records[video]
        return 0 if record.label == REAL else self.class_index[record.method]

    def __getitem__(self, index: int) -> dict[str, Any]:
        crop = self._read_frame(index)
        if self.transform is not None:
            crop = self.transform(crop, index)
        video = int(self._video[index])
        return {
            # A (3, S, S) view of the (S, S, 3) crop: transposing uint8 on the CPU costs more than
            # reading the crop (about 0.2 ms at 224x224); the device does it for free.
            "frames": torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1),
            "label": np.float32(self.labels[index]),
            "frame_label": np.float32(self.frame_labels[index]),
            "method_label": self.method_label(video),
            "video_index": int(self.video_index[index]),
            "video_id": self.records[video].video_id,
            "index": index,
        }


def collate_frames(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch :class:`FrameDataset` items; ``frames`` becomes uint8 (N, 3, S, S) in channels-last memory.

    ``default_collate`` would stack the (3, S, S) views of (S, S, 3) crops by transposing every
    byte; here the crops are copied whole into one (N, S, S, 3) buffer (in shared memory inside a
    worker, so the batch reaches the main process without another copy) and permuted as a view.
    Convolutions take channels-last input as it is; call ``.contiguous()`` on the device if a
    model needs NCHW memory.
    """
    first = items[0]["frames"]
    channels, height, width = first.shape
    out = torch.empty((len(items), height, width, channels), dtype=first.dtype)
    if torch.utils.data.get_worker_info() is not None:
        out.share_memory_()
    np.stack([item["frames"].permute(1, 2, 0).numpy() for item in items], out=out.numpy())
    rest = default_collate([{k: v for k, v in item.items() if k != "frames"} for item in items])
    return {"frames": out.permute(0, 3, 1, 2), **rest}
