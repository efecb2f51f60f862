"""``data.init_args.imbalance`` as a "real:fake" ratio: parsing, clear errors, and the subset it draws."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from datamodules.clip_datamodule import ClipDataModule, parse_imbalance
from datamodules.frame_datamodule import FrameDataModule
from datamodules.sources.base import FAKE, REAL, VideoRecord, VideoSource
from deepfake_suite.errors import SuiteError


class ListSource(VideoSource):
    """A source over hand-built records (nothing on disk: only the manifest is read here)."""

    def __init__(self, records: list[VideoRecord]) -> None:
        self._records = records

    def records(self) -> list[VideoRecord]:
        return list(self._records)


def hand_built(sizes: dict[str, tuple[int, int]]) -> list[VideoRecord]:
    """``sizes``: split -> (reals, fakes), one identity per video."""
    records = []
    for split, (reals, fakes) in sizes.items():
        for label, count in ((REAL, reals), (FAKE, fakes)):
            for i in range(count):
                name = f"d/{split}/{label}/{i:03d}"
                method = "m" if label == FAKE else "original"
                records.append(
                    VideoRecord(name, Path(f"/x/{name}.mp4"), label, method, "d", split, "c23", name, 16)
                )
    return records


def tally(records: list[VideoRecord]) -> dict[str, tuple[int, int]]:
    counts = Counter((r.split, r.label) for r in records)
    return {split: (counts[(split, REAL)], counts[(split, FAKE)]) for split in ("train", "val", "test")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:1", (10, 1)),
        ("1:2", (1, 2)),
        ("200:1", (200, 1)),
        (" 3 : 2", (3, 2)),
        ("celeb-30", None),
        (None, None),
    ],
)
def test_ratio_strings_and_presets_parse(text: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_imbalance(text) == expected


@pytest.mark.parametrize("bad", ["10", "10:0", "0:1", "-1:2", "a:b", "1:2:3", "1.5:1", "", "celeb-40"])
def test_bad_imbalance_names_the_key(bad: str) -> None:
    with pytest.raises(SuiteError, match=r"data\.init_args\.imbalance: unknown preset .* not a real:fake"):
        parse_imbalance(bad)
    # The datamodules refuse it at construction, before any data is read.
    with pytest.raises(SuiteError, match=r"data\.init_args\.imbalance"):
        ClipDataModule(ListSource([]), imbalance=bad)
    with pytest.raises(SuiteError, match=r"data\.init_args\.imbalance"):
        FrameDataModule(ListSource([]), imbalance=bad)


def test_ratio_cuts_train_and_test_and_keeps_val_whole() -> None:
    records = hand_built({"train": (40, 40), "val": (10, 10), "test": (20, 20)})
    data = ClipDataModule(ListSource(records), imbalance="4:1", imbalance_seed=3)
    # Hand-computed: reals are the limiting class, fakes = floor(reals / 4); val untouched.
    assert tally(data._manifest()) == {"train": (40, 10), "val": (10, 10), "test": (20, 5)}


def test_ratio_in_favour_of_fakes_cuts_the_reals() -> None:
    records = hand_built({"train": (30, 30), "val": (6, 6), "test": (9, 9)})
    data = FrameDataModule(ListSource(records), imbalance="1:2")
    assert tally(data._manifest()) == {"train": (15, 30), "val": (6, 6), "test": (4, 9)}


def test_ratio_subset_is_seeded_and_only_filters() -> None:
    records = hand_built({"train": (40, 40), "val": (10, 10), "test": (20, 20)})

    def kept(seed: int) -> list[VideoRecord]:
        return ClipDataModule(ListSource(records), imbalance="4:1", imbalance_seed=seed)._manifest()

    first, again, other = kept(0), kept(0), kept(1)
    assert [r.video_id for r in first] == [r.video_id for r in again]
    assert {r.video_id for r in first} != {r.video_id for r in other}
    # Every kept record is an input record, unchanged (no split or label moved).
    assert set(first) <= set(records)


def test_a_ratio_leaving_a_split_without_fakes_is_refused() -> None:
    records = hand_built({"train": (40, 40), "val": (10, 10), "test": (5, 5)})
    with pytest.raises(SuiteError, match="ratio 10:1 leaves split 'test'"):
        ClipDataModule(ListSource(records), imbalance="10:1")._manifest()
