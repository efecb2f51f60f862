"""DFDCSource: train parts, whole-part validation, fakes with their originals, the labelled test set."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamodules.leakage import check_split_integrity
from datamodules.sources import DFDCSource
from deepfake_suite.errors import SuiteError
from tests.source_trees import by_split, dfdc_tree, write_text

KEY = "data.init_args.source.init_args"


def part(n: int) -> dict[str, dict]:
    """Two reals and a fake of each, as DFDC's metadata.json writes them."""
    meta: dict[str, dict] = {}
    for k in range(2):
        real = f"r{n}{k}.mp4"
        meta[real] = {"label": "REAL", "split": "train", "original": None}
        meta[f"f{n}{k}.mp4"] = {"label": "FAKE", "split": "train", "original": real}
    return meta


PARTS = {n: part(n) for n in range(4)}
# A fake in part 3 whose original lives in part 1.
PARTS[3]["cross.mp4"] = {"label": "FAKE", "split": "train", "original": "r10.mp4"}
TEST = {"t0.mp4": 0, "t1.mp4": 1, "t2.mp4": 1}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return dfdc_tree(tmp_path / "dfdc", PARTS, TEST)


def original_of(name: str) -> str:
    for meta in PARTS.values():
        if name in meta:
            return meta[name]["original"] or name
    raise KeyError(name)


def test_rows_and_whole_part_validation(root: Path) -> None:
    records = DFDCSource(str(root), val_parts=[1]).records()
    assert len(records) == 4 * 4 + 1 + 3
    assert len({r.video_id for r in records}) == len(records)
    grouped = by_split(records)
    assert {r.path.name for r in grouped["val"]} == {"r10.mp4", "r11.mp4", "f10.mp4", "f11.mp4", "cross.mp4"}
    assert {r.path.name: r.label for r in grouped["test"]} == TEST
    for r in records:
        assert r.label == (1 if r.path.name.startswith(("f", "cross")) or TEST.get(r.path.name) == 1 else 0)
        assert r.method == ("fake" if r.label else "original")
    check_split_integrity(records, identity_disjoint=False)


def test_fakes_land_with_their_original(root: Path) -> None:
    for val_parts in ([0], [1], [3], [0, 2]):
        records = DFDCSource(str(root), val_parts=val_parts).records()
        split_of = {r.path.name: r.split for r in records if r.split != "test"}
        for name, split in split_of.items():
            assert split_of[original_of(name)] == split, (val_parts, name)


def test_seeded_part_choice_is_reproducible(root: Path) -> None:
    def val_parts(seed: int) -> set[str]:
        records = DFDCSource(str(root), val_fraction=0.25, seed=seed).records()
        return {r.path.parent.name for r in records if r.split == "val" and r.path.name != "cross.mp4"}

    assert len(val_parts(0)) == 1 and val_parts(0) == val_parts(0)
    assert len({frozenset(val_parts(seed)) for seed in range(6)}) > 1


def test_parts_limit_train_and_val_to_the_chosen_parts(root: Path) -> None:
    records = DFDCSource(str(root), parts=[1, 3], val_parts=[3]).records()
    folders = {r.path.parent.name for r in records if r.split != "test"}
    assert folders == {"dfdc_train_part_1", "dfdc_train_part_3"}
    assert {r.path.parent.name for r in records if r.split == "val"} == {"dfdc_train_part_3"}
    cross = next(r for r in records if r.path.name == "cross.mp4")
    assert cross.split == "train"  # its original, r10.mp4 in part 1, trains
    assert {r.path.name for r in records if r.split == "test"} == set(TEST)
    with pytest.raises(SuiteError, match=r"init_args.parts names parts \[7\]"):
        DFDCSource(str(root), parts=[1, 7]).records()


def test_no_test_dir_means_no_test_split(root: Path) -> None:
    records = DFDCSource(str(root), test_dir=None).records()
    assert not by_split(records)["test"] and len(records) == 17


def test_malformed_metadata_names_the_file(root: Path) -> None:
    metadata = root / "dfdc_train_part_2" / "metadata.json"
    write_text(metadata, '{"a.mp4": {"label": "FAKE"')
    with pytest.raises(SuiteError, match=f"cannot read DFDC metadata {metadata}"):
        DFDCSource(str(root)).records()
    write_text(metadata, '{"a.mp4": {"label": "fake", "original": "b.mp4"}}')
    with pytest.raises(SuiteError, match=f"{metadata}, entry 'a.mp4'"):
        DFDCSource(str(root)).records()
    write_text(metadata, '["a.mp4"]')
    with pytest.raises(SuiteError, match=f"{metadata} must be a JSON object"):
        DFDCSource(str(root)).records()
    metadata.unlink()
    with pytest.raises(SuiteError, match=f"{metadata} .*{KEY}.root"):
        DFDCSource(str(root)).records()


def test_bad_test_labels_and_arguments(root: Path, tmp_path: Path) -> None:
    labels = root / "test" / "labels.csv"
    write_text(labels, "filename,label\nt0.mp4,FAKE\n")
    with pytest.raises(SuiteError, match=f"{labels}, line 2: label must be 0 .*'FAKE'"):
        DFDCSource(str(root)).records()
    write_text(labels, "name,label\nt0.mp4,1\n")
    with pytest.raises(SuiteError, match="columns filename,label"):
        DFDCSource(str(root)).records()
    with pytest.raises(SuiteError, match=f"{KEY}.test_dir"):
        DFDCSource(str(root), test_dir="missing").records()
    with pytest.raises(SuiteError, match=f"{KEY}.val_parts"):
        DFDCSource(str(root), val_parts=[7]).records()
    with pytest.raises(SuiteError, match=f"no dfdc_train_part_N folders in {tmp_path}"):
        DFDCSource(str(tmp_path)).records()


def test_missing_videos_warn_and_are_skipped(root: Path) -> None:
    (root / "dfdc_train_part_0" / "f00.mp4").unlink()
    (root / "test" / "t2.mp4").unlink()
    with pytest.warns(UserWarning, match="1 videos listed") as caught:
        records = DFDCSource(str(root)).records()
    assert len(caught) == 2 and len(records) == 18
