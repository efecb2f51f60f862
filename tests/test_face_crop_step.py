"""The datamodules' ``face_crops`` option: stores built in prepare_data, read in setup, the same
items as reading the videos, one store per (manifest, crop parameters), split roles kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from datamodules import ClipDataModule, CombinedSource, FaceCrops, FrameDataModule
from datamodules.crop_store import CropStoreSource
from datamodules.sources import SyntheticSource
from deepfake_suite.errors import SuiteError
from tests.conftest import TINY_SOURCE
from tests.source_trees import overlay_datamodule
from tests.test_preprocessing import tiny_source

REPO = Path(__file__).resolve().parents[1]


def _frames(source: object, face_crops: FaceCrops | None, frame_size: int = 32) -> FrameDataModule:
    return FrameDataModule(
        source,  # type: ignore[arg-type]
        frames_per_video=4,
        frame_size=frame_size,
        batch_size=64,
        num_workers=0,
        face_crops=face_crops,
    )


def cropped_clips(root: Path, stores: Path, sampling: str, **options: object) -> ClipDataModule:
    """A tiny ClipDataModule on sidecar face crops, prepared and set up for fit."""
    dm = ClipDataModule(
        tiny_source(root),
        clip_len=4,
        frame_size=32,
        batch_size=4,
        num_workers=0,
        clip_sampling=sampling,  # type: ignore[arg-type]
        face_crops=FaceCrops(detector="sidecar", stores=str(stores), num_workers=0),
        **options,  # type: ignore[arg-type]
    )
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _items(dm: FrameDataModule | ClipDataModule, split: str) -> dict[tuple[str, int], dict]:
    dataset = dm.datasets[split]
    return {(item["video_id"], i): item for i, item in enumerate(dataset[j] for j in range(len(dataset)))}


def _stores(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_frames_from_the_crops_equal_frames_read_from_the_videos(
    tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    crops = FaceCrops(detector="sidecar", stores=str(tmp_path / "stores"), num_workers=0)
    cropped = _frames(tiny_source(tiny_synthetic_root), crops)
    cropped.prepare_data()
    cropped.setup("fit")
    cropped.setup("test")
    assert isinstance(cropped.source, CropStoreSource)
    (store,) = _stores(tmp_path / "stores")
    assert store.startswith("synthetic-32px-")
    params = json.loads((tmp_path / "stores" / store / "store.json").read_text())
    assert (params["frame_size"], params["frames_per_video"], params["detector"]) == (32, 4, "sidecar")

    plain = _frames(tiny_source(tiny_synthetic_root), None)
    plain.setup("fit")
    plain.setup("test")
    for split in ("train", "val", "test"):
        ours, theirs = _items(cropped, split), _items(plain, split)
        assert ours.keys() == theirs.keys()
        for key, item in ours.items():
            for field in ("frames", "label", "method_label", "video_index"):
                assert torch.equal(torch.as_tensor(item[field]), torch.as_tensor(theirs[key][field])), field


def test_a_store_is_reused_for_the_same_videos_and_parameters_only(
    tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    stores = tmp_path / "stores"
    crops = FaceCrops(detector="sidecar", stores=str(stores), num_workers=0)
    first = _frames(tiny_source(tiny_synthetic_root), crops)
    first.prepare_data()
    (store,) = _stores(stores)
    marker = next((stores / store / "crops").glob("*.json"))
    stamp = marker.stat().st_mtime_ns

    again = _frames(tiny_source(tiny_synthetic_root), crops)
    again.prepare_data()
    assert _stores(stores) == [store]
    assert marker.stat().st_mtime_ns == stamp  # nothing cropped twice

    _frames(tiny_source(tiny_synthetic_root), crops, frame_size=24).prepare_data()
    assert len(_stores(stores)) == 2  # another crop size, another store
    # Another manifest (one video fewer) is another store.
    source = tiny_source(tiny_synthetic_root)
    records = source.records()
    source.records = lambda: records[1:]  # type: ignore[method-assign]
    _frames(source, crops).prepare_data()
    assert len(_stores(stores)) == 3


def test_a_combined_source_crops_each_dataset_and_keeps_its_roles(
    tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    other = SyntheticSource(
        root=str(tmp_path / "other"),
        dataset_name="other",
        seed=5,
        **{**TINY_SOURCE, "num_identities": 6},  # type: ignore[arg-type]
    )

    def combined() -> CombinedSource:
        return CombinedSource(
            [tiny_source(tiny_synthetic_root), other], [{"train": "train", "val": "val"}, {"test": "test"}]
        )

    crops = FaceCrops(detector="sidecar", stores=str(tmp_path / "stores"), num_workers=0)
    cropped = _frames(combined(), crops)
    cropped.prepare_data()
    cropped.setup("fit")
    cropped.setup("test")
    assert [s.split("-")[0] for s in _stores(tmp_path / "stores")] == ["other", "synthetic"]
    assert isinstance(cropped.source, CombinedSource)
    assert all(isinstance(s, CropStoreSource) for s in cropped.source.sources)

    plain = _frames(combined(), None)
    plain.setup("fit")
    plain.setup("test")

    def roles(dm: FrameDataModule) -> list[tuple[str, str, str]]:
        return sorted((r.video_id, r.split, r.identity) for r in dm._manifest())

    assert roles(cropped) == roles(plain)
    assert {r.dataset for r in cropped._manifest() if r.split == "test"} == {"other"}


def test_even_clips_store_clip_len_frames_and_consecutive_clips_every_frame(
    tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    def clips(sampling: str) -> ClipDataModule:
        return cropped_clips(tiny_synthetic_root, tmp_path / sampling, sampling)

    even = clips("even")
    assert {r.n_frames for r in even._manifest()} == {4}
    consecutive = clips("consecutive")
    assert {r.n_frames for r in consecutive._manifest()} == {TINY_SOURCE["num_frames"]}

    plain = ClipDataModule(
        tiny_source(tiny_synthetic_root), clip_len=4, frame_size=32, batch_size=4, num_workers=0
    )
    plain.setup("fit")
    ours, theirs = _items(even, "train"), _items(plain, "train")
    assert ours.keys() == theirs.keys()
    for key, item in ours.items():
        assert torch.equal(item["frames"], theirs[key]["frames"])


def test_bad_settings_and_a_skipped_prepare_step_get_clear_errors(
    tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(SuiteError, match=r"face_crops\.frames_per_video must be >= 1"):
        FaceCrops(frames_per_video=0)
    with pytest.raises(SuiteError, match=r"face_crops\.num_workers"):
        FaceCrops(num_workers=-1)
    dm = _frames(tiny_source(tiny_synthetic_root), FaceCrops(detector="sidecar", stores=str(tmp_path)))
    with pytest.raises(SuiteError, match="missing or unfinished: the datamodule's prepare_data builds it"):
        dm.setup("fit")


PAPER_DETECTORS = {
    "dual_level": "dlib",
    "mfom": "dlib",
    "attribution": "dlib",
    "metric_learning": "mtcnn",
    "temporal_lstm": "mtcnn",
}


@pytest.mark.parametrize("paper", sorted(PAPER_DETECTORS))
def test_each_papers_face_crop_overlay_parses_with_its_detector(paper: str) -> None:
    config = yaml.safe_load((REPO / "experiments" / paper / "face_crops.yaml").read_text())
    module = overlay_datamodule(
        {
            "data": {
                "init_args": {
                    "source": {"class_path": "datamodules.sources.SyntheticSource"},
                    **config["data"]["init_args"],
                }
            }
        }
    )
    assert isinstance(module.face_crops, FaceCrops)  # type: ignore[attr-defined]
    assert module.face_crops.detector == PAPER_DETECTORS[paper]  # type: ignore[attr-defined]


def test_every_full_tier_experiment_crops_faces_with_its_papers_overlay() -> None:
    from reproduce.papers import EXPERIMENTS

    for experiment in EXPERIMENTS:
        configs = experiment.command_configs("full")
        assert f"experiments/{experiment.paper}/face_crops.yaml" in configs, experiment.name
        assert not any("face_crops" in c for c in experiment.command_configs("smoke")), experiment.name


def test_cli_fit_and_test_crop_faces_first_when_asked(cli_args: list[str], tmp_path: Path) -> None:
    from deepfake_suite.cli import main

    crops = [
        "--data.init_args.face_crops.detector=sidecar",
        f"--data.init_args.face_crops.stores={tmp_path / 'stores'}",
        "--data.init_args.face_crops.num_workers=0",
    ]
    one_epoch = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2"]
    main(["fit", *cli_args, *crops, "--run_name=crops", *one_epoch])
    (store,) = _stores(tmp_path / "stores")
    main(["test", *cli_args, *crops, "--run_name=crops", "--ckpt_path=best"])
    assert _stores(tmp_path / "stores") == [store]  # the test reads the fit's store
    scored = (tmp_path / "runs" / "crops" / "test_scores_video.csv").read_text().splitlines()[1:]
    stored_test = [
        r for r in CropStoreSource(str(tmp_path / "stores" / store)).records() if r.split == "test"
    ]
    assert len(scored) == len(stored_test) > 0


def test_stores_default_to_a_folder_beside_the_dataset(tmp_path: Path) -> None:
    source = SyntheticSource(root=str(tmp_path / "datasets" / "tiny"), **TINY_SOURCE)  # type: ignore[arg-type]
    dm = _frames(source, FaceCrops(detector="sidecar", num_workers=0))
    dm.prepare_data()
    dm.setup("fit")
    (store,) = _stores(tmp_path / "datasets" / "stores")
    assert Path(dm.source.root).name == store  # type: ignore[attr-defined]


def test_prepare_data_command_crops_in_one_process_and_trains_nothing(
    cli_args: list[str], tmp_path: Path
) -> None:
    from deepfake_suite.cli import main

    stores = tmp_path / "stores"
    crops = [
        "--data.init_args.face_crops.detector=sidecar",
        f"--data.init_args.face_crops.stores={stores}",
        "--data.init_args.face_crops.num_workers=0",
    ]
    main(["prepare_data", *cli_args, *crops, "--run_name=prep"])
    (store,) = _stores(stores)
    assert (stores / store / "manifest.csv").is_file()
    assert not (tmp_path / "runs" / "prep" / "checkpoints").exists()
    assert not (tmp_path / "results").exists()
