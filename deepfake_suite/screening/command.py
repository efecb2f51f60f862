"""``lightning score``: its arguments, parsed before Lightning is imported (``--help`` stays instant).

Arguments the parser does not know and that configure the experiment (``--model.*``,
``--data.*``, ``--trainer.*``, ``--seed_everything``, ``--run_name``, ``--runs_dir``,
``--results_dir``) go to the
suite's LightningCLI parser with the ``--config`` files, as for ``fit`` and ``test``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from deepfake_suite.errors import SuiteError
from deepfake_suite.screening.operating_point import USAGE, parse_operating_point

# --results_dir means nothing here; accepted so that a `fit`/`test` command line can be reused as it is.
_PASSED_ON = (
    "--model",
    "--data",
    "--trainer",
    "--seed_everything",
    "--run_name",
    "--runs_dir",
    "--results_dir",
)


def build_parser() -> argparse.ArgumentParser:
    """The ``score`` parser."""
    parser = argparse.ArgumentParser(
        prog="lightning score",
        description="Score a folder of videos with a trained detector and write a CSV with a per-video "
        "score, per-frame scores and a fake/real decision at an operating point chosen on the config's "
        "validation split. Also takes --model.*, --data.*, --trainer.* overrides as `fit` does.",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--config", action="append", required=True, help="Experiment YAML, as given to `fit` (repeatable)."
    )
    parser.add_argument(
        "--ckpt_path", required=True, help="Checkpoint file, or best/last of the configs' run folder."
    )
    parser.add_argument(
        "--videos", required=True, type=Path, help="Folder of videos (and frame folders), or one video."
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="Per-video CSV; per-frame scores go to <stem>_frames.csv."
    )
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument("--operating_point", help=f"Threshold chosen on validation data: {USAGE}.")
    choice.add_argument(
        "--threshold", type=float, help="Use this threshold on the probability of fake; skips validation."
    )
    parser.add_argument(
        "--detector",
        help="Face detector for the uploads (haar, dlib, mtcnn, centerface, sidecar). Default: the training "
        "store's, or haar for a model trained on raw videos; sidecar for videos carrying face boxes "
        "in a .json beside them (the synthetic set).",
    )
    parser.add_argument("--detector_model", help="Model file of the detector (CenterFace ONNX, Haar XML).")
    parser.add_argument("--batch_size", type=int, help="Items per predict batch. Default: the datamodule's.")
    parser.add_argument(
        "--preprocess_workers",
        type=int,
        help="Face-cropping worker processes (0: in this process). Default: every CPU core.",
    )
    parser.add_argument("--quiet", action="store_true", help="No progress bars.")
    return parser


def score_command(args: list[str]) -> None:
    """Parse ``args`` (without the word ``score``) and run the screening."""
    parser = build_parser()
    options, unknown = parser.parse_known_args(args)
    stray = [arg for arg in unknown if arg.startswith("--") and not arg.startswith(_PASSED_ON)]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    point = None if options.operating_point is None else parse_operating_point(options.operating_point)
    if options.threshold is not None and math.isnan(options.threshold):
        raise SuiteError("--threshold must be a number, got nan")
    if options.batch_size is not None and options.batch_size < 1:
        raise SuiteError(f"--batch_size must be >= 1, got {options.batch_size}")

    from deepfake_suite.screening.pipeline import ScoreOptions, run_screening

    run_screening(
        ScoreOptions(
            configs=options.config,
            ckpt_path=options.ckpt_path,
            videos=options.videos,
            out=options.out,
            operating_point=point,
            threshold=options.threshold,
            detector=options.detector,
            detector_model=options.detector_model,
            batch_size=options.batch_size,
            preprocess_workers=options.preprocess_workers,
            progress=not options.quiet,
            overrides=tuple(unknown),
        )
    )
