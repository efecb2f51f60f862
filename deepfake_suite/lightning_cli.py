"""LightningCLI with the suite's run bookkeeping: run folders, best/last checkpoints, results files.

``lightning fit --config experiments/dual_level.yaml`` trains; ``lightning test ... --ckpt_path best``
tests the checkpoint selected on validation data and writes ``results/<run_name>.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_warn

from deepfake_suite.results import print_metrics, write_results
from deepfake_suite.run_layout import default_run_name, resolve_checkpoint


class LoggerSaveConfigCallback(SaveConfigCallback):
    """Saves ``<stage>_config.yaml`` in the run folder and sends the resolved config to the logger."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # One file per stage: a later `test` must not overwrite the config that `fit` trained with.
        self.config_filename = f"{getattr(stage, 'value', stage)}_config.yaml"
        super().setup(trainer, pl_module, stage)

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, Logger):
                logger.log_hyperparams(_plain(self.config.as_dict()))


def _plain(value: Any) -> Any:
    """Config values W&B can store: paths and other objects become strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class SuiteCLI(LightningCLI):
    """LightningCLI in subclass mode for models and data, plus a run folder per ``--run_name``.

    Every run lives in ``<runs_dir>/<run_name>/``: the saved configs, ``checkpoints/best.ckpt``
    (selected on the validation metric), ``checkpoints/last.ckpt`` and the W&B files. The name
    defaults to the config file names joined by ``+``, so ``fit`` and a later ``test`` with the
    same ``--config`` files meet in the same folder.
    """

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        super().__init__(
            model_class=LightningModule,
            datamodule_class=LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_callback=LoggerSaveConfigCallback,
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
            parser_kwargs={
                "epilog": "Also: `preprocess` crops faces into a store (`preprocess --help`); `score` "
                "screens a folder of videos at an operating point chosen on validation data (`score --help`)."
            },
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--run_name",
            type=str | None,
            default=None,
            help="Run folder, W&B run and results file name. Default: the config file stems joined by '+'.",
        )
        parser.add_argument("--runs_dir", type=str, default="runs", help="Parent folder of run folders.")
        parser.add_argument(
            "--results_dir", type=str, default="results", help="Where `test` writes <run_name>.json."
        )

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        if not config.get("run_name"):
            config.run_name = default_run_name(config.get("config") or [])
        run_dir = Path(config.runs_dir) / config.run_name
        trainer = config.trainer
        if trainer.get("default_root_dir") is None:
            trainer.default_root_dir = str(run_dir)
        for logger in _as_list(trainer.get("logger")):
            _fill_logger_defaults(logger, config.run_name, run_dir, self.subcommand)
        for callback in _as_list(trainer.get("callbacks")):
            if _is_subclass(callback, ModelCheckpoint) and callback.init_args.get("dirpath") is None:
                callback.init_args.dirpath = str(run_dir / "checkpoints")

    def before_fit(self) -> None:
        save_last_every_epoch(self.trainer)

    def before_validate(self) -> None:
        self._resolve_ckpt_path("validate")

    def before_test(self) -> None:
        self._resolve_ckpt_path("test")

    def before_predict(self) -> None:
        self._resolve_ckpt_path("predict")

    def after_test(self) -> None:
        # trainer.log_dir is a broadcast from rank 0 under DDP: every rank must read it, or rank 0
        # waits for peers that have already returned and dies without writing the results.
        log_dir = self.trainer.log_dir
        if not self.trainer.is_global_zero:
            return
        config = self.config["test"]
        metrics = {
            key: float(value)
            for key, value in self.trainer.callback_metrics.items()
            if key.startswith("test/")
        }
        path = write_results(
            results_dir=config.results_dir,
            run_name=config.run_name,
            metrics=metrics,
            config_files=[str(p) for p in config.get("config") or []],
            resolved_config=str(Path(log_dir or ".") / "test_config.yaml"),
            ckpt_path=self.config_init["test"].get("ckpt_path"),
            model=config.model.class_path,
            data=config.data.class_path,
            seed=config.get("seed_everything"),
        )
        print_metrics(metrics, title=f"test metrics of run '{config.run_name}'")
        print(f"results written to {path}")

    def _resolve_ckpt_path(self, subcommand: str) -> None:
        requested = self.config_init[subcommand].get("ckpt_path")
        checkpoint = self.trainer.checkpoint_callback
        dirpath = checkpoint.dirpath if isinstance(checkpoint, ModelCheckpoint) else None
        dirpath = None if dirpath is None else str(dirpath)
        resolved = resolve_checkpoint(requested, dirpath, run_name=self.config[subcommand].run_name)
        if resolved is None and subcommand == "test":
            rank_zero_warn("`test` without --ckpt_path evaluates the model's initial weights.")
        self.config_init[subcommand]["ckpt_path"] = resolved


def prepare_data_command(args: list[str]) -> None:
    """``lightning prepare_data --config ...``: the datamodule's ``prepare_data`` alone, in this process.

    Takes a ``fit`` command's arguments. Generating, re-encoding or face-cropping a large dataset
    inside a multi-GPU ``fit`` runs on one rank while the others wait at a barrier, which times out
    after 30 minutes; run this first, on one process, and the ``fit`` finds the data ready.
    """
    cli = SuiteCLI(args=args, run=False)
    cli.datamodule.prepare_data()
    source = getattr(cli.datamodule, "source", None)
    print(f"data prepared: {type(cli.datamodule).__name__} of {type(source).__name__}")


def _as_list(value: Any) -> list[Any]:
    if value is None or isinstance(value, bool):
        return []
    return list(value) if isinstance(value, list) else [value]


def _is_subclass(entry: Any, base: type) -> bool:
    if not isinstance(entry, Namespace) or "class_path" not in entry:
        return False
    module_name, _, class_name = entry.class_path.rpartition(".")
    try:
        module = __import__(module_name, fromlist=[class_name])
        return issubclass(getattr(module, class_name), base)
    except (ImportError, AttributeError, TypeError):
        return False


def _fill_logger_defaults(logger: Any, run_name: str, run_dir: Path, subcommand: str | None) -> None:
    """Name W&B runs after the run and keep their files in the run folder, unless set explicitly."""
    from lightning.pytorch.loggers import WandbLogger

    if not _is_subclass(logger, WandbLogger):
        return
    init_args = logger.init_args
    if init_args.get("name") is None:
        init_args.name = run_name
    if init_args.get("save_dir") in (None, ".", "runs"):
        init_args.save_dir = str(run_dir)
    if "job_type" in init_args and init_args.get("job_type") is None:
        init_args.job_type = subcommand


def save_last_every_epoch(trainer: Trainer) -> None:
    """Make ``last.ckpt`` the state after the latest epoch, as ``save_last: true`` promises.

    Lightning 2.6's ``ModelCheckpoint(save_last=True)`` rewrites ``last.ckpt`` only when it also
    saved a top-k checkpoint at that step: after an epoch that does not improve the monitored
    metric, ``last.ckpt`` still holds the best epoch, and ``--ckpt_path last`` would resume from it.
    Each monitoring callback with ``save_last: true`` hands that file to a second callback that
    monitors nothing and keeps one checkpoint named ``last``, rewritten every epoch.
    """
    for callback in list(trainer.callbacks):
        if (
            isinstance(callback, ModelCheckpoint)
            and callback.save_last is True
            and callback.monitor is not None
        ):
            callback.save_last = False
            trainer.callbacks.append(
                ModelCheckpoint(
                    dirpath=callback.dirpath,
                    filename=callback.CHECKPOINT_NAME_LAST,
                    monitor=None,
                    save_top_k=1,
                    enable_version_counter=False,
                )
            )
