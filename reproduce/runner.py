"""Run the registered experiments: fit, then test once on the best checkpoint, skipping finished ones.

Each experiment's output goes to ``runs/reproduce-<scale>/logs/<name>.log``; its test metrics to
``results/<scale>/<name>.json`` (written by the CLI, atomically). An experiment that fails leaves
``results/<scale>/<name>.failed.json`` with the error and the log path, and the others go on;
experiments that need its checkpoint are reported as skipped, naming it.

Two ways to run a command, chosen by ``isolation``:

- ``in_process`` (smoke default): a pool of spawned worker processes that import Lightning once
  (~10 s) and run every command they are given, output redirected at the file-descriptor level.
  A worker that dies takes down only the experiment it was running.
- ``subprocess`` (full default): a fresh ``python -m deepfake_suite`` per command, which is what
  multi-GPU DDP needs (Lightning's launcher re-executes the command line).
"""

from __future__ import annotations

import concurrent.futures as futures
import importlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from deepfake_suite.atomic import atomic_write_json
from reproduce.spec import Experiment, Scale, run_order

Isolation = Literal["in_process", "subprocess"]
Status = Literal["done", "ran", "failed", "skipped"]


@dataclass(frozen=True)
class Layout:
    """Where a scale's runs, logs and results live, relative to the repository root."""

    root: Path
    scale: Scale

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs" / f"reproduce-{self.scale}"

    @property
    def results_dir(self) -> Path:
        return self.root / "results" / self.scale

    @property
    def tables_dir(self) -> Path:
        return self.results_dir / "tables"

    def log(self, name: str) -> Path:
        return self.runs_dir / "logs" / f"{name}.log"

    def results(self, name: str) -> Path:
        return self.results_dir / f"{name}.json"

    def failure(self, name: str) -> Path:
        return self.results_dir / f"{name}.failed.json"

    def best_checkpoint(self, name: str) -> Path:
        return self.runs_dir / name / "checkpoints" / "best.ckpt"


@dataclass(frozen=True)
class Outcome:
    """What happened to one experiment in this invocation."""

    name: str
    status: Status
    seconds: float = 0.0
    detail: str = ""


def wandb_args(experiment: Experiment, tables: Sequence[str], scale: Scale) -> list[str]:
    """W&B group and tags of a run: grouped under the first table it feeds, tagged ``table:<slug>``
    for every table it feeds, so that a dashboard filter on one tag lists exactly a table's rows.

    ``+=`` appends to the config's own tags (detector, loss, dataset, ...) instead of replacing them.
    """
    key = "--trainer.logger.init_args"
    tags = [*(f"table:{slug}" for slug in tables), f"scale:{scale}", *experiment.tags]
    return [
        f"{key}.group={tables[0] if tables else experiment.paper}",
        *(f"{key}.tags+={tag}" for tag in tags),
    ]


def commands(
    experiment: Experiment, layout: Layout, extra_args: Sequence[str] = (), logger_args: Sequence[str] = ()
) -> list[list[str]]:
    """The CLI argument lists (without the program name) that run ``experiment``: fit then test,
    or test alone of another experiment's best checkpoint; at full scale ``prepare_data`` first."""
    common = [arg for config in experiment.command_configs(layout.scale) for arg in ("--config", config)]
    common += [
        f"--run_name={experiment.name}",
        f"--runs_dir={layout.runs_dir}",
        f"--results_dir={layout.results_dir}",
        *experiment.command_args(layout.scale),
    ]
    if experiment.seed is not None:
        common.append(f"--seed_everything={experiment.seed}")
    common += [
        f"{key}={layout.best_checkpoint(source)}" for key, source in experiment.checkpoint_args.items()
    ]
    common += [*logger_args, *extra_args]
    # Full scale: data preparation (face crops, re-encodings) first, in one process, so that a
    # multi-GPU run's ranks never wait on it at a barrier (which times out after 30 minutes).
    prepare = [["prepare_data", *common]] if layout.scale == "full" else []
    if experiment.test_checkpoint_of is not None:
        return [
            *prepare,
            ["test", *common, f"--ckpt_path={layout.best_checkpoint(experiment.test_checkpoint_of)}"],
        ]
    return [*prepare, ["fit", *common], ["test", *common, "--ckpt_path=best"]]


DEFAULT_ENTRY = "deepfake_suite.cli:main"
_REPO = Path(__file__).resolve().parent.parent


def _entry_point(entry: str) -> Callable[[list[str]], object]:
    module_name, _, function = entry.partition(":")
    return getattr(importlib.import_module(module_name), function)  # type: ignore[no-any-return]


def _run_in_worker(argument_lists: list[list[str]], log_path: str, threads: int, entry: str) -> str:
    """Worker-side: run the commands with stdout/stderr sent to the log; '' or the error text."""
    import torch

    torch.set_num_threads(threads)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            main = _entry_point(entry)
            for arguments in argument_lists:
                print(f"$ lightning {' '.join(arguments)}", flush=True)
                main(arguments)
            return ""
        except SystemExit as error:  # the CLI's clear-message exit
            return f"the CLI exited with status {error.code}"
        except BaseException as error:
            traceback.print_exc()
            return f"{type(error).__name__}: {error}"
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _run_subprocess(argument_lists: list[list[str]], log_path: str, cwd: Path, entry: str) -> str:
    module_name, _, function = entry.partition(":")
    program = f"import sys; from {module_name} import {function}; {function}(sys.argv[1:])"
    # The entry's package must import however the runner was started (an uninstalled checkout).
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")])),
    }
    with open(log_path, "a", encoding="utf-8") as log:
        for arguments in argument_lists:
            log.write(f"$ lightning {' '.join(arguments)}\n")
            log.flush()
            code = subprocess.call(
                [sys.executable, "-c", program, *arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
            )
            if code != 0:
                return f"`lightning {arguments[0]}` exited with status {code}"
    return ""


class Runner:
    """Runs experiments in dependency order, ``jobs`` at a time.

    Args:
        layout: Where runs and results go.
        force: Re-run experiments whose results exist.
        jobs: Experiments run at once (each gets ``cpu_count // jobs`` torch threads).
        isolation: ``in_process`` worker pool or one ``subprocess`` per command.
        extra_args: CLI arguments appended to every command (``--trainer.devices=4``).
        echo: Print one line per experiment as it finishes.
        entry: ``module:function`` taking the CLI arguments (the suite's CLI; tests pass a stub).
        table_slugs: Experiment name -> slugs of the tables it feeds (W&B group and tags).
        wandb: Log to W&B (offline without an account); ``False`` turns the logger off.
    """

    def __init__(
        self,
        layout: Layout,
        force: bool = False,
        jobs: int = 1,
        isolation: Isolation = "in_process",
        extra_args: Sequence[str] = (),
        echo: bool = True,
        entry: str = DEFAULT_ENTRY,
        table_slugs: Mapping[str, Sequence[str]] | None = None,
        wandb: bool = True,
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.layout = layout
        self.force = force
        self.jobs = jobs
        self.isolation = isolation
        self.extra_args = list(extra_args)
        self.echo = echo
        self.entry = entry
        self.table_slugs = dict(table_slugs or {})
        self.wandb = wandb
        self.threads = max(1, (os.cpu_count() or 1) // jobs)

    def run(self, experiments: Sequence[Experiment]) -> list[Outcome]:
        """Run what is not finished yet; one :class:`Outcome` per experiment, in run order."""
        # Busy-waiting OpenMP threads (the default) made each training step ~10x slower on a
        # shared 2-core machine; passive waiting costs nothing when the cores are free. Set before
        # the workers start, so that their torch picks it up.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        ordered = run_order(experiments)
        outcomes: dict[str, Outcome] = {}
        pending = [e for e in ordered if not self._finished(e, outcomes)]
        executor = self._executor()
        running: dict[futures.Future[str], tuple[Experiment, float]] = {}
        try:
            while pending or running:
                for experiment in list(pending):
                    if len(running) >= self.jobs:
                        break
                    blocker = self._blocker(experiment, outcomes)
                    if blocker == "wait":
                        continue
                    pending.remove(experiment)
                    if blocker:
                        self._record(outcomes, Outcome(experiment.name, "skipped", detail=blocker))
                        continue
                    running[self._submit(executor, experiment)] = (experiment, time.monotonic())
                if not running:
                    continue
                finished, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for future in finished:
                    experiment, started = running.pop(future)
                    try:
                        error = future.result()
                    except futures.process.BrokenProcessPool:
                        error = "the worker process died (out of memory or a crash in native code)"
                        executor.shutdown(wait=False, cancel_futures=True)
                        executor = self._executor()
                    self._record(outcomes, self._conclude(experiment, error, time.monotonic() - started))
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        return [outcomes[e.name] for e in ordered]

    def _finished(self, experiment: Experiment, outcomes: dict[str, Outcome]) -> bool:
        if self.force or not self.layout.results(experiment.name).is_file():
            return False
        self._record(
            outcomes, Outcome(experiment.name, "done", detail=str(self.layout.results(experiment.name)))
        )
        return True

    def _blocker(self, experiment: Experiment, outcomes: dict[str, Outcome]) -> str:
        """'' when it can start, 'wait' while a dependency runs, else why it cannot run."""
        for needed in experiment.dependencies:
            outcome = outcomes.get(needed)
            if outcome is None:
                return "wait"
            if outcome.status in ("failed", "skipped"):
                return f"needs {needed}, which {outcome.status}"
            if not self.layout.best_checkpoint(needed).is_file():
                return f"needs the checkpoint {self.layout.best_checkpoint(needed)}, which is missing"
        return ""

    def _executor(self) -> futures.Executor:
        if self.isolation == "in_process":
            context = multiprocessing.get_context("spawn")
            return futures.ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
        return futures.ThreadPoolExecutor(max_workers=self.jobs)

    def _submit(self, executor: futures.Executor, experiment: Experiment) -> futures.Future[str]:
        log = self.layout.log(experiment.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")  # one log per attempt: a re-run must not show an old error
        self.layout.failure(experiment.name).unlink(missing_ok=True)
        if self.wandb:
            logger_args = wandb_args(experiment, self.table_slugs.get(experiment.name, ()), self.layout.scale)
        else:
            logger_args = ["--trainer.logger=false"]
        argument_lists = commands(experiment, self.layout, self.extra_args, logger_args)
        if self.isolation == "in_process":
            return executor.submit(_run_in_worker, argument_lists, str(log), self.threads, self.entry)
        return executor.submit(_run_subprocess, argument_lists, str(log), self.layout.root, self.entry)

    def _conclude(self, experiment: Experiment, error: str, seconds: float) -> Outcome:
        results = self.layout.results(experiment.name)
        if not error and not results.is_file():
            error = f"finished without writing {results}"
        if not error:
            return Outcome(experiment.name, "ran", seconds, str(results))
        log = self.layout.log(experiment.name)
        atomic_write_json(
            self.layout.failure(experiment.name),
            {"experiment": experiment.name, "error": error, "log": str(log), "seconds": round(seconds, 1)},
        )
        return Outcome(experiment.name, "failed", seconds, f"{error} (log: {log})")

    def _record(self, outcomes: dict[str, Outcome], outcome: Outcome) -> None:
        outcomes[outcome.name] = outcome
        if self.echo:
            took = f" in {outcome.seconds:.0f} s" if outcome.seconds else ""
            print(f"[{outcome.status:>7}] {outcome.name}{took}  {outcome.detail}", flush=True)


def write_summary(outcomes: Sequence[Outcome], layout: Layout) -> Path:
    """``results/<scale>/reproduce_summary.json``: every experiment's status of the last invocation."""
    payload = {
        "scale": layout.scale,
        "experiments": [
            {"name": o.name, "status": o.status, "seconds": round(o.seconds, 1), "detail": o.detail}
            for o in outcomes
        ],
    }
    return atomic_write_json(layout.results_dir / "reproduce_summary.json", payload)


def load_results(layout: Layout, name: str) -> dict[str, float | None] | None:
    """The test metrics of ``name`` at this scale, or ``None`` when it has no results file."""
    path = layout.results(name)
    if not path.is_file():
        return None
    return dict(json.loads(path.read_text(encoding="utf-8"))["metrics"])
