"""Imbalanced subsets: the dual-level paper's Table 1 counts, determinism, shortfalls, split safety."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from datamodules.sources.base import VideoRecord
from datamodules.subsets import IMBALANCED_PRESETS, imbalanced_subset
from deepfake_suite.errors import SuiteError

# Table 1 of the dual-level paper, typed again from the paper (not read from the module) so that
# a wrong preset fails: name -> (train real, train fake, test real, test fake).
TABLE_1 = {
    "celeb-30": (712, 23, 178, 5),
    "celeb-20": (712, 35, 178, 8),
    "celeb-10": (712, 71, 178, 17),
    "dfdc-100": (500, 5, 300, 3),
    "dfdc-200": (1000, 5, 600, 3),
}


def video(dataset: str, split: str, label: int, n: int, identity: str = "") -> VideoRecord:
    name = f"{dataset}/{split}/{'fake' if label else 'real'}/{n:05d}"
    method = "m" if label else "original"
    return VideoRecord(name, Path(f"/data/{name}.mp4"), label, method, dataset, split, "c23", identity, 300)


def make_records(dataset: str, sizes: dict[str, tuple[int, int]], identities: int = 0) -> list[VideoRecord]:
    """``sizes``: split -> (reals, fakes). Fakes of identity ``i % identities`` when asked."""
    records = []
    for split, (reals, fakes) in sizes.items():
        records += [video(dataset, split, 0, i, f"id{i % 59}" if identities else "") for i in range(reals)]
        records += [
            video(dataset, split, 1, i, f"id{i % identities}" if identities else "") for i in range(fakes)
        ]
    return records


# Celeb-DF v2: 890 reals (178 in the official test list), 5639 fakes (340 in the test list).
CELEB = make_records("Celeb-DF", {"train": (712, 5299), "test": (178, 340)}, identities=59)
DFDC = make_records("DFDC", {"train": (2000, 300), "val": (40, 40), "test": (900, 50)})


def tally(records: list[VideoRecord]) -> Counter[tuple[str, int]]:
    return Counter((r.split, r.label) for r in records)


@pytest.mark.parametrize("name", sorted(TABLE_1))
def test_presets_give_table_1_counts_exactly(name: str) -> None:
    source = CELEB if name.startswith("celeb") else DFDC
    subset = imbalanced_subset(source, preset=name, seed=0)
    train_real, train_fake, test_real, test_fake = TABLE_1[name]
    counts = tally(subset)
    assert counts[("train", 0)] == train_real and counts[("train", 1)] == train_fake
    assert counts[("test", 0)] == test_real and counts[("test", 1)] == test_fake
    # Splits the paper does not cut (DFDC's val here) pass through whole.
    assert counts[("val", 0)] == tally(source)[("val", 0)] and counts[("val", 1)] == tally(source)[("val", 1)]
    assert set(IMBALANCED_PRESETS) == set(TABLE_1)


@pytest.mark.parametrize(("name", "ratio"), [("celeb-30", 30), ("celeb-20", 20), ("celeb-10", 10)])
def test_ratio_rule_rebuilds_the_celeb_rows(name: str, ratio: int) -> None:
    # Table 1 keeps every real and floor(reals / ratio) fakes: 712 // 30 = 23, 178 // 30 = 5.
    counts = tally(imbalanced_subset(CELEB, ratio=(ratio, 1), seed=0))
    train_real, train_fake, test_real, test_fake = TABLE_1[name]
    assert (counts[("train", 0)], counts[("train", 1)]) == (train_real, train_fake) == (712, 712 // ratio)
    assert (counts[("test", 0)], counts[("test", 1)]) == (test_real, test_fake) == (178, 178 // ratio)


def test_ratio_cuts_the_reals_when_they_are_in_surplus() -> None:
    records = make_records("x", {"train": (100, 3)})
    counts = tally(imbalanced_subset(records, ratio=(10, 1)))
    assert (counts[("train", 0)], counts[("train", 1)]) == (30, 3)


def test_subset_only_filters_and_keeps_splits() -> None:
    subset = imbalanced_subset(DFDC, preset="dfdc-100", seed=3)
    by_id = {r.video_id: r for r in DFDC}
    # The very same rows: same split, same path, same frame count; whole videos, nothing moved.
    assert all(by_id[r.video_id] is r for r in subset)
    assert len({r.video_id for r in subset}) == len(subset)
    order = [r.video_id for r in DFDC]
    assert [order.index(r.video_id) for r in subset] == sorted(order.index(r.video_id) for r in subset)


def test_deterministic_per_seed_whatever_the_input_order() -> None:
    shuffled = CELEB.copy()
    random.Random(1).shuffle(shuffled)
    ids = {r.video_id for r in imbalanced_subset(CELEB, preset="celeb-20", seed=5)}
    assert ids == {r.video_id for r in imbalanced_subset(shuffled, preset="celeb-20", seed=5)}
    assert ids != {r.video_id for r in imbalanced_subset(CELEB, preset="celeb-20", seed=6)}


def test_test_subset_does_not_depend_on_train_counts() -> None:
    def test_ids(train_fakes: int) -> set[str]:
        counts = {"train": (712, train_fakes), "test": (178, 5)}
        return {r.video_id for r in imbalanced_subset(CELEB, counts=counts, seed=0) if r.split == "test"}

    assert test_ids(23) == test_ids(71)


def test_fakes_cover_as_many_identities_as_possible() -> None:
    subset = imbalanced_subset(CELEB, preset="celeb-10", seed=0)
    train_fakes = [r for r in subset if r.split == "train" and r.label == 1]
    # 71 fakes over 59 identities: every identity once, then 12 with a second video.
    per_identity = Counter(r.identity for r in train_fakes)
    assert len(per_identity) == 59 and max(per_identity.values()) == 2
    test_fakes = [r for r in subset if r.split == "test" and r.label == 1]
    assert len({r.identity for r in test_fakes}) == 17


def test_shortfall_names_preset_split_class_and_gap() -> None:
    short = [r for r in CELEB if not (r.split == "train" and r.label == 0 and int(r.video_id[-5:]) >= 700)]
    with pytest.raises(
        SuiteError, match=r"preset 'celeb-30'.*train real: need 712, have 700 \(short by 12\).*val_fraction=0"
    ):
        imbalanced_subset(short, preset="celeb-30")
    no_test = [r for r in DFDC if r.split != "test"]
    with pytest.raises(SuiteError, match=r"dfdc-200.*test real: need 600, have 0.*test fake: need 3, have 0"):
        imbalanced_subset(no_test, preset="dfdc-200")
    with pytest.raises(SuiteError, match=r"train fake: need 400, have 300"):
        imbalanced_subset(DFDC, counts={"train": (10, 400)})


def test_bad_arguments_are_named() -> None:
    with pytest.raises(SuiteError, match=r"unknown imbalanced preset 'celeb-40'.*celeb-30"):
        imbalanced_subset(CELEB, preset="celeb-40")
    with pytest.raises(SuiteError, match="exactly one"):
        imbalanced_subset(CELEB, ratio=(30, 1), preset="celeb-30")
    with pytest.raises(SuiteError, match="without one class"):
        imbalanced_subset(make_records("x", {"val": (10, 40)}), ratio=(30, 1))
    with pytest.raises(SuiteError, match="counts must map"):
        imbalanced_subset(CELEB, counts={"training": (1, 1)})
    with pytest.raises(SuiteError, match="unique"):
        imbalanced_subset([*CELEB[:3], replace(CELEB[0], split="test")], ratio=(1, 1))
