"""Clip sampling, face crops, the manifest checks and bad videos."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules import ClipDataModule
from datamodules.clip_dataset import ClipDataset, load_sidecar
from datamodules.face_crop import crop_and_resize, square_crop_box
from datamodules.leakage import check_split_integrity
from datamodules.sampling import clip_windows, evenly_spaced_indices
from datamodules.sources import FolderSource, SyntheticSource, VideoSource, read_manifest
from deepfake_suite.errors import DataLeakError, SuiteError
from tests.conftest import TINY_SOURCE


def test_evenly_spaced_indices_cover_the_whole_video() -> None:
    indices, mask = evenly_spaced_indices(10, 4)
    assert indices.tolist() == [0, 3, 6, 9]
    assert mask.all()
    indices, _ = evenly_spaced_indices(300, 300)
    assert indices.tolist() == list(range(300))
    indices, _ = evenly_spaced_indices(301, 300)
    assert len(set(indices.tolist())) == 300 and indices[-1] == 300


def test_short_video_is_padded_with_its_last_frame_and_masked() -> None:
    indices, mask = evenly_spaced_indices(3, 5)
    assert indices.tolist() == [0, 1, 2, 2, 2]
    assert mask.tolist() == [True, True, True, False, False]


@pytest.mark.parametrize(("n_frames", "clip_len"), [(0, 4), (4, 0)])
def test_bad_sampling_arguments_raise(n_frames: int, clip_len: int) -> None:
    with pytest.raises(ValueError):
        evenly_spaced_indices(n_frames, clip_len)


def test_square_crop_is_centred_on_the_box_with_margin() -> None:
    assert square_crop_box((10, 20, 30, 60), 100, 100, margin=0.5) == (-10, 10, 50, 70)
    assert square_crop_box(None, 160, 100, margin=0.3) == (30, 0, 130, 100)


def test_crop_pads_outside_the_frame_with_black() -> None:
    frame = np.full((10, 10, 3), 200, dtype=np.uint8)
    crop = crop_and_resize(frame, (-10, -10, 10, 10), size=20)
    assert crop.shape == (20, 20, 3)
    assert crop[:10, :10].max() == 0 and crop[10:, 10:].min() == 200


def test_clip_items_have_the_documented_shapes(tiny_synthetic_root: Path) -> None:
    records = read_manifest(tiny_synthetic_root / "manifest.csv", tiny_synthetic_root)
    short = replace(records[0], n_frames=TINY_SOURCE["num_frames"])
    dataset = ClipDataset([short], clip_len=16, frame_size=32)
    item = dataset[0]
    assert item["frames"].shape == (16, 3, 32, 32) and item["frames"].dtype == torch.uint8
    assert item["mask"].sum().item() == TINY_SOURCE["num_frames"]
    assert torch.equal(item["frames"][-1], item["frames"][TINY_SOURCE["num_frames"] - 1])
    assert item["frame_labels"].shape == (16,)
    assert item["label"].item() == short.label
    assert item["video_id"] == short.video_id


def test_face_crop_follows_the_annotated_box(tiny_synthetic_root: Path, tmp_path: Path) -> None:
    record = read_manifest(tiny_synthetic_root / "manifest.csv", tiny_synthetic_root)[0]
    sidecar = load_sidecar(record.path)
    tight = ClipDataset([record], clip_len=4, frame_size=32, face_margin=0.0)[0]["frames"]
    # The same video with every box moved off the face must give other crops.
    moved_path = tmp_path / record.path.name
    moved_path.write_bytes(record.path.read_bytes())
    shifted = [[x0 + 30, y0 + 30, x1 + 30, y1 + 30] for x0, y0, x1, y1 in sidecar["boxes"]]
    moved_path.with_suffix(".json").write_text(json.dumps({**sidecar, "boxes": shifted}))
    moved = ClipDataset([replace(record, path=moved_path)], clip_len=4, frame_size=32, face_margin=0.0)
    assert (tight.float() - moved[0]["frames"].float()).abs().mean() > 10


def _records(tiny_synthetic_root: Path):
    return read_manifest(tiny_synthetic_root / "manifest.csv", tiny_synthetic_root)


def test_duplicate_video_id_is_refused(tiny_synthetic_root: Path) -> None:
    records = _records(tiny_synthetic_root)
    with pytest.raises(DataLeakError, match="not unique"):
        check_split_integrity([*records, records[0]], identity_disjoint=False)


def test_test_identity_in_training_is_refused(tiny_synthetic_root: Path) -> None:
    records = _records(tiny_synthetic_root)
    test_record = next(r for r in records if r.split == "test")
    leaked = replace(
        records[0],
        video_id="x/leak",
        split="train",
        identity=test_record.identity,
        path=Path("/elsewhere.mp4"),
    )
    with pytest.raises(DataLeakError, match=test_record.identity):
        check_split_integrity([*records, leaked], identity_disjoint=True)
    check_split_integrity([*records, leaked], identity_disjoint=False)


def test_same_file_in_two_splits_is_refused(tiny_synthetic_root: Path) -> None:
    records = _records(tiny_synthetic_root)
    copy = replace(records[0], video_id="x/copy", split="test" if records[0].split != "test" else "train")
    with pytest.raises(DataLeakError, match="several splits"):
        check_split_integrity([*records, copy], identity_disjoint=False)


def test_datamodule_batches_and_split_separation(tiny_synthetic_root: Path) -> None:
    source = SyntheticSource(root=str(tiny_synthetic_root), **TINY_SOURCE)
    dm = ClipDataModule(source, clip_len=4, frame_size=32, batch_size=3, num_workers=0, preload=True)
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")
    batch = next(iter(dm.train_dataloader()))
    assert batch["frames"].shape == (3, 4, 3, 32, 32)
    assert batch["mask"].shape == batch["frame_labels"].shape == (3, 4)
    ids = {split: {r.video_id for r in dm.datasets[split].records} for split in ("train", "val", "test")}
    assert not ids["test"] & (ids["train"] | ids["val"])
    identities = {s: {r.identity for r in dm.datasets[s].records} for s in ("train", "val", "test")}
    assert not identities["test"] & (identities["train"] | identities["val"])
    labels = {r.label for r in dm.datasets["train"].records}
    assert labels == {0, 1}


def test_missing_folder_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"data folder not found: .*nothing-here"):
        FolderSource(str(tmp_path / "nothing-here")).records()


def test_undecodable_videos_are_skipped_with_a_warning_naming_them(
    tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    good = next(r for r in _records(tiny_synthetic_root) if r.label == 0).path
    for split in ("train", "val", "test"):
        for class_name in ("real", "fake"):
            folder = tmp_path / "data" / split / class_name
            folder.mkdir(parents=True)
            (folder / "good.mp4").write_bytes(good.read_bytes())
    (tmp_path / "data" / "train" / "real" / "empty.mp4").write_bytes(b"")
    (tmp_path / "data" / "train" / "fake" / "garbage.mp4").write_bytes(b"this is not a video" * 100)
    dm = ClipDataModule(FolderSource(str(tmp_path / "data")), clip_len=4, frame_size=32, num_workers=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm.setup("fit")
    messages = " ".join(str(w.message) for w in caught)
    assert "empty.mp4" in messages and "garbage.mp4" in messages
    assert len(dm.datasets["train"]) == 2
    assert dm.datasets["train"][0]["frames"].shape == (4, 3, 32, 32)


# --------------------------------------------------- samplers, subsets and augmentation of clips


class _ListSource(VideoSource):
    def __init__(self, records: list) -> None:
        self._records = records

    def records(self) -> list:
        return list(self._records)


def _clip_module(source: VideoSource, **kwargs: object) -> ClipDataModule:
    options: dict = {"clip_len": 4, "frame_size": 32, "batch_size": 4, "num_workers": 0, "preload": True}
    dm = ClipDataModule(source, **{**options, **kwargs})
    dm.setup("fit")
    return dm


def test_default_clip_loader_is_a_plain_shuffle_with_the_same_batch_keys(tiny_synthetic_root: Path) -> None:
    dm = _clip_module(_ListSource(_records(tiny_synthetic_root)))
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, torch.utils.data.RandomSampler) and loader.batch_size == 4
    keys = {"frames", "mask", "frame_labels", "label", "video_id", "video_index", "index"}
    assert set(next(iter(loader))) == keys
    assert dm.class_names == ["real", "BlendSwap", "ColorSwap", "FlickerSwap"]
    assert dm.state_dict() == {"class_names": dm.class_names}


def test_clip_batches_hold_both_classes_with_rare_fakes(tiny_synthetic_root: Path) -> None:
    records = _records(tiny_synthetic_root)
    first_fake = next(r for r in records if r.split == "train" and r.label == 1)
    kept = [r for r in records if not (r.split == "train" and r.label == 1 and r != first_fake)]
    dm = _clip_module(_ListSource(kept), sampler="both_classes", clip_len=2)
    batches = list(dm.train_dataloader())
    assert sum(r.label for r in dm.datasets["train"].records) == 1 and len(batches) >= 3
    for batch in batches:
        assert set(batch["label"].tolist()) == {0.0, 1.0}


def test_clip_pk_groups_are_identities_of_one_class(tiny_synthetic_root: Path) -> None:
    dm = _clip_module(_ListSource(_records(tiny_synthetic_root)), sampler="pk", pk_p=2, pk_k=2, clip_len=2)
    records = dm.datasets["train"].records
    for batch in dm.train_dataloader():
        keys = [(records[i].identity, records[i].label) for i in batch["index"].tolist()]
        assert len(keys) == 4 and sorted(Counter(keys).values()) == [2, 2]
        assert {label for _, label in keys} == {0, 1}


def test_clip_augmentation_is_one_draw_per_clip(tiny_synthetic_root: Path) -> None:
    steps = [
        {"name": "ImageCompression", "params": {"quality_range": [20, 50], "p": 1.0}},
        {"name": "GaussNoise", "params": {"std_range": [0.05, 0.1], "p": 1.0}},
        {"name": "RandomBrightnessContrast", "params": {"p": 1.0}},
    ]
    # 16 > 10 frames: the padding repeats the last frame, so it must stay equal to it after
    # augmentation; any per-frame draw (noise map, JPEG quality, brightness) would break that.
    dm = _clip_module(_ListSource(_records(tiny_synthetic_root)), clip_len=16, train_transform=steps)
    plain = dm.datasets["train"]
    augmented = next(iter(dm.train_dataloader()))
    for frames, mask, index in zip(augmented["frames"], augmented["mask"], augmented["index"], strict=True):
        last = int(mask.sum()) - 1
        assert last == TINY_SOURCE["num_frames"] - 1
        for t in range(last + 1, 16):
            assert torch.equal(frames[t], frames[last])
        assert (frames.float() - plain[int(index)]["frames"].float()).abs().mean() > 1
    # Validation stays untouched without an eval_transform.
    assert torch.equal(next(iter(dm.val_dataloader()))["frames"][0], dm.datasets["val"][0]["frames"])


def test_smoke_config_parses_with_sampler_and_augmentation(capsys: pytest.CaptureFixture[str]) -> None:
    from deepfake_suite.cli import main
    from tests.conftest import PAPER_CONFIG, SMOKE_CONFIG

    steps = "[{name: ImageCompression, params: {quality_range: [40, 90], p: 0.5}}, {name: HorizontalFlip}]"
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "fit",
                "--config",
                str(PAPER_CONFIG),
                "--config",
                str(SMOKE_CONFIG),
                "--data.init_args.sampler=both_classes",
                f"--data.init_args.train_transform={steps}",
                "--print_config",
            ]
        )
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    assert "sampler: both_classes" in out and "name: ImageCompression" in out and "quality_range" in out


# ---------------------------------------------------------------- consecutive windows


@pytest.mark.parametrize(
    ("n_frames", "clip_len", "gap", "clips", "expected"),
    [
        (10, 3, 1, 1, [[0, 1, 2]]),
        (10, 3, 1, 3, [[0, 1, 2], [4, 5, 6], [7, 8, 9]]),  # starts rint(linspace(0, 7, 3)) = 0, 4, 7
        (10, 3, 2, 2, [[0, 2, 4], [5, 7, 9]]),  # span 5: starts 0 and 5
        (9, 2, 4, 5, [[0, 4], [1, 5], [2, 6], [3, 7], [4, 8]]),
    ],
)
def test_consecutive_windows_by_hand(
    n_frames: int, clip_len: int, gap: int, clips: int, expected: list
) -> None:
    windows = clip_windows(n_frames, clip_len, "consecutive", gap, clips)
    assert [w[0].tolist() for w in windows] == expected
    assert all(w[1].all() for w in windows)


def test_consecutive_window_longer_than_the_video_pads_and_masks() -> None:
    ((indices, mask),) = clip_windows(5, 4, "consecutive", frame_gap=2, clips_per_video=3)
    assert indices.tolist() == [0, 2, 4, 4] and mask.tolist() == [True, True, True, False]


def test_even_sampling_refuses_several_clips_per_video() -> None:
    with pytest.raises(ValueError, match="consecutive"):
        clip_windows(10, 3, "even", clips_per_video=2)


def test_clip_module_gives_several_windows_per_video_sharing_its_index(tiny_synthetic_root: Path) -> None:
    dm = _clip_module(
        _ListSource(_records(tiny_synthetic_root)), clip_len=3, clip_sampling="consecutive", clips_per_video=2
    )
    dataset = dm.datasets["train"]
    assert len(dataset) == 2 * len(dataset.records)
    first, second = dataset[0], dataset[1]
    assert first["video_id"] == second["video_id"] and first["video_index"] == second["video_index"]
    assert not torch.equal(first["frames"], second["frames"])  # different windows of one video
    labels = dm._item_labels(dataset)
    assert len(labels) == len(dataset) and labels[0] == labels[1]
