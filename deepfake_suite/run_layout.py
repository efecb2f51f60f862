"""Where a run keeps its files, and how ``--ckpt_path best|last`` finds them in a new process."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from deepfake_suite.errors import SuiteError

BEST_CHECKPOINT = "best"
LAST_CHECKPOINT = "last"


def default_run_name(config_files: Iterable[object]) -> str:
    """Config stems joined by ``+``; a config in a tier folder keeps the folder as a prefix.

    ``experiments/dual_level.yaml`` + ``experiments/smoke/dual_level.yaml`` gives
    ``dual_level+smoke-dual_level``.

    Deterministic, so ``fit`` and a later ``test`` with the same configs share a run folder.
    """
    names = []
    for config_file in config_files:
        path = Path(str(config_file))
        names.append(
            path.stem if path.parent.name in ("experiments", "") else f"{path.parent.name}-{path.stem}"
        )
    return "+".join(names) or "run"


def resolve_checkpoint(requested: str | None, checkpoint_dir: str | None, run_name: str) -> str | None:
    """Map ``best``/``last`` to files in the run's checkpoint folder; check explicit paths exist.

    Lightning resolves ``best`` only inside the process that ran ``fit``; a researcher runs ``test``
    later, in a new process, so the file name the checkpoint callback writes is used instead.
    """
    if requested is None:
        return None
    if requested in (BEST_CHECKPOINT, LAST_CHECKPOINT):
        if checkpoint_dir is None:
            raise SuiteError(f"--ckpt_path {requested} needs a ModelCheckpoint callback in trainer.callbacks")
        path = Path(checkpoint_dir) / f"{requested}.ckpt"
        if not path.is_file():
            raise SuiteError(
                f"--ckpt_path {requested}: no checkpoint at {path}. Run `lightning fit` with the same "
                f"--config files (run '{run_name}') first, or pass --ckpt_path path/to/file.ckpt"
            )
        return str(path)
    if not Path(requested).is_file() and "://" not in requested:
        raise SuiteError(f"--ckpt_path: checkpoint file not found: {requested}")
    return requested
