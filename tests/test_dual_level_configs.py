"""The dual-level paper's settings (experiments/dual_level/*.yaml): they parse, build, and pick the
videos the paper used on dataset trees in the published layouts.

Each file is an override stacked after a model config. Data settings (no ``model`` section)
must serve the clip-level net and the frame-level baselines alike; model overrides (the
ablations of Table 6, the loss comparisons of Tables 7-11) stack on experiments/dual_level.yaml.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PAPER_CONFIG, REPO
from tests.source_trees import celeb_tree, dfdc_tree, ffpp_tree

SETTINGS = REPO / "experiments" / "dual_level"
FRAME_BASELINE = REPO / "experiments" / "baselines" / "meso4.yaml"


def _overrides() -> list[Path]:
    return sorted(SETTINGS.glob("*.yaml"))


def _is_data_setting(path: Path) -> bool:
    """An overlay that names the data (not a model variant, not face_crops.yaml's crop step)."""
    config = yaml.safe_load(path.read_text())
    return "model" not in config and "source" in config.get("data", {}).get("init_args", {})


def _config_args(*configs: Path) -> list[str]:
    return [arg for config in configs for arg in ("--config", str(config))]


@pytest.mark.parametrize("override", _overrides(), ids=lambda p: p.stem)
def test_override_parses_on_the_models_it_serves(override: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deepfake_suite.lightning_cli import SuiteCLI

    bases = [PAPER_CONFIG, FRAME_BASELINE] if _is_data_setting(override) else [PAPER_CONFIG]
    for base in bases:
        # run=False parses like `fit` without building a parser per subcommand: half the time.
        with pytest.raises(SystemExit) as exit_info:
            SuiteCLI(args=[*_config_args(base, override), "--print_config"], run=False)
        assert exit_info.value.code in (0, None)
        printed = yaml.safe_load(capsys.readouterr().out)
        expected = yaml.safe_load(override.read_text())
        if "data" in expected and "class_path" in expected["data"]["init_args"].get("source", {}):
            assert (
                printed["data"]["init_args"]["source"]["class_path"]
                == expected["data"]["init_args"]["source"]["class_path"]
            )


def _build(tmp_path: Path, *configs: Path, extra: tuple[str, ...] = ()) -> Any:
    from deepfake_suite.lightning_cli import SuiteCLI

    args = [*_config_args(*configs), "--trainer.logger=false", f"--runs_dir={tmp_path / 'runs'}", *extra]
    return SuiteCLI(args=args, run=False)


# The paper's Table 6 rows and loss comparisons, as (levels scored, loss parts logged).
MODEL_OVERRIDES = {
    "ablation_cnn_flc": ({"frame"}, {"frame_bce"}, "val/frame_auc"),
    "ablation_cnn_flc_auc": ({"frame"}, {"frame_bce", "frame_auc"}, "val/frame_auc"),
    "ablation_cnn_vlc": ({"video"}, {"video_bce"}, "val/video_auc"),
    "ablation_cnn_vlc_tlm": ({"video"}, {"video_bce"}, "val/video_auc"),
    "no_auc_loss": ({"frame", "video"}, {"frame_bce", "video_bce"}, "val/video_auc"),
    "focal_loss": (
        {"frame", "video"},
        {"frame_bce", "frame_focal", "video_bce", "video_focal"},
        "val/video_auc",
    ),
}


def test_every_model_override_is_checked_below() -> None:
    model_overrides = {p.stem for p in _overrides() if "model" in yaml.safe_load(p.read_text())}
    assert model_overrides == set(MODEL_OVERRIDES)


@pytest.mark.parametrize("stem", sorted(MODEL_OVERRIDES))
def test_model_override_builds_the_ablated_network_and_loss(stem: str, tmp_path: Path) -> None:
    import torch

    levels, parts, monitor = MODEL_OVERRIDES[stem]
    cli = _build(
        tmp_path,
        PAPER_CONFIG,
        SETTINGS / f"{stem}.yaml",
        extra=("--model.init_args.pretrained=false", "--model.init_args.compile=false"),
    )
    model = cli.model
    temporal = yaml.safe_load((SETTINGS / f"{stem}.yaml").read_text())["model"]["init_args"].get(
        "temporal", "gru"
    )
    assert (model.net.temporal is None) == (temporal == "none")
    assert (model.net.frame_head is not None) == ("frame" in levels)
    assert (model.net.video_head is not None) == ("video" in levels)
    assert cli.trainer.checkpoint_callback.monitor == monitor
    # One forward/loss on a tiny clip batch: the loss has exactly the parts of the ablation.
    model.eval()
    n, t = 4, 3
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])
    batch = {
        "frames": torch.randint(0, 256, (n, t, 3, 32, 32), dtype=torch.uint8),
        "mask": torch.ones(n, t, dtype=torch.bool),
        "frame_labels": labels[:, None].expand(n, t).clone(),
        "label": labels,
    }
    with torch.no_grad():
        outputs = model(batch)
        losses = model.compute_loss(outputs, batch)
    assert set(outputs) == levels
    assert {k for k in losses if k.endswith(("_bce", "_auc", "_focal"))} == parts
    if stem == "focal_loss":  # Sec. 4.4.1: focusing exponent 2, weight of the fakes 0.6
        focal = model.criterion.level_loss.focal
        assert (focal.alpha, focal.gamma) == (0.6, 2.0)


# ---------------------------------------------------------------------------------- data settings

PAIRS = {"train": [("000", "001"), ("002", "003")], "val": [("004", "005")], "test": [("006", "007")]}
CELEB_VIDEOS = [
    *[f"Celeb-real/id{i}_0000.mp4" for i in range(4)],
    "YouTube-real/00000.mp4",
    "YouTube-real/00001.mp4",
    *[f"Celeb-synthesis/id{i}_id{(i + 1) % 4}_0000.mp4" for i in range(4)],
]
CELEB_TEST = ["1 Celeb-real/id0_0000.mp4", "1 YouTube-real/00000.mp4", "0 Celeb-synthesis/id0_id1_0000.mp4"]


def _dfdc_part(n: int) -> dict[str, dict]:
    meta: dict[str, dict] = {}
    for k in range(3):
        meta[f"r{n}{k}.mp4"] = {"label": "REAL", "split": "train", "original": None}
        meta[f"f{n}{k}.mp4"] = {"label": "FAKE", "split": "train", "original": f"r{n}{k}.mp4"}
    return meta


@pytest.fixture(scope="module")
def dataset_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Placeholder trees of FF++ (two methods, three compressions), Celeb-DF v2 and DFDC."""
    base = tmp_path_factory.mktemp("datasets")
    ffpp = base / "ffpp"
    for compression in ("raw", "c23", "c40"):
        ffpp_tree(ffpp, PAIRS, ["Deepfakes", "Face2Face"], compression=compression)
    return {
        "FaceForensicsSource": ffpp,
        "CelebDFSource": celeb_tree(base / "celeb", CELEB_VIDEOS, CELEB_TEST),
        "DFDCSource": dfdc_tree(
            base / "dfdc", {n: _dfdc_part(n) for n in range(3)}, {"t0.mp4": 0, "t1.mp4": 1}
        ),
    }


def _point_at(node: Any, roots: dict[str, Path]) -> None:
    """Replace the ``root`` of every dataset source in a loaded config by the test trees."""
    if isinstance(node, dict):
        kind = str(node.get("class_path", "")).rsplit(".", 1)[-1]
        if kind in roots:
            node["init_args"]["root"] = str(roots[kind])
        for value in node.values():
            _point_at(value, roots)
    elif isinstance(node, list):
        for value in node:
            _point_at(value, roots)


def _records(stem: str, roots: dict[str, Path]) -> dict[str, Counter]:
    """``split -> Counter((dataset, method, compression))`` of the manifest a setting's source gives.

    The source section is instantiated by jsonargparse, as the CLI does, without Lightning.
    """
    from jsonargparse import ArgumentParser

    from datamodules.sources.base import VideoSource

    config = yaml.safe_load((SETTINGS / f"{stem}.yaml").read_text())
    _point_at(config, roots)
    parser = ArgumentParser()
    parser.add_subclass_arguments(VideoSource, "source")
    source = parser.instantiate_classes(
        parser.parse_object({"source": config["data"]["init_args"]["source"]})
    ).source
    grouped: dict[str, Counter] = {}
    for record in source.records():
        grouped.setdefault(record.split, Counter())[(record.dataset, record.method, record.compression)] += 1
    return grouped


FFPP_DF = {("FaceForensics++", "original", "c23"), ("FaceForensics++", "Deepfakes", "c23")}


def test_every_data_setting_is_checked_below() -> None:
    checked = {"ffpp_c23", "ffpp_test_raw", "ffpp_test_c40", "celeb_df", "ffpp_to_celeb_df"}
    checked |= {"celeb_10", "celeb_20", "celeb_30", "dfdc_100", "dfdc_200"}
    assert {p.stem for p in _overrides() if _is_data_setting(p)} == checked


@pytest.mark.parametrize(
    "stem, compression", [("ffpp_c23", "c23"), ("ffpp_test_raw", "raw"), ("ffpp_test_c40", "c40")]
)
def test_ffpp_settings_keep_deepfakes_at_one_compression(
    stem: str, compression: str, dataset_roots: dict[str, Path]
) -> None:
    grouped = _records(stem, dataset_roots)
    expected = {(d, m, compression) for d, m, _ in FFPP_DF}
    assert set(grouped) == {"train", "val", "test"}
    for counts in grouped.values():
        assert set(counts) == expected  # Face2Face and the other compressions left out


def test_cross_dataset_setting_trains_on_ffpp_and_tests_on_celeb_df(dataset_roots: dict[str, Path]) -> None:
    grouped = _records("ffpp_to_celeb_df", dataset_roots)
    assert set(grouped["train"]) == set(grouped["val"]) == FFPP_DF
    assert {dataset for dataset, _, _ in grouped["test"]} == {"Celeb-DF-v2"}
    assert sum(grouped["test"].values()) == len(CELEB_TEST)


@pytest.mark.parametrize("stem", ["celeb_df", "celeb_30", "celeb_20", "celeb_10"])
def test_celeb_df_settings_validate_on_ffpp(stem: str, dataset_roots: dict[str, Path]) -> None:
    grouped = _records(stem, dataset_roots)
    assert set(grouped["val"]) == FFPP_DF
    assert {dataset for dataset, _, _ in grouped["train"]} == {"Celeb-DF-v2"}
    # val_fraction 0: every Celeb-DF video off the test list trains (Table 1 counts 712 reals).
    assert sum(grouped["train"].values()) == len(CELEB_VIDEOS) - len(CELEB_TEST)
    assert sum(grouped["test"].values()) == len(CELEB_TEST)


@pytest.mark.parametrize("stem", ["dfdc_100", "dfdc_200"])
def test_dfdc_settings_validate_on_ffpp(stem: str, dataset_roots: dict[str, Path]) -> None:
    grouped = _records(stem, dataset_roots)
    assert set(grouped["val"]) == FFPP_DF
    assert (
        {dataset for dataset, _, _ in grouped["train"]}
        == {dataset for dataset, _, _ in grouped["test"]}
        == {"DFDC"}
    )


@pytest.mark.parametrize("stem", ["celeb_10", "celeb_20", "celeb_30", "dfdc_100", "dfdc_200"])
def test_imbalanced_settings_name_their_preset_and_the_both_classes_sampler(stem: str) -> None:
    from datamodules.subsets import IMBALANCED_PRESETS

    data = yaml.safe_load((SETTINGS / f"{stem}.yaml").read_text())["data"]["init_args"]
    assert data["imbalance"] == stem.replace("_", "-") and data["imbalance"] in IMBALANCED_PRESETS
    assert data["sampler"] == "both_classes"


def test_gamma_sweep_script_runs_fit_then_test_per_subset_and_gamma(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from deepfake_suite.cli import main

    env = {**os.environ, "LIGHTNING": "echo", "SUBSETS": "celeb_30 celeb_10", "GAMMAS": "0.1 0.6"}
    out = subprocess.run(
        ["bash", str(SETTINGS / "gamma_sweep.sh"), "--trainer.devices=1"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert [line.split()[0] for line in out] == ["fit", "test"] * 4
    runs = [line.split("--run_name ")[1].split()[0] for line in out]
    assert runs[::2] == runs[1::2]  # test finds the checkpoint of its own fit
    assert len(set(runs)) == 4 and "dual_level-celeb_10-gamma0.6" in runs
    assert all("--trainer.devices=1" in line for line in out)
    # The commands the script prints are valid CLI input.
    args = out[0].split()[1:]
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args, "--print_config"])
    assert exit_info.value.code in (0, None)
    assert "gamma: 0.1" in capsys.readouterr().out
