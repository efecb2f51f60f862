"""DeepFakeDetectionSource: seeded actor-disjoint split, fakes with two actors, clear errors."""

from __future__ import annotations

from itertools import permutations
from pathlib import Path

import pytest

from datamodules.leakage import check_split_integrity
from datamodules.sources import DeepFakeDetectionSource
from deepfake_suite.errors import SuiteError
from tests.source_trees import by_split, dfd_tree, touch

ACTORS = [f"{i:02d}" for i in range(1, 10)]
REALS = [
    f"{a}__{scene}.mp4" for a in ACTORS for scene in ("walking_down_street_outside_angry", "kitchen_still")
]
FAKES = [f"{t}_{s}__outside_talking_still_laughing__YVGY8L{t}{s}.mp4" for t, s in permutations(ACTORS, 2)]
KEY = "data.init_args.source.init_args"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return dfd_tree(tmp_path / "ffpp", REALS, FAKES)


def actors_in(name: str) -> list[str]:
    """Actor ids parsed independently of the adapter: everything before the first '__'."""
    return name[: name.index("__")].split("_")


def test_actor_disjoint_split_drops_cross_split_fakes(root: Path) -> None:
    source = DeepFakeDetectionSource(str(root), val_fraction=2 / 9, test_fraction=2 / 9, seed=1)
    records = source.records()
    assert len({r.video_id for r in records}) == len(records)
    actor_split: dict[str, str] = {}
    for r in records:
        if r.label == 0:
            assert r.method == "original"
            (actor,) = actors_in(r.path.name)
            assert actor_split.setdefault(actor, r.split) == r.split  # all of an actor's reals in one split
    assert len(actor_split) == 9 and len(REALS) == sum(r.label == 0 for r in records)
    sizes = sorted(list(actor_split.values()).count(s) for s in ("train", "val", "test"))
    assert sizes == [2, 2, 5]
    # Brute force: a fake is kept iff both of its actors share a split, and then it is in that split.
    kept = {r.path.name: r.split for r in records if r.label == 1}
    for name in FAKES:
        splits = {actor_split[a] for a in actors_in(name)}
        assert (name in kept) == (len(splits) == 1), name
        if name in kept:
            assert kept[name] == splits.pop()
    assert len(kept) == 5 * 4 + 2 * 1 + 2 * 1
    assert {r.method for r in records if r.label == 1} == {"DeepFakeDetection"}
    # Stronger than the identity field: no actor of a test video (either id) is seen in train/val.
    people = {s: {a for r in rows for a in actors_in(r.path.name)} for s, rows in by_split(records).items()}
    assert not people["test"] & (people["train"] | people["val"])
    assert source.identity_disjoint
    check_split_integrity(records, identity_disjoint=True)


def test_keeping_cross_split_fakes_follows_the_target_actor(root: Path) -> None:
    source = DeepFakeDetectionSource(
        str(root), val_fraction=2 / 9, test_fraction=2 / 9, seed=1, drop_cross_split_fakes=False
    )
    records = source.records()
    assert sum(r.label == 1 for r in records) == len(FAKES)
    actor_split = {r.identity: r.split for r in records if r.label == 0}
    for r in records:
        assert r.split == actor_split[actors_in(r.path.name)[0]] and r.identity == actors_in(r.path.name)[0]
    assert not source.identity_disjoint


def test_split_is_reproducible_and_depends_on_the_seed(root: Path) -> None:
    def split_of(seed: int) -> dict[str, str]:
        return {r.identity: r.split for r in DeepFakeDetectionSource(str(root), seed=seed).records()}

    assert split_of(0) == split_of(0)
    assert any(split_of(seed) != split_of(0) for seed in (1, 2, 3))


def test_fraction_errors_name_the_keys() -> None:
    with pytest.raises(SuiteError, match=f"{KEY}.val_fraction.*{KEY}.test_fraction"):
        DeepFakeDetectionSource("x", val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(SuiteError, match=f"{KEY}.compression"):
        DeepFakeDetectionSource("x", compression="c33")


def test_missing_folder_and_odd_names_are_clear(root: Path, tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=f"actors/c40/videos.*{KEY}.compression"):
        DeepFakeDetectionSource(str(root), compression="c40").records()
    touch(root / "original_sequences" / "actors" / "c23" / "videos" / "walking.mp4")
    with pytest.raises(SuiteError, match=r"unexpected DeepFakeDetection file name .*walking\.mp4"):
        DeepFakeDetectionSource(str(root)).records()
