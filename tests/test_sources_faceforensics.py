"""FaceForensicsSource on tiny FF++ trees: official pair splits, unique ids, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datamodules.leakage import check_split_integrity
from datamodules.sources import FaceForensicsSource
from datamodules.sources.faceforensics import FFPP_METHODS
from deepfake_suite.errors import SuiteError
from tests.source_trees import by_split, ffpp_tree, touch, write_text

PAIRS = {
    "train": [("000", "001"), ("002", "003"), ("004", "005")],
    "val": [("006", "007")],
    "test": [("008", "009")],
}
KEY = "data.init_args.source.init_args"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return ffpp_tree(tmp_path / "ffpp", PAIRS, FFPP_METHODS)


def expected_split(name: str) -> str:
    """The split of ``a`` or ``a_b`` read straight off PAIRS."""
    first = name.split("_")[0]
    return next(split for split, pairs in PAIRS.items() for pair in pairs if first in pair)


def test_rows_follow_the_official_pairs(root: Path) -> None:
    records = FaceForensicsSource(str(root)).records()
    assert len(records) == 10 + 5 * 10
    assert len({r.video_id for r in records}) == len(records)
    for r in records:
        assert r.split == expected_split(r.path.stem), r.video_id
        assert r.label == (0 if r.method == "original" else 1)
        assert r.compression == "c23" and r.dataset == "FaceForensics++" and r.n_frames == 0
        assert r.identity == r.path.stem.split("_")[0]
        assert r.path.is_absolute() and r.path.is_file()
    assert {r.method for r in records} == {"original", *FFPP_METHODS}
    counts = {split: len(rows) for split, rows in by_split(records).items()}
    assert counts == {"train": 6 + 5 * 6, "val": 2 + 5 * 2, "test": 2 + 5 * 2}
    # Both orders of a test pair and both of its originals are test videos.
    test_names = {(r.method, r.path.stem) for r in records if r.split == "test"}
    assert {
        ("original", "008"),
        ("original", "009"),
        ("Deepfakes", "008_009"),
        ("Deepfakes", "009_008"),
    } <= test_names
    check_split_integrity(records, identity_disjoint=FaceForensicsSource.identity_disjoint)
    assert FaceForensicsSource.identity_disjoint


def test_same_name_under_two_methods_gives_two_videos(root: Path) -> None:
    """DeepfakeBench's trap: 000_001 exists under every method and must not merge into one video."""
    records = FaceForensicsSource(str(root), methods=["Deepfakes", "FaceSwap"]).records()
    same = [r for r in records if r.path.stem == "000_001"]
    assert sorted(r.video_id for r in same) == [
        "FaceForensics++/Deepfakes/c23/000_001",
        "FaceForensics++/FaceSwap/c23/000_001",
    ]
    assert len(records) == 10 + 2 * 10


def test_split_sizes_follow_official_sized_split_files(tmp_path: Path) -> None:
    """360/70/70 pairs give 720/140/140 originals and as many fakes per method."""
    ids = [f"{i:03d}" for i in range(1000)]
    pairs = [(ids[2 * k], ids[2 * k + 1]) for k in range(500)]
    root = ffpp_tree(
        tmp_path / "ffpp", {"train": pairs[:360], "val": pairs[360:430], "test": pairs[430:]}, ["Deepfakes"]
    )
    grouped = by_split(FaceForensicsSource(str(root), methods=["Deepfakes"]).records())
    for split, n in {"train": 720, "val": 140, "test": 140}.items():
        assert sum(r.method == "original" for r in grouped[split]) == n
        assert sum(r.method == "Deepfakes" for r in grouped[split]) == n


def test_custom_split_dir_and_compression(tmp_path: Path) -> None:
    root = ffpp_tree(tmp_path / "ffpp", PAIRS, ["Face2Face"], compression="c40")
    (root / "splits").rename(tmp_path / "my_splits")
    records = FaceForensicsSource(
        str(root), compression="c40", methods=["Face2Face"], split_dir=str(tmp_path / "my_splits")
    ).records()
    assert {r.compression for r in records} == {"c40"} and len(records) == 20


def test_bad_arguments_name_the_config_key() -> None:
    with pytest.raises(SuiteError, match=f"{KEY}.compression"):
        FaceForensicsSource("x", compression="c50")
    with pytest.raises(SuiteError, match=f"{KEY}.methods"):
        FaceForensicsSource("x", methods=["Deepfake"])
    with pytest.raises(SuiteError, match="DeepFakeDetectionSource"):
        FaceForensicsSource("x", methods=["DeepFakeDetection"])


def test_missing_inputs_name_path_and_key(root: Path, tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=f"{tmp_path / 'nowhere'}.*{KEY}.root"):
        FaceForensicsSource(str(tmp_path / "nowhere")).records()
    with pytest.raises(SuiteError, match=f"{KEY}.compression"):
        FaceForensicsSource(str(root), compression="raw").records()
    (root / "splits" / "val.json").unlink()
    with pytest.raises(SuiteError, match=f"val.json.*{KEY}.split_dir"):
        FaceForensicsSource(str(root)).records()


def test_missing_method_folder_names_methods_key(tmp_path: Path) -> None:
    root = ffpp_tree(tmp_path / "ffpp", PAIRS, ["Deepfakes"])
    with pytest.raises(SuiteError, match=f"Face2Face.*{KEY}.methods"):
        FaceForensicsSource(str(root)).records()


@pytest.mark.parametrize(
    ("content", "message"),
    [('[["000", "001"', "cannot read split file"), ('[["000", "001", "002"]]', "list of \\[a, b\\] pairs")],
)
def test_malformed_split_file_names_the_file(root: Path, content: str, message: str) -> None:
    write_text(root / "splits" / "train.json", content)
    with pytest.raises(SuiteError, match=message) as caught:
        FaceForensicsSource(str(root)).records()
    assert str(root / "splits" / "train.json") in str(caught.value)


def test_id_in_two_splits_is_refused(root: Path) -> None:
    write_text(root / "splits" / "test.json", json.dumps([["008", "009"], ["000", "007"]]))
    with pytest.raises(SuiteError, match="000 appears twice"):
        FaceForensicsSource(str(root)).records()


def test_fake_of_no_official_pair_is_refused(root: Path) -> None:
    touch(root / "manipulated_sequences" / "Deepfakes" / "c23" / "videos" / "000_008.mp4")
    with pytest.raises(SuiteError, match=r"000_008\.mp4 is not covered"):
        FaceForensicsSource(str(root)).records()


def test_listed_but_missing_videos_warn_and_are_skipped(root: Path) -> None:
    (root / "original_sequences" / "youtube" / "c23" / "videos" / "009.mp4").unlink()
    (root / "manipulated_sequences" / "FaceSwap" / "c23" / "videos" / "009_008.mp4").unlink()
    with pytest.warns(UserWarning, match="1 videos listed") as caught:
        records = FaceForensicsSource(str(root)).records()
    assert len(caught) == 2
    assert len(records) == 58 and not any(r.path.stem in ("009", "009_008") and r.method in
                                           ("original", "FaceSwap") for r in records)  # fmt: skip
