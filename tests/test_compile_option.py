"""``compile``: one option name for every detector; paper configs turn it on, smoke configs off, and
compiling in place keeps the checkpoint keys of an eager model."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"


def _model_class(config: dict) -> type | None:
    class_path = (config.get("model") or {}).get("class_path")
    if not class_path:
        return None
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _paper_configs() -> list[Path]:
    return sorted([*EXPERIMENTS.glob("*.yaml"), *(EXPERIMENTS / "baselines").glob("*.yaml")])


def test_every_paper_config_compiles_and_its_smoke_override_does_not() -> None:
    checked = 0
    for path in _paper_configs():
        config = yaml.safe_load(path.read_text())
        model_class = _model_class(config)
        if model_class is None or "compile" not in inspect.signature(model_class).parameters:
            continue
        assert config["model"]["init_args"].get("compile") is True, f"{path.relative_to(REPO)}: compile: true"
        smoke = EXPERIMENTS / "smoke" / path.relative_to(EXPERIMENTS)
        if smoke.is_file():
            smoke_args = (yaml.safe_load(smoke.read_text()).get("model") or {}).get("init_args", {})
            assert smoke_args.get("compile") is False, f"{smoke.relative_to(REPO)}: compile: false"
        checked += 1
    assert checked >= 15  # every detector family and baseline


def test_no_detector_keeps_an_older_option_name() -> None:
    for path in [*_paper_configs(), *(EXPERIMENTS / "smoke").rglob("*.yaml")]:
        text = path.read_text()
        for old in ("compile_backbone", "compile_extractor", "compile_embedder"):
            assert old not in text, f"{path.relative_to(REPO)} uses {old}; the option is 'compile'"


@pytest.mark.parametrize("name", ["DualLevelAUCNet", "AttributionXception"])
def test_compile_wraps_the_cnn_in_place_and_keeps_checkpoint_keys(name: str) -> None:
    import lightning_modules

    detector = getattr(lightning_modules, name)
    eager = detector(backbone="test_resnet", pretrained=False)
    compiled = detector(backbone="test_resnet", pretrained=False, compile=True)
    wrapped = [m for m in compiled.modules() if getattr(m, "_compiled_call_impl", None) is not None]
    assert wrapped, f"{name}(compile=True) compiled nothing"
    assert not [m for m in eager.modules() if getattr(m, "_compiled_call_impl", None) is not None]
    assert list(compiled.state_dict()) == list(eager.state_dict())
