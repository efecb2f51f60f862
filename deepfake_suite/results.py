"""``results/<run_name>.json``: the test metrics of a run with what is needed to trace them."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
from pathlib import Path
from typing import Any

from deepfake_suite.atomic import atomic_write_json

RESULTS_FORMAT_VERSION = 1


def code_version() -> str:
    """The suite's git commit (``+dirty`` with uncommitted changes), or ``unknown`` outside a checkout.

    Recorded in every results file: a number in a table must say which code produced it.
    """
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def write_results(
    *,
    results_dir: str | Path,
    run_name: str,
    metrics: dict[str, float],
    config_files: list[str],
    resolved_config: str,
    ckpt_path: str | None,
    model: str,
    data: str,
    seed: Any,
) -> Path:
    """Write the results file atomically, so a table script never reads half a file."""
    payload = {
        "format_version": RESULTS_FORMAT_VERSION,
        "run_name": run_name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config_files": config_files,
        "resolved_config": resolved_config,
        "ckpt_path": ckpt_path,
        "model": model,
        "data": data,
        "seed": seed,
        "commit": code_version(),
        # JSON has no NaN; a metric undefined on this test set (one class missing) is null.
        "metrics": {k: (None if math.isnan(v) else v) for k, v in sorted(metrics.items())},
    }
    return atomic_write_json(Path(results_dir) / f"{run_name}.json", payload)


def print_metrics(metrics: dict[str, float], title: str) -> None:
    """Print metrics as two columns, frame and video level side by side when both exist."""
    levels: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        name = key.split("/", 1)[-1]
        level, _, metric = name.partition("_")
        if not metric:
            level, metric = "", name
        levels.setdefault(metric, {})[level] = value
    columns = sorted({level for per_metric in levels.values() for level in per_metric})
    width = max([len(m) for m in levels] + [6])
    print(f"\n{title}")
    print(" " * width + "".join(f"{c or 'value':>12}" for c in columns))
    for metric in sorted(levels):
        cells = "".join(
            f"{levels[metric][c]:>12.4f}" if c in levels[metric] else f"{'-':>12}" for c in columns
        )
        print(f"{metric:<{width}}{cells}")
