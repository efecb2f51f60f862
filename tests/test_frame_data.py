"""FrameDataModule: items against the stored crops, sampling, attribution classes, samplers, subsets."""

from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules import FrameDataModule
from datamodules.crop_store import CropStoreSource
from datamodules.frame_dataset import FrameDataset, collate_frames
from datamodules.preprocessing import CropParams, build_store
from datamodules.samplers import ClassBalancedSampler, PKBatchSampler
from datamodules.sources import FolderSource, SyntheticSource, VideoRecord, VideoSource, read_manifest
from deepfake_suite.errors import DataLeakError, SuiteError
from tests.conftest import TINY_SOURCE

N_FRAMES = TINY_SOURCE["num_frames"]  # 10 per video


class ListSource(VideoSource):
    """Records given in memory."""

    def __init__(self, records: list[VideoRecord], identity_disjoint: bool = False) -> None:
        self._records = records
        self.identity_disjoint = identity_disjoint

    def records(self) -> list[VideoRecord]:
        return list(self._records)


@pytest.fixture(scope="module")
def store(tiny_synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every frame of the tiny synthetic set as 32x32 crops at the annotated boxes."""
    root = tmp_path_factory.mktemp("frame-store") / "store"
    params = CropParams(frame_size=32, frames_per_video=None, detector="sidecar", face_margin=0.3)
    build_store(
        SyntheticSource(root=str(tiny_synthetic_root), **TINY_SOURCE), root, params, 0, progress=False
    )
    return root


def module(source: VideoSource, **kwargs: object) -> FrameDataModule:
    options: dict = {"frames_per_video": 4, "frame_size": 32, "batch_size": 8, "num_workers": 0}
    dm = FrameDataModule(source, **{**options, **kwargs})
    dm.setup("fit")
    dm.setup("test")
    return dm


def items(dataset: FrameDataset) -> list[dict]:
    return [dataset[i] for i in range(len(dataset))]


def test_items_are_the_stored_crops_at_evenly_spaced_frames(store: Path) -> None:
    dm = module(CropStoreSource(str(store)))
    # rint(linspace(0, 9, 4)) by hand: the first, last and two evenly spaced frames between.
    expected_frames = [0, 3, 6, 9]
    for split, dataset in dm.datasets.items():
        by_video = defaultdict(list)
        for item in items(dataset):
            by_video[item["video_id"]].append(item)
        assert len(by_video) == len(dataset.records) and len(dataset) == 4 * len(by_video)
        for record in dataset.records:
            stored = np.load(record.path)
            sidecar = json.loads(record.path.with_suffix(".json").read_text())
            for item, frame in zip(by_video[record.video_id], expected_frames, strict=True):
                assert item["frames"].dtype == torch.uint8 and item["frames"].shape == (3, 32, 32)
                np.testing.assert_array_equal(item["frames"].permute(1, 2, 0).numpy(), stored[frame])
                assert item["label"] == record.label and item["label"].dtype == np.float32
                assert item["frame_label"] == sidecar["frame_labels"][frame]
                assert record.split == split


def test_frame_labels_follow_the_sidecar_else_the_video_label(store: Path, tmp_path: Path) -> None:
    record = next(r for r in CropStoreSource(str(store)).records() if r.label == 1)
    annotated = tmp_path / "partly.npy"
    annotated.write_bytes(record.path.read_bytes())
    # A fake whose manipulation covers frames 3..5 only.
    annotated.with_suffix(".json").write_text(json.dumps({"frame_labels": [0, 0, 0, 1, 1, 1, 0, 0, 0, 0]}))
    unannotated = tmp_path / "plain.npy"
    unannotated.write_bytes(record.path.read_bytes())
    rows = [replace(record, video_id="a", path=annotated), replace(record, video_id="b", path=unannotated)]
    dataset = FrameDataset(rows, 4, 32, {"a": 0, "b": 1}, {record.method: 1})
    got = [(i["video_id"], float(i["label"]), float(i["frame_label"])) for i in items(dataset)]
    assert got == [("a", 1, 0), ("a", 1, 1), ("a", 1, 0), ("a", 1, 0)] + [("b", 1, 1)] * 4


@pytest.mark.parametrize(
    ("frames_per_video", "expected"), [(None, list(range(10))), (25, list(range(10))), (2, [0, 9])]
)
def test_all_frames_or_fewer_never_repeated(
    store: Path, frames_per_video: int | None, expected: list[int]
) -> None:
    record = CropStoreSource(str(store)).records()[0]
    dataset = FrameDataset([record], frames_per_video, 32, {record.video_id: 0}, {record.method: 1})
    stored = np.load(record.path)
    assert len(dataset) == len(expected)
    for item, frame in zip(items(dataset), expected, strict=True):
        np.testing.assert_array_equal(item["frames"].permute(1, 2, 0).numpy(), stored[frame])


def test_raw_videos_give_the_same_items_as_the_store(tiny_synthetic_root: Path, store: Path) -> None:
    stored = {r.video_id: r for r in CropStoreSource(str(store)).records()}
    videos = read_manifest(tiny_synthetic_root / "manifest.csv", tiny_synthetic_root)[:6]
    index = {r.video_id: i for i, r in enumerate(videos)}
    classes = {r.method: 1 for r in videos}
    from_store = items(FrameDataset([stored[r.video_id] for r in videos], 4, 32, index, classes))
    for preload in (False, True):
        decoded = items(FrameDataset(videos, 4, 32, index, classes, face_margin=0.3, preload=preload))
        assert len(decoded) == len(from_store) == 24
        for a, b in zip(decoded, from_store, strict=True):
            assert torch.equal(a["frames"], b["frames"])
            assert (a["label"], a["frame_label"], a["video_id"]) == (
                b["label"],
                b["frame_label"],
                b["video_id"],
            )


def test_attribution_classes_sorted_from_all_splits_and_equal_across_them(store: Path) -> None:
    records = CropStoreSource(str(store)).records()
    methods = sorted({r.method for r in records if r.label == 1})
    assert len(methods) == 3
    # Order of appearance must not matter: reversed records give the same classes.
    for ordered in (records, records[::-1]):
        dm = module(ListSource(ordered))
        assert dm.class_names == ["real", *methods]
        for dataset in dm.datasets.values():
            for item in items(dataset):
                method = next(r.method for r in records if r.video_id == item["video_id"])
                expected = 0 if item["label"] == 0 else 1 + methods.index(method)
                assert item["method_label"] == expected


def test_a_method_missing_from_training_is_unseen_and_numbered_after_the_classes(store: Path) -> None:
    records = CropStoreSource(str(store)).records()
    methods = sorted({r.method for r in records if r.label == 1})
    missing = methods[0]
    # Train loses every video of one method (a cross-dataset test set): the model cannot learn it,
    # so it is no class of the head; its videos stay in val/test under a label beyond the classes.
    fewer = [r for r in records if not (r.split == "train" and r.method == missing)]
    partial = module(ListSource(fewer))
    assert partial.class_names == ["real", *methods[1:]]
    assert partial.unseen_methods == [missing]
    assert missing not in {r.method for r in partial.datasets["train"].records}
    for dataset in partial.datasets.values():
        for item in items(dataset):
            method = next(r.method for r in records if r.video_id == item["video_id"])
            expected = (
                0 if item["label"] == 0 else (len(methods) if method == missing else methods.index(method))
            )
            assert item["method_label"] == expected
    assert any(item["method_label"] == len(methods) for item in items(partial.datasets["test"]))


def test_checkpointed_classes_win_over_a_test_manifest_with_fewer_methods(store: Path) -> None:
    records = CropStoreSource(str(store)).records()
    trained = module(ListSource(records))
    methods = trained.class_names[1:]
    # A test-time manifest with only the last method would number it 1 on its own.
    test_only = [r for r in records if r.label == 0 or r.method == methods[-1]]
    tested = module(ListSource(test_only))
    assert tested.class_names == ["real", methods[-1]]
    tested.load_state_dict(trained.state_dict())  # what Lightning does after setup
    assert tested.class_names == trained.class_names
    fakes = [i for i in items(tested.datasets["test"]) if i["label"] == 1]
    assert fakes and {i["method_label"] for i in fakes} == {len(methods)}


def test_video_index_is_one_number_per_video_across_splits(store: Path) -> None:
    dm = module(CropStoreSource(str(store)), frames_per_video=3)
    numbers: dict[str, set[int]] = defaultdict(set)
    for dataset in dm.datasets.values():
        for item in items(dataset):
            numbers[item["video_id"]].add(item["video_index"])
    assert all(len(n) == 1 for n in numbers.values())
    flat = [next(iter(n)) for n in numbers.values()]
    assert len(set(flat)) == len(flat) == len(CropStoreSource(str(store)).records())


def test_collated_batch_equals_stacked_items(store: Path) -> None:
    dm = module(CropStoreSource(str(store)))
    batch = next(iter(dm.val_dataloader()))
    dataset = dm.datasets["val"]
    expected = torch.stack([dataset[i]["frames"].contiguous() for i in range(8)])
    assert batch["frames"].shape == (8, 3, 32, 32) and torch.equal(batch["frames"], expected)
    assert batch["frames"].is_contiguous(memory_format=torch.channels_last)
    assert batch["label"].dtype == batch["frame_label"].dtype == torch.float32
    assert batch["method_label"].dtype == batch["video_index"].dtype == torch.int64
    assert batch["index"].tolist() == list(range(8)) and len(batch["video_id"]) == 8
    assert collate_frames([dataset[0]])["frames"].shape == (1, 3, 32, 32)


def rare_fakes(records: list[VideoRecord], keep: int) -> list[VideoRecord]:
    """Train keeps only ``keep`` fake videos: a shuffled loader would miss them in most batches."""
    fakes = [r for r in records if r.split == "train" and r.label == 1]
    dropped = {r.video_id for r in fakes[keep:]}
    return [r for r in records if r.video_id not in dropped]


def test_both_classes_sampler_puts_reals_and_fakes_in_every_batch(store: Path) -> None:
    source = ListSource(rare_fakes(CropStoreSource(str(store)).records(), keep=1))
    dm = module(source, sampler="both_classes", min_per_class=2, batch_size=8)
    labels = dm.datasets["train"].labels
    assert labels.sum() == 4 and len(labels) > 40  # 4 fake frames among dozens of reals
    for epoch in range(2):
        loader = dm.train_dataloader()
        loader.batch_sampler.set_epoch(epoch)  # type: ignore[union-attr]
        batches = list(loader)
        assert len(batches) >= 5
        for batch in batches:
            counts = Counter(batch["label"].tolist())
            assert counts[0.0] >= 2 and counts[1.0] >= 2


def test_pk_sampler_groups_frames_by_video(store: Path) -> None:
    dm = module(CropStoreSource(str(store)), sampler="pk", pk_p=4, pk_k=3, batch_size=12)
    loader = dm.train_dataloader()
    assert isinstance(loader.batch_sampler, PKBatchSampler)
    for batch in loader:
        videos = batch["video_index"].tolist()
        assert len(videos) == 12 and sorted(Counter(videos).values()) == [3, 3, 3, 3]
        per_video = dict(zip(videos, batch["label"].tolist(), strict=True))
        assert sorted(per_video.values()) == [0.0, 0.0, 1.0, 1.0]
        assert len(set(batch["index"].tolist())) == 12  # 4 frames per video: K = 3 distinct


def test_balanced_sampler_and_default_shuffle(store: Path) -> None:
    dm = module(CropStoreSource(str(store)), sampler="balanced")
    assert isinstance(dm.train_dataloader().sampler, ClassBalancedSampler)
    plain = module(CropStoreSource(str(store)))
    loader = plain.train_dataloader()
    assert isinstance(loader.sampler, torch.utils.data.RandomSampler) and loader.batch_size == 8
    assert isinstance(plain.val_dataloader().sampler, torch.utils.data.SequentialSampler)


def test_sampler_that_cannot_work_is_a_clear_error(store: Path) -> None:
    dm = module(ListSource(rare_fakes(CropStoreSource(str(store)).records(), keep=1)), sampler="both_classes")
    dm.min_per_class = 5  # more than the 4 fake frames
    with pytest.raises(SuiteError, match="sampler=both_classes: min_per_class must be in"):
        dm.train_dataloader()
    with pytest.raises(SuiteError, match="sampler must be shuffle, both_classes, pk or balanced"):
        FrameDataModule(CropStoreSource(str(store)), sampler="random")  # type: ignore[arg-type]


def test_imbalance_preset_gives_the_papers_counts(store: Path) -> None:
    """celeb-30 (Table 1): train 712 real / 23 fake, test 178 / 5; val untouched."""
    files = {
        split: [r for r in CropStoreSource(str(store)).records() if r.split == split]
        for split in ("train", "val", "test")
    }
    wanted = {"train": (712, 40), "val": (3, 3), "test": (178, 9)}
    records = []
    for split, (n_real, n_fake) in wanted.items():
        # Many manifest rows per crop file of the split: the counts matter, not the pixels.
        pool = {label: [r for r in files[split] if r.label == label] for label in (0, 1)}
        for label, n in ((0, n_real), (1, n_fake)):
            for k in range(n):
                base = pool[label][k % len(pool[label])]
                records.append(
                    replace(base, video_id=f"{split}/{label}/{k}", identity=f"{split}{label}-{k % 7}")
                )
    dm = module(ListSource(records), frames_per_video=1, imbalance="celeb-30", imbalance_seed=3)
    counts = {s: Counter(r.label for r in d.records) for s, d in dm.datasets.items()}
    assert counts == {"train": {0: 712, 1: 23}, "val": {0: 3, 1: 3}, "test": {0: 178, 1: 5}}
    again = module(ListSource(records), frames_per_video=1, imbalance="celeb-30", imbalance_seed=3)
    assert [r.video_id for r in again.datasets["train"].records] == [
        r.video_id for r in dm.datasets["train"].records
    ]
    with pytest.raises(SuiteError, match="unknown preset 'celeb-40'"):
        FrameDataModule(ListSource(records), imbalance="celeb-40")


def test_split_checks_run_before_any_loader(store: Path) -> None:
    records = CropStoreSource(str(store)).records()
    test_video = next(r for r in records if r.split == "test")
    leaked = replace(test_video, video_id="copy/of/a/test/video", split="train")
    with pytest.raises(DataLeakError, match="several splits"):
        module(ListSource([*records, leaked]))


def test_train_transform_applies_to_train_only(store: Path) -> None:
    flip = [{"name": "HorizontalFlip", "params": {"p": 1.0}}]
    dm = module(CropStoreSource(str(store)), train_transform=flip)
    plain = module(CropStoreSource(str(store)))
    for split in ("train", "val"):
        got, reference = dm.datasets[split][0]["frames"], plain.datasets[split][0]["frames"]
        assert torch.equal(got, reference.flip(-1) if split == "train" else reference)


def test_unreadable_files_are_skipped_with_a_warning_naming_them(
    store: Path, tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    records = CropStoreSource(str(store)).records()
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"not an array" * 10)
    bad = replace(next(r for r in records if r.split == "train"), video_id="x/broken", path=broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm = module(ListSource([*records, bad]))
    assert any("broken.npy" in str(w.message) for w in caught)
    assert "x/broken" not in {r.video_id for r in dm.datasets["train"].records}
    # Raw videos: frame counts are probed first, as for clips.
    good = next(
        r for r in read_manifest(tiny_synthetic_root / "manifest.csv", tiny_synthetic_root) if r.label == 0
    )
    for split in ("train", "val", "test"):
        for class_name in ("real", "fake"):
            folder = tmp_path / "data" / split / class_name
            folder.mkdir(parents=True)
            (folder / "good.mp4").write_bytes(good.path.read_bytes())
    (tmp_path / "data" / "train" / "fake" / "empty.mp4").write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm = module(FolderSource(str(tmp_path / "data")), frames_per_video=3)
    assert any("empty.mp4" in str(w.message) for w in caught)
    assert len(dm.datasets["train"]) == 6 and dm.datasets["train"][0]["frames"].shape == (3, 32, 32)


def test_frame_datamodule_config_parses_with_steps_and_sampler(store: Path) -> None:
    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_subclass_arguments(FrameDataModule, "data")
    config = f"""
data:
  class_path: datamodules.FrameDataModule
  init_args:
    source:
      class_path: datamodules.sources.CropStoreSource
      init_args: {{root: {store}}}
    frames_per_video: null
    frame_size: 32
    num_workers: 0
    sampler: both_classes
    train_transform:
      - name: ImageCompression
        params: {{quality_range: [40, 90], p: 0.5}}
      - name: HorizontalFlip
"""
    dm = parser.instantiate(parser.parse_string(config)).data
    assert isinstance(dm, FrameDataModule) and dm.frames_per_video is None
    assert dm.train_augmentation is not None and len(dm.train_augmentation.compose.transforms) == 2
    dm.setup("fit")
    assert len(dm.datasets["train"]) == N_FRAMES * len(dm.datasets["train"].records)


def test_video_shorter_than_its_manifest_repeats_its_last_frame(
    tiny_synthetic_root: Path, store: Path
) -> None:
    video = read_manifest(tiny_synthetic_root / "manifest.csv", tiny_synthetic_root)[0]
    stored = next(r for r in CropStoreSource(str(store)).records() if r.video_id == video.video_id)
    overstated = replace(video, n_frames=2 * N_FRAMES)  # metadata that claims 20 frames
    dataset = FrameDataset([overstated], None, 32, {video.video_id: 0}, {video.method: 1}, face_margin=0.3)
    assert len(dataset) == 2 * N_FRAMES
    with pytest.warns(UserWarning, match=r"only 10 of 20 sampled frames"):
        frames = [item["frames"] for item in items(dataset)]
    reference = np.load(stored.path)
    for k, got in enumerate(frames):
        np.testing.assert_array_equal(got.permute(1, 2, 0).numpy(), reference[min(k, N_FRAMES - 1)])


def test_videos_without_face_boxes_are_named_in_a_warning(tiny_synthetic_root: Path, tmp_path: Path) -> None:
    # A real dataset's video without a crop store or sidecar boxes would be centre-cropped: the
    # run goes on, but says so and how to get face crops.
    from datamodules.clip_dataset import ClipDataset

    records = SyntheticSource(root=str(tiny_synthetic_root), **TINY_SOURCE).records()
    record = next(r for r in records if r.split == "train")
    bare = tmp_path / "bare" / record.path.name
    bare.parent.mkdir()
    shutil.copy(record.path, bare)  # the video without its sidecar .json
    moved = replace(record, path=bare, n_frames=4)
    classes = {"BlendSwap": 1, "ColorSwap": 2, "FlickerSwap": 3}

    def frames(rs: list[VideoRecord]) -> object:
        return FrameDataset(rs, 2, 16, video_index={r.video_id: 0 for r in rs}, class_index=classes)

    def clips(rs: list[VideoRecord]) -> object:
        return ClipDataset(rs, clip_len=2, frame_size=16)

    for make in (frames, clips):
        with pytest.warns(
            UserWarning, match=rf"1 of 1 videos have no face boxes .*beside {bare}.*preprocess"
        ):
            make([moved])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            make([replace(record, n_frames=4)])  # the synthetic sidecar has boxes


def test_test_score_rows_are_named_by_video(store: Path) -> None:
    dm = module(CropStoreSource(str(store)))
    test = dm.datasets["test"]
    items_ = items(test)
    by_sample = dm.test_video_ids("sample_id", [int(i["index"]) for i in items_])
    assert by_sample == [i["video_id"] for i in items_]
    by_group = dm.test_video_ids("group_id", [int(i["video_index"]) for i in items_])
    assert by_group == [i["video_id"] for i in items_]
    assert dm.test_video_ids("position", [0, 1]) is None
