"""The ``lightning`` / ``deepfake-suite`` command.

``fit``, ``validate``, ``test`` and ``predict`` go to the LightningCLI
(:mod:`deepfake_suite.lightning_cli`); ``prepare_data`` takes a ``fit`` command's arguments and
runs only the datamodule's ``prepare_data`` (data generation, re-encoding, face crops) in one
process; ``preprocess`` (videos -> face-crop store) runs no Trainer and has its own parser;
``score`` (screen a folder of videos at an operating point chosen on validation data,
:mod:`deepfake_suite.screening`) parses its own arguments before it imports Lightning. Lightning is
imported only where a Trainer runs: it costs ~10 s, which every ``preprocess`` worker and
``--help`` would otherwise pay.
"""

from __future__ import annotations

import sys

from deepfake_suite.errors import SuiteError


def _suite_error_in(error: BaseException | None) -> SuiteError | None:
    """The :class:`SuiteError` behind ``error``: jsonargparse re-raises errors from constructors
    as a generic "does not validate" ``ValueError`` whose cause is the user-facing one."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, SuiteError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def main(args: list[str] | None = None) -> None:
    """Entry point of ``lightning``, ``deepfake-suite`` and ``python -m deepfake_suite``.

    Args:
        args: Command-line arguments without the program name; ``None`` reads ``sys.argv``.
    """
    argv = sys.argv[1:] if args is None else list(args)
    failed = True
    try:
        if argv[:1] == ["preprocess"]:
            from datamodules.preprocessing.command import preprocess_command

            preprocess_command(argv[1:])
        elif argv[:1] == ["prepare_data"]:
            from deepfake_suite.lightning_cli import prepare_data_command

            prepare_data_command(argv[1:])
        elif argv[:1] == ["score"]:
            from deepfake_suite.screening import score_command

            score_command(argv[1:])
        else:
            from deepfake_suite.lightning_cli import SuiteCLI

            SuiteCLI(args=args)
        failed = False
    except Exception as error:
        suite_error = _suite_error_in(error)
        if suite_error is None:
            raise
        print(f"error: {suite_error}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        _finish_wandb_run(exit_code=1 if failed else 0)


def _finish_wandb_run(exit_code: int) -> None:
    """Close the W&B run this command opened, if any.

    ``WandbLogger`` reuses whatever run is active in the process, so without this a second command
    in the same process (``python -m reproduce``'s workers run many; so do notebooks and tests)
    would log its metrics, config and tags into the first command's run.
    """
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=exit_code)
