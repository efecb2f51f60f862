"""The dual-level paper's reproduce registry: its commands parse through the CLI at both scales and
stack what the paper (and the smoke stand-ins) say; the stand-in subsets keep fakes to score."""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from datamodules.sources.base import FAKE, REAL, VideoRecord
from datamodules.sources.synthetic import SyntheticSource
from datamodules.subsets import imbalanced_subset
from datamodules.synthetic.generator import identity_names, split_identities
from reproduce.papers import dual_level
from reproduce.runner import Layout, commands

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "reproduce" / "smoke" / "dual_level"
BY_NAME = {e.name: e for e in dual_level.EXPERIMENTS}


def _parse(name: str, scale: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The config the CLI resolves for experiment ``name`` at ``scale`` (``--print_config``)."""
    from deepfake_suite.lightning_cli import SuiteCLI

    arguments = commands(BY_NAME[name], Layout(REPO, scale))[0]  # type: ignore[arg-type]
    # run=False parses like the subcommand without building its parser: drop the subcommand and
    # the test-only checkpoint, which only the `test` parser knows.
    arguments = [a for a in arguments[1:] if not a.startswith("--ckpt_path=")]
    with pytest.raises(SystemExit) as exit_info:
        SuiteCLI(args=[*arguments, "--print_config"], run=False)
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(capsys.readouterr().out)  # type: ignore[no-any-return]


def _sources(config: dict[str, Any]) -> list[dict[str, Any]]:
    source = config["data"]["init_args"]["source"]
    if source["class_path"].endswith("CombinedSource"):
        return list(source["init_args"]["sources"])
    return [source]


SYNTHETIC_PAIR = ["SyntheticSource", "SyntheticSource"]
# What each representative run must resolve to, read from the paper and the configs' headers:
# (scale) -> (source classes, source roots, imbalance, sampler, extra model/data values).
EXPECTED: dict[str, dict[str, tuple[list[str], list[str], str | None, str, dict[str, Any]]]] = {
    # Table 2's model, the checkpoint Tables 4 and 5 test.
    "dual_level-ours-ffpp_c23": {
        "full": (["FaceForensicsSource"], ["data/FaceForensics++"], None, "shuffle", {"max_epochs": 20}),
        "smoke": (["SyntheticSource"], ["data/synthetic-smoke"], None, "shuffle",
                  {"max_epochs": 3, "clip_len": 4, "frame_size": 32}),
    },
    # Table 7: Xception fine-tuned with the AUC loss on Celeb-30, both classes in every batch.
    "dual_level-xception_auc-celeb_30": {
        "full": (["CelebDFSource", "FaceForensicsSource"], ["data/Celeb-DF-v2", "data/FaceForensics++"],
                 "celeb-30", "both_classes", {"max_epochs": 20, "frame_size": 64}),
        "smoke": (SYNTHETIC_PAIR, ["data/synthetic-smoke-celeb", "data/synthetic-smoke"],
                  "20:1", "both_classes", {"max_epochs": 3, "frame_size": 32, "frames_per_video": 2}),
    },
    # Table 11: a BCE-only baseline trains on the subset as it is (no both-classes sampler).
    "dual_level-cnn_gru-dfdc_200": {
        "full": (["DFDCSource", "FaceForensicsSource"], ["data/DFDC", "data/FaceForensics++"], "dfdc-200",
                 "shuffle", {"max_epochs": 20}),
        "smoke": (SYNTHETIC_PAIR, ["data/synthetic-smoke-dfdc", "data/synthetic-smoke"],
                  "30:1", "shuffle", {"max_epochs": 3, "clip_len": 4}),
    },
    # Table 9: focal loss with the paper's alpha 0.3 for Celeb-10, no AUC-loss sampler.
    "dual_level-ours_focal-celeb_10": {
        "full": (["CelebDFSource", "FaceForensicsSource"], ["data/Celeb-DF-v2", "data/FaceForensics++"],
                 "celeb-10", "shuffle", {"aux_loss": "focal", "focal_alpha": 0.3}),
        "smoke": (SYNTHETIC_PAIR, ["data/synthetic-smoke-celeb", "data/synthetic-smoke"],
                  "10:1", "shuffle", {"aux_loss": "focal", "focal_alpha": 0.3, "clip_len": 4}),
    },
    # Table 5: a test-only run of the c23 Meso4 on c40 (smoke: the same videos at crf 40).
    "dual_level-meso4-ffpp_test_c40": {
        "full": (["FaceForensicsSource"], ["data/FaceForensics++"], None, "shuffle", {"compression": "c40"}),
        "smoke": (["SyntheticSource"], ["data/synthetic-smoke-c40"], None, "shuffle",
                  {"crf": 40, "frame_size": 64, "frames_per_video": 2}),
    },
}  # fmt: skip


def _value(config: dict[str, Any], key: str) -> Any:
    places = [config["trainer"], config["model"]["init_args"], config["data"]["init_args"]]
    places += [s["init_args"] for s in _sources(config)]
    found = [place[key] for place in places if key in place]
    assert found, f"no {key!r} in the resolved config"
    return found[0]


@pytest.mark.parametrize("scale", ["full", "smoke"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_commands_parse_and_stack_the_setting(
    name: str, scale: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _parse(name, scale, capsys)
    classes, roots, imbalance, sampler, values = EXPECTED[name][scale]
    sources = _sources(config)
    assert [s["class_path"].rsplit(".", 1)[1] for s in sources] == classes
    assert [s["init_args"]["root"] for s in sources] == roots
    assert config["data"]["init_args"]["imbalance"] == imbalance
    assert config["data"]["init_args"]["sampler"] == sampler
    for key, expected in values.items():
        assert _value(config, key) == expected, key
    if "xception_auc" in name:
        # Fine-tuned from the BCE Xception's FF++ c23 model of Table 2.
        checkpoint = config["model"]["init_args"]["init_checkpoint"]
        assert checkpoint.endswith(f"reproduce-{scale}/dual_level-xception-ffpp_c23/checkpoints/best.ckpt")


def test_shared_models_are_not_refit() -> None:
    # Tables 4 and 5 test the Table-2 checkpoints; the tuned-gamma rows differ only by gamma.
    for name, experiment in BY_NAME.items():
        if "ffpp_test_" in name or "ffpp_to_celeb_df" in name:
            method = name.split("-")[1]
            assert experiment.test_checkpoint_of == f"dual_level-{method}-ffpp_c23"
    assert "--model.init_args.gamma=0.6" in BY_NAME["dual_level-ours-celeb_20-gamma0.6"].args
    table6 = next(t for t in dual_level.TABLES if t.table == "Table 6")
    experiments = {row.paper_row: row.experiment for row in table6.rows}
    assert experiments["CNN +VLC,+TLM"] == "dual_level-cnn_gru-celeb_df"
    assert experiments["CNN +VLC,+TLM,+FLC,+AUC loss"] == "dual_level-ours-celeb_df"


def _synthetic_blocks() -> list[tuple[str, dict[str, Any]]]:
    """Every SyntheticSource's init_args in the smoke overlays, with the file it is in."""
    blocks = []
    for path in [*SMOKE.glob("*.yaml"), REPO / "experiments" / "smoke" / "dual_level.yaml"]:
        data = (yaml.safe_load(path.read_text()) or {}).get("data", {}).get("init_args", {})
        source = data.get("source", {})
        nested = source.get("init_args", {}).get("sources", [])
        for block in nested or [source]:
            if "root" in block.get("init_args", {}) and "num_identities" in block["init_args"]:
                blocks.append((path.name, block["init_args"]))
    return blocks


DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(SyntheticSource.__init__).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}


def test_each_synthetic_root_has_one_set_of_generation_parameters() -> None:
    # A root generated with other parameters is an error at run time: catch a drifting copy here.
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for where, params in _synthetic_blocks():
        # Unstated parameters take SyntheticSource's defaults; num_workers does not change the output.
        params = {**DEFAULTS, **params}
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items() if k != "num_workers"}
        first = seen.setdefault(params["root"], (where, params))
        assert params == first[1], f"{params['root']}: {where} and {first[0]} generate different sets"
    assert {"data/synthetic-smoke", "data/synthetic-smoke-celeb", "data/synthetic-smoke-dfdc"} <= set(seen)


def _generated_pool(root: str) -> tuple[int, int]:
    """(train, test) real videos the generator gives a stand-in: its train split, val + test pooled."""
    params = {**DEFAULTS, **next(p for _, p in _synthetic_blocks() if p["root"] == root)}
    names = identity_names(params["num_identities"])
    splits = split_identities(names, (0.6, 0.2, 0.2), params["seed"], 2)
    per = params["reals_per_identity"]
    return len(splits["train"]) * per, (len(splits["val"]) + len(splits["test"])) * per


@pytest.mark.parametrize("setting", ["celeb_30", "celeb_20", "celeb_10", "dfdc_100", "dfdc_200"])
def test_stand_in_ratios_leave_fakes_to_train_and_test(setting: str) -> None:
    dataset = setting.split("_")[0]
    train, test = _generated_pool(f"data/synthetic-smoke-{dataset}")
    assert (train, test) == dual_level.STAND_IN_POOLS[dataset]  # what the tables' notes state
    records = [
        VideoRecord(f"{s}/{label}/{i}", Path(f"/v/{s}/{label}/{i}.mp4"), label, "m", "d", s, "c23", f"{i}", 8)
        for s, reals in (("train", train), ("test", test))
        for label in (REAL, FAKE)
        for i in range(reals)
    ]
    real, fake = (int(x) for x in dual_level.SMOKE_RATIOS[setting].split(":"))
    kept = Counter((r.split, r.label) for r in imbalanced_subset(records, ratio=(real, fake)))
    assert kept[("test", FAKE)] >= 3 and kept[("train", FAKE)] >= 3
    assert (kept[("train", REAL)], kept[("test", REAL)]) == (train, test)  # reals whole, fakes cut
    table = next(t for t in dual_level.TABLES if t.table == dual_level.TABLE_OF[setting])
    counts = (
        f"train {train} real / {kept[('train', FAKE)]} fake, test {test} real / {kept[('test', FAKE)]} fake"
    )
    assert any(counts in note for note in table.notes), counts


def test_imbalanced_tables_are_drawn_from_their_subset_runs() -> None:
    for setting, table_name in dual_level.TABLE_OF.items():
        table = next(t for t in dual_level.TABLES if t.table == table_name)
        runs = {row.experiment for row in table.rows if row.experiment}
        assert runs and all(run.split("-")[2] == setting for run in runs), table_name


def test_gamma_sweep_points_are_registered_runs_at_their_gamma() -> None:
    for subset, points in dual_level.GAMMA_SWEEP.items():
        for gamma, run in points.items():
            experiment = BY_NAME[run]
            assert experiment.configs[1] == f"experiments/dual_level/{subset}.yaml"
            given = [a for a in experiment.args if a.startswith("--model.init_args.gamma=")]
            # No argument: the config's default margin, 0.15 (Sec. 4.2.3).
            assert given == ([] if gamma == "0.15" else [f"--model.init_args.gamma={gamma}"])
    assert len(dual_level.GAMMA_SWEEP["celeb_10"]) >= 5
