"""DeeperForensics-1.0: DF-VAE fakes with the official reference splits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from datamodules.sources.base import FAKE, REAL, SPLITS, VideoRecord, VideoSource
from datamodules.sources.common import config_key, require_dir, require_file, warn_missing
from datamodules.sources.faceforensics import FFPP_COMPRESSIONS
from deepfake_suite.errors import SuiteError

METHOD = "DF-VAE"
# <target_id>_<source_id>: the FF++ YouTube sequence whose video is used, and the actor
# (M... male, W... female) whose face is swapped in.
_FAKE_NAME = re.compile(r"^(\d+)_([A-Za-z]\d+)$")


def read_split_lists(split_dir: Path) -> dict[str, str]:
    """``lists/splits/{train,val,test}.txt`` as ``{fake name without extension: split}``.

    The dataset's README says each line is a manipulated video's name (``000_M101.mp4``);
    only the file name of a line is used, with or without ``.mp4``, so a list written with
    folders in front still reads.

    Raises:
        SuiteError: A list is missing, a line is not ``<target>_<source>[.mp4]``, or a name is
            in two lists.
    """
    split_of: dict[str, str] = {}
    for split in SPLITS:
        path = require_file(
            split_dir / f"{split}.txt", "split_dir", f"DeeperForensics split list {split}.txt"
        )
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            name = Path(line.strip()).name.removesuffix(".mp4")
            if not _FAKE_NAME.match(name):
                raise SuiteError(
                    f"{path}, line {number}: expected <target_id>_<source_id>.mp4, got {line.strip()!r}"
                )
            if split_of.setdefault(name, split) != split:
                raise SuiteError(f"{name} is in both {split_of[name]}.txt and {split}.txt under {split_dir}")
    return split_of


def fake_ids(name: str) -> tuple[str, str]:
    """``"000_M101"`` -> ``("000", "M101")``: target id, source actor."""
    match = _FAKE_NAME.match(name)
    if match is None:
        raise SuiteError(f"unexpected DeeperForensics fake name {name!r}: expected <target_id>_<source_id>")
    return match.group(1), match.group(2)


def _split_by(split_of: dict[str, str], position: int, kind: str, split_dir: Path) -> dict[str, str]:
    """The split of each target id (position 0) or source actor (1), refusing ids in two splits."""
    by_id: dict[str, str] = {}
    for name, split in split_of.items():
        key = fake_ids(name)[position]
        if by_id.setdefault(key, split) != split:
            raise SuiteError(
                f"{kind} {key} has fakes in both {by_id[key]} and {split} in {split_dir}; its real videos "
                "would reach two splits"
            )
    return by_id


class DeeperForensicsSource(VideoSource):
    """DeeperForensics-1.0 fakes, the official reference splits, and the reals they pair with.

    Layout (as unzipped by the dataset's ``unzip.sh``)::

        <root>/manipulated_videos/<variant>/<target_id>_<source_id>.mp4   e.g. end_to_end/000_M101.mp4
        <root>/source_videos/<actor_id>/.../<actor_id>_light_..._camera_<dir>.mp4
        <root>/lists/splits/{train,val,test}.txt    one fake name per line

    Variants (``perturbations``): ``end_to_end`` (raw DF-VAE output), ``reenact_postprocess``,
    ``end_to_end_level_<1..5>``, ``end_to_end_random_level``, ``end_to_end_mix_<2..4>_distortions``;
    every variant holds the same 1000 names, and a name's split comes from the lists (which
    the authors split by source actor, 71/9/20 actors). ``method`` is ``DF-VAE`` for every
    fake and ``compression`` holds the variant, so ids stay unique across variants.

    Reals: the dataset's README says the real counterpart of the fakes are the **target
    videos**, i.e. FaceForensics++ ``original_sequences/youtube/c23/videos/<target_id>.mp4``,
    which DeeperForensics does not redistribute; the ``source_videos`` are the actors' studio
    recordings used to make the swaps, not the real class of the benchmark. So
    ``reals="target"`` (default) takes ``<target_videos>/<target_id>.mp4`` for every target id
    in the lists, in the split of its fake; ``reals="source"`` takes the actors'
    ``source_videos`` instead, each actor in the split of the fakes made with its face (a
    studio-vs-YouTube real class is easier to separate; use it knowingly). Target ids or
    actors that the lists put in two splits are refused. ``reals="none"`` keeps the fakes only:
    for a super-set that already holds FaceForensics++'s originals, where the target videos
    would be the same files a second time, under DeeperForensics' split lists instead of FF++'s
    (a real video in FF++'s test split could then be trained on).

    Identity: a fake's ``identity`` is its source actor (the face shown), a target real's the
    target id, a source real's the actor; the lists keep both kinds disjoint across splits,
    so ``identity_disjoint = True``. Unlisted fakes on disk are an error (a wrong
    ``split_dir``); listed videos missing on disk are skipped with one warning.

    Args:
        root: The DeeperForensics-1.0 folder.
        perturbations: Variant folders under ``manipulated_videos`` to include; default ``[end_to_end]``.
        reals: ``target`` (FF++ target videos, as the authors prescribe), ``source`` (the
            actors' source videos) or ``none``.
        method_per_variant: Make each variant its own attribution class, ``DF-VAE-<variant>``
            (the attribution paper counts two DeeperForensics deepfake types); otherwise every
            fake is ``DF-VAE``.
        target_videos: Folder of the FF++ target videos ``<target_id>.mp4`` (needed when
            ``reals`` is ``target``), e.g. ``<ff++>/original_sequences/youtube/c23/videos``.
        split_dir: Folder of the split lists; defaults to ``<root>/lists/splits``.
        dataset_name: Name used in video ids and results.
    """

    identity_disjoint = True

    def __init__(
        self,
        root: str,
        perturbations: list[str] | None = None,
        reals: Literal["target", "source", "none"] = "target",
        target_videos: str | None = None,
        split_dir: str | None = None,
        dataset_name: str = "DeeperForensics-1.0",
        method_per_variant: bool = False,
    ) -> None:
        if reals not in ("target", "source", "none"):
            raise SuiteError(f"{config_key('reals')} must be 'target', 'source' or 'none', got {reals!r}")
        if reals == "target" and target_videos is None:
            raise SuiteError(
                f"{config_key('target_videos')} is required with reals=target: DeeperForensics' real videos "
                "are FaceForensics++'s original_sequences/youtube/c23/videos"
            )
        self.root = Path(root)
        self.perturbations = tuple(perturbations) if perturbations is not None else ("end_to_end",)
        if not self.perturbations:
            raise SuiteError(f"{config_key('perturbations')} must name at least one variant folder")
        self.reals = reals
        self.target_videos = Path(target_videos) if target_videos is not None else None
        self.split_dir = Path(split_dir) if split_dir is not None else self.root / "lists" / "splits"
        self.dataset_name = dataset_name
        self.method_per_variant = method_per_variant

    def records(self) -> list[VideoRecord]:
        require_dir(self.root, "root", "DeeperForensics-1.0 folder")
        split_of = read_split_lists(self.split_dir)
        # The promise of identity-disjoint splits rests on the lists keeping each actor in one split.
        split_of_actor = _split_by(split_of, 1, "source actor", self.split_dir)
        records = []
        for variant in self.perturbations:
            folder = require_dir(
                self.root / "manipulated_videos" / variant, "perturbations", "DeeperForensics variant"
            )
            videos = sorted(folder.glob("*.mp4"))
            stray = [p for p in videos if p.stem not in split_of]
            if stray:
                raise SuiteError(
                    f"{stray[0]} is in none of the split lists under {self.split_dir} "
                    f"(set {config_key('split_dir')} to the official lists/splits)"
                )
            warn_missing(sorted(set(split_of) - {p.stem for p in videos}), str(folder), str(self.split_dir))
            for path in videos:
                actor = fake_ids(path.stem)[1]
                method = f"{METHOD}-{variant}" if self.method_per_variant else METHOD
                records.append(
                    self._record(path, FAKE, method, variant, split_of[path.stem], actor, path.stem)
                )
        if self.reals == "none":
            return records
        if self.reals == "target":
            return records + self._target_reals(_split_by(split_of, 0, "target video", self.split_dir))
        return records + self._source_reals(split_of_actor)

    def _target_reals(self, split_of_target: dict[str, str]) -> list[VideoRecord]:
        assert self.target_videos is not None  # checked in __init__
        folder = require_dir(self.target_videos, "target_videos", "FaceForensics++ target video folder")
        compression = folder.parent.name if folder.parent.name in FFPP_COMPRESSIONS else "unknown"
        present = {t for t in split_of_target if (folder / f"{t}.mp4").is_file()}
        warn_missing(sorted(set(split_of_target) - present), str(folder), str(self.split_dir))
        return [
            self._record(
                folder / f"{t}.mp4", REAL, "original", compression, split_of_target[t], t, f"target/{t}"
            )
            for t in sorted(present)
        ]

    def _source_reals(self, split_of_actor: dict[str, str]) -> list[VideoRecord]:
        folder = require_dir(self.root / "source_videos", "root", "DeeperForensics source_videos folder")
        warn_missing(
            sorted(a for a in split_of_actor if not (folder / a).is_dir()), str(folder), str(self.split_dir)
        )
        return [
            self._record(path, REAL, "original", "unknown", split_of_actor[actor], actor,
                         f"source/{path.relative_to(folder).with_suffix('').as_posix()}")
            for actor in sorted(a for a in split_of_actor if (folder / a).is_dir())
            for path in sorted((folder / actor).rglob("*.mp4"))
        ]  # fmt: skip

    def _record(
        self, path: Path, label: int, method: str, compression: str, split: str, identity: str, name: str
    ) -> VideoRecord:
        return VideoRecord(
            video_id=f"{self.dataset_name}/{method}/{compression}/{name}",
            path=path.resolve(),
            label=label,
            method=method,
            dataset=self.dataset_name,
            split=split,
            compression=compression,
            identity=identity,
            n_frames=0,
        )
