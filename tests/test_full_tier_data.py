"""The full-tier data overlays of the MFoM, metric-learning and temporal-LSTM papers
(experiments/{mfom,metric_learning,temporal_lstm}/*.yaml), on tiny folders in each dataset's
published layout: each parses into the data module, passes its leak checks, and gives the paper's
datasets, split roles and classes. The expected splits come from the trees built here (official
pair files, test lists, the DFDC test folder), not from the adapters. Placeholder videos are never
decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from datamodules.sources.base import FAKE, REAL, VideoRecord
from datamodules.synthetic.generator import write_mp4
from reproduce.papers import metric_learning, mfom, temporal_lstm
from reproduce.spec import face_crops_overlay
from tests.source_trees import celeb_tree, dfdc_tree, ffpp_tree, overlay_datamodule, timit_tree
from tests.test_sources_celeb_df import TEST_LINES as CELEB_TEST_LINES
from tests.test_sources_celeb_df import VIDEOS as CELEB_VIDEOS
from tests.test_sources_dfdc import PARTS as DFDC_PARTS
from tests.test_sources_dfdc import TEST as DFDC_TEST
from tests.test_sources_faceforensics import PAIRS as FFPP_PAIRS

REPO = Path(__file__).resolve().parents[1]
FFPP_FOUR = ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]
TIMIT_SUBJECTS = ["fadg0", "faks0", "fcft0", "mccs0", "mdab0", "mrjo0", "mwbt0", "fjem0"]
# The published test list writes 1 for real: "<label> <folder>/<file>.mp4".
CELEB_TEST = {line.split()[1] for line in CELEB_TEST_LINES}
FFPP_SPLIT_OF_ID = {i: split for split, pairs in FFPP_PAIRS.items() for pair in pairs for i in pair}


def _ffpp(data: Path, compression: str, methods: list[str]) -> None:
    ffpp_tree(data / "FaceForensics++", FFPP_PAIRS, methods, compression=compression)


def _celeb(data: Path) -> None:
    celeb_tree(data / "Celeb-DF-v2", CELEB_VIDEOS, CELEB_TEST_LINES)


def _timit(data: Path) -> None:
    names = ["sa1-video-fram1", "si1-video-fram1"]
    fakes = {q: {s: names for s in TIMIT_SUBJECTS} for q in ("higher_quality", "lower_quality")}
    timit_tree(data / "DeepfakeTIMIT", data / "VidTIMIT", fakes, {s: ["sa1", "si1"] for s in TIMIT_SUBJECTS})
    # The MFoM overlay re-encodes DeepfakeTIMIT at CRF 23 and 40: its videos must decode.
    frames = np.full((3, 16, 16, 3), 90, np.uint8)
    for video in (data / "DeepfakeTIMIT").rglob("*.avi"):
        write_mp4(video, frames, fps=25, crf=23)
    jpeg = cv2.imencode(".jpg", frames[0])[1].tobytes()
    for frame in (data / "VidTIMIT").glob("*/video/*/001"):
        frame.write_bytes(jpeg)


def _records(overlay: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[VideoRecord]:
    """The checked manifest of ``overlay``'s data module (roots relative to ``tmp_path``)."""
    monkeypatch.chdir(tmp_path)  # the overlays' roots are relative: data/<name>
    module = overlay_datamodule(yaml.safe_load((REPO / overlay).read_text()))
    module.prepare_data()  # type: ignore[attr-defined]  # what a run does first (MFoM: re-encoding)
    return module._manifest()  # type: ignore[no-any-return]  # setup's checks, without decoding


def _paths(records: list[VideoRecord], split: str) -> set[Path]:
    return {r.path for r in records if r.split == split}


def _assert_no_test_video_trains(records: list[VideoRecord]) -> None:
    test = _paths(records, "test")
    assert test
    assert not test & (_paths(records, "train") | _paths(records, "val"))


def _ffpp_id(record: VideoRecord) -> str:
    return record.path.stem.split("_")[0]


def _full_overlays(module: Any) -> set[str]:
    """The data overlays (the face-crop overlay is tested in test_face_crop_step)."""
    crops = face_crops_overlay(module.PAPER)
    return {config for e in module.EXPERIMENTS for config in e.full_configs if config != crops}


def test_every_full_overlay_of_the_three_papers_is_checked_here() -> None:
    declared = set().union(*(_full_overlays(m) for m in (mfom, metric_learning, temporal_lstm)))
    assert declared == set(_CASES) | {"experiments/temporal_lstm/test_draws.yaml"}
    for module in (mfom, metric_learning, temporal_lstm):
        for experiment in module.EXPERIMENTS:  # a paper config's own data is never the full tier's
            assert experiment.full_configs, experiment.name
            assert experiment.full_configs[0].startswith(f"experiments/{module.PAPER}/"), experiment.name


def _check_mfom(records: list[VideoRecord]) -> None:
    """FF++ Deepfakes at c23 and c40 (one split per id in both) plus DeepfakeTIMIT by subject."""
    assert {r.dataset for r in records} == {"FaceForensics++", "DeepfakeTIMIT"}
    assert {r.method for r in records} == {"original", "Deepfakes", "faceswap-GAN"}
    ffpp = [r for r in records if r.dataset == "FaceForensics++"]
    assert {r.compression for r in ffpp} == {"c23", "c40"}
    for record in ffpp:
        assert record.split == FFPP_SPLIT_OF_ID[_ffpp_id(record)], record.video_id
    # Every FF++ video of the tree, once per encoding: 20 originals + 20 Deepfakes, twice.
    assert len(ffpp) == 2 * 2 * len(FFPP_SPLIT_OF_ID)
    timit = [r for r in records if r.dataset == "DeepfakeTIMIT"]
    # Both qualities, each video re-encoded at CRF 23 and 40 (Sec. IV-B): twice the source's videos.
    assert {r.compression.split("/")[0] for r in timit if r.label == FAKE} == {
        "higher_quality",
        "lower_quality",
    }
    assert {r.compression.rsplit("/", 1)[-1] for r in timit} == {"crf23", "crf40"}
    assert len(timit) == 2 * (2 * 2 * len(TIMIT_SUBJECTS) + 2 * len(TIMIT_SUBJECTS))
    assert {r.label for r in timit} == {REAL, FAKE}
    # CombinedSource prefixes identities with the dataset: "DeepfakeTIMIT/fadg0".
    subjects_by_split = {
        s: {r.identity.split("/")[-1] for r in timit if r.split == s} for s in ("train", "val", "test")
    }
    assert all(subjects_by_split.values())
    assert set().union(*subjects_by_split.values()) == set(TIMIT_SUBJECTS)
    assert not subjects_by_split["test"] & (subjects_by_split["train"] | subjects_by_split["val"])


def _check_celeb_df(records: list[VideoRecord]) -> None:
    """Celeb-DF only; test is exactly the official list; a validation split is carved."""
    assert {r.dataset for r in records} == {"Celeb-DF"}
    assert {r.method for r in records} == {"original", "Celeb-synthesis"}
    assert {"/".join(r.path.parts[-2:]) for r in records if r.split == "test"} == CELEB_TEST
    assert _paths(records, "val") and _paths(records, "train")


def _check_ffpp_c40(records: list[VideoRecord]) -> None:
    """FF++ c40, the paper's four methods (FaceShifter, on disk, left out), official splits."""
    assert {r.dataset for r in records} == {"FaceForensics++"}
    assert {r.method for r in records} == {"original", *FFPP_FOUR}
    assert {r.compression for r in records} == {"c40"}
    for record in records:
        assert record.split == FFPP_SPLIT_OF_ID[_ffpp_id(record)], record.video_id
    assert sum(r.label == FAKE for r in records) == 4 * sum(r.label == REAL for r in records)


def _check_ffpp_c40_to_celeb_df(records: list[VideoRecord]) -> None:
    """Train and val from FF++ c40 (its test split left out), test only Celeb-DF's official list."""
    assert {r.dataset for r in records if r.split in ("train", "val")} == {"FaceForensics++"}
    assert {r.dataset for r in records if r.split == "test"} == {"Celeb-DF"}
    assert {"/".join(r.path.parts[-2:]) for r in records if r.split == "test"} == CELEB_TEST
    ffpp = [r for r in records if r.dataset == "FaceForensics++"]
    assert {r.method for r in ffpp} == {"original", *FFPP_FOUR}
    assert {_ffpp_id(r) for r in ffpp} == {i for i, s in FFPP_SPLIT_OF_ID.items() if s != "test"}
    for record in ffpp:
        assert record.split == FFPP_SPLIT_OF_ID[_ffpp_id(record)], record.video_id


def _check_dfdc(records: list[VideoRecord]) -> None:
    """DFDC: the public test folder is test, the training parts train and val by whole parts."""
    assert {r.dataset for r in records} == {"DFDC"}
    assert {r.method for r in records} == {"original", "fake"}
    assert {r.path.name: r.label for r in records if r.split == "test"} == DFDC_TEST
    assert all(r.path.parent.name == "test" for r in records if r.split == "test")
    split_of_part: dict[str, set[str]] = {}
    for record in records:
        if record.split != "test":
            split_of_part.setdefault(record.path.parent.name, set()).add(record.split)
    # The paper's amount: parts 0 and 1 train, part 2 validates, part 3 is not read.
    assert split_of_part == {
        "dfdc_train_part_0": {"train"}, "dfdc_train_part_1": {"train"}, "dfdc_train_part_2": {"val"}
    }  # fmt: skip
    assert sum(len(DFDC_PARTS[n]) for n in (0, 1, 2)) + len(DFDC_TEST) == len(records)


def _build_mfom(data: Path) -> None:
    _ffpp(data, "c23", ["Deepfakes", "FaceSwap"])  # FaceSwap on disk: the overlay must leave it out
    _ffpp(data, "c40", ["Deepfakes"])
    _timit(data)


def _build_ffpp_c40(data: Path) -> None:
    _ffpp(data, "c40", [*FFPP_FOUR, "FaceShifter"])  # FaceShifter on disk: the overlay must leave it out


def _build_ffpp_c40_and_celeb(data: Path) -> None:
    _ffpp(data, "c40", FFPP_FOUR)
    _celeb(data)


def _build_dfdc(data: Path) -> None:
    dfdc_tree(data / "DFDC", DFDC_PARTS, DFDC_TEST)


_CASES: dict[str, tuple[Callable[[Path], None], Callable[[list[VideoRecord]], None]]] = {
    "experiments/mfom/ffpp_timit.yaml": (_build_mfom, _check_mfom),
    "experiments/metric_learning/celeb_df.yaml": (_celeb, _check_celeb_df),
    "experiments/metric_learning/ffpp_c40.yaml": (_build_ffpp_c40, _check_ffpp_c40),
    "experiments/metric_learning/ffpp_c40_to_celeb_df.yaml": (
        _build_ffpp_c40_and_celeb,
        _check_ffpp_c40_to_celeb_df,
    ),
    "experiments/temporal_lstm/dfdc.yaml": (_build_dfdc, _check_dfdc),
}


@pytest.mark.parametrize("overlay", sorted(_CASES))
def test_overlay_gives_the_papers_data_on_published_layouts(
    overlay: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, check = _CASES[overlay]
    build(tmp_path / "data")
    records = _records(overlay, tmp_path, monkeypatch)
    _assert_no_test_video_trains(records)
    check(records)
