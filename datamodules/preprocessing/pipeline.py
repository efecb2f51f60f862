"""Videos of a source -> a face-crop store: resumable, parallel, every file written atomically.

Each video's outcome lands in ``crops/<stem>.json`` (after its ``.npy``), so a killed run loses
at most the videos in flight, and a new run with the same arguments picks up where it stopped.
The manifest and the report are written at the end from those files alone, sorted by
``video_id``: an interrupted and resumed run yields the same bytes as an uninterrupted one,
whatever the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from datamodules.crop_store import (
    CROPS_DIR,
    STORE_FORMAT_VERSION,
    CropStoreSource,
    atomic_save_npy,
    crop_file_stem,
    open_store,
    remove_temp_files,
)
from datamodules.leakage import check_split_integrity
from datamodules.preprocessing.detectors import DetectorName, FaceDetector, build_detector, load_sidecar
from datamodules.preprocessing.extract import CropParams, extract_face_crops
from datamodules.preprocessing.report import StoreSummary, write_tables
from datamodules.sources.base import VideoRecord, VideoSource
from deepfake_suite.atomic import atomic_write_json
from deepfake_suite.errors import SuiteError

Outcome = dict[str, Any]


def preprocess(
    source: VideoSource,
    store: str,
    frame_size: int = 64,
    frames_per_video: int | None = 32,
    detector: DetectorName = "haar",
    detector_model: str | None = None,
    face_margin: float = 0.3,
    min_frames: int = 2,
    detect_max_side: int | None = 640,
    smooth_window: int = 5,
    num_workers: int | None = None,
    retry_skipped: bool = False,
    progress: bool = True,
) -> StoreSummary:
    """Crop the main face of every video of ``source`` into the face-crop store ``store``.

    Run it again with the same arguments to resume an interrupted run; other crop arguments
    on an existing store are refused. Train on the result with
    ``data.init_args.source.class_path=datamodules.sources.CropStoreSource`` and
    ``...init_args.root=<store>``.

    Args:
        source: Dataset adapter whose videos are cropped (``class_path`` + ``init_args``).
        store: Output folder (created; resumed when it holds a store made with these arguments).
        frame_size: Side of the square crops: 64 (dual-level), 224, 256 or 299 (Xception).
        frames_per_video: Evenly spaced frames per video; null keeps every frame.
        detector: Face detector: haar (default, ships with OpenCV), dlib, mtcnn, centerface, or
            sidecar (the boxes in each video's .json sidecar, e.g. synthetic videos).
        detector_model: Model file: the CenterFace .onnx (required for centerface) or another
            Haar cascade .xml.
        face_margin: Margin around the face box, as a fraction of its longer side.
        min_frames: Videos with fewer decodable frames are skipped (1 keeps single images).
        detect_max_side: Longer side frames are shrunk to for detection; null detects at full size.
        smooth_window: Frames of the moving average over the tracked face boxes (1 = none).
        num_workers: Worker processes; 0 works in this process; default: every CPU core.
        retry_skipped: Try again the videos an earlier run skipped (e.g. files replaced since).
        progress: Show a progress bar and the final counts.
    """
    params = CropParams(
        frame_size=frame_size,
        frames_per_video=frames_per_video,
        detector=detector,
        detector_model=detector_model,
        face_margin=face_margin,
        min_frames=min_frames,
        detect_max_side=detect_max_side,
        smooth_window=smooth_window,
    )
    return build_store(source, Path(store), params, num_workers, retry_skipped, progress)


def store_params(source: VideoSource, params: CropParams) -> dict[str, Any]:
    """What ``store.json`` records: the crop parameters and which source the videos came from."""
    root = getattr(source, "root", None)
    return {
        "format_version": STORE_FORMAT_VERSION,
        **params.as_dict(),
        "source": {
            "class_path": f"{type(source).__module__}.{type(source).__qualname__}",
            "root": None if root is None else str(Path(root).resolve()),
            "identity_disjoint": bool(source.identity_disjoint),
        },
    }


def build_store(
    source: VideoSource,
    root: Path,
    params: CropParams,
    num_workers: int | None = None,
    retry_skipped: bool = False,
    progress: bool = True,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> StoreSummary:
    """:func:`preprocess` with its crop parameters in one object.

    Args:
        on_outcome: Called in this process after each video finishes (tests interrupt here).
    """
    workers = _usable_cores() if num_workers is None else num_workers
    if workers < 0:
        raise SuiteError(f"num_workers must be >= 0, got {num_workers}")
    if isinstance(source, CropStoreSource):
        raise SuiteError(f"{source.root} is a face-crop store already: pass the source it was made from")
    detector = build_detector(params.detector, params.detector_model)  # fails early on a missing package
    source.prepare()
    records = source.records()
    if not records:
        raise SuiteError(f"{type(source).__name__} has no videos to preprocess")
    check_split_integrity(records, identity_disjoint=source.identity_disjoint)
    open_store(root, store_params(source, params))
    crops_dir = root / CROPS_DIR
    crops_dir.mkdir(exist_ok=True)
    remove_temp_files(crops_dir)
    remove_temp_files(root)

    outcomes: dict[str, Outcome] = {}
    pending: list[VideoRecord] = []
    for record in records:
        finished = _finished_outcome(crops_dir, record, retry_skipped)
        if finished is None:
            pending.append(record)
        else:
            outcomes[record.video_id] = finished
    with tqdm(
        total=len(records), initial=len(outcomes), disable=not progress, desc="preprocess", unit="video"
    ) as bar:

        def collect(outcome: Outcome) -> None:
            outcomes[outcome["video_id"]] = outcome
            bar.update()
            if on_outcome is not None:
                on_outcome(outcome)

        if workers == 0 or len(pending) <= 1:
            for record in pending:
                collect(process_video(record, params, str(crops_dir), detector))
        else:
            _process_in_pool(pending, params, crops_dir, min(workers, len(pending)), collect)
    summary = write_tables(root, records, outcomes, processed=len(pending))
    if progress:
        print(summary.describe())
    return summary


def _usable_cores() -> int:
    # Containers and job schedulers restrict the cores a process may use below os.cpu_count().
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _finished_outcome(crops_dir: Path, record: VideoRecord, retry_skipped: bool) -> Outcome | None:
    """The outcome an earlier run left for ``record``, or None if it must be (re)done."""
    stem = crop_file_stem(record.video_id)
    marker = crops_dir / f"{stem}.json"
    if not marker.is_file():
        return None
    try:
        outcome = json.loads(marker.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # not written by this code (writes are atomic): redo the video
    if outcome.get("video_id") != record.video_id:
        raise SuiteError(
            f"{marker} belongs to video {outcome.get('video_id')!r}, not {record.video_id!r}; "
            "the store was edited by hand or two ids collide: use a new --store"
        )
    if outcome.get("status") == "done" and (crops_dir / f"{stem}.npy").is_file():
        return dict(outcome)
    if outcome.get("status") == "skipped" and not retry_skipped:
        return dict(outcome)
    return None


def process_video(
    record: VideoRecord, params: CropParams, crops_dir: str, detector: FaceDetector | None = None
) -> Outcome:
    """Crop one video into ``crops_dir`` and record its outcome; never raises for a bad video.

    The ``.npy`` is renamed into place before the ``.json`` that marks the video as done.
    """
    detector = detector or _WORKER_DETECTOR
    if detector is None:
        raise RuntimeError("process_video in a worker without a detector: use _init_worker")
    stem = crop_file_stem(record.video_id)
    try:
        crops, meta = extract_face_crops(record.path, params, detector)
        annotated = load_sidecar(record.path).get("frame_labels")
    except SuiteError as error:
        outcome: Outcome = {"video_id": record.video_id, "status": "skipped", "reason": str(error)}
    except Exception as error:  # the run must finish whatever one file does to a decoder or detector
        reason = f"unexpected {type(error).__name__} while processing {record.path}: {error}"
        outcome = {"video_id": record.video_id, "status": "skipped", "reason": reason}
    else:
        atomic_save_npy(Path(crops_dir) / f"{stem}.npy", crops)
        outcome = {
            "video_id": record.video_id,
            "status": "done",
            "n_frames": len(crops),
            "source_path": str(record.path),
            "detector": params.detector,
            **meta,
        }
        if annotated:
            labels = np.asarray(annotated)
            outcome["frame_labels"] = labels[np.minimum(meta["frame_indices"], len(labels) - 1)].tolist()
    atomic_write_json(Path(crops_dir) / f"{stem}.json", outcome)
    return outcome


_WORKER_DETECTOR: FaceDetector | None = None


def _init_worker(detector: str, detector_model: str | None) -> None:
    global _WORKER_DETECTOR
    # Parallelism comes from the processes; library thread pools would only oversubscribe.
    cv2.setNumThreads(1)
    _WORKER_DETECTOR = build_detector(detector, detector_model)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _process_in_pool(
    pending: Sequence[VideoRecord],
    params: CropParams,
    crops_dir: Path,
    workers: int,
    collect: Callable[[Outcome], None],
) -> None:
    # Spawned, not forked: the caller may hold threads (torch, Lightning) that fork would copy
    # in a locked state, and OpenCV is not fork-safe.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(params.detector, params.detector_model),
    )
    try:
        running: set[Future[Outcome]] = {
            pool.submit(process_video, record, params, str(crops_dir)) for record in pending
        }
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                collect(future.result())
    except BrokenProcessPool:
        raise SuiteError(
            "a preprocessing worker process died (out of memory, or a crash in a decoder or detector); "
            "finished videos are kept: run the same command again to resume, with fewer --num_workers "
            "if memory ran out"
        ) from None
    finally:
        # On an interrupt, drop the queue instead of finishing every video first.
        pool.shutdown(wait=True, cancel_futures=True)
