"""A stand-in for the suite's CLI in the reproduce-runner tests: same arguments, no training.

``fit`` writes ``<runs_dir>/<run_name>/checkpoints/best.ckpt``; ``test`` checks its checkpoint
exists and writes ``<results_dir>/<run_name>.json`` with ``test/video_auc`` = the length of the run
name / 100, so a test knows which run produced which number. A run name containing ``boom`` fails.
"""

from __future__ import annotations

import json
from pathlib import Path


def _value(arguments: list[str], key: str) -> str | None:
    for argument in arguments:
        if argument.startswith(f"--{key}="):
            return argument.split("=", 1)[1]
    return None


def main(arguments: list[str]) -> None:
    command, name = arguments[0], _value(arguments, "run_name")
    assert name is not None
    print(f"stub {command} {name}")
    if "boom" in name:
        raise RuntimeError(f"{name} exploded")
    if command == "fit":
        checkpoint = Path(str(_value(arguments, "runs_dir"))) / name / "checkpoints" / "best.ckpt"
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_text(name)
        return
    ckpt = _value(arguments, "ckpt_path")
    if ckpt != "best" and not Path(str(ckpt)).is_file():
        raise FileNotFoundError(ckpt)
    results = Path(str(_value(arguments, "results_dir"))) / f"{name}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    tested = name if ckpt == "best" else Path(str(ckpt)).read_text()
    metrics = {"test/video_auc": len(name) / 100, "test/video_eer": None}
    results.write_text(json.dumps({"metrics": metrics, "tested_checkpoint_of": tested}))
