"""Tests of the synthetic deepfake video generator (datamodules.synthetic)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from datamodules.synthetic import MANIFEST_COLUMNS, MANIPULATIONS, generate_synthetic_dataset
from datamodules.synthetic import faces as F
from datamodules.synthetic.generator import split_counts

TINY: dict[str, Any] = {"num_identities": 6, "num_frames": 12, "frame_size": 64, "seed": 3}


def read_manifest(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def decode(path: Path) -> np.ndarray:
    """All frames of a video as uint8 RGB (T, H, W, 3)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def sidecar(root: Path, row: dict[str, str]) -> dict[str, Any]:
    return json.loads((root / row["path"]).with_suffix(".json").read_text())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    """One tiny dataset shared by the read-only tests."""
    root = tmp_path_factory.mktemp("synthetic") / "ds"
    manifest = generate_synthetic_dataset(root, **TINY)
    return root, read_manifest(manifest)


def row_by_id(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["video_id"]: r for r in rows}


# ------------------------------------------------------------------------------ manifest / layout


def test_manifest_columns_types_and_paths(tiny: tuple[Path, list[dict[str, str]]]) -> None:
    root, rows = tiny
    with open(root / "manifest.csv") as f:
        assert f.readline().strip() == ",".join(MANIFEST_COLUMNS)
    # 6 identities x 2 reals, each real the target of one fake.
    assert len(rows) == 24
    assert sum(r["label"] == "1" for r in rows) == 12
    for r in rows:
        assert r["label"] == ("0" if r["method"] == "original" else "1")
        assert r["dataset"] == "synthetic" and r["compression"] == "c23"
        assert int(r["n_frames"]) == TINY["num_frames"]
        stem = Path(r["path"]).stem
        assert r["video_id"] == f"synthetic/{r['method']}/c23/{stem}"
        assert "\\" not in r["path"] and not Path(r["path"]).is_absolute()
        assert (root / r["path"]).is_file()
        assert stem.startswith(r["identity"] + "_")
        if r["method"] == "original":
            assert r["path"] == f"original_sequences/c23/videos/{stem}.mp4"
        else:
            assert r["method"] in MANIPULATIONS
            assert r["path"] == f"manipulated_sequences/{r['method']}/c23/videos/{stem}.mp4"
    assert {r["method"] for r in rows} == {"original", *MANIPULATIONS}


def test_videos_decode_to_sidecar_frame_count_and_size(tiny: tuple[Path, list[dict[str, str]]]) -> None:
    root, rows = tiny
    size = TINY["frame_size"]
    for r in rows:
        meta = sidecar(root, r)
        frames = decode(root / r["path"])
        assert frames.shape == (TINY["num_frames"], size, size, 3)
        assert meta["n_frames"] == len(frames) == int(r["n_frames"])
        assert meta["fps"] == 25 and meta["method"] == r["method"] and meta["identity"] == r["identity"]
        assert meta["frame_labels"] == [int(r["label"])] * len(frames)
        assert len(meta["boxes"]) == len(frames)
        for x0, y0, x1, y1 in meta["boxes"]:
            assert all(isinstance(v, int) for v in (x0, y0, x1, y1))
            assert 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size
            # The face covers roughly half the frame width.
            assert 0.3 * size <= x1 - x0 <= 0.7 * size
        if r["method"] == "original":
            assert meta["source_identity"] is None
        else:
            assert meta["source_identity"] not in (None, r["identity"])
            assert Path(r["path"]).stem.split("_")[1] == meta["source_identity"]


def test_box_holds_the_face_not_background(tiny: tuple[Path, list[dict[str, str]]]) -> None:
    """The box centre (skin, eyes) differs in colour from the frame's top border (background)."""
    root, rows = tiny
    distances = []
    for r in rows:
        frame = decode(root / r["path"])[0].astype(np.float32)
        x0, y0, x1, y1 = sidecar(root, r)["boxes"][0]
        w, h = x1 - x0, y1 - y0
        centre = frame[y0 + h // 4 : y1 - h // 4, x0 + w // 4 : x1 - w // 4].reshape(-1, 3).mean(0)
        border = np.concatenate(
            [frame[:3].reshape(-1, 3), frame[:, :3].reshape(-1, 3), frame[:, -3:].reshape(-1, 3)]
        )
        distances.append(float(np.linalg.norm(centre - border.mean(0))))
        # The face region also has structure (eyes, brows, mouth), unlike the smooth background.
        crop = frame[y0:y1, x0:x1].mean(-1)
        assert np.abs(np.diff(crop, axis=0)).max() > 40
    assert np.median(distances) > 25
    assert min(distances) > 5


# ----------------------------------------------------------------------------------------- splits


def test_video_ids_unique_and_splits_identity_disjoint(tiny: tuple[Path, list[dict[str, str]]]) -> None:
    root, rows = tiny
    assert len({r["video_id"] for r in rows}) == len(rows)
    split_of: dict[str, str] = {}
    for r in rows:
        assert split_of.setdefault(r["identity"], r["split"]) == r["split"], "identity in two splits"
    files = {s: json.loads((root / "splits" / f"{s}.json").read_text()) for s in ("train", "val", "test")}
    for split, names in files.items():
        assert names == sorted(names)
        assert names == sorted(i for i, s in split_of.items() if s == split)
        assert len(names) >= 2  # a fake needs a second identity of the same split as its source
    assert sorted(n for names in files.values() for n in names) == sorted(split_of)
    for r in rows:
        if r["method"] != "original":
            source = sidecar(root, r)["source_identity"]
            assert split_of[source] == split_of[r["identity"]]


def test_split_counts_follow_fractions_with_minimum() -> None:
    assert split_counts(10, (0.6, 0.2, 0.2), 1) == [6, 2, 2]
    assert split_counts(12, (0.6, 0.2, 0.2), 1) == [7, 3, 2]
    assert split_counts(6, (0.6, 0.2, 0.2), 2) == [2, 2, 2]
    assert split_counts(3, (1.0, 0.0, 0.0), 1) == [1, 1, 1]
    for n in range(6, 40):
        counts = split_counts(n, (0.7, 0.1, 0.2), 2)
        assert sum(counts) == n and min(counts) >= 2


# ------------------------------------------------------------------------- idempotence, atomicity


def test_second_call_returns_without_rewriting(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    manifest = generate_synthetic_dataset(root, **TINY)
    video = next((root / "original_sequences" / "c23" / "videos").glob("*.mp4"))
    stamps = (manifest.stat().st_mtime_ns, video.stat().st_mtime_ns)
    assert generate_synthetic_dataset(root, **TINY, num_workers=3) == manifest  # workers do not matter
    assert (manifest.stat().st_mtime_ns, video.stat().st_mtime_ns) == stamps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temp folder left behind

    with pytest.raises(ValueError, match="num_frames") as err:
        generate_synthetic_dataset(root, **{**TINY, "num_frames": 13})
    assert str(root) in str(err.value)
    with pytest.raises(ValueError) as err:
        generate_synthetic_dataset(root, **{**TINY, "seed": 4, "crf": 30})
    assert "seed" in str(err.value) and "crf" in str(err.value) and "num_frames" not in str(err.value)
    assert manifest.stat().st_mtime_ns == stamps[0]


def test_concurrent_calls_render_the_dataset_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parallel reproduce jobs (and DDP ranks) ask for the same dataset at once: one renders it."""
    import threading

    from datamodules.synthetic import generator

    renders = []
    render_all = generator._render_all

    def counted(*args: Any, **kwargs: Any) -> None:
        renders.append(threading.get_ident())
        render_all(*args, **kwargs)

    monkeypatch.setattr(generator, "_render_all", counted)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(generate_synthetic_dataset(tmp_path / "ds", **TINY)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(renders) == 1
    assert results == [tmp_path / "ds" / "manifest.csv"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no lock or temp folder left


def test_non_empty_unrelated_root_raises(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    (root / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match="photos"):
        generate_synthetic_dataset(root, **TINY)
    assert sorted(p.name for p in root.iterdir()) == ["holiday.jpg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_empty_root_folder_is_accepted(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    manifest = generate_synthetic_dataset(root, **{**TINY, "fakes_per_real": 0, "num_identities": 3})
    rows = read_manifest(manifest)
    assert len(rows) == 6 and {r["label"] for r in rows} == {"0"}


def test_failed_run_leaves_no_dataset_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(type(MANIPULATIONS["ColorSwap"])):  # type: ignore[misc]
        def fake_frame(self, *args: Any, **kwargs: Any) -> np.ndarray:
            raise RuntimeError("renderer crashed")

    monkeypatch.setitem(MANIPULATIONS, "ColorSwap", Broken())
    with pytest.raises(RuntimeError, match="renderer crashed"):
        generate_synthetic_dataset(tmp_path / "ds", **TINY)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"num_identities": 5}, "num_identities"),
        ({"methods": ("BlendSwap", "NoSuchSwap")}, "NoSuchSwap"),
        ({"frame_size": 63}, "frame_size"),
        ({"split_fractions": (0.5, 0.2, 0.2)}, "split_fractions"),
        ({"fakes_per_real": 4}, "fakes_per_real"),
    ],
)
def test_invalid_parameters_raise(tmp_path: Path, override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_synthetic_dataset(tmp_path / "ds", **{**TINY, **override})
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ fakes


def _centre_and_far(shape: tuple[int, ...], boxes: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Masks (T, H, W) of each box's central half, and of pixels well away from the box.

    The margin keeps mask feathering and chroma subsampling out of "far": compression still
    differs a little there because the encoder saw different frames.
    """
    centre = np.zeros(shape[:3], dtype=bool)
    far = np.ones(shape[:3], dtype=bool)
    for t, (x0, y0, x1, y1) in enumerate(boxes):
        w, h = x1 - x0, y1 - y0
        centre[t, y0 + h // 4 : y1 - h // 4, x0 + w // 4 : x1 - w // 4] = True
        far[t, max(y0 - h // 4, 0) : y1 + h // 4, max(x0 - w // 4, 0) : x1 + w // 4] = False
    return centre, far


def test_fakes_differ_from_their_real_inside_the_box(tiny: tuple[Path, list[dict[str, str]]]) -> None:
    root, rows = tiny
    by_id = row_by_id(rows)
    for r in rows:
        if r["method"] == "original":
            continue
        target, _source, k = Path(r["path"]).stem.split("_")
        real = by_id[f"synthetic/original/c23/{target}_{k}"]
        fake_frames = decode(root / r["path"]).astype(np.float32)
        real_frames = decode(root / real["path"]).astype(np.float32)
        boxes = sidecar(root, r)["boxes"]
        assert boxes == sidecar(root, real)["boxes"]  # same target video, same motion
        diff = np.abs(fake_frames - real_frames).mean(-1)
        centre, far = _centre_and_far(diff.shape, boxes)
        assert diff[centre].mean() > 4.0
        assert diff[centre].mean() > 3 * diff[far].mean(), r["video_id"]


def _scene(size: int = 64, frames: int = 10, seed: int = 0) -> tuple[F.Scene, F.Identity]:
    target = F.make_identity("a", np.random.default_rng([seed, 1]))
    source = F.make_identity("b", np.random.default_rng([seed, 2]))
    return F.make_scene(target, np.random.default_rng([seed, 3]), frames, size, 25), source


@pytest.mark.parametrize("method", sorted(MANIPULATIONS))
def test_every_method_changes_only_the_face(method: str) -> None:
    scene, source = _scene()
    real = F.render_video(scene)
    fake = MANIPULATIONS[method](scene, source, real, np.random.default_rng(0), strength=0.5)
    assert fake.shape == real.shape and fake.dtype == np.uint8
    diff = np.abs(fake.astype(np.float32) - real).mean(-1)
    for t, pose in enumerate(scene.poses):
        face = (
            F.face_mask(F.face_ellipse(scene.identity.head, pose, scene.frame_size), scene.frame_size) > 0.5
        )
        far = (
            F.face_mask(
                F.face_ellipse(scene.identity.head, pose, scene.frame_size).scaled(1.4, 1.4), scene.frame_size
            )
            < 0.5
        )
        assert diff[t][face].mean() > 1.0
        assert diff[t][far].max() == 0  # background away from the face is untouched


@pytest.mark.parametrize("method", sorted(MANIPULATIONS))
def test_select_frames_hook_leaves_other_frames_real(method: str) -> None:
    scene, source = _scene(frames=6)
    real = F.render_video(scene)
    manipulated = np.array([True, False, True, False, False, True])
    fake = MANIPULATIONS[method](scene, source, real, np.random.default_rng(0), 0.5, manipulated)
    for t, m in enumerate(manipulated):
        assert np.array_equal(fake[t], real[t]) != m


def _residual_flicker(method: str, strength: float) -> float:
    """Mean frame-to-frame change of the fake-minus-real residual: a temporal-artifact measure."""
    values = []
    for seed in range(3):
        scene, source = _scene(frames=8, seed=seed)
        real = F.render_video(scene)
        fake = MANIPULATIONS[method](scene, source, real, np.random.default_rng(seed), strength)
        residual = fake.astype(np.float32) - real
        values.append(float(np.abs(np.diff(residual, axis=0)).mean()))
    return float(np.mean(values))


def test_flickerswap_is_the_temporally_inconsistent_one() -> None:
    flicker = _residual_flicker("FlickerSwap", 1.0)
    assert flicker > 1.5 * _residual_flicker("BlendSwap", 1.0)
    assert flicker > 1.5 * _residual_flicker("ColorSwap", 1.0)
    assert flicker > 1.5 * _residual_flicker("FlickerSwap", 0.1)  # strength controls it


def test_large_frames_render() -> None:
    scene, _ = _scene(size=256, frames=2)
    video = F.render_video(scene)
    assert video.shape == (2, 256, 256, 3)
    x0, _, x1, _ = F.face_box(scene.identity.head, scene.poses[0], 256)
    assert 0.35 * 256 <= x1 - x0 <= 0.65 * 256


# ------------------------------------------------------------------------------------ determinism


def test_manifest_is_deterministic_given_the_seed(
    tmp_path: Path, tiny: tuple[Path, list[dict[str, str]]]
) -> None:
    root, _ = tiny
    again = generate_synthetic_dataset(tmp_path / "again", **TINY, num_workers=1)
    assert again.read_bytes() == (root / "manifest.csv").read_bytes()
    for name in ("train", "val", "test"):
        assert (tmp_path / "again" / "splits" / f"{name}.json").read_bytes() == (
            root / "splits" / f"{name}.json"
        ).read_bytes()
    # Sidecars too (boxes, sources, strengths): the pool renders the same videos as in-process.
    first = sorted((root / "manipulated_sequences").rglob("*.json"))
    second = sorted((tmp_path / "again" / "manipulated_sequences").rglob("*.json"))
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    other = generate_synthetic_dataset(tmp_path / "other", **{**TINY, "seed": 4})
    assert other.read_bytes() != again.read_bytes()
