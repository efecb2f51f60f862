"""DeeperForensicsSource: official split lists, target (FF++) or source reals, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamodules.leakage import check_split_integrity
from datamodules.sources import DeeperForensicsSource
from deepfake_suite.errors import SuiteError
from tests.source_trees import by_split, deeper_tree, touch, write_text

LISTS = {
    "train": ["000_M001.mp4", "001_M001.mp4", "002_W002.mp4"],
    "val": ["003_M003.mp4"],
    "test": ["004_W004.mp4", "005_W004.mp4"],
}
SPLIT_OF = {name.removesuffix(".mp4"): split for split, names in LISTS.items() for name in names}
ACTORS = ["M001", "W002", "M003", "W004"]
VARIANTS = ["end_to_end", "end_to_end_level_3"]
KEY = "data.init_args.source.init_args"


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    root = deeper_tree(tmp_path / "DeeperForensics-1.0", LISTS, VARIANTS, ACTORS)
    targets = tmp_path / "ffpp" / "original_sequences" / "youtube" / "c23" / "videos"
    for target in range(7):  # 006 has no fake: not part of the benchmark
        touch(targets / f"{target:03d}.mp4")
    return root, targets


def test_fakes_follow_the_lists_and_target_reals_follow_their_fake(roots: tuple[Path, Path]) -> None:
    root, targets = roots
    records = DeeperForensicsSource(str(root), perturbations=VARIANTS, target_videos=str(targets)).records()
    assert len({r.video_id for r in records}) == len(records) == 2 * 6 + 6
    fakes = [r for r in records if r.label == 1]
    reals = [r for r in records if r.label == 0]
    assert all(r.split == SPLIT_OF[r.path.stem] and r.method == "DF-VAE" for r in fakes)
    assert sorted(r.compression for r in fakes) == sorted(VARIANTS * 6)
    assert all(r.identity == r.path.stem.split("_")[1] for r in fakes)  # the actor whose face is shown
    target_split = {name.split("_")[0]: split for name, split in SPLIT_OF.items()}
    assert {r.path.stem: r.split for r in reals} == target_split  # 006 left out
    assert all(r.path.parent == targets.resolve() and r.compression == "c23" for r in reals)
    counts = {s: len(rows) for s, rows in by_split(records).items()}
    assert counts == {"train": 3 * 3, "val": 1 * 3, "test": 2 * 3}
    check_split_integrity(records, identity_disjoint=DeeperForensicsSource.identity_disjoint)


def test_source_reals_follow_their_actor(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    records = DeeperForensicsSource(str(root), reals="source").records()
    reals = [r for r in records if r.label == 0]
    actor_split = {name.split("_")[1]: split for name, split in SPLIT_OF.items()}
    assert len(reals) == 2 * len(ACTORS)
    assert all(r.split == actor_split[r.identity] and r.path.name.startswith(r.identity) for r in reals)
    check_split_integrity(records, identity_disjoint=True)


def test_fakes_only_and_one_class_per_variant(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    records = DeeperForensicsSource(
        str(root), perturbations=VARIANTS, reals="none", method_per_variant=True
    ).records()
    assert {r.label for r in records} == {1} and len(records) == 2 * 6
    assert {r.method for r in records} == {f"DF-VAE-{v}" for v in VARIANTS}
    assert all(r.method == f"DF-VAE-{r.compression}" for r in records)
    assert len({r.video_id for r in records}) == len(records)
    check_split_integrity(records, identity_disjoint=True)


def test_list_lines_with_folders_or_without_extension_read_the_same(roots: tuple[Path, Path]) -> None:
    root, targets = roots
    write_text(root / "lists" / "splits" / "val.txt", "manipulated_videos/end_to_end/003_M003.mp4\r\n\n")
    write_text(root / "lists" / "splits" / "test.txt", "004_W004\n005_W004.mp4\n")
    records = DeeperForensicsSource(str(root), target_videos=str(targets)).records()
    assert {r.path.stem: r.split for r in records if r.label == 1} == SPLIT_OF


def test_list_errors_name_the_file(roots: tuple[Path, Path]) -> None:
    root, targets = roots
    lists = root / "lists" / "splits"
    write_text(lists / "val.txt", "003_M003.mp4\n000_M001.mp4\n")
    with pytest.raises(SuiteError, match=r"000_M001 is in both train\.txt and val\.txt"):
        DeeperForensicsSource(str(root), target_videos=str(targets)).records()
    write_text(lists / "val.txt", "003_M003.mp4\n006_M001.mp4\n")
    with pytest.raises(SuiteError, match="source actor M001 has fakes in both train and val"):
        DeeperForensicsSource(str(root), target_videos=str(targets)).records()
    write_text(lists / "val.txt", "003_M003.mp4\nnot a name\n")
    with pytest.raises(SuiteError, match=f"{lists / 'val.txt'}, line 2"):
        DeeperForensicsSource(str(root), target_videos=str(targets)).records()
    (lists / "val.txt").unlink()
    with pytest.raises(SuiteError, match=f"val.txt.*{KEY}.split_dir"):
        DeeperForensicsSource(str(root), target_videos=str(targets)).records()


def test_unlisted_or_missing_videos(roots: tuple[Path, Path]) -> None:
    root, targets = roots
    (root / "manipulated_videos" / "end_to_end" / "005_W004.mp4").unlink()
    with pytest.warns(UserWarning, match="1 videos listed .* 005_W004"):
        records = DeeperForensicsSource(str(root), target_videos=str(targets)).records()
    assert sum(r.label == 1 for r in records) == 5
    touch(root / "manipulated_videos" / "end_to_end" / "009_M009.mp4")
    with pytest.raises(SuiteError, match=r"009_M009\.mp4 is in none of the split lists"):
        DeeperForensicsSource(str(root), target_videos=str(targets)).records()


def test_argument_errors_name_the_key(roots: tuple[Path, Path], tmp_path: Path) -> None:
    root, targets = roots
    with pytest.raises(SuiteError, match=f"{KEY}.target_videos is required"):
        DeeperForensicsSource(str(root))
    with pytest.raises(SuiteError, match=f"{KEY}.reals"):
        DeeperForensicsSource(str(root), reals="both")  # type: ignore[arg-type]
    with pytest.raises(SuiteError, match=f"end_to_end_level_9.*{KEY}.perturbations"):
        DeeperForensicsSource(
            str(root), perturbations=["end_to_end_level_9"], target_videos=str(targets)
        ).records()
    with pytest.raises(SuiteError, match=f"{KEY}.target_videos"):
        DeeperForensicsSource(str(root), target_videos=str(tmp_path / "none")).records()
