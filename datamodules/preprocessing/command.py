"""``deepfake-suite preprocess``: the arguments of :func:`preprocess` as a jsonargparse command.

The source is given like the training commands give it (``--source.class_path`` and
``--source.init_args.*``, or a ``source:`` section in ``--config``), so one dataset block can be
copied between a preprocessing config and a training config.
"""

from __future__ import annotations

from jsonargparse import ActionConfigFile, ArgumentParser

from datamodules.preprocessing.pipeline import preprocess


def build_parser() -> ArgumentParser:
    """The ``preprocess`` parser, built from :func:`preprocess`'s signature and docstring."""
    parser = ArgumentParser(
        prog="deepfake-suite preprocess",
        description="Detect, track and crop the main face of every video of a source into a face-crop "
        "store (resumable: run it again to finish an interrupted run).",
        exit_on_error=True,
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML file with any of the options below.")
    parser.add_function_arguments(preprocess, as_group=False)
    return parser


def preprocess_command(args: list[str]) -> None:
    """Parse ``args`` (without the word ``preprocess``) and run :func:`preprocess`."""
    parser = build_parser()
    config = parser.parse_args(args)
    init = parser.instantiate(config)
    kwargs = {key: value for key, value in init.items() if key != "config"}
    preprocess(**kwargs)
