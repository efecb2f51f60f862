"""CelebDFSource: the inverted test-list labels, test videos kept out of train/val, the val carve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from datamodules.leakage import check_split_integrity
from datamodules.sources import CelebDFSource
from deepfake_suite.errors import DataLeakError, SuiteError
from tests.source_trees import by_split, celeb_tree, write_text

IDS = [f"id{i}" for i in range(10)]
VIDEOS = (
    [f"Celeb-real/{i}_{n:04d}.mp4" for i in IDS for n in range(2)]
    + [f"YouTube-real/{n:05d}.mp4" for n in range(20)]
    + [f"Celeb-synthesis/{t}_{s}_{n:04d}.mp4" for t in IDS for s in IDS if t != s for n in range(1)]
)
# The official convention: 1 = REAL, 0 = FAKE.
TEST_LINES = [
    "1 Celeb-real/id0_0000.mp4",
    "1 YouTube-real/00000.mp4",
    "1 YouTube-real/00001.mp4",
    "0 Celeb-synthesis/id0_id1_0000.mp4",
    "0 Celeb-synthesis/id2_id3_0000.mp4",
]
TEST_VIDEOS = {line.split()[1] for line in TEST_LINES}
KEY = "data.init_args.source.init_args"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return celeb_tree(tmp_path / "Celeb-DF-v2", VIDEOS, TEST_LINES)


def key_of(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def people(path: Path) -> set[str]:
    return set(re.findall(r"id\d+", path.stem))


def test_list_labels_are_inverted(root: Path) -> None:
    labels = {key_of(r.path): r.label for r in CelebDFSource(str(root)).records()}
    # "1 Celeb-real/..." is a REAL video (our 0); "0 Celeb-synthesis/..." is FAKE (our 1).
    assert labels["Celeb-real/id0_0000.mp4"] == 0
    assert labels["YouTube-real/00000.mp4"] == 0
    assert labels["Celeb-synthesis/id0_id1_0000.mp4"] == 1
    assert all(label == (1 if key.startswith("Celeb-synthesis") else 0) for key, label in labels.items())


def test_test_split_is_exactly_the_list_and_never_trains(root: Path) -> None:
    records = CelebDFSource(str(root), val_fraction=0.2, seed=0).records()
    grouped = by_split(records)
    assert {key_of(r.path) for r in grouped["test"]} == TEST_VIDEOS
    assert not TEST_VIDEOS & {key_of(r.path) for r in grouped["train"] + grouped["val"]}
    assert len({r.video_id for r in records}) == len(records)
    assert {r.method for r in records} == {"original", "Celeb-synthesis"}
    check_split_integrity(records, identity_disjoint=CelebDFSource(str(root)).identity_disjoint)


def test_official_split_shares_identities_and_says_so(root: Path) -> None:
    """The official list is drawn by video: id0 is in test and in train, so no promise is made."""
    source = CelebDFSource(str(root))
    records = source.records()
    assert not source.identity_disjoint
    assert any(r.identity == "id0" and r.split != "test" for r in records)
    with pytest.raises(DataLeakError, match="test identities"):
        check_split_integrity(records, identity_disjoint=True)


def test_exclude_test_identities_makes_the_split_identity_disjoint(root: Path) -> None:
    source = CelebDFSource(str(root), exclude_test_identities=True, drop_cross_split_fakes=False)
    records = source.records()
    assert source.identity_disjoint
    check_split_integrity(records, identity_disjoint=True)
    test_people = {"id0", "id1", "id2", "id3"}
    assert all(not people(r.path) & test_people for r in records if r.split != "test")
    # Only videos with neither celebrity in the test list remain: 6 ids -> 12 reals, 6*5 fakes.
    non_test = [r for r in records if r.split != "test"]
    assert sum(r.path.parent.name == "Celeb-real" for r in non_test) == 12
    assert sum(r.label == 1 for r in non_test) == 30


def test_validation_split_is_identity_disjoint_from_train(root: Path) -> None:
    records = CelebDFSource(str(root), val_fraction=0.3, seed=4).records()
    grouped = by_split(records)
    val_people = {p for r in grouped["val"] for p in people(r.path)}
    train_people = {p for r in grouped["train"] for p in people(r.path)}
    assert val_people and not val_people & train_people
    youtube_val = sum(r.path.parent.name == "YouTube-real" for r in grouped["val"])
    assert youtube_val == round(0.3 * 18)  # 18 YouTube reals are not in the test list
    # Brute force: a non-test fake survives iff both of its celebrities share a split.
    split_of_person = {
        r.identity: r.split for r in records if r.path.parent.name == "Celeb-real" and r.split != "test"
    }
    kept = {key_of(r.path) for r in records if r.label == 1 and r.split != "test"}
    for video in VIDEOS:
        if video.startswith("Celeb-synthesis") and video not in TEST_VIDEOS:
            t, s = re.findall(r"id\d+", video)
            assert (video in kept) == (split_of_person[t] == split_of_person[s]), video


def test_keeping_cross_split_fakes_puts_them_with_their_target(root: Path) -> None:
    records = CelebDFSource(str(root), val_fraction=0.3, seed=4, drop_cross_split_fakes=False).records()
    assert sum(r.label == 1 for r in records) == 90
    split_of_person = {
        r.identity: r.split for r in records if r.path.parent.name == "Celeb-real" and r.split != "test"
    }
    assert all(r.split == split_of_person[r.identity] for r in records if r.label == 1 and r.split != "test")


def test_a_list_with_our_labels_is_refused(root: Path) -> None:
    """A list already converted to 1 = fake would flip every test label: it must fail."""
    write_text(root / "List_of_testing_videos.txt", "0 Celeb-real/id0_0000.mp4\n")
    with pytest.raises(SuiteError, match=r"line 1: Celeb-real/id0_0000.mp4 is listed as fake .* 1 for real"):
        CelebDFSource(str(root)).records()


@pytest.mark.parametrize(
    "line", ["2 Celeb-real/id0_0000.mp4", "1 Celeb-real/id0_0000.mp4 extra", "1 Other/x.mp4"]
)
def test_malformed_list_lines_name_file_and_line(root: Path, line: str) -> None:
    write_text(root / "List_of_testing_videos.txt", f"1 Celeb-real/id0_0000.mp4\n\n{line}\n")
    with pytest.raises(SuiteError, match=r"List_of_testing_videos.txt, line 3"):
        CelebDFSource(str(root)).records()


def test_missing_inputs_are_clear(root: Path, tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=f"{KEY}.test_list"):
        CelebDFSource(str(root), test_list=str(tmp_path / "none.txt")).records()
    with pytest.raises(SuiteError, match=f"{KEY}.root"):
        CelebDFSource(str(tmp_path / "none")).records()
    (root / "Celeb-real" / "id0_0000.mp4").unlink()
    with pytest.warns(UserWarning, match="1 videos listed .* Celeb-real/id0_0000.mp4"):
        records = CelebDFSource(str(root)).records()
    assert sum(r.split == "test" for r in records) == len(TEST_LINES) - 1
