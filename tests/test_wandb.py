"""W&B: offline without an account, online with a key, and runs that carry config, group and tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_suite.cli import main
from deepfake_suite.wandb_logger import SuiteWandbLogger, resolve_wandb_mode


@pytest.fixture
def no_wandb_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    return tmp_path / "netrc"


def test_auto_mode_is_offline_without_a_key(no_wandb_credentials: Path) -> None:
    assert resolve_wandb_mode("auto") == "offline"


def test_auto_mode_is_online_with_an_env_key(
    no_wandb_credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_wandb_mode("auto") == "online"


def test_auto_mode_is_online_after_wandb_login(no_wandb_credentials: Path) -> None:
    no_wandb_credentials.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    no_wandb_credentials.chmod(0o600)
    assert resolve_wandb_mode("auto") == "online"


def test_wandb_mode_env_overrides_the_config(
    no_wandb_credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_wandb_mode("online") == "disabled"


def _offline_records(run_folder: Path) -> bytes:
    run_dirs = list((run_folder / "wandb").glob("offline-run-*"))
    assert len(run_dirs) == 1, run_dirs
    # Offline runs keep their records in the run's .wandb log until `wandb sync` uploads them.
    return b"".join(path.read_bytes() for path in run_dirs[0].glob("run-*.wandb"))


def test_fit_without_account_writes_an_offline_run_with_config_group_and_tags(
    no_wandb_credentials: Path, cli_args: list[str], tmp_path: Path
) -> None:
    import wandb

    args = [a for a in cli_args if a != "--trainer.logger=false"]
    one_batch = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=1", "--trainer.limit_val_batches=1"]
    # Two commands in one process, as python -m reproduce's workers run them: each must get its
    # own run (WandbLogger reuses an active run, so the CLI has to close it).
    main(["fit", *args, "--run_name=wb", *one_batch])
    assert wandb.run is None
    main(["fit", *args, "--run_name=wb2", "--trainer.logger.init_args.group=second", *one_batch])
    assert wandb.run is None
    # The W&B service process writes the log; on a loaded machine it was seen to hold the records
    # after finish() returned (CI read the 8-byte header only). Shutting it down flushes them.
    wandb.teardown()
    first = _offline_records(tmp_path / "runs" / "wb")
    assert b"lightning_modules.DualLevelAUCNet" in first  # the resolved config
    assert b'"group":"dual_level"' in first.replace(b" ", b"")
    assert b"smoke" in first  # the tag added by the smoke override
    assert b"second" not in first.replace(b" ", b"")
    second = _offline_records(tmp_path / "runs" / "wb2")
    assert b'"group":"second"' in second.replace(b" ", b"")


def test_logger_passes_group_tags_and_name(no_wandb_credentials: Path, tmp_path: Path) -> None:
    logger = SuiteWandbLogger(name="r1", group="table2", tags=["dual", "c23"], save_dir=str(tmp_path))
    try:
        run = logger.experiment
        assert (run.name, run.group, tuple(run.tags)) == ("r1", "table2", ("dual", "c23"))
        assert logger.wandb_mode == "offline"
    finally:
        import wandb

        wandb.finish()
