"""bench/detector_bench.py runs each kind of paper config (clips, frames, two-stage) on a CPU at tiny
sizes: the H100 measurement of issues 5 and 6 is then one command, not a debugging session."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("detector_bench", REPO / "bench" / "detector_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["detector_bench"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_detector_and_backbone_rates_for_clip_frame_and_two_stage_configs(tmp_path: Path) -> None:
    bench = _bench()
    out = tmp_path / "rows.json"
    rows = bench.main(
        [
            "--device", "cpu", "--only", "dual_level,attribution_binary,siamese_lstm",
            "--batch", "2", "--clip-len", "2", "--frame-size", "64",
            "--steps", "1", "--warmup", "1", "--precision", "32-true", "--no-compile", "--out", str(out),
        ]
    )  # fmt: skip
    by_config = {row.config: row for row in rows}
    assert set(by_config) == {"dual_level", "attribution_binary", "siamese_lstm"}
    for row in rows:
        assert not row.note, (row.config, row.note)
        assert row.detector_fps > 0 and row.backbone_fps > 0 and math.isfinite(row.ratio)
    assert by_config["dual_level"].frames_per_step == 4  # 2 clips x 2 frames
    assert by_config["attribution_binary"].frames_per_step == 2
    assert (by_config["dual_level"].backbone, by_config["attribution_binary"].backbone) == (
        "resnet50.tv_in1k",
        "legacy_xception",
    )
    assert [r["config"] for r in json.loads(out.read_text())] == [r.config for r in rows]


def test_a_config_that_cannot_run_is_reported_and_the_others_go_on(tmp_path: Path) -> None:
    bench = _bench()
    args = ["--device", "cpu", "--batch", "2", "--frame-size", "64", "--steps", "1", "--warmup", "0"]
    rows = bench.main([*args, "--only", "baselines/meso4", "--precision", "no-such-precision"])
    assert rows[0].note.startswith("failed:") and "precision" in rows[0].note
