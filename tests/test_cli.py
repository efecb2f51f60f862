"""The `lightning` command end to end: entry points, fit -> test -> results, and clear errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from deepfake_suite.cli import main
from tests.conftest import PAPER_CONFIG, REPO, SMOKE_CONFIG

QUICK = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2"]


def _run(args: list[str]) -> None:
    main(args)


def test_lightning_console_script_resolves_to_the_suite() -> None:
    scripts = [ep for ep in entry_points(group="console_scripts") if ep.name == "lightning"]
    assert [ep.value for ep in scripts] == ["deepfake_suite.cli:main"]
    own_name = [ep.value for ep in entry_points(group="console_scripts") if ep.name == "deepfake-suite"]
    assert own_name == ["deepfake_suite.cli:main"]
    installed = Path(sys.executable).parent / "lightning"
    assert installed.is_file() and "deepfake_suite.cli" in installed.read_text()


def test_python_m_lists_the_lightning_subcommands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "deepfake_suite", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for subcommand in ("fit", "validate", "test", "predict"):
        assert subcommand in out


@pytest.mark.parametrize("config", sorted((REPO / "experiments").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_experiment_config_parses_alone_and_with_its_smoke_override(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks = [[config]]
    smoke = config.parent / "smoke" / config.name
    if smoke.is_file():
        stacks.append([config, smoke])
    for stack in stacks:
        with pytest.raises(SystemExit) as exit_info:
            _run(["fit", *[arg for c in stack for arg in ("--config", str(c))], "--print_config"])
        assert exit_info.value.code in (0, None)
    assert "class_path" in capsys.readouterr().out


def test_fit_then_test_in_new_process_uses_best_checkpoint_and_writes_results(
    cli_args: list[str], tmp_path: Path
) -> None:
    _run(["fit", *cli_args, *QUICK, "--trainer.max_epochs=2", "--run_name=e2e"])
    checkpoint = tmp_path / "runs" / "e2e" / "checkpoints" / "best.ckpt"
    assert checkpoint.is_file()
    assert (tmp_path / "runs" / "e2e" / "fit_config.yaml").is_file()

    _run(["test", *cli_args, "--run_name=e2e", "--ckpt_path=best"])
    results = json.loads((tmp_path / "results" / "e2e.json").read_text())
    assert results["ckpt_path"] == str(checkpoint)
    assert results["config_files"] == [str(PAPER_CONFIG), str(SMOKE_CONFIG)]
    assert results["model"] == "lightning_modules.DualLevelAUCNet"
    assert results["commit"]  # the code version that produced the numbers
    expected = {
        f"test/{level}_{name}"
        for level in ("video", "frame")
        for name in ("auc", "eer", "acc", "min_dcf_01", "min_dcf_005", "min_dcf_001")
    }
    assert expected <= set(results["metrics"])
    for key in expected:
        value = results["metrics"][key]
        assert value is None or 0.0 <= value <= 1.0 + 1e-9, (key, value)
    assert Path(results["resolved_config"]).is_file()
    # Score files name each row's video, and the name agrees with the row's label.
    for level in ("video", "frame"):
        with open(tmp_path / "runs" / "e2e" / f"test_scores_{level}.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert rows and all(row["video_id"] for row in rows)
        assert all(int(row["label"]) == (row["video_id"].split("/")[1] != "original") for row in rows)
        names = [row["video_id"] for row in rows]
        assert len(set(names)) == len(names) if level == "video" else len(set(names)) < len(names)


def test_default_run_name_joins_config_stems(cli_args: list[str], tmp_path: Path) -> None:
    _run(["fit", *cli_args, *QUICK])
    assert (tmp_path / "runs" / "dual_level+smoke-dual_level" / "checkpoints" / "last.ckpt").is_file()


def test_unknown_config_key_is_named(cli_args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run(["fit", *cli_args, "--model.init_args.gama=0.2"])
    assert exit_info.value.code == 2
    assert "gama" in capsys.readouterr().err


def test_unknown_key_in_a_config_file_is_named(
    cli_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  init_args:\n    clip_length: 8\n")
    with pytest.raises(SystemExit) as exit_info:
        _run(["fit", *cli_args, "--config", str(bad)])
    assert exit_info.value.code == 2
    assert "clip_length" in capsys.readouterr().err


def test_missing_data_folder_gives_one_clear_line(
    cli_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-dataset"
    with pytest.raises(SystemExit) as exit_info:
        _run(
            [
                "fit",
                *cli_args,
                *QUICK,
                "--data.init_args.source=datamodules.sources.FolderSource",
                f"--data.init_args.source.init_args.root={missing}",
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"data folder not found: {missing}" in err
    assert "Traceback" not in err


def test_test_with_best_before_fit_explains_what_to_do(
    cli_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run(["test", *cli_args, "--run_name=never-trained", "--ckpt_path=best"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no checkpoint at" in err and "never-trained" in err


def test_missing_checkpoint_file_is_named(cli_args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run(["test", *cli_args, "--ckpt_path=/nonexistent/model.ckpt"])
    assert exit_info.value.code == 2
    assert "/nonexistent/model.ckpt" in capsys.readouterr().err


def test_missing_pretrained_weights_offline_give_one_clear_line(
    cli_args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lightning_modules import backbones

    monkeypatch.setattr(backbones, "cached_weights_file", lambda name: None)
    monkeypatch.setattr(backbones, "_reachable", lambda host, timeout=3.0: False)
    with pytest.raises(SystemExit) as exit_info:
        _run(["fit", *cli_args, "--model.init_args.pretrained=true"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "model.init_args.pretrained=/path/to/weights.pth" in err
    assert "model.init_args.pretrained=false" in err
    assert "Traceback" not in err


def test_last_checkpoint_is_the_latest_epoch_even_when_it_did_not_improve(tmp_path: Path) -> None:
    import torch
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.demos.boring_classes import BoringModel

    from deepfake_suite.lightning_cli import save_last_every_epoch

    class FlatMetric(BoringModel):
        def validation_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            self.log("val/x", 1.0)  # never improves after epoch 0

    best = ModelCheckpoint(dirpath=tmp_path, filename="best", monitor="val/x", mode="min", save_last=True)
    trainer = Trainer(
        max_epochs=3, limit_train_batches=2, limit_val_batches=1, callbacks=[best], logger=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    save_last_every_epoch(trainer)
    trainer.fit(FlatMetric())
    epoch = {
        name: torch.load(tmp_path / f"{name}.ckpt", weights_only=False)["epoch"] for name in ("best", "last")
    }
    assert epoch == {"best": 0, "last": 2}
    assert trainer.checkpoint_callback is best


def test_results_record_the_code_version() -> None:
    from deepfake_suite.results import code_version

    version = code_version()
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:  # not a checkout (an sdist): nothing to compare with
        assert version == "unknown"
        return
    assert version.removesuffix("+dirty") == head.stdout.strip()
