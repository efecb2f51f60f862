"""Baselines of the dual-level paper: MesoNet layer sizes, the frame classifier's losses, and the CLI.

Parameter counts are recomputed from the MesoNet layer list (Afchar et al., 2018) and checked
against the counts the paper publishes; losses against float64 formulas written out here.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from deepfake_suite.errors import SuiteError
from lightning_modules.baseline_networks import FeatureMLP, Meso4, MesoInception4, TimmClassifier
from lightning_modules.baselines import BinaryFrameClassifier
from losses import FocalLoss
from losses.bce_auc_loss import BCEAUCLoss
from tests.conftest import REPO, TINY_SOURCE

BASELINES = REPO / "experiments" / "baselines"
SMOKE = REPO / "experiments" / "smoke" / "baselines"
QUICK = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2"]


# ---------------------------------------------------------------------------------- MesoNet


def _conv(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


def _bn(c: int) -> int:
    return 2 * c  # gamma and beta; Keras' moving mean/variance are not trained


def _dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def _inception(c_in: int, a: int, b: int, c: int, d: int) -> int:
    return (
        _conv(1, c_in, a)
        + _conv(1, c_in, b)
        + _conv(3, b, b)
        + _conv(1, c_in, c)
        + _conv(3, c, c)
        + _conv(1, c_in, d)
        + _conv(3, d, d)
    )


def _meso_tail(c_in: int, side: int) -> int:
    # Conv(5x5, 16)-BN, Conv(5x5, 16)-BN, Dense(16), Dense(1) on the flattened side x side x 16 map.
    return (
        _conv(5, c_in, 16)
        + _bn(16)
        + _conv(5, 16, 16)
        + _bn(16)
        + _dense(16 * side * side, 16)
        + _dense(16, 1)
    )


def _flat_side(size: int) -> int:
    for pool in (2, 2, 2, 4):
        size = math.ceil(size / pool)
    return size


def _meso4_count(size: int) -> int:
    return _conv(3, 3, 8) + _bn(8) + _conv(5, 8, 8) + _bn(8) + _meso_tail(8, _flat_side(size))


def _mesoinception4_count(size: int) -> int:
    return (
        _inception(3, 1, 4, 4, 2)
        + _bn(11)
        + _inception(11, 2, 4, 4, 2)
        + _bn(12)
        + _meso_tail(12, _flat_side(size))
    )


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_meso_parameter_counts_match_the_layer_list_and_the_published_counts() -> None:
    # Afchar et al. (2018), Sec. 3: 27,977 and 28,615 trainable parameters at 256x256.
    assert _meso4_count(256) == 27_977
    assert _mesoinception4_count(256) == 28_615
    for size in (256, 64, 100):
        assert _n_params(Meso4(input_size=size)) == _meso4_count(size)
        assert _n_params(MesoInception4(input_size=size)) == _mesoinception4_count(size)


@pytest.mark.parametrize("network", [Meso4, MesoInception4])
@pytest.mark.parametrize("size", [256, 64])
def test_meso_gives_one_logit_per_image_and_an_8x8_map_at_256(network: type, size: int) -> None:
    model = network(input_size=size).eval()
    images = torch.rand(3, 3, size, size)
    with torch.no_grad():
        assert model(images).shape == (3,)
        assert model.features(images).shape == (3, 16, _flat_side(size), _flat_side(size))
    assert _flat_side(256) == 8


def test_inception_layer_keeps_the_resolution_of_its_dilated_branches() -> None:
    model = MesoInception4()
    first = model.features[0]
    out = first(torch.rand(2, 3, 20, 20))
    assert out.shape == (2, 11, 20, 20)
    dilations = [branch[-1][0].dilation for branch in first.branches[1:]]
    assert dilations == [(1, 1), (2, 2), (3, 3)]


def test_meso_names_the_size_to_change_when_the_input_does_not_fit() -> None:
    with pytest.raises(ValueError, match="input_size"):
        Meso4(input_size=64)(torch.rand(1, 3, 32, 32))


# ---------------------------------------------------------------------------------- frame classifier


def _batch(n: int = 6, size: int = 64) -> dict:
    generator = torch.Generator().manual_seed(0)
    label = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])[:n]
    frame_label = label.clone()
    frame_label[1] = 0.0  # an untouched frame of a fake video
    return {
        "frames": torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator),
        "label": label,
        "frame_label": frame_label,
        "video_index": torch.tensor([0, 1, 1, 2, 3, 4])[:n],
        "video_id": [f"v{i}" for i in range(n)],
        "index": torch.arange(n),
    }


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _bce(logits: list[float], labels: list[float]) -> float:
    return sum(
        -y * math.log(_sigmoid(s)) - (1 - y) * math.log(1 - _sigmoid(s))
        for s, y in zip(logits, labels, strict=True)
    ) / len(logits)


def _classifier(criterion: torch.nn.Module | None = None, **kwargs) -> BinaryFrameClassifier:
    torch.manual_seed(0)
    return BinaryFrameClassifier(Meso4(input_size=64), criterion, **kwargs)


def test_forward_gives_a_logit_per_frame() -> None:
    out = _classifier().eval()(_batch())
    assert set(out) == {"frame"} and out["frame"].shape == (6,)


def test_default_loss_is_bce_on_each_frames_own_label() -> None:
    model = _classifier()
    batch = _batch()
    outputs = model(batch)
    loss = model.compute_loss(outputs, batch)
    expected = _bce(outputs["frame"].double().tolist(), batch["frame_label"].tolist())
    assert loss["loss"].item() == pytest.approx(expected, rel=1e-6)
    assert expected != pytest.approx(_bce(outputs["frame"].double().tolist(), batch["label"].tolist()))


def test_bce_auc_criterion_equals_eq_4_written_out() -> None:
    alpha, gamma, p = 0.3, 0.4, 2.0
    model = _classifier(BCEAUCLoss(alpha=alpha, gamma=gamma, p=p))
    batch = _batch()
    # Spread the scores so that some pairs violate the margin and some do not.
    logits = torch.tensor([-2.0, 0.3, 1.5, 0.2, -0.1, 2.5], dtype=torch.float64)
    got = model.compute_loss({"frame": logits}, batch)
    labels = batch["frame_label"].tolist()
    scores = [_sigmoid(s) for s in logits.tolist()]
    fakes = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    reals = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    auc = sum(max(0.0, gamma - (f - r)) ** p for f, r in itertools.product(fakes, reals)) / (
        len(fakes) * len(reals)
    )
    bce = _bce(logits.tolist(), labels)
    assert auc > 0 and any(f - r >= gamma for f, r in itertools.product(fakes, reals))
    assert got["loss"].item() == pytest.approx(alpha * bce + (1 - alpha) * auc, rel=1e-9)
    assert got["auc"].item() == pytest.approx(auc, rel=1e-9)  # logged as train/loss_auc
    assert got["bce"].item() == pytest.approx(bce, rel=1e-9)


def test_focal_criterion_equals_lin_et_al_formula() -> None:
    alpha, gamma = 0.6, 2.0
    model = _classifier(FocalLoss(alpha=alpha, gamma=gamma))
    batch = _batch()
    logits = torch.tensor([-1.0, 0.5, 2.0, 0.1, -0.3, 1.2], dtype=torch.float64)
    got = model.compute_loss({"frame": logits}, batch)["loss"].item()
    terms = []
    for s, y in zip(logits.tolist(), batch["frame_label"].tolist(), strict=True):
        p_t = _sigmoid(s) if y == 1 else 1 - _sigmoid(s)
        terms.append(-(alpha if y == 1 else 1 - alpha) * (1 - p_t) ** gamma * math.log(p_t))
    assert got == pytest.approx(sum(terms) / len(terms), rel=1e-9)


def test_single_class_batch_gives_finite_loss_and_gradients() -> None:
    model = _classifier(BCEAUCLoss())
    batch = _batch()
    batch["label"] = batch["frame_label"] = torch.ones(6)
    loss = model._step(batch, "train")
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_pixels_are_normalised_with_the_networks_own_statistics() -> None:
    extremes = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 1, 1)
    meso = _classifier()  # Keras' rescale=1/255
    torch.testing.assert_close(meso.normalize(extremes)[:, :, 0, 0], torch.tensor([[0.0] * 3, [1.0] * 3]))
    xception = BinaryFrameClassifier(TimmClassifier("legacy_xception", pretrained=False))  # mean = std = 0.5
    torch.testing.assert_close(
        xception.normalize(extremes)[:, :, 0, 0], torch.tensor([[-1.0] * 3, [1.0] * 3])
    )


def test_channels_last_gives_the_same_logits() -> None:
    batch = _batch()
    reference = _classifier().eval()
    fast = _classifier(channels_last=True).eval()
    fast.load_state_dict(reference.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fast(batch)["frame"], reference(batch)["frame"], rtol=1e-4, atol=1e-5)


def test_init_checkpoint_loads_the_weights_and_names_a_missing_file(tmp_path: Path) -> None:
    trained = _classifier()
    with torch.no_grad():
        for param in trained.parameters():
            param.add_(1.0)
    path = tmp_path / "best.ckpt"
    torch.save({"state_dict": trained.state_dict()}, path)
    loaded = BinaryFrameClassifier(Meso4(input_size=64), init_checkpoint=str(path))
    for a, b in zip(loaded.parameters(), trained.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(SuiteError, match=r"init_checkpoint.*not found"):
        BinaryFrameClassifier(Meso4(input_size=64), init_checkpoint=str(tmp_path / "missing.ckpt"))
    with pytest.raises(SuiteError, match="does not fit"):
        BinaryFrameClassifier(MesoInception4(input_size=64), init_checkpoint=str(path))


def test_feature_mlp_has_four_linear_layers_and_a_frozen_extractor() -> None:
    net = FeatureMLP("test_resnet", pretrained=False, hidden_sizes=(32, 16, 8))
    linears = [m for m in net.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (net.backbone.num_features, 32),
        (32, 16),
        (16, 8),
        (8, 1),
    ]
    net.train()
    assert not net.backbone.training  # BatchNorm statistics of a fixed extractor stay fixed
    net(torch.rand(4, 3, 32, 32)).sum().backward()
    assert all(p.grad is None for p in net.backbone.parameters())
    assert all(p.grad is not None for p in net.mlp.parameters())


# ---------------------------------------------------------------------------------- configs and CLI


def _paper_configs() -> list[Path]:
    return sorted(BASELINES.glob("*.yaml"))


def test_every_baseline_has_a_smoke_override() -> None:
    assert {p.name for p in _paper_configs()} == {p.name for p in SMOKE.glob("*.yaml")}
    assert {p.stem for p in _paper_configs()} >= {
        "meso4",
        "mesoinception4",
        "xception",
        "xception_auc",
        "feature_mlp",
        "cnn_gru",
        "cnn_lstm",
    }


def _common(config: Path, root: Path, tmp_path: Path) -> list[str]:
    source = "data.init_args.source.init_args"
    return [
        "--config",
        str(config),
        "--config",
        str(SMOKE / config.name),
        f"--{source}.root={root}",
        *[f"--{source}.{key}={json.dumps(value)}" for key, value in TINY_SOURCE.items()],
        "--data.init_args.batch_size=8",
        f"--runs_dir={tmp_path / 'runs'}",
        f"--results_dir={tmp_path / 'results'}",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]


@pytest.mark.parametrize("config", _paper_configs(), ids=lambda p: p.stem)
def test_smoke_config_fits_and_tests_through_the_cli(
    config: Path, tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    from deepfake_suite.cli import main

    clip_level = "clip_len" in yaml.safe_load((SMOKE / config.name).read_text())["data"]["init_args"]
    size = ["--data.init_args.clip_len=4"] if clip_level else ["--data.init_args.frames_per_video=3"]
    common = [*_common(config, tiny_synthetic_root, tmp_path), *size, "--run_name=quick"]
    main(["fit", *common, *QUICK])
    main(["test", *common, "--ckpt_path=best"])
    results = json.loads((tmp_path / "results" / "quick.json").read_text())
    assert results["ckpt_path"] == str(tmp_path / "runs" / "quick" / "checkpoints" / "best.ckpt")
    # Frame-level baselines report both levels (videos by mean frame probability); the
    # clip-level ones have no frame classifier, so no frame metrics.
    levels = {"video"} if clip_level else {"frame", "video"}
    reported = {level for level in ("frame", "video") if f"test/{level}_auc" in results["metrics"]}
    assert reported == levels
    for level in levels:
        value = results["metrics"][f"test/{level}_auc"]
        assert value is None or 0.0 <= value <= 1.0


@pytest.mark.parametrize("config", _paper_configs(), ids=lambda p: p.stem)
def test_paper_config_parses_alone_and_with_its_smoke_override(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deepfake_suite.lightning_cli import SuiteCLI

    for stack in ([config], [config, SMOKE / config.name]):
        # run=False parses like `fit` without building a parser per subcommand: half the time.
        with pytest.raises(SystemExit) as exit_info:
            SuiteCLI(
                args=[*[arg for c in stack for arg in ("--config", str(c))], "--print_config"], run=False
            )
        assert exit_info.value.code in (0, None)
        printed = yaml.safe_load(capsys.readouterr().out)
        assert printed["model"]["class_path"] == yaml.safe_load(config.read_text())["model"]["class_path"]


def _without_weights(config: Path) -> list[str]:
    model = yaml.safe_load(config.read_text())["model"]["init_args"]
    key = "network.init_args.pretrained" if "network" in model else "pretrained"
    return [f"--model.init_args.{key}=false"] if "pretrained" in str(model) else []


@pytest.mark.parametrize("config", _paper_configs(), ids=lambda p: p.stem)
def test_paper_config_builds_its_model(config: Path, tmp_path: Path) -> None:
    from deepfake_suite.lightning_cli import SuiteCLI

    cli = SuiteCLI(
        args=[
            "--config",
            str(config),
            *_without_weights(config),
            "--trainer.logger=false",
            f"--runs_dir={tmp_path}",
        ],
        run=False,
    )
    expected = yaml.safe_load(config.read_text())["model"]["class_path"].rsplit(".", 1)[-1]
    assert type(cli.model).__name__ == expected
    assert cli.trainer.precision == "bf16-mixed"  # the GPU tier switches mixed precision on


@pytest.mark.slow
def test_meso4_smoke_config_learns_clearly_better_than_chance(tmp_path: Path) -> None:
    from deepfake_suite.cli import main

    config = BASELINES / "meso4.yaml"
    common = [
        "--config", str(config), "--config", str(SMOKE / config.name),
        f"--data.init_args.source.init_args.root={tmp_path / 'data'}",
        f"--runs_dir={tmp_path / 'runs'}", f"--results_dir={tmp_path / 'results'}",
        "--trainer.logger=false", "--run_name=learn",
    ]  # fmt: skip
    main(["fit", *common])
    main(["test", *common, "--ckpt_path=best"])
    metrics = json.loads((tmp_path / "results" / "learn.json").read_text())["metrics"]
    # Measured: frame AUC 0.716, video AUC 0.729 (64 test videos); 3 min of CPU on 2 cores.
    assert metrics["test/frame_auc"] > 0.65
    assert metrics["test/video_auc"] > 0.65
