"""Helpers the real-dataset adapters share: config-key errors and the seeded group split."""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterable
from pathlib import Path

from deepfake_suite.errors import SuiteError


def config_key(arg: str) -> str:
    """The full config key of a source argument, for error messages."""
    return f"data.init_args.source.init_args.{arg}"


def require_dir(path: Path, arg: str, what: str) -> Path:
    """``path`` if it is a folder, else a :class:`SuiteError` naming it and the config key."""
    if not path.is_dir():
        raise SuiteError(f"{what} not found: {path} (set {config_key(arg)})")
    return path


def require_file(path: Path, arg: str, what: str) -> Path:
    """``path`` if it is a file, else a :class:`SuiteError` naming it and the config key."""
    if not path.is_file():
        raise SuiteError(f"{what} not found: {path} (set {config_key(arg)})")
    return path


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Refuse fractions outside [0, 1] or summing to more than 1, naming both keys."""
    if not (
        0.0 <= val_fraction <= 1.0 and 0.0 <= test_fraction <= 1.0 and val_fraction + test_fraction <= 1.0
    ):
        raise SuiteError(
            f"{config_key('val_fraction')} and {config_key('test_fraction')} must lie in [0, 1] and sum "
            f"to at most 1, got {val_fraction} and {test_fraction}"
        )


def _share(fraction: float, total: int) -> int:
    # Round half up (Python's round() rounds half to even), and give a non-zero fraction at
    # least one group so that a small dataset never silently loses a requested split.
    count = math.floor(fraction * total + 0.5)
    return max(count, 1) if fraction > 0 and total > 0 else count


def group_split(
    groups: Iterable[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """Assign each group (identity, part, ...) to ``train``, ``val`` or ``test``, reproducibly.

    Groups are ranked by ``sha256(f"{seed}/{group}")``: the first ``test_fraction`` of the
    ranking go to test, the next ``val_fraction`` to val, the rest to train. A hash rank, unlike
    a shuffled list, does not depend on the Python version, and adding a group moves at most
    the groups next to it in the ranking rather than reshuffling everything.

    Args:
        groups: Group names; duplicates are ignored.
        val_fraction: Share of the groups put in val.
        test_fraction: Share of the groups put in test.
        seed: Seed of the ranking.

    Returns:
        ``{group: split}``.
    """
    check_fractions(val_fraction, test_fraction)
    ranked = sorted(set(groups), key=lambda g: hashlib.sha256(f"{seed}/{g}".encode()).hexdigest())
    n_test, n_val = _share(test_fraction, len(ranked)), _share(val_fraction, len(ranked))
    if n_test + n_val > len(ranked):
        raise SuiteError(
            f"{len(ranked)} groups are too few for {config_key('val_fraction')}={val_fraction} and "
            f"{config_key('test_fraction')}={test_fraction}: every non-zero fraction needs one group"
        )
    return {
        g: "test" if i < n_test else "val" if i < n_test + n_val else "train" for i, g in enumerate(ranked)
    }


def warn_missing(missing: list[str], where: str, listed_in: str) -> None:
    """One warning for videos a split file lists but the disk lacks (partial downloads)."""
    if missing:
        shown = ", ".join(sorted(missing)[:5]) + (
            f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        )
        warnings.warn(
            f"{len(missing)} videos listed in {listed_in} are missing under {where}: {shown}", stacklevel=3
        )
