"""Tiny dataset folders in each dataset's published layout, for the source-adapter tests.

Videos are empty placeholder files: the adapters only list and classify files, they never
decode them. Frame folders that are read get real images (:func:`write_frames`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from datamodules.sources.base import VideoRecord


def touch(path: Path) -> Path:
    """An empty file at ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_frames(folder: Path, frames: Sequence[np.ndarray], names: Sequence[str], fmt: str = ".png") -> Path:
    """RGB uint8 frames written as image files named ``names`` (no extension needed, as in VidTIMIT)."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in zip(frames, names, strict=True):
        ok, encoded = cv2.imencode(fmt, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        assert ok
        (folder / name).write_bytes(encoded.tobytes())
    return folder


def ffpp_tree(
    root: Path,
    pairs: Mapping[str, Iterable[tuple[str, str]]],
    methods: Iterable[str],
    compression: str = "c23",
) -> Path:
    """FF++: youtube originals of every id in ``pairs``, fakes ``a_b`` and ``b_a`` per method, split JSONs."""
    methods = list(methods)
    for split, split_pairs in pairs.items():
        split_pairs = list(split_pairs)
        write_text(root / "splits" / f"{split}.json", json.dumps([list(p) for p in split_pairs]))
        for a, b in split_pairs:
            for own, partner in ((a, b), (b, a)):
                touch(root / "original_sequences" / "youtube" / compression / "videos" / f"{own}.mp4")
                for method in methods:
                    touch(
                        root
                        / "manipulated_sequences"
                        / method
                        / compression
                        / "videos"
                        / f"{own}_{partner}.mp4"
                    )
    return root


def dfd_tree(root: Path, reals: Iterable[str], fakes: Iterable[str], compression: str = "c23") -> Path:
    """DeepFakeDetection: ``original_sequences/actors`` and ``manipulated_sequences/DeepFakeDetection``."""
    for name in reals:
        touch(root / "original_sequences" / "actors" / compression / "videos" / name)
    for name in fakes:
        touch(root / "manipulated_sequences" / "DeepFakeDetection" / compression / "videos" / name)
    return root


def celeb_tree(root: Path, videos: Iterable[str], test_lines: Iterable[str]) -> Path:
    """Celeb-DF: ``<folder>/<file>.mp4`` placeholders and ``List_of_testing_videos.txt``."""
    for video in videos:
        touch(root / video)
    for folder in ("Celeb-real", "YouTube-real", "Celeb-synthesis"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    write_text(root / "List_of_testing_videos.txt", "\n".join(test_lines) + "\n")
    return root


def dfdc_tree(
    root: Path, parts: Mapping[int, Mapping[str, dict]], test_labels: Mapping[str, int] | None = None
) -> Path:
    """DFDC: ``dfdc_train_part_N/{metadata.json, *.mp4}`` and ``test/{*.mp4, labels.csv}``."""
    for number, metadata in parts.items():
        folder = root / f"dfdc_train_part_{number}"
        write_text(folder / "metadata.json", json.dumps(metadata))
        for name in metadata:
            touch(folder / name)
    if test_labels is not None:
        rows = "".join(f"{name},{label}\n" for name, label in test_labels.items())
        write_text(root / "test" / "labels.csv", "filename,label\n" + rows)
        for name in test_labels:
            touch(root / "test" / name)
    return root


def timit_tree(
    root: Path,
    vidtimit: Path,
    fakes: Mapping[str, Mapping[str, Iterable[str]]],
    reals: Mapping[str, Iterable[str]],
) -> None:
    """DeepfakeTIMIT ``<quality>/<subject>/<file>.avi`` and VidTIMIT ``<subject>/video/<sentence>/001``."""
    for quality, subjects in fakes.items():
        for subject, names in subjects.items():
            for name in names:
                touch(root / quality / subject / f"{name}.avi")
    for subject, sentences in reals.items():
        for sentence in sentences:
            touch(vidtimit / subject / "video" / sentence / "001")
        touch(vidtimit / subject / "audio" / "sa1.wav")


def deeper_tree(
    root: Path, lists: Mapping[str, Iterable[str]], variants: Iterable[str], actors: Iterable[str] = ()
) -> Path:
    """DeeperForensics-1.0: ``lists/splits/*.txt``, ``manipulated_videos/<variant>/``, ``source_videos/``."""
    lists = {split: list(names) for split, names in lists.items()}
    for split, names in lists.items():
        write_text(root / "lists" / "splits" / f"{split}.txt", "".join(f"{n}\n" for n in names))
    for variant in variants:
        for names in lists.values():
            for name in names:
                touch(root / "manipulated_videos" / variant / Path(name).name)
    for actor in actors:
        for light in ("up", "down"):
            touch(root / "source_videos" / actor / f"light_{light}" / "happy" / "camera_front" /
                  f"{actor}_light_{light}_happy_camera_front.mp4")  # fmt: skip
    return root


def by_split(records: Iterable[VideoRecord]) -> dict[str, list[VideoRecord]]:
    """Records grouped by split (every split present, possibly empty)."""
    grouped: dict[str, list[VideoRecord]] = {"train": [], "val": [], "test": []}
    for record in records:
        grouped[record.split].append(record)
    return grouped


def overlay_datamodule(config: Mapping) -> object:
    """The FrameDataModule a data overlay's ``data.init_args`` builds (no workers), via jsonargparse
    as the CLI builds it; roots resolve against the working directory."""
    from jsonargparse import ArgumentParser

    from datamodules import FrameDataModule

    parser = ArgumentParser()
    parser.add_subclass_arguments(FrameDataModule, "data")
    data = {
        "class_path": "datamodules.FrameDataModule",
        "init_args": {**config["data"]["init_args"], "num_workers": 0},
    }
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes  # renamed in 4.49
    return instantiate(parser.parse_object({"data": data})).data
