"""Experiments of the smoke tier that name the same synthetic folder must ask for the same data.

The generator refuses a folder made with other parameters, so two experiments that disagree fail
at run time, and which one fails depends on which ran first (a TripletFaceNet smoke config change
broke the metric-learning triplet run this way). Checked here on the resolved configs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from deepfake_suite.lightning_cli import SuiteCLI
from reproduce.papers import EXPERIMENTS
from reproduce.runner import Layout, commands

IGNORED = {"num_workers"}  # how the set is rendered, not what it holds


class _ParseOnly(SuiteCLI):
    def instantiate_classes(self) -> None:  # the resolved config is all this test needs
        pass


def _synthetic_sources(source: Any) -> list[tuple[str, dict[str, Any]]]:
    if source is None:
        return []
    class_path = source["class_path"]
    init = dict(source.get("init_args") or {})
    if class_path.endswith("SyntheticSource"):
        return [(str(init.pop("root")), {k: v for k, v in init.items() if k not in IGNORED})]
    if class_path.endswith("CombinedSource"):
        return [found for child in init["sources"] for found in _synthetic_sources(child)]
    if "source" in init:  # wrappers such as ReencodedSource
        return _synthetic_sources(init["source"])
    return []


def _resolved_source(arguments: list[str]) -> Any:
    kept = [a for a in arguments if not a.startswith(("--trainer.logger", "--ckpt_path"))]
    cli = _ParseOnly(args=kept, run=False)
    return cli.config.data.init_args.source.as_dict()


def test_smoke_experiments_sharing_a_synthetic_folder_ask_for_the_same_data(tmp_path: Any) -> None:
    layout = Layout(tmp_path, "smoke")
    requested: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for experiment in EXPERIMENTS:
        first = commands(experiment, layout, logger_args=["--trainer.logger=false"])[0]
        for root, params in _synthetic_sources(_resolved_source(first[1:])):
            requested[root].setdefault(repr(sorted(params.items())), []).append(experiment.name)
    assert len(requested) > 5  # the smoke tier's stand-ins were all found
    conflicts = {root: variants for root, variants in requested.items() if len(variants) > 1}
    assert not conflicts, conflicts
