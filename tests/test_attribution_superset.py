"""experiments/attribution/superset.yaml, the attribution paper's real data, on folders in each
dataset's published layout: it parses, its splits pass the leak checks, and its classes are the
paper's ten (real + 9 training methods) with the three cross-dataset sets' methods unseen."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from datamodules.sources.base import REAL
from tests.source_trees import (
    celeb_tree,
    deeper_tree,
    dfd_tree,
    ffpp_tree,
    overlay_datamodule,
    timit_tree,
    touch,
    write_text,
)
from tests.test_sources_celeb_df import TEST_LINES as CELEB_TEST_LINES
from tests.test_sources_celeb_df import VIDEOS as CELEB_VIDEOS
from tests.test_sources_deepfake_detection import FAKES as DFD_FAKES
from tests.test_sources_deepfake_detection import REALS as DFD_REALS
from tests.test_sources_faceforensics import PAIRS as FFPP_PAIRS

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "experiments" / "attribution" / "superset.yaml"
FFPP_METHODS = ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter"]
DEEPER_LISTS = {"train": ["000_M001.mp4", "002_W002.mp4"], "val": ["006_M003.mp4"], "test": ["008_W004.mp4"]}


def _write_data(data: Path) -> None:
    ffpp_tree(data / "FaceForensics++", FFPP_PAIRS, FFPP_METHODS)
    dfd_tree(data / "FaceForensics++", DFD_REALS, DFD_FAKES)
    celeb_tree(data / "Celeb-DF-v2", CELEB_VIDEOS, CELEB_TEST_LINES)
    deeper_tree(data / "DeeperForensics-1.0", DEEPER_LISTS, ["end_to_end", "reenact_postprocess"])
    # HifiFace: fakes only, each in the FF++ split of its target video.
    hifi = [(f"{a}_{b}.mp4", split) for split, pairs in FFPP_PAIRS.items() for a, b in pairs]
    for name, _ in hifi:
        touch(data / "HifiFace" / name)
    rows = "".join(f"{name},1,{split},HifiFace,{name.split('_')[0]}\n" for name, split in hifi)
    write_text(data / "HifiFace" / "manifest.csv", "path,label,split,method,identity\n" + rows)
    mobio = [(f"real_{i}.mp4", 0, f"p{i}") for i in range(3)] + [
        (f"fake_{i}.mp4", 1, f"p{i}") for i in range(3)
    ]
    for name, _, _ in mobio:
        touch(data / "DF-Mobio" / name)
    rows = "".join(f"{name},{label},test,{person}\n" for name, label, person in mobio)
    write_text(data / "DF-Mobio" / "manifest.csv", "path,label,split,identity\n" + rows)
    subjects = ["fadg0", "faks0", "mccs0"]
    fakes = {q: {s: ["sa1-video-fram1"] for s in subjects} for q in ("higher_quality", "lower_quality")}
    timit_tree(data / "DeepfakeTIMIT", data / "VidTIMIT", fakes, {s: ["sa1", "sa2"] for s in subjects})


@pytest.fixture
def datamodule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    _write_data(tmp_path / "data")
    monkeypatch.chdir(tmp_path)  # the config's roots are relative: data/<name>
    config = yaml.safe_load(CONFIG.read_text())
    assert config["model"]["init_args"]["num_classes"] == 10
    return overlay_datamodule(config)


def test_superset_has_the_papers_ten_classes_and_tests_the_unseen_sets_whole(datamodule) -> None:  # type: ignore[no-untyped-def]
    records = datamodule._manifest()  # the checks setup runs, without decoding the placeholder files
    assert datamodule.class_names == [
        "real", "Celeb-synthesis", "DF-VAE-end_to_end", "DF-VAE-reenact_postprocess", "Deepfakes",
        "Face2Face", "FaceShifter", "FaceSwap", "HifiFace", "NeuralTextures",
    ]  # fmt: skip
    unseen_datasets = {"Google", "DF-Mobio", "DeepfakeTIMIT"}
    assert {r.dataset for r in records} == {
        "FaceForensics++",
        "Celeb-DF",
        "HifiFace",
        "DeeperForensics",
    } | unseen_datasets
    for record in records:
        if record.dataset in unseen_datasets:
            assert record.split == "test", record.video_id
            assert record.label == REAL or record.method in datamodule.unseen_methods
    assert {r.split for r in records if r.dataset == "FaceForensics++"} == {"train", "val", "test"}
    # DFD keeps every fake: the seeded actor split does not drop any when all of it is test.
    assert sum(r.dataset == "Google" and r.label != REAL for r in records) == len(DFD_FAKES)
    # DeeperForensics contributes fakes only: its reals are FF++'s target videos, already there.
    assert all(r.label != REAL for r in records if r.dataset == "DeeperForensics")
