"""Celeb-DF (v2): the official test list, a seeded identity-disjoint validation split."""

from __future__ import annotations

import re
from pathlib import Path

from datamodules.sources.base import FAKE, REAL, VideoRecord, VideoSource
from datamodules.sources.common import (
    check_fractions,
    config_key,
    group_split,
    require_dir,
    require_file,
    warn_missing,
)
from deepfake_suite.errors import SuiteError

REAL_FOLDERS = ("Celeb-real", "YouTube-real")
FAKE_FOLDER = "Celeb-synthesis"
TEST_LIST = "List_of_testing_videos.txt"
# The list's own label convention: 1 = real, 0 = fake (the opposite of the suite's).
_LIST_LABELS = {"1": REAL, "0": FAKE}
_NAME_PATTERNS = {
    "Celeb-real": re.compile(r"^(id\d+)_\d+$"),
    "Celeb-synthesis": re.compile(r"^(id\d+)_(id\d+)_\d+$"),
    "YouTube-real": re.compile(r"^\d+$"),
}


def celeb_identities(folder: str, path: Path) -> tuple[str, ...]:
    """Identities in a Celeb-DF file name.

    ``Celeb-real/id0_0000.mp4`` -> ``("id0",)``; ``Celeb-synthesis/id0_id16_0000.mp4`` ->
    ``("id0", "id16")`` (the celebrity whose video is used, then the one whose face is swapped
    in); ``YouTube-real/00000.mp4`` -> ``()`` (people unnamed, so unknown).
    """
    match = _NAME_PATTERNS[folder].match(path.stem)
    if match is None:
        raise SuiteError(
            f"unexpected Celeb-DF file name {path} (expected e.g. {_NAME_PATTERNS[folder].pattern})"
        )
    return match.groups()


def read_test_list(path: Path) -> dict[str, int]:
    """``List_of_testing_videos.txt`` as ``{"<folder>/<file>.mp4": label}`` in the suite's convention.

    Each line is ``<label> <folder>/<file>.mp4`` with **1 = real, 0 = fake**; the labels are
    inverted here and checked against the folder, so a list that was already converted (or a
    reader that forgot to convert) fails loudly instead of flipping every test label.
    """
    listed: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in _LIST_LABELS or parts[1].count("/") != 1:
            raise SuiteError(
                f"{path}, line {number}: expected '<1|0> <folder>/<file>.mp4', got {line.strip()!r}"
            )
        label, video = _LIST_LABELS[parts[0]], parts[1]
        folder = video.split("/")[0]
        if folder not in (*REAL_FOLDERS, FAKE_FOLDER):
            raise SuiteError(f"{path}, line {number}: unknown folder {folder!r} in {video!r}")
        if label != (FAKE if folder == FAKE_FOLDER else REAL):
            raise SuiteError(
                f"{path}, line {number}: {video} is listed as {'real' if label == REAL else 'fake'} but lies "
                f"in {folder}/; the official list writes 1 for real and 0 for fake"
            )
        listed[video] = label
    if not listed:
        raise SuiteError(f"test list {path} is empty")
    return listed


class CelebDFSource(VideoSource):
    """Celeb-DF v2: 590 celebrity + 300 YouTube real videos, 5639 fakes, official test list.

    Layout (as published)::

        <root>/Celeb-real/id0_0000.mp4
        <root>/YouTube-real/00000.mp4
        <root>/Celeb-synthesis/id0_id16_0000.mp4
        <root>/List_of_testing_videos.txt     "<label> <folder>/<file>.mp4", 1 = REAL, 0 = FAKE

    Splits: the 518 listed videos (178 real, 340 fake) are the test split; they never reach
    train or val. Celeb-DF publishes no validation split, so val is carved from the other
    videos: a ``val_fraction`` of the celebrity identities (hash rank of ``seed/identity``,
    see :func:`~datamodules.sources.faceforensics.group_split`) and the same fraction of the
    YouTube reals (each its own group: their people are unnamed). A fake ``a_b`` involves two
    celebrities; when they fall in different splits it is dropped
    (``drop_cross_split_fakes=True``) or follows ``a`` (False). ``identity`` is ``a``;
    YouTube reals have no identity.

    Identities and the test split: the official test list shares celebrities with the rest
    of the dataset (it was drawn by video, not by person), so by default the source does NOT
    promise identity-disjoint splits (``identity_disjoint = False``): numbers then match the
    literature. ``exclude_test_identities=True`` drops from train/val every video showing a
    celebrity of the test list (either id of a fake), which makes the split identity-disjoint
    at the cost of most of the training data; ``identity_disjoint`` is then True and checked.

    Args:
        root: The Celeb-DF v2 folder.
        test_list: The official test list; defaults to ``<root>/List_of_testing_videos.txt``.
        val_fraction: Share of the non-test identities (and YouTube reals) put in val.
        seed: Seed of the validation split.
        drop_cross_split_fakes: Drop fakes whose two celebrities fall in train and val.
        exclude_test_identities: Keep test-list celebrities out of train and val.
        dataset_name: Name used in video ids and results.
    """

    def __init__(
        self,
        root: str,
        test_list: str | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        drop_cross_split_fakes: bool = True,
        exclude_test_identities: bool = False,
        dataset_name: str = "Celeb-DF-v2",
    ) -> None:
        check_fractions(val_fraction, 0.0)
        self.root = Path(root)
        self.test_list = Path(test_list) if test_list is not None else self.root / TEST_LIST
        self.val_fraction = val_fraction
        self.seed = seed
        self.drop_cross_split_fakes = drop_cross_split_fakes
        self.exclude_test_identities = exclude_test_identities
        self.identity_disjoint = exclude_test_identities
        self.dataset_name = dataset_name

    def records(self) -> list[VideoRecord]:
        require_dir(self.root, "root", "Celeb-DF folder")
        listed = read_test_list(require_file(self.test_list, "test_list", "Celeb-DF test list"))
        videos = {
            f"{folder}/{path.name}": (folder, path)
            for folder in (*REAL_FOLDERS, FAKE_FOLDER)
            for path in sorted(require_dir(self.root / folder, "root", "Celeb-DF folder").glob("*.mp4"))
        }
        warn_missing(sorted(set(listed) - set(videos)), str(self.root), str(self.test_list))
        ids_of = {key: celeb_identities(folder, path) for key, (folder, path) in videos.items()}
        test_ids = {i for key in listed if key in ids_of for i in ids_of[key]}
        rest = [key for key in videos if key not in listed]
        if self.exclude_test_identities:
            rest = [key for key in rest if not test_ids.intersection(ids_of[key])]
            if not rest:
                raise SuiteError(
                    f"{config_key('exclude_test_identities')}=true leaves no training video in {self.root}"
                )
        celebrities = [i for key in rest for i in ids_of[key]]
        unnamed = [key for key in rest if not ids_of[key]]  # YouTube reals: one group per video
        split_of = {
            **group_split(celebrities, self.val_fraction, 0.0, self.seed),
            **group_split(unnamed, self.val_fraction, 0.0, self.seed),
        }
        records = [self._record(key, *videos[key], "test") for key in videos if key in listed]
        for key in rest:
            splits = {split_of[i] for i in ids_of[key] or (key,)}
            if len(splits) > 1 and self.drop_cross_split_fakes:
                continue
            records.append(self._record(key, *videos[key], split_of[(ids_of[key] or (key,))[0]]))
        return records

    def _record(self, key: str, folder: str, path: Path, split: str) -> VideoRecord:
        label = FAKE if folder == FAKE_FOLDER else REAL
        method = FAKE_FOLDER if label == FAKE else "original"
        ids = celeb_identities(folder, path)
        return VideoRecord(
            video_id=f"{self.dataset_name}/{method}/unknown/{folder}/{path.stem}",
            path=path.resolve(),
            label=label,
            method=method,
            dataset=self.dataset_name,
            split=split,
            compression="unknown",
            identity=ids[0] if ids else "",
            n_frames=0,
        )
