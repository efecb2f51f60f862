"""The face-crop store format, and training on it: the same clips as decoding the videos."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from datamodules.clip_dataset import ClipDataset
from datamodules.crop_store import CropStoreSource, atomic_save_npy, crop_file_stem, open_store
from datamodules.preprocessing import CropParams, build_store
from datamodules.sources import read_manifest
from deepfake_suite.errors import SuiteError
from tests.conftest import TINY_SOURCE
from tests.test_preprocessing import tiny_source


def test_crop_file_stems_are_safe_and_unique() -> None:
    ids = [
        "ff/Deepfakes/c23/000_003",
        "ff/Face2Face/c23/000_003",
        "a/b",
        "a__b",
        "../../etc/passwd",
        "x" * 400,
    ]
    stems = [crop_file_stem(video_id) for video_id in ids]
    assert len(set(stems)) == len(ids)
    for stem in stems:
        assert "/" not in stem and "\\" not in stem and not stem.startswith(".")
        assert len(stem.encode()) <= 170
    assert stems[0].startswith("ff__Deepfakes__c23__000_003-")
    assert crop_file_stem("ff/Deepfakes/c23/000_003") == stems[0]  # stable across runs


def test_npy_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.npy"
    atomic_save_npy(target, np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3))
    np.testing.assert_array_equal(np.load(target), np.arange(24).reshape(2, 2, 2, 3))

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_save_npy(target, np.zeros((1, 2, 2, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]  # old content kept, no temp file
    assert np.load(target).shape == (2, 2, 2, 3)


def test_open_store_refuses_other_parameters_and_foreign_folders(tmp_path: Path) -> None:
    open_store(tmp_path / "s", {"frame_size": 64, "detector": "haar"})
    open_store(tmp_path / "s", {"frame_size": 64, "detector": "haar"})  # same: resume
    with pytest.raises(SuiteError, match="detector: store has 'haar', requested 'dlib'"):
        open_store(tmp_path / "s", {"frame_size": 64, "detector": "dlib"})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.mp4").write_bytes(b"")
    with pytest.raises(SuiteError, match="not a face-crop store"):
        open_store(tmp_path / "other", {"frame_size": 64})


def test_store_source_explains_a_missing_or_unfinished_store(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="run `deepfake-suite preprocess"):
        CropStoreSource(str(tmp_path / "none"))
    open_store(tmp_path / "s", {"frame_size": 32})
    with pytest.raises(SuiteError, match="did not finish"):
        CropStoreSource(str(tmp_path / "s")).records()


@pytest.fixture(scope="module")
def all_frames_store(tiny_synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every frame of the tiny synthetic set, cropped at the annotated boxes as ClipDataset crops them."""
    store = tmp_path_factory.mktemp("store") / "all"
    params = CropParams(frame_size=32, frames_per_video=None, detector="sidecar", face_margin=0.3)
    build_store(tiny_source(tiny_synthetic_root), store, params, 0, progress=False)
    return store


@pytest.mark.parametrize("clip_len", [4, 16])  # 16 > 10 frames: padding and mask
def test_clips_from_the_store_equal_clips_decoded_from_the_videos(
    tiny_synthetic_root: Path, all_frames_store: Path, clip_len: int
) -> None:
    videos = {r.video_id: r for r in read_manifest(tiny_synthetic_root / "manifest.csv", tiny_synthetic_root)}
    stored = CropStoreSource(str(all_frames_store)).records()
    assert sorted(r.video_id for r in stored) == sorted(videos)
    for record in stored:
        assert record.path.suffix == ".npy" and record.n_frames == TINY_SOURCE["num_frames"]
        original = videos[record.video_id]
        assert (record.label, record.split, record.identity) == (
            original.label,
            original.split,
            original.identity,
        )
        from_store = ClipDataset([record], clip_len=clip_len, frame_size=32)[0]
        decoded = ClipDataset([original], clip_len=clip_len, frame_size=32, face_margin=0.3)[0]
        assert set(from_store) == set(decoded)
        for key in ("frames", "mask", "frame_labels", "label"):
            assert torch.equal(from_store[key], decoded[key]), key
        assert from_store["video_id"] == decoded["video_id"]
    assert {r.label for r in stored} == {0, 1}


def test_store_keeps_source_frame_labels_and_split_promise(
    all_frames_store: Path, tiny_synthetic_root: Path
) -> None:
    source = CropStoreSource(str(all_frames_store))
    assert source.identity_disjoint is True and source.frame_size == 32
    fake = next(r for r in source.records() if r.label == 1)
    outcome = json.loads(fake.path.with_suffix(".json").read_text())
    original = json.loads(
        (
            tiny_synthetic_root
            / f"manipulated_sequences/{fake.method}/c23/videos/{fake.video_id.rsplit('/', 1)[1]}.json"
        ).read_text()
    )
    assert outcome["frame_labels"] == original["frame_labels"]
    assert outcome["source_boxes"] == [[float(v) for v in box] for box in original["boxes"]]


def test_smaller_crops_are_resized_and_larger_ones_refused(all_frames_store: Path) -> None:
    record = CropStoreSource(str(all_frames_store)).records()[0]
    item = ClipDataset([record], clip_len=4, frame_size=16)[0]
    stored = np.load(record.path)[[0, 3, 6, 9]]
    expected = np.stack([cv2.resize(c, (16, 16), interpolation=cv2.INTER_AREA) for c in stored])
    np.testing.assert_array_equal(item["frames"].permute(0, 2, 3, 1).numpy(), expected)
    with pytest.raises(SuiteError, match="preprocess again with --frame_size 64"):
        ClipDataset([record], clip_len=4, frame_size=64)[0]


def test_clip_datamodule_trains_on_the_store_with_a_source_change_only(all_frames_store: Path) -> None:
    from datamodules import ClipDataModule

    dm = ClipDataModule(
        CropStoreSource(str(all_frames_store)), clip_len=4, frame_size=32, batch_size=3, num_workers=0
    )
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["frames"].shape == (3, 4, 3, 32, 32) and batch["frames"].dtype == torch.uint8
    assert batch["mask"].all()
    assert {r.split for r in dm.datasets["train"].records} == {"train"}
