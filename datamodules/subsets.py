"""Seeded imbalanced subsets of a manifest: the dual-level paper's Celeb-10/20/30 and DFDC-100/200.

A subset keeps or drops whole :class:`VideoRecord` rows, so a video's frames are never split, and
it only filters, so no video changes split. The choice depends only on the seed and the set of
records (not their order), and each ``(split, label)`` draws from its own random stream: asking
for another train count does not change the test subset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from datamodules.sources.base import FAKE, REAL, SPLITS, VideoRecord
from deepfake_suite.errors import SuiteError

__all__ = ["IMBALANCED_PRESETS", "ImbalancedPreset", "imbalanced_subset"]


@dataclass(frozen=True)
class ImbalancedPreset:
    """Video counts of a published imbalanced subset.

    Attributes:
        dataset: The dataset the paper sampled from.
        counts: ``split -> (real videos, fake videos)``.
        ratio: ``(real, fake)`` as the paper names the subset.
        note: What the source must provide; shown with a shortfall.
    """

    dataset: str
    counts: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    ratio: tuple[int, int] = (1, 1)
    note: str = ""


# Table 1 of the dual-level paper ("Details of the imbalanced subsets from Celeb-DF and DFDC"):
#   Datasets   Train Real  Train Fake  Test Real  Test Fake  Ratio (Real:Fake)
#   Celeb-30   712         23          178        5          30:1
#   Celeb-20   712         35          178        8          20:1
#   Celeb-10   712         71          178        17         10:1
#   DFDC-100   500         5           300        3          100:1
#   DFDC-200   1000        5           600        3          200:1
# The Celeb rows keep every Celeb-DF v2 real of the official split and floor(reals / ratio)
# fakes (712 / 30 = 23.7 -> 23). The paper builds no validation subset: it tunes on the
# FaceForensics++ validation split, so the presets name train and test only.
_CELEB_NOTE = (
    "the Celeb rows use all 712 non-test Celeb-DF v2 reals as train: give the source no validation "
    "share (CelebDFSource val_fraction=0); the paper validates on FaceForensics++"
)
_DFDC_NOTE = "train and test are the splits the DFDC source assigns"
IMBALANCED_PRESETS: dict[str, ImbalancedPreset] = {
    "celeb-30": ImbalancedPreset("Celeb-DF", {"train": (712, 23), "test": (178, 5)}, (30, 1), _CELEB_NOTE),
    "celeb-20": ImbalancedPreset("Celeb-DF", {"train": (712, 35), "test": (178, 8)}, (20, 1), _CELEB_NOTE),
    "celeb-10": ImbalancedPreset("Celeb-DF", {"train": (712, 71), "test": (178, 17)}, (10, 1), _CELEB_NOTE),
    "dfdc-100": ImbalancedPreset("DFDC", {"train": (500, 5), "test": (300, 3)}, (100, 1), _DFDC_NOTE),
    "dfdc-200": ImbalancedPreset("DFDC", {"train": (1000, 5), "test": (600, 3)}, (200, 1), _DFDC_NOTE),
}


def imbalanced_subset(
    records: Sequence[VideoRecord],
    ratio: tuple[int, int] | None = None,
    counts: Mapping[str, tuple[int, int]] | None = None,
    preset: str | None = None,
    seed: int = 0,
    spread_identities: bool = True,
) -> list[VideoRecord]:
    """A seeded subset with a given real:fake ratio or exact counts per split.

    Give exactly one of ``ratio``, ``counts`` or ``preset``. Splits that ``counts`` (or the preset)
    does not name are kept whole; ``ratio`` applies to every split present. Under ``ratio`` the
    class in surplus is cut to ``floor(limiting count * its share)`` and the other kept whole, the
    rule that reproduces Table 1's Celeb rows from the full Celeb-DF split.

    The paper samples fakes "to ensure that the datasets contain as many identities as possible";
    with ``spread_identities`` a cut class takes one video per identity, in random identity order,
    before any identity gets a second (records without an identity count as their own).

    Args:
        records: Manifest rows of any splits.
        ratio: ``(real, fake)``, e.g. ``(30, 1)``.
        counts: ``split -> (real, fake)`` video counts.
        preset: A key of :data:`IMBALANCED_PRESETS`.
        seed: Fixes the choice.
        spread_identities: Maximise the number of identities kept.

    Returns:
        The kept records, in their input order.

    Raises:
        SuiteError: A split or class has fewer videos than asked for (naming the preset or counts
            and each shortfall), a ratio leaves a class empty, or an argument is invalid.
    """
    if sum(x is not None for x in (ratio, counts, preset)) != 1:
        raise SuiteError("imbalanced_subset: give exactly one of ratio, counts or preset")
    if preset is not None:
        if preset not in IMBALANCED_PRESETS:
            raise SuiteError(f"unknown imbalanced preset {preset!r}; known: {', '.join(IMBALANCED_PRESETS)}")
        counts, what = IMBALANCED_PRESETS[preset].counts, f"preset '{preset}'"
        hint = f" ({IMBALANCED_PRESETS[preset].note})"
    else:
        what = f"counts {dict(counts)}" if counts is not None else f"ratio {ratio}"
        hint = ""
    if len({r.video_id for r in records}) != len(records):
        raise SuiteError("imbalanced_subset: video_id must be unique across the records")
    by_class: dict[tuple[str, int], list[VideoRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.video_id):
        by_class[(record.split, record.label)].append(record)
    targets = _targets_from_ratio(by_class, ratio) if ratio is not None else _check_counts(counts or {})
    shortfalls = []
    for (split, label), need in targets.items():
        have = len(by_class[(split, label)])
        if need > have:
            name = "fake" if label == FAKE else "real"
            shortfalls.append(f"{split} {name}: need {need}, have {have} (short by {need - have})")
    if shortfalls:
        raise SuiteError(f"imbalanced {what} asks for more videos than exist: {'; '.join(shortfalls)}{hint}")
    kept: set[str] = set()
    for (split, label), pool in by_class.items():
        need = targets.get((split, label), len(pool))
        rng = np.random.default_rng([seed, SPLITS.index(split), label])
        kept.update(r.video_id for r in _choose(pool, need, rng, spread_identities))
    return [r for r in records if r.video_id in kept]


def _check_counts(counts: Mapping[str, tuple[int, int]]) -> dict[tuple[str, int], int]:
    targets = {}
    for split, pair in counts.items():
        if split not in SPLITS or len(pair) != 2 or any(int(n) != n or n < 0 for n in pair):
            raise SuiteError(
                f"counts must map a split in {SPLITS} to (real, fake) non-negative ints, "
                f"got {split!r}: {pair!r}"
            )
        targets[(split, REAL)], targets[(split, FAKE)] = int(pair[0]), int(pair[1])
    return targets


def _targets_from_ratio(
    by_class: Mapping[tuple[str, int], list[VideoRecord]], ratio: tuple[int, int]
) -> dict[tuple[str, int], int]:
    if len(ratio) != 2 or any(int(x) != x or x <= 0 for x in ratio):
        raise SuiteError(f"ratio must be (real, fake) positive ints, got {ratio!r}")
    real_share, fake_share = int(ratio[0]), int(ratio[1])
    targets = {}
    for split in sorted({split for split, _ in by_class}, key=SPLITS.index):
        reals, fakes = len(by_class[(split, REAL)]), len(by_class[(split, FAKE)])
        # Fractions keep the floor exact: 712 * 1 / 30 must give 23, whatever the float rounding.
        if reals * fake_share <= fakes * real_share:
            n_real, n_fake = reals, int(Fraction(reals * fake_share, real_share))
        else:
            n_real, n_fake = int(Fraction(fakes * real_share, fake_share)), fakes
        if n_real == 0 or n_fake == 0:
            raise SuiteError(
                f"ratio {real_share}:{fake_share} leaves split '{split}' ({reals} real, {fakes} fake) "
                "without one class; use counts= for the splits to cut"
            )
        targets[(split, REAL)], targets[(split, FAKE)] = n_real, n_fake
    return targets


def _choose(
    pool: list[VideoRecord], n: int, rng: np.random.Generator, spread_identities: bool
) -> list[VideoRecord]:
    """``n`` records of ``pool`` (sorted by video id), at random, identities spread if asked."""
    if n >= len(pool):
        return pool
    if not spread_identities:
        return [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]
    by_identity: dict[str, list[VideoRecord]] = defaultdict(list)
    for record in pool:
        by_identity[record.identity or f"video:{record.video_id}"].append(record)
    identities = sorted(by_identity)
    queues = []
    for i in rng.permutation(len(identities)):
        videos = by_identity[identities[i]]
        queues.append([videos[j] for j in rng.permutation(len(videos))])
    # Round r takes the r-th video of every identity that has one, so no identity gets a second
    # video while another has none.
    chosen: list[VideoRecord] = []
    for round_index in range(max(len(q) for q in queues)):
        chosen += [q[round_index] for q in queues if round_index < len(q)]
        if len(chosen) >= n:
            break
    return chosen[:n]
