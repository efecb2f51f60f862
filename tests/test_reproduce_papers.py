"""The attribution, metric-learning and temporal-LSTM table declarations (and MFoM's full-scale data):
their commands parse, and their smoke stand-ins are consistent with what the tables read.

The parse test runs the suite's CLI with ``--print_config`` on the exact argument lists the runner
would run (configs, stand-in overlays, args, checkpoint paths, W&B arguments), at both scales: a
wrong config key, class path or argument fails there instead of minutes into ``make
reproduce-tables``. It imports Lightning once (~10 s); the other tests read YAML only.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

from reproduce.papers import attribution, metric_learning, mfom, temporal_lstm
from reproduce.runner import Layout, commands, wandb_args
from reproduce.spec import Experiment, Scale

REPO = Path(__file__).resolve().parent.parent
_COMBINED = "datamodules.CombinedSource"
_SYNTHETIC = "datamodules.sources.SyntheticSource"
_BY_NAME = {e.name: e for m in (attribution, metric_learning, mfom, temporal_lstm) for e in m.EXPERIMENTS}

# One experiment per distinct command shape: each stand-in overlay, each args/smoke_args set, each
# data module type (frames, clips), a checkpoint argument.
_REPRESENTATIVE = (
    "attribution-triplet",
    "metric_learning-bagging_celeb_df",
    "metric_learning-xception_ffpp_to_celeb_df",
    "metric_learning-r3d",
    "temporal_lstm-extractor_resnet50",
    "temporal_lstm-lstm_cnn4",
    "mfom-lstm",
)


def _resolved(experiment: Experiment, scale: Scale, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The config the runner's ``fit`` command of ``experiment`` resolves to at ``scale``."""
    from deepfake_suite.cli import main

    layout = Layout(REPO, scale)
    fit = commands(experiment, layout, logger_args=wandb_args(experiment, ["t"], scale))[0]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([*fit, "--print_config"])
    printed = capsys.readouterr()
    assert exit_info.value.code in (0, None), printed.err[-2000:]
    return yaml.safe_load(printed.out)  # type: ignore[no-any-return]


@pytest.mark.parametrize("scale", ["smoke", "full"])
def test_representative_commands_parse_and_land_their_overrides(
    scale: Scale, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = {name: _resolved(_BY_NAME[name], scale, capsys) for name in _REPRESENTATIVE}

    triplet = configs["attribution-triplet"]
    assert triplet["model"]["init_args"]["head"] == "triplet"
    source = triplet["data"]["init_args"]["source"]
    lstm_cnn4 = configs["temporal_lstm-lstm_cnn4"]["model"]["init_args"]
    # Stage 2 reads the stage-1 run of the same scale (the overlay's own path is overridden).
    assert lstm_cnn4["extractor_checkpoint"] == str(
        Layout(REPO, scale).best_checkpoint("temporal_lstm-extractor_cnn4")
    )
    assert (lstm_cnn4["extractor"], lstm_cnn4["pretrained"]) == ("cnn4", False)
    extractor = configs["temporal_lstm-extractor_resnet50"]["model"]["init_args"]["extractor"]
    if scale == "smoke":
        assert source["class_path"] == "datamodules.CombinedSource"
        assert triplet["data"]["init_args"]["frame_size"] == 64
        assert triplet["model"]["init_args"]["tsne_per_dataset"] is False
        assert triplet["model"]["init_args"]["num_classes"] == 3  # real + the stand-in's 2 methods
        assert lstm_cnn4["test_repeats"] == 6  # Table 1's protocol, not the smoke overlay's 3
        assert extractor == "cnn4"
        assert (lstm_cnn4["cnn_widths"], lstm_cnn4["feature_dim"]) == ([4, 8, 16, 16], 16)
        r3d = configs["metric_learning-r3d"]["data"]["init_args"]["source"]["init_args"]
        assert (r3d["crf"], r3d["root"]) == (40, "data/synthetic-smoke-c40")
        cross = configs["metric_learning-xception_ffpp_to_celeb_df"]["data"]["init_args"]["source"]
        assert cross["init_args"]["splits"] == [{"train": "train", "val": "val"}, {"test": "test"}]
        assert configs["metric_learning-bagging_celeb_df"]["data"]["init_args"]["imbalance"] == "1:3"
    else:  # the paper configs, unchanged apart from the declared args and each paper's real data
        assert source["class_path"] == "datamodules.CombinedSource"
        names = [s["init_args"]["dataset_name"] for s in source["init_args"]["sources"]]
        assert names == [
            "FaceForensics++",
            "Celeb-DF",
            "HifiFace",
            "DeeperForensics",
            "Google",
            "DF-Mobio",
            "DeepfakeTIMIT",
        ]
        assert triplet["model"]["init_args"]["num_classes"] == 10
        assert triplet["data"]["init_args"]["frame_size"] == 224
        assert extractor == "resnet50.tv_in1k"
        assert configs["metric_learning-bagging_celeb_df"]["data"]["init_args"]["imbalance"] is None
        assert lstm_cnn4["test_repeats"] == 6
        assert lstm_cnn4["test_subset_size"] == 100  # Table 1's draws of 100 (test_draws.yaml)

        def source_of(name: str) -> tuple[str, dict[str, Any]]:
            found = configs[name]["data"]["init_args"]["source"]
            return found["class_path"], found["init_args"]

        celeb = source_of("metric_learning-bagging_celeb_df")
        assert (celeb[0], celeb[1]["root"]) == ("datamodules.sources.CelebDFSource", "data/Celeb-DF-v2")
        ffpp_c40 = source_of("metric_learning-r3d")
        assert ffpp_c40[0] == "datamodules.sources.FaceForensicsSource"
        assert (ffpp_c40[1]["compression"], ffpp_c40[1]["methods"]) == (
            "c40",
            ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"],
        )
        to_celeb = source_of("metric_learning-xception_ffpp_to_celeb_df")
        assert [s["class_path"].rsplit(".", 1)[1] for s in to_celeb[1]["sources"]] == [
            "FaceForensicsSource",
            "CelebDFSource",
        ]
        assert to_celeb[1]["splits"] == [{"train": "train", "val": "val"}, {"test": "test"}]
        for stage in ("temporal_lstm-extractor_resnet50", "temporal_lstm-lstm_cnn4"):
            dfdc = source_of(stage)
            assert (dfdc[0], dfdc[1]["root"]) == ("datamodules.sources.DFDCSource", "data/DFDC"), stage
        pool = source_of("mfom-lstm")
        assert pool[0] == _COMBINED
        assert [
            (s["class_path"].rsplit(".", 1)[1], s["init_args"].get("compression")) for s in pool[1]["sources"]
        ] == [
            ("FaceForensicsSource", "c23"),
            ("FaceForensicsSource", "c40"),
            ("ReencodedSource", None),
        ]
        timit = pool[1]["sources"][2]["init_args"]  # re-encoded at CRF 23 and 40, as Sec. IV-B says
        assert timit["crfs"] == [23, 40]
        assert timit["source"]["class_path"] == "datamodules.sources.DeepfakeTIMITSource"
        assert configs["mfom-lstm"]["data"]["init_args"]["clip_len"] == 20  # the paper config's, kept


def _synthetic_sources(path: Path) -> list[dict[str, Any]]:
    """Options of every synthetic source an overlay declares in full (class path given), the
    defaults filled in and ``num_workers`` (how, not what, to render) left out."""
    from datamodules.sources.synthetic import SyntheticSource

    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(SyntheticSource).parameters.items()
        if name != "num_workers"
    }
    source = (yaml.safe_load(path.read_text()) or {}).get("data", {}).get("init_args", {}).get("source")
    if not source:
        return []
    sources = source["init_args"]["sources"] if source.get("class_path") == _COMBINED else [source]
    options = [{**defaults, **s["init_args"]} for s in sources if s.get("class_path") == _SYNTHETIC]
    return [
        {k: list(v) if isinstance(v, tuple) else v for k, v in o.items() if k in defaults} for o in options
    ]


def test_stand_ins_sharing_a_data_root_ask_for_the_same_data() -> None:
    """A root is generated once with its options; other options there would be a run-time error.
    Every paper's overlays are read: stand-ins may be shared across papers."""
    by_root: dict[str, tuple[Path, dict[str, Any]]] = {}
    overlays = sorted((REPO / "reproduce" / "smoke").glob("*/*.yaml"))
    assert overlays
    for overlay in overlays:
        for options in _synthetic_sources(overlay):
            first = by_root.setdefault(options["root"], (overlay, options))
            where = f"{overlay.relative_to(REPO)} and {first[0].relative_to(REPO)}"
            assert first[1] == options, f"{where} ask for different data in {options['root']}"


def test_attribution_rows_read_the_datasets_of_the_stand_in() -> None:
    """Table 1 reads datasets with train/val/test splits, Table 2 test-only ones, by name."""
    overlay = yaml.safe_load((REPO / "reproduce/smoke/attribution/superset.yaml").read_text())
    combined = overlay["data"]["init_args"]["source"]["init_args"]
    roles = {
        source["init_args"]["dataset_name"]: splits
        for source, splits in zip(combined["sources"], combined["splits"], strict=True)
    }
    test_only = {"train": "test", "val": "test", "test": "test"}
    expected = {"Table 1": None, "Table 2": test_only}
    for table in attribution.TABLES:
        for row in table.rows:
            dataset = row.paper_row.split("/", 1)[1]
            assert roles[dataset] == expected[table.table], (table.table, row.paper_row)
            for metric in row.metrics.values():
                assert metric.startswith(f"test/{dataset}/video_"), metric


def test_second_stages_load_an_extractor_of_their_own_architecture() -> None:
    keys = tuple(
        f"--model.init_args.{key}=" for key in ("extractor", "pretrained", "cnn_widths", "feature_dim")
    )
    checked = 0
    for experiment in temporal_lstm.EXPERIMENTS:
        for source_name in experiment.checkpoint_args.values():
            source = _BY_NAME[source_name]
            for scale in ("smoke", "full"):
                ours = [a for a in experiment.command_args(scale) if a.startswith(keys)]
                theirs = [a for a in source.command_args(scale) if a.startswith(keys)]
                assert ours == theirs, (experiment.name, source_name, scale)
                checked += 1
    assert checked == 6  # three second stages at two scales
