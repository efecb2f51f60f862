"""Frames per second delivered by the training loaders of FrameDataModule and ClipDataModule.

A face-crop store of random crops is written with the store layout of ``datamodules.crop_store``
(``store.json``, ``crops/<stem>.npy`` + ``.json``, ``manifest.csv``) for each crop size, then the
train loader of each datamodule is drained for a few seconds per ``num_workers`` value. The table
gives the ratio to the rate a model consumes on one H100: 50,000 frames/s of 64x64 crops
(dual-level net) and 3,000 frames/s of 224x224 (Xception).

The store is read from the page cache after it is written: the figures are what the loaders
deliver when the store fits in memory (a 64x64 store of FF++ c23 at 300 frames per video is
about 4 GB), not disk throughput.

    python bench/data_bench.py --quick                # seconds on a laptop CPU
    python bench/data_bench.py --max-workers 16       # the 16-core GPU machine
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datamodules.crop_store import (
    CROPS_DIR,
    MANIFEST_NAME,
    PARAMS_NAME,
    STORE_FORMAT_VERSION,
    crop_file_stem,
)
from datamodules.sources.base import MANIFEST_COLUMNS

# A typical training pipeline, for --augment.
AUGMENT = [
    {"name": "HorizontalFlip", "params": {"p": 0.5}},
    {"name": "ImageCompression", "params": {"quality_range": [60, 100], "p": 0.5}},
    {"name": "GaussianBlur", "params": {"sigma_limit": [0.2, 1.0], "p": 0.2}},
]


def write_store(root: Path, n_videos: int, n_frames: int, side: int, seed: int = 0) -> Path:
    """A crop store of ``n_videos`` random (n_frames, side, side, 3) videos, half fake; reused if present."""
    done = root / MANIFEST_NAME
    if done.is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    (root / CROPS_DIR).mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(n_videos):
        label = v % 2
        method = "BenchSwap" if label else "original"
        video_id = f"bench/{method}/raw/v{v:05d}"
        stem = crop_file_stem(video_id)
        # Smooth random faces rather than white noise: the same bytes either way for reading,
        # but JPEG augmentations then cost what they cost on faces.
        base = rng.integers(0, 256, (n_frames, 8, 8, 3), dtype=np.uint8)
        crops = np.repeat(np.repeat(base, side // 8 + 1, axis=1), side // 8 + 1, axis=2)[:, :side, :side]
        np.save(root / CROPS_DIR / f"{stem}.npy", np.ascontiguousarray(crops))
        sidecar = {
            "video_id": video_id,
            "status": "done",
            "n_frames": n_frames,
            "frame_labels": [label] * n_frames,
        }
        (root / CROPS_DIR / f"{stem}.json").write_text(json.dumps(sidecar))
        split = "val" if v < 4 else "train"
        rows.append(
            {
                "video_id": video_id,
                "path": f"{CROPS_DIR}/{stem}.npy",
                "label": label,
                "method": method,
                "dataset": "bench",
                "split": split,
                "compression": "raw",
                "identity": f"p{v:05d}",
                "n_frames": n_frames,
            }
        )
    params = {
        "format_version": STORE_FORMAT_VERSION,
        "frame_size": side,
        "frames_per_video": n_frames,
        "detector": "none (bench)",
        "source": {"class_path": "bench", "root": None, "identity_disjoint": False},
    }
    (root / PARAMS_NAME).write_text(json.dumps(params))
    with (root / MANIFEST_NAME).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root


def measure(loader: Any, side: int, seconds: float, warmup: int) -> float:
    """Frames per second drained from ``loader`` after ``warmup`` batches (worker start-up)."""
    iterator = iter(loader)

    def next_batch() -> dict[str, Any]:
        nonlocal iterator
        try:
            return next(iterator)
        except StopIteration:
            iterator = iter(loader)
            return next(iterator)

    for _ in range(warmup):
        next_batch()
    frames, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        frames += next_batch()["frames"].numel() // (3 * side * side)
    del iterator
    return frames / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small store, short runs, clips of 16 frames")
    parser.add_argument("--max-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224], help="crop sides to measure")
    parser.add_argument(
        "--target-fps",
        type=float,
        nargs="+",
        default=None,
        help="one per size (default 50000 for 64, 3000 else)",
    )
    parser.add_argument("--modules", nargs="+", default=["frame", "clip"], choices=["frame", "clip"])
    parser.add_argument("--seconds", type=float, default=None, help="timed seconds per row")
    parser.add_argument("--augment", action="store_true", help="add flip + JPEG + blur augmentation")
    parser.add_argument("--sampler", default="shuffle", choices=["shuffle", "both_classes", "pk", "balanced"])
    parser.add_argument(
        "--root", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "deepfake-data-bench"
    )
    args = parser.parse_args(argv)
    targets = args.target_fps or [50_000.0 if s == 64 else 3_000.0 for s in args.sizes]
    if len(targets) != len(args.sizes):
        parser.error("--target-fps needs one value per --sizes entry")
    seconds = args.seconds or (1.5 if args.quick else 8.0)
    workers = sorted({0, *[2**i for i in range(8) if 2**i <= args.max_workers], args.max_workers})

    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    from datamodules import ClipDataModule, FrameDataModule
    from datamodules.crop_store import CropStoreSource

    print(
        f"# {platform.node()}: {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"cuda={torch.cuda.is_available()}, augment={args.augment}, sampler={args.sampler}"
    )
    print(f"{'loader':<28} {'workers':>7} {'frames/s':>10} {'target':>8} {'ratio':>6}")
    for side, target in zip(args.sizes, targets, strict=True):
        # Frames per video: 300 for the dual-level clips at 64; fewer, larger frames at 224.
        n_videos, n_frames = (40, 32) if args.quick else ((160, 300) if side <= 64 else (160, 40))
        clip_len = 16 if args.quick else (300 if side <= 64 else 20)
        store = write_store(args.root / f"s{side}-v{n_videos}-f{n_frames}", n_videos, n_frames, side)
        for module in args.modules:
            for w in workers:
                common = {
                    "frame_size": side,
                    "num_workers": w,
                    "sampler": args.sampler,
                    "train_transform": AUGMENT if args.augment else None,
                }
                if module == "frame":
                    batch = 256 if side <= 64 else 64
                    dm: Any = FrameDataModule(
                        CropStoreSource(str(store)), frames_per_video=None, batch_size=batch, **common
                    )
                    name = f"FrameDataModule {side}px b{batch}"
                else:
                    batch = 16 if side <= 64 else 8
                    dm = ClipDataModule(
                        CropStoreSource(str(store)), clip_len=clip_len, batch_size=batch, **common
                    )
                    name = f"ClipDataModule {side}px {batch}x{clip_len}"
                dm.setup("fit")
                fps = measure(dm.train_dataloader(), side, seconds, warmup=max(2, 2 * w))
                print(f"{name:<28} {w:>7} {fps:>10,.0f} {target:>8,.0f} {fps / target:>6.2f}", flush=True)
                del dm


if __name__ == "__main__":
    main()
