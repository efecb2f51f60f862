"""A dataset of fixed-length face clips, one per video."""

from __future__ import annotations

import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.face_crop import crop_and_resize, square_crop_box, warn_without_face_boxes
from datamodules.face_runs import face_run_windows, face_track
from datamodules.sampling import ClipSampling, clip_windows
from datamodules.sources.base import VideoRecord
from datamodules.video_io import VideoDecodeError, decode_frames
from deepfake_suite.errors import SuiteError


def load_sidecar(video_path: Path) -> dict[str, Any]:
    """Per-video annotations next to the video (``x.mp4`` -> ``x.json``): face boxes, frame labels."""
    sidecar = video_path.with_suffix(".json")
    if not sidecar.is_file():
        return {}
    try:
        return json.loads(sidecar.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SuiteError(f"cannot read annotations {sidecar}: {error}") from None


class ClipDataset(Dataset):
    """Clips of ``clip_len`` face crops per video: one evenly spaced clip, or consecutive windows.

    Each item is a dict:
        ``frames``: uint8 (T, 3, S, S) face crops (normalisation happens on the device),
        ``mask``: bool (T,), False for frames that repeat the last one to pad a short video,
        ``frame_labels``: float (T,), per-frame fake labels (a video's label when not annotated),
        ``label``: float, the video's label (1 = fake),
        ``video_id``: str, unique across datasets,
        ``video_index``: int, one per video (several clips of a video share it, so that metrics
        can average a video's clip scores),
        ``index``: int, the item's position, so that duplicates added by distributed samplers
        can be recognised.

    Args:
        records: Videos of one split, each with a known ``n_frames``. A ``.npy`` path is a video of a
            face-crop store (``preprocess``): its crops are memory-mapped instead of decoded, and
            ``face_margin`` is the one chosen at preprocessing.
        clip_len: Frames per clip (T).
        frame_size: Side of the square crops (S).
        face_margin: Crop margin around the face box, as a fraction of the box's longer side.
        preload: Decode every clip once up front (small datasets: no decoding per epoch). Videos
            that cannot be decoded are then skipped with a warning naming the file.
        num_threads: Threads used to preload.
        sampling: ``even`` (one clip over the whole video), ``consecutive`` (windows of frames
            ``frame_gap`` apart), see :func:`~datamodules.sampling.clip_windows`, or ``face_runs``
            (windows inside runs of frames where the face was detected, from a face-crop store;
            see :mod:`datamodules.face_runs`; a video without a long enough run gives no clip).
        frame_gap: Step between the frames of a ``consecutive`` or ``face_runs`` window.
        clips_per_video: Windows per video with ``consecutive`` (evenly placed) or ``face_runs``
            (at most this many, spread over the runs).
        video_indices: ``video_id -> video_index``; by default the record's position.
    """

    def __init__(
        self,
        records: list[VideoRecord],
        clip_len: int,
        frame_size: int,
        face_margin: float = 0.3,
        preload: bool = False,
        num_threads: int = 2,
        sampling: ClipSampling = "even",
        frame_gap: int = 1,
        clips_per_video: int = 1,
        video_indices: dict[str, int] | None = None,
    ) -> None:
        self.clip_len = clip_len
        self.frame_size = frame_size
        self.face_margin = face_margin
        self.sampling: ClipSampling = sampling
        self.frame_gap = frame_gap
        self.clips_per_video = clips_per_video
        self._cache: list[dict[str, Any]] | None = None
        self._set_records(records, video_indices)
        uncropped = [
            r.path for r in records if r.path.suffix != ".npy" and not r.path.with_suffix(".json").is_file()
        ]
        warn_without_face_boxes(uncropped, len(records))
        if preload:
            with ThreadPoolExecutor(max(1, num_threads)) as pool:
                loaded = list(pool.map(self._try_load, range(len(self._windows))))
            broken = {self._windows[i][0] for i, item in enumerate(loaded) if item is None}
            kept = [i for i, (video, _, _) in enumerate(self._windows) if video not in broken]
            self._cache = [loaded[i] for i in kept]  # type: ignore[misc]
            self._set_records([r for i, r in enumerate(records) if i not in broken], video_indices)

    def _set_records(self, records: list[VideoRecord], video_indices: dict[str, int] | None) -> None:
        self.records = records
        self._video_index = [
            video_indices[r.video_id] if video_indices is not None else i for i, r in enumerate(records)
        ]
        self._windows = [
            (video, indices, mask)
            for video, record in enumerate(records)
            for indices, mask in self._clips_of(record)
        ]

    def _clips_of(self, record: VideoRecord) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.sampling != "face_runs":
            return clip_windows(
                record.n_frames, self.clip_len, self.sampling, self.frame_gap, self.clips_per_video
            )
        if record.path.suffix != ".npy":
            raise SuiteError(
                f"clip_sampling face_runs takes windows from the runs of frames where a face was detected, "
                f"which a face-crop store records; {record.path} is a video: set data.init_args.face_crops "
                "or read a store (datamodules.sources.CropStoreSource)"
            )
        detected, frame_indices = face_track(load_sidecar(record.path), record.path, record.n_frames)
        return face_run_windows(detected, self.clip_len, self.frame_gap, frame_indices, self.clips_per_video)

    def item_video_id(self, index: int) -> str:
        """The ``video_id`` of item ``index`` (a clip)."""
        return self.records[self._windows[index][0]].video_id

    @property
    def item_records(self) -> list[VideoRecord]:
        """The video of each item, aligned with the dataset's indices."""
        return [self.records[video] for video, _, _ in self._windows]

    def __len__(self) -> int:
        return len(self._windows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self._cache[index] if self._cache is not None else self._load(index)
        return {**item, "index": index}

    def _try_load(self, index: int) -> dict[str, Any] | None:
        try:
            return self._load(index)
        except VideoDecodeError as error:
            warnings.warn(f"skipping video: {error}", stacklevel=2)
            return None

    def _load(self, index: int) -> dict[str, Any]:
        video, indices, mask = self._windows[index]
        record = self.records[video]
        item = {"video_index": self._video_index[video]}
        if record.path.suffix == ".npy":
            return {**self._load_stored(record, indices, mask.copy()), **item}
        sidecar = load_sidecar(record.path)
        mask = mask.copy()
        boxes = sidecar.get("boxes")

        def crop(frame: np.ndarray, frame_index: int) -> np.ndarray:
            box = boxes[frame_index] if boxes is not None and frame_index < len(boxes) else None
            height, width = frame.shape[:2]
            return crop_and_resize(
                frame, square_crop_box(box, width, height, self.face_margin), self.frame_size
            )

        crops = decode_frames(record.path, indices.tolist(), crop)
        # A file shorter than its recorded frame count: pad with the last decoded frame.
        mask[len(crops) :] = False
        crops += [crops[-1]] * (self.clip_len - len(crops))
        return {**self._item(record, np.stack(crops), mask, indices, sidecar), **item}

    def _load_stored(self, record: VideoRecord, indices: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
        """A clip from a face-crop store's (T, S, S, 3) array (see :mod:`datamodules.crop_store`).

        The array is memory-mapped, so only the sampled crops are read. Sampling, padding and
        mask follow the same rules as for videos, over the stored crops; ``frame_labels`` come
        from the store's per-video JSON, aligned with the stored crops.
        """
        try:
            stored = np.load(record.path, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise VideoDecodeError(f"cannot read face crops {record.path}: {error}") from None
        if stored.ndim != 4 or stored.shape[-1] != 3 or stored.dtype != np.uint8 or not len(stored):
            raise VideoDecodeError(
                f"{record.path} is not a face-crop array: expected uint8 (T, S, S, 3), got "
                f"{stored.dtype} {stored.shape}"
            )
        if stored.shape[1] < self.frame_size:
            raise SuiteError(
                f"{record.path} holds {stored.shape[1]}x{stored.shape[1]} crops, smaller than "
                f"frame_size={self.frame_size}: preprocess again with --frame_size {self.frame_size} "
                "rather than upsampling"
            )
        # The manifest's n_frames is the number of stored crops; a shorter array pads and masks.
        mask &= indices < len(stored)
        indices = np.minimum(indices, len(stored) - 1)
        crops = np.asarray(stored[indices])
        if stored.shape[1] != self.frame_size:
            size = (self.frame_size, self.frame_size)
            crops = np.stack([cv2.resize(c, size, interpolation=cv2.INTER_AREA) for c in crops])
        return self._item(record, crops, mask, indices, load_sidecar(record.path))

    def _item(
        self,
        record: VideoRecord,
        crops: np.ndarray,
        mask: np.ndarray,
        indices: np.ndarray,
        sidecar: dict[str, Any],
    ) -> dict[str, Any]:
        frames = torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous()
        frame_labels = np.full(self.clip_len, float(record.label), dtype=np.float32)
        if "frame_labels" in sidecar:
            annotated = np.asarray(sidecar["frame_labels"], dtype=np.float32)
            frame_labels = annotated[np.minimum(indices, len(annotated) - 1)]
        return {
            "frames": frames,
            "mask": torch.from_numpy(mask),
            "frame_labels": torch.from_numpy(frame_labels),
            "label": torch.tensor(float(record.label)),
            "video_id": record.video_id,
        }
