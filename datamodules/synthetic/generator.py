"""Write the synthetic deepfake video dataset: layout, identity-disjoint splits, videos, manifest.

The dataset is laid out like FaceForensics++ so that source adapters treat it like a download::

    root/
      original_sequences/c23/videos/id007_01.mp4          (+ id007_01.json sidecar)
      manipulated_sequences/BlendSwap/c23/videos/id007_id003_01.mp4   (+ .json)
      splits/{train,val,test}.json                          sorted identity names
      manifest.csv                                          one row per video
      generation.json                                       parameters + format version

Generation is deterministic given the seed: everything that reaches the manifest is planned up
front from seeded generators (:func:`plan_dataset`), and each video is then rendered from its
own generator, so the work can be spread over processes without changing the result.
It is also atomic: everything is written to a hidden sibling folder that is renamed to ``root``
at the end, so an interrupted run never leaves a dataset that looks complete.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import multiprocessing
import os
import shutil
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

import av
import numpy as np

# One definition of the manifest schema for every source, generated or adapted.
from datamodules.sources.base import MANIFEST_COLUMNS, SPLITS
from datamodules.synthetic.faces import Identity, face_box, make_identity, make_scene, render_video
from datamodules.synthetic.manipulations import MANIPULATIONS

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bump when the output for the same parameters changes, so old folders are not silently reused."""

REAL_METHOD = "original"
STRENGTH_RANGE = (0.15, 1.0)
"""Artifact strength of each fake is drawn uniformly from this range: subtle to obvious fakes."""


@dataclass(frozen=True)
class FakePlan:
    """One fake made from a real video.

    Attributes:
        method: Key of :data:`MANIPULATIONS`.
        source: Identity whose face is pasted (same split as the target).
        name: File stem, ``<target>_<source>_<k>``.
        strength: Artifact strength in [0, 1].
    """

    method: str
    source: str
    name: str
    strength: float


@dataclass(frozen=True)
class RealPlan:
    """One real video and the fakes made from it.

    Attributes:
        identity: Who is in the video (the target of its fakes).
        name: File stem, ``<identity>_<k>``.
        split: ``train``, ``val`` or ``test``.
        fakes: The fakes whose target video this is.
    """

    identity: str
    name: str
    split: str
    fakes: tuple[FakePlan, ...]


@dataclass(frozen=True)
class RenderConfig:
    """What a worker needs besides its :class:`RealPlan` (picklable for process pools)."""

    out_dir: str
    dataset_name: str
    seed: int
    num_frames: int
    frame_size: int
    fps: int
    crf: int


# ------------------------------------------------------------------------------------ seeding


def _rng(seed: int, *parts: str) -> np.random.Generator:
    """Generator keyed by ``seed`` and names; crc32, unlike ``hash``, is stable across runs."""
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) for p in parts)])


def identity_names(num_identities: int) -> list[str]:
    """``id000``, ``id001``, ...: zero-padded so names sort in numeric order."""
    width = max(3, len(str(num_identities - 1)))
    return [f"id{i:0{width}d}" for i in range(num_identities)]


def load_identity(name: str, seed: int) -> Identity:
    """The identity called ``name`` in the dataset generated with ``seed``."""
    return make_identity(name, _rng(seed, "identity", name))


# ------------------------------------------------------------------------------------- splits


def split_counts(n: int, fractions: Sequence[float], minimum: int) -> list[int]:
    """Identities per split: largest-remainder rounding of ``n * fractions``, at least ``minimum``.

    Args:
        n: Number of identities.
        fractions: One non-negative fraction per split, summing to 1.
        minimum: Least identities per split.

    Returns:
        Counts summing to ``n``.
    """
    raw = [n * f for f in fractions]
    counts = [math.floor(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    for i in range(len(counts)):
        while counts[i] < minimum:
            # Take from the largest split; it has spare identities because n >= minimum * splits.
            donor = max(range(len(counts)), key=lambda j: (counts[j], -j))
            counts[donor] -= 1
            counts[i] += 1
    return counts


def split_identities(
    names: Sequence[str], fractions: Sequence[float], seed: int, minimum: int
) -> dict[str, list[str]]:
    """Shuffle identities with ``seed`` and cut them into sorted, disjoint train/val/test lists."""
    order = [names[i] for i in _rng(seed, "splits").permutation(len(names))]
    counts = split_counts(len(names), fractions, minimum)
    out, start = {}, 0
    for split, count in zip(SPLITS, counts, strict=True):
        out[split] = sorted(order[start : start + count])
        start += count
    return out


# ----------------------------------------------------------------------------------- planning


def plan_dataset(params: dict[str, Any]) -> tuple[dict[str, list[str]], list[RealPlan]]:
    """Decide every video of the dataset (names, splits, methods, sources) from the seed.

    Methods are dealt round-robin within each split, so every split holds every method in
    near-equal numbers. A fake's source is drawn from the target's split, never the target.

    Args:
        params: Validated generation parameters (see :func:`generate_synthetic_dataset`).

    Returns:
        The identity splits and the real videos with their fakes, in a fixed order.
    """
    seed, methods = params["seed"], list(params["methods"])
    minimum = 2 if params["fakes_per_real"] > 0 else 1
    splits = split_identities(
        identity_names(params["num_identities"]), params["split_fractions"], seed, minimum
    )
    rng = _rng(seed, "plan")
    plans: list[RealPlan] = []
    for split in SPLITS:
        dealt = int(rng.integers(len(methods))) if methods else 0
        for identity in splits[split]:
            for k in range(params["reals_per_identity"]):
                name = f"{identity}_{k:02d}"
                candidates = [s for s in splits[split] if s != identity]
                sources = [candidates[i] for i in rng.permutation(len(candidates))]
                fakes = []
                for j in range(params["fakes_per_real"]):
                    method = methods[(dealt + j) % len(methods)]
                    # Same method twice for one real only after all methods were used: then the
                    # source differs, so (method, name) stays unique.
                    source = sources[(j // len(methods)) % len(sources)]
                    strength = float(rng.uniform(*params["artifact_strength"]))
                    fakes.append(FakePlan(method, source, f"{identity}_{source}_{k:02d}", strength))
                dealt += params["fakes_per_real"]
                plans.append(RealPlan(identity, name, split, tuple(fakes)))
    return splits, plans


def video_id(dataset_name: str, method: str, crf: int, name: str) -> str:
    """Dataset-wide unique id ``{dataset}/{method}/c{crf}/{name}`` (method ``original`` for reals)."""
    return f"{dataset_name}/{method}/c{crf}/{name}"


def real_relpath(crf: int, name: str) -> str:
    """Path of a real video relative to the dataset root (POSIX)."""
    return f"original_sequences/c{crf}/videos/{name}.mp4"


def fake_relpath(method: str, crf: int, name: str) -> str:
    """Path of a fake video relative to the dataset root (POSIX)."""
    return f"manipulated_sequences/{method}/c{crf}/videos/{name}.mp4"


def manifest_rows(plans: Sequence[RealPlan], params: dict[str, Any]) -> list[dict[str, Any]]:
    """One manifest row per video, sorted by ``video_id``."""
    dataset, crf, n = params["dataset_name"], params["crf"], params["num_frames"]
    rows = []
    for real in plans:
        videos = [(REAL_METHOD, real.name, real_relpath(crf, real.name), 0)]
        videos += [(f.method, f.name, fake_relpath(f.method, crf, f.name), 1) for f in real.fakes]
        for method, name, path, label in videos:
            rows.append(
                {
                    "video_id": video_id(dataset, method, crf, name),
                    "path": path,
                    "label": label,
                    "method": method,
                    "dataset": dataset,
                    "split": real.split,
                    "compression": f"c{crf}",
                    "identity": real.identity,
                    "n_frames": n,
                }
            )
    return sorted(rows, key=lambda r: r["video_id"])


# ---------------------------------------------------------------------------------- rendering


def write_mp4(path: Path, frames: np.ndarray, fps: int, crf: int) -> None:
    """Encode uint8 RGB frames (T, H, W, 3) as H.264 (libx264, yuv420p) at constant quality.

    Args:
        path: Output ``.mp4`` file.
        frames: Frames; H and W must be even (4:2:0 chroma subsampling).
        fps: Frame rate.
        crf: x264 constant rate factor (lower is higher quality; FF++ "c23" means crf 23).
    """
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf)})
        stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
        stream.pix_fmt = "yuv420p"
        # One thread per encoder: the frames are tiny and parallelism comes from the pool.
        stream.codec_context.thread_count = 1
        for frame in frames:
            container.mux(
                stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24"))
            )
        container.mux(stream.encode(None))


def _write_video(
    cfg: RenderConfig,
    relpath: str,
    frames: np.ndarray,
    boxes: list[list[int]],
    frame_labels: np.ndarray,
    sidecar: dict[str, Any],
) -> None:
    path = Path(cfg.out_dir) / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(path, frames, cfg.fps, cfg.crf)
    meta = {
        "boxes": boxes,
        "frame_labels": [int(x) for x in frame_labels],
        "n_frames": len(frames),
        "fps": cfg.fps,
        **sidecar,
    }
    path.with_suffix(".json").write_text(json.dumps(meta) + "\n")


def render_real_and_fakes(plan: RealPlan, cfg: RenderConfig) -> None:
    """Render and write one real video and every fake made from it (one unit of parallel work).

    The real video is rendered once and reused as the target of its fakes, which is both what
    a face-swap pipeline does and half the rendering work.
    """
    target = load_identity(plan.identity, cfg.seed)
    scene = make_scene(target, _rng(cfg.seed, "scene", plan.name), cfg.num_frames, cfg.frame_size, cfg.fps)
    real = render_video(scene)
    boxes = [list(face_box(target.head, pose, cfg.frame_size)) for pose in scene.poses]
    _write_video(
        cfg,
        real_relpath(cfg.crf, plan.name),
        real,
        boxes,
        np.zeros(len(real), dtype=int),
        {
            "video_id": video_id(cfg.dataset_name, REAL_METHOD, cfg.crf, plan.name),
            "identity": plan.identity,
            "source_identity": None,
            "method": REAL_METHOD,
            "artifact_strength": None,
        },
    )
    for fake in plan.fakes:
        method = MANIPULATIONS[fake.method]
        rng = _rng(cfg.seed, "fake", fake.method, fake.name)
        manipulated = method.select_frames(rng, len(real))
        frames = method(scene, load_identity(fake.source, cfg.seed), real, rng, fake.strength, manipulated)
        _write_video(
            cfg,
            fake_relpath(fake.method, cfg.crf, fake.name),
            frames,
            boxes,
            manipulated.astype(int),
            {
                "video_id": video_id(cfg.dataset_name, fake.method, cfg.crf, fake.name),
                "identity": plan.identity,
                "source_identity": fake.source,
                "method": fake.method,
                "artifact_strength": round(fake.strength, 6),
            },
        )


def _render_all(plans: Sequence[RealPlan], cfg: RenderConfig, num_workers: int) -> None:
    if num_workers <= 0:
        for plan in plans:
            render_real_and_fakes(plan, cfg)
        return
    # "spawn" rather than fork: the caller may hold threads (torch, loggers) that fork would copy
    # in a locked state.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=num_workers, mp_context=ctx) as pool:
        for _ in pool.map(render_real_and_fakes, plans, repeat(cfg)):
            pass


# ------------------------------------------------------------------------------- folder logic


def _generation_params(
    dataset_name: str,
    num_identities: int,
    reals_per_identity: int,
    fakes_per_real: int,
    num_frames: int,
    frame_size: int,
    methods: Sequence[str],
    crf: int,
    fps: int,
    split_fractions: Sequence[float],
    seed: int,
    artifact_strength: Sequence[float] = STRENGTH_RANGE,
) -> dict[str, Any]:
    """Everything that determines the output, in JSON form (what ``generation.json`` records)."""
    return {
        "format_version": FORMAT_VERSION,
        "dataset_name": dataset_name,
        "num_identities": int(num_identities),
        "reals_per_identity": int(reals_per_identity),
        "fakes_per_real": int(fakes_per_real),
        "num_frames": int(num_frames),
        "frame_size": int(frame_size),
        "methods": [str(m) for m in methods],
        "crf": int(crf),
        "fps": int(fps),
        "split_fractions": [float(f) for f in split_fractions],
        "seed": int(seed),
        "artifact_strength": [float(v) for v in artifact_strength],
    }


def _validate(params: dict[str, Any], num_workers: int) -> None:
    """Raise ValueError on parameters that cannot give a valid dataset."""
    name = params["dataset_name"]
    if not name or "/" in name or "\\" in name:
        raise ValueError(f"dataset_name must be a non-empty name without slashes, got {name!r}")
    for key in ("reals_per_identity", "num_frames", "fps"):
        if params[key] < 1:
            raise ValueError(f"{key} must be >= 1, got {params[key]}")
    if params["fakes_per_real"] < 0 or num_workers < 0:
        raise ValueError("fakes_per_real and num_workers must be >= 0")
    low, high = params["artifact_strength"]
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(
            f"artifact_strength must be (low, high) with 0 <= low <= high <= 1, got {(low, high)}"
        )
    if params["frame_size"] < 32 or params["frame_size"] % 2:
        raise ValueError(f"frame_size must be even and >= 32 (H.264 4:2:0), got {params['frame_size']}")
    if not 0 <= params["crf"] <= 51:
        raise ValueError(f"crf must be in [0, 51], got {params['crf']}")
    fractions = params["split_fractions"]
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"split_fractions must be 3 non-negative numbers summing to 1, got {fractions}")
    methods = params["methods"]
    unknown = sorted(set(methods) - set(MANIPULATIONS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}; known: {sorted(MANIPULATIONS)}")
    if len(set(methods)) != len(methods) or REAL_METHOD in methods:
        raise ValueError(f"methods must be distinct and not {REAL_METHOD!r}, got {methods}")
    fakes = params["fakes_per_real"]
    if fakes > 0 and not methods:
        raise ValueError("fakes_per_real > 0 needs at least one method")
    # A fake's source comes from the target's split, so with fakes each split needs two identities.
    minimum = 2 if fakes > 0 else 1
    if params["num_identities"] < len(SPLITS) * minimum:
        raise ValueError(
            f"num_identities must be >= {len(SPLITS) * minimum} so that each of the 3 identity-disjoint "
            f"splits gets {minimum} identities, got {params['num_identities']}"
        )
    smallest = min(split_counts(params["num_identities"], fractions, minimum))
    if fakes > len(methods) * (smallest - 1):
        raise ValueError(
            f"fakes_per_real={fakes} exceeds the distinct (method, source) pairs of the smallest split "
            f"({len(methods)} methods x {smallest - 1} sources)"
        )


def _existing_manifest(root: Path, params: dict[str, Any]) -> Path | None:
    """The manifest of a complete dataset at ``root`` made with ``params``; None if root is free.

    Raises:
        ValueError: If ``root`` is a non-empty folder that is not such a dataset, or was made with
            other parameters.
    """
    if not root.exists():
        return None
    if not root.is_dir():
        raise ValueError(f"{root} exists and is not a folder")
    if not any(root.iterdir()):
        return None
    manifest, record = root / "manifest.csv", root / "generation.json"
    if not (manifest.is_file() and record.is_file()):
        raise ValueError(
            f"{root} is not empty and holds no complete synthetic dataset; pass an empty or new folder"
        )
    recorded = json.loads(record.read_text())
    recorded = recorded if isinstance(recorded, dict) else {}
    missing = object()
    differing = sorted(
        k for k in set(recorded) | set(params) if recorded.get(k, missing) != params.get(k, missing)
    )
    if differing:
        detail = "; ".join(f"{k}: found {recorded.get(k)!r}, requested {params.get(k)!r}" for k in differing)
        raise ValueError(f"{root} holds a synthetic dataset generated with different parameters ({detail})")
    return manifest


def _write_tables(
    out: Path, splits: dict[str, list[str]], plans: Sequence[RealPlan], params: dict[str, Any]
) -> None:
    """Split files, manifest and generation record (the record last, as the completion mark)."""
    (out / "splits").mkdir(parents=True, exist_ok=True)
    for split, names in splits.items():
        (out / "splits" / f"{split}.json").write_text(json.dumps(sorted(names), indent=2) + "\n")
    with open(out / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest_rows(plans, params))
    (out / "generation.json").write_text(json.dumps(params, indent=2) + "\n")


def _publish(tmp: Path, root: Path, params: dict[str, Any]) -> None:
    """Move the finished ``tmp`` folder to ``root`` in one rename.

    If another process (e.g. another DDP rank) published the same dataset first, keep theirs.
    """
    try:
        if root.exists():
            root.rmdir()  # checked empty before generating; fails if it has been filled since
        os.replace(tmp, root)
    except OSError:
        if _existing_manifest(root, params) is None:
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def generate_synthetic_dataset(
    root: str | Path,
    *,
    dataset_name: str = "synthetic",
    num_identities: int = 12,
    reals_per_identity: int = 2,
    fakes_per_real: int = 1,
    num_frames: int = 32,
    frame_size: int = 128,
    methods: Sequence[str] = ("BlendSwap", "ColorSwap", "FlickerSwap"),
    crf: int = 23,
    fps: int = 25,
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
    num_workers: int = 0,
    artifact_strength: tuple[float, float] = STRENGTH_RANGE,
) -> Path:
    """Generate the synthetic deepfake video dataset at ``root`` (or reuse it if already there).

    Each identity gets ``reals_per_identity`` real videos; each real video is the target of
    ``fakes_per_real`` fakes, whose methods are dealt round-robin from ``methods`` (so with the
    defaults, 24 reals and 24 fakes, 8 per method) and whose source identity is another
    identity of the same split. Splits are identity-disjoint.

    Args:
        root: Dataset folder; must not exist, be empty, or hold this very dataset.
        dataset_name: ``dataset`` column and first part of every ``video_id``.
        num_identities: Number of synthetic people (>= 6 when there are fakes, >= 3 otherwise,
            so that each split has an identity and, with fakes, a second one to swap in).
        reals_per_identity: Real videos per identity.
        fakes_per_real: Fakes made from each real video (total, not per method).
        num_frames: Frames per video.
        frame_size: Frame side in pixels (even, >= 32).
        methods: Keys of :data:`MANIPULATIONS` to use.
        crf: x264 constant rate factor; also names the compression folder ``c{crf}``.
        fps: Frame rate.
        split_fractions: Fractions of identities in train, val and test.
        seed: Seed of everything; the same seed gives a byte-identical manifest.
        artifact_strength: Range of the per-fake artifact strength in [0, 1], drawn uniformly:
            low values give fakes a small network barely sees, high values obvious ones.
        num_workers: Processes to render with; 0 renders in this process. Does not change the
            output. Workers are spawned (OpenCV is not fork-safe), so each one re-imports this
            package: worth it for large datasets only, and scripts must call this under
            ``if __name__ == "__main__":``.

    Returns:
        Path of ``root/manifest.csv``.

    Raises:
        ValueError: On invalid parameters, a non-empty unrelated ``root``, or a dataset at
            ``root`` made with other parameters (the message names the differing keys).
    """
    root = Path(root)
    params = _generation_params(
        dataset_name,
        num_identities,
        reals_per_identity,
        fakes_per_real,
        num_frames,
        frame_size,
        methods,
        crf,
        fps,
        split_fractions,
        seed,
        artifact_strength,
    )
    _validate(params, num_workers)
    existing = _existing_manifest(root, params)
    if existing is not None:
        return existing
    root.parent.mkdir(parents=True, exist_ok=True)
    with _generation_lock(root):
        # Another process (a parallel reproduce job, a DDP rank) may have published it meanwhile.
        existing = _existing_manifest(root, params)
        if existing is not None:
            return existing
        return _generate(root, params, dataset_name, seed, num_frames, frame_size, fps, crf, num_workers)


@contextlib.contextmanager
def _generation_lock(root: Path) -> Iterator[None]:
    """Hold ``.<name>.lock`` beside ``root`` so that one process renders and the others wait for it
    instead of rendering the same videos again; a no-op where ``fcntl`` does not exist (Windows),
    where the publish step alone keeps the result whole.

    The file is removed on release. A process that opened it before the removal still locks the
    old file and then finds the published dataset; at worst (the holder failed) two processes
    render at once, which the publish step resolves as it does without a lock.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock = root.parent / f".{root.name}.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _generate(
    root: Path,
    params: dict[str, Any],
    dataset_name: str,
    seed: int,
    num_frames: int,
    frame_size: int,
    fps: int,
    crf: int,
    num_workers: int,
) -> Path:
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)  # leftover of a killed run that had our pid
    try:
        tmp.mkdir()
        splits, plans = plan_dataset(params)
        cfg = RenderConfig(str(tmp), dataset_name, seed, num_frames, frame_size, fps, crf)
        log.info("rendering %d real videos and their fakes into %s", len(plans), tmp)
        _render_all(plans, cfg, num_workers)
        _write_tables(tmp, splits, plans, params)
        _publish(tmp, root, params)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root / "manifest.csv"
