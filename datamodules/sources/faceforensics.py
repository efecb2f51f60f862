"""FaceForensics++ and Google/Jigsaw's DeepFakeDetection, as published on the FF++ download server."""

from __future__ import annotations

import json
from pathlib import Path

from datamodules.sources.base import FAKE, REAL, SPLITS, VideoRecord, VideoSource
from datamodules.sources.common import (
    check_fractions,
    config_key,
    group_split,
    require_dir,
    require_file,
    warn_missing,
)
from deepfake_suite.errors import SuiteError

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
FFPP_COMPRESSIONS = ("raw", "c23", "c40")
DFD_METHOD = "DeepFakeDetection"


def check_compression(compression: str) -> None:
    if compression not in FFPP_COMPRESSIONS:
        raise SuiteError(
            f"{config_key('compression')} must be one of {FFPP_COMPRESSIONS}, got {compression!r}"
        )


# --- FaceForensics++ ------------------------------------------------------------------------------


def read_ffpp_pairs(split_dir: Path) -> dict[str, tuple[str, str]]:
    """The official ``{train,val,test}.json``: ``{sequence id: (split, partner id)}``.

    Raises:
        SuiteError: A file is missing, is not a JSON list of ``[a, b]`` string pairs, or an id
            appears twice (the official split puts every id in exactly one pair).
    """
    assignment: dict[str, tuple[str, str]] = {}
    for split in SPLITS:
        path = require_file(
            split_dir / f"{split}.json", "split_dir", f"FaceForensics++ split file {split}.json"
        )
        try:
            pairs = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise SuiteError(f"cannot read split file {path}: {error}") from None
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(i, str) for i in p) for p in pairs
        ):
            raise SuiteError(f"split file {path} must be a JSON list of [a, b] pairs of id strings")
        for a, b in pairs:
            for own, partner in ((a, b), (b, a)):
                if own in assignment:
                    raise SuiteError(
                        f"sequence {own} appears twice in the split files under {split_dir} "
                        f"({assignment[own][0]} and {split}); they are not the official FF++ splits"
                    )
                assignment[own] = (split, partner)
    return assignment


class FaceForensicsSource(VideoSource):
    """FaceForensics++: 1000 YouTube sequences and their manipulations, official splits.

    Layout (as the FF++ download script writes it)::

        <root>/original_sequences/youtube/<compression>/videos/000.mp4
        <root>/manipulated_sequences/<method>/<compression>/videos/000_003.mp4
        <split_dir>/{train,val,test}.json     lists of [a, b] pairs: 360/70/70 pairs

    A fake ``a_b`` is sequence ``a`` (the target video) manipulated with sequence ``b`` (the
    source: its face for Deepfakes/FaceSwap/FaceShifter, its expressions for Face2Face/
    NeuralTextures). Each id belongs to exactly one pair and the fakes ``a_b``, ``b_a`` and
    the originals ``a``, ``b`` all go to that pair's split.

    Identity: ``identity`` is the target id ``a`` (originals: their own id). Whether the
    person shown in a swap is ``a`` or ``b`` does not matter for leakage: both ids of a pair
    share one split, so every person (as far as the ids tell; 1000 sequences come from 977
    YouTube videos) is in one split only, hence ``identity_disjoint = True``, and a split
    file that puts an id in two splits is refused.

    Errors: a missing folder or split file names the path and the config key; an ``a_b`` fake
    whose ids are not an official pair is an error (wrong ``split_dir``); videos the split
    files list but the disk lacks are skipped with one warning (partial downloads).

    Args:
        root: The FF++ root (holding ``original_sequences`` and ``manipulated_sequences``).
        compression: ``raw``, ``c23`` or ``c40``.
        methods: Manipulation methods to include; defaults to all five (Deepfakes, Face2Face,
            FaceSwap, NeuralTextures, FaceShifter).
        split_dir: Folder of ``train.json``, ``val.json``, ``test.json``; defaults to
            ``<root>/splits`` (copy the files from the FaceForensics GitHub repository's
            ``dataset/splits`` there).
        dataset_name: Name used in video ids and results.
    """

    identity_disjoint = True

    def __init__(
        self,
        root: str,
        compression: str = "c23",
        methods: list[str] | None = None,
        split_dir: str | None = None,
        dataset_name: str = "FaceForensics++",
    ) -> None:
        check_compression(compression)
        self.methods = tuple(methods) if methods is not None else FFPP_METHODS
        unknown = [m for m in self.methods if m not in FFPP_METHODS]
        if unknown or not self.methods:
            raise SuiteError(
                f"{config_key('methods')} must be a non-empty subset of {FFPP_METHODS}, "
                f"got {list(self.methods)}"
                + (
                    " (DeepFakeDetection has its own source: DeepFakeDetectionSource)"
                    if DFD_METHOD in unknown
                    else ""
                )
            )
        self.root = Path(root)
        self.compression = compression
        self.split_dir = Path(split_dir) if split_dir is not None else self.root / "splits"
        self.dataset_name = dataset_name

    def records(self) -> list[VideoRecord]:
        require_dir(self.root, "root", "FaceForensics++ folder")
        assignment = read_ffpp_pairs(self.split_dir)
        originals = self.root / "original_sequences" / "youtube" / self.compression / "videos"
        records = [
            self._record(path, REAL, "original", assignment[path.stem][0], path.stem)
            for path in self._videos(originals, "compression", set(assignment))
        ]
        warn_missing(
            sorted(set(assignment) - {p.stem for p in originals.glob("*.mp4")}),
            str(originals),
            str(self.split_dir),
        )
        expected_fakes = {f"{a}_{b}" for a, (_, b) in assignment.items()}
        for method in self.methods:
            folder = self.root / "manipulated_sequences" / method / self.compression / "videos"
            for path in self._videos(folder, "methods", expected_fakes):
                target = path.stem.split("_")[0]
                records.append(self._record(path, FAKE, method, assignment[target][0], target))
            warn_missing(
                sorted(expected_fakes - {p.stem for p in folder.glob("*.mp4")}),
                str(folder),
                str(self.split_dir),
            )
        return records

    def _videos(self, folder: Path, arg: str, expected: set[str]) -> list[Path]:
        require_dir(folder, arg, "FaceForensics++ video folder")
        videos = sorted(folder.glob("*.mp4"))
        stray = [p for p in videos if p.stem not in expected]
        if stray:
            raise SuiteError(
                f"{stray[0]} is not covered by the split files in {self.split_dir} (expected <id>.mp4 "
                f"or <a>_<b>.mp4 for an official pair); set {config_key('split_dir')} to the official splits"
            )
        return videos

    def _record(self, path: Path, label: int, method: str, split: str, identity: str) -> VideoRecord:
        return VideoRecord(
            video_id=f"{self.dataset_name}/{method}/{self.compression}/{path.stem}",
            path=path.resolve(),
            label=label,
            method=method,
            dataset=self.dataset_name,
            split=split,
            compression=self.compression,
            identity=identity,
            n_frames=0,
        )


# --- DeepFakeDetection (Google/Jigsaw) --------------------------------------------------------------


def dfd_actors(path: Path) -> tuple[str, ...]:
    """Actor ids in a DFD file name: ``01__scene.mp4`` -> ``("01",)``, ``01_02__scene__HASH.mp4`` ->
    ``("01", "02")`` (target actor, whose recording is used, then source actor, whose face is
    pasted in)."""
    ids = tuple(path.stem.split("__")[0].split("_"))
    if "__" not in path.stem or not 1 <= len(ids) <= 2 or not all(i.isdigit() for i in ids):
        raise SuiteError(
            f"unexpected DeepFakeDetection file name {path}: expected <actor>__<scene>.mp4 or "
            "<target>_<source>__<scene>__<id>.mp4"
        )
    return ids


class DeepFakeDetectionSource(VideoSource):
    """Google/Jigsaw's DeepFakeDetection (DFD) with a seeded identity-disjoint split.

    Layout (part of the FF++ download)::

        <root>/original_sequences/actors/<compression>/videos/01__walking_down_street_outside_angry.mp4
        <root>/manipulated_sequences/DeepFakeDetection/<compression>/videos/01_02__outside_talking_still_laughing__YVGY8LOK.mp4

    DFD has no official split. Actors (28 of them) are assigned to splits by
    :func:`group_split` (hash rank of ``seed/actor``), so a seed gives the same split on every
    machine. A real video follows its actor. A fake ``t_s`` shows source actor ``s``'s face
    on target actor ``t``'s recording, so it involves two people: when ``t`` and ``s`` fall in
    different splits the fake is dropped (``drop_cross_split_fakes=True``, the default; with
    28 actors and 70/15/15 close to half of the fakes are dropped) so that no person seen in
    training reappears in test. With ``drop_cross_split_fakes=False`` such fakes follow the
    target actor and the split is no longer identity-disjoint (``identity_disjoint`` is then
    False). ``identity`` is the target actor.

    Args:
        root: The FF++ root (holding ``original_sequences`` and ``manipulated_sequences``).
        compression: ``raw``, ``c23`` or ``c40``.
        val_fraction: Share of the actors in val.
        test_fraction: Share of the actors in test.
        seed: Seed of the actor split.
        drop_cross_split_fakes: Drop fakes whose two actors fall in different splits.
        dataset_name: Name used in video ids and results.
    """

    def __init__(
        self,
        root: str,
        compression: str = "c23",
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
        drop_cross_split_fakes: bool = True,
        dataset_name: str = DFD_METHOD,
    ) -> None:
        check_compression(compression)
        check_fractions(val_fraction, test_fraction)
        self.root = Path(root)
        self.compression = compression
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.drop_cross_split_fakes = drop_cross_split_fakes
        self.identity_disjoint = drop_cross_split_fakes
        self.dataset_name = dataset_name

    def records(self) -> list[VideoRecord]:
        require_dir(self.root, "root", "FaceForensics++ folder")
        reals = self._videos(self.root / "original_sequences" / "actors")
        fakes = self._videos(self.root / "manipulated_sequences" / DFD_METHOD)
        actors_of = {path: dfd_actors(path) for path in reals + fakes}
        split_of = group_split(
            (a for ids in actors_of.values() for a in ids), self.val_fraction, self.test_fraction, self.seed
        )
        records = []
        for path, is_fake in [(p, False) for p in reals] + [(p, True) for p in fakes]:
            if len({split_of[a] for a in actors_of[path]}) > 1 and self.drop_cross_split_fakes:
                continue
            method = DFD_METHOD if is_fake else "original"
            records.append(
                VideoRecord(
                    video_id=f"{self.dataset_name}/{method}/{self.compression}/{path.stem}",
                    path=path.resolve(),
                    label=FAKE if is_fake else REAL,
                    method=method,
                    dataset=self.dataset_name,
                    split=split_of[actors_of[path][0]],
                    compression=self.compression,
                    identity=actors_of[path][0],
                    n_frames=0,
                )
            )
        return records

    def _videos(self, parent: Path) -> list[Path]:
        folder = require_dir(
            parent / self.compression / "videos", "compression", "DeepFakeDetection video folder"
        )
        return sorted(folder.glob("*.mp4"))
