"""MFoMDetector and MFoMLSTMDetector: shapes, the losses against the paper's formulas, alpha/beta
training, ``init_from``, DET points, and the configs through the CLI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepfake_suite.errors import SuiteError
from lightning_modules.base import default_adam
from lightning_modules.mfom import MFoMDetector, MFoMLSTMDetector, write_det_points
from losses.mfom_loss import MFoMLoss
from metrics.detection import DetectionMetrics
from tests.conftest import REPO, TINY_SOURCE

EXPERIMENTS = REPO / "experiments"
TINY_CNN = "mobilenetv3_small_050"  # a MobileNet, as in the paper, small enough for CPU tests


def _cnn(**kwargs) -> MFoMDetector:
    torch.manual_seed(0)
    return MFoMDetector(**{"backbone": TINY_CNN, "pretrained": False, **kwargs})


def _lstm(**kwargs) -> MFoMLSTMDetector:
    torch.manual_seed(0)
    defaults = {"backbone": "test_resnet", "pretrained": False, "hidden_size": 12, "fc_size": 6}
    return MFoMLSTMDetector(**{**defaults, **kwargs})


def _mfom(model: MFoMDetector | MFoMLSTMDetector) -> MFoMLoss:
    assert isinstance(model.criterion, MFoMLoss)
    return model.criterion


def _frame_batch(n: int = 6, size: int = 32) -> dict:
    generator = torch.Generator().manual_seed(1)
    return {
        "frames": torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator),
        "label": torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])[:n],
        "video_index": torch.arange(n) // 2,
        "index": torch.arange(n),
        "video_id": [f"v{i // 2}" for i in range(n)],
    }


def _clip_batch(n: int = 2, t: int = 6, size: int = 32) -> dict:
    generator = torch.Generator().manual_seed(2)
    return {
        "frames": torch.randint(0, 256, (n, t, 3, size, size), dtype=torch.uint8, generator=generator),
        "mask": torch.ones(n, t, dtype=torch.bool),
        "label": torch.tensor([0.0, 1.0])[:n],
        "index": torch.arange(n),
        "video_id": [f"v{i}" for i in range(n)],
    }


# ---------------------------------------------------------------------- references from the paper


def _bce_reference(logits: list[float], labels: list[float]) -> float:
    total = 0.0
    for z, y in zip(logits, labels, strict=True):
        p = 1.0 / (1.0 + math.exp(-z))
        total -= y * math.log(p) + (1.0 - y) * math.log(1.0 - p)
    return total / len(logits)


def _mfom_reference(
    logits: list[float], labels: list[float], objective: str, p_target: float, alpha: float, beta: float
) -> float:
    """Eqs. 6-14 written out per sample, discriminants (g_real, g_fake) = (0, z), eta = 1, lambda = 0.5."""
    misses, false_alarms, n_fake, n_real = 0.0, 0.0, 0, 0
    for z, y in zip(logits, labels, strict=True):
        psi = -z + math.log(math.exp(0.0))  # eq. 6: the competing set is {real}, g_real = 0
        counter = 1.0 / (1.0 + math.exp(-alpha * psi - beta))  # eq. 8
        if y == 1:
            misses, n_fake = misses + counter, n_fake + 1  # eq. 11
        else:
            false_alarms, n_real = false_alarms + (1.0 - counter), n_real + 1  # eq. 12
    p_miss, p_fa = misses / n_fake, false_alarms / n_real
    if objective == "mfom_dcf":
        return p_target * p_miss + (1.0 - p_target) * p_fa  # eq. 13
    return p_fa + 0.5 * abs(p_miss - p_fa)  # eq. 14


# ---------------------------------------------------------------------- hand-made batches


def test_cnn_gives_one_logit_per_frame() -> None:
    out = _cnn().eval()(_frame_batch())
    assert set(out) == {"frame"}
    assert out["frame"].shape == (6,)


@pytest.mark.parametrize("objective", ["ce", "mfom_eer", "mfom_dcf"])
def test_loss_equals_the_paper_formula_on_the_same_logits(objective: str) -> None:
    model = _cnn(objective=objective, p_target=0.05, alpha_init=1.7, beta_init=-0.3).train()
    batch = _frame_batch()
    outputs = model(batch)
    loss = model.compute_loss(outputs, batch)["loss"]
    logits, labels = outputs["frame"].detach().double().tolist(), batch["label"].tolist()
    if objective == "ce":
        expected = _bce_reference(logits, labels)
    else:
        expected = _mfom_reference(logits, labels, objective, 0.05, alpha=1.7, beta=-0.3)
        # and the suite's MFoMLoss on the same logits
        kind = objective.removeprefix("mfom_")
        direct = MFoMLoss(kind, p_target=0.05, alpha_init=1.7, beta_init=-0.3)  # type: ignore[arg-type]
        torch.testing.assert_close(loss, direct(outputs["frame"], batch["label"]))
    assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_alpha_and_beta_get_gradients_and_reach_the_optimizer() -> None:
    model = _cnn(objective="mfom_dcf", p_target=0.1)
    model.optimizer_factory = default_adam
    batch = _frame_batch()
    model.compute_loss(model(batch), batch)["loss"].backward()
    alpha, beta = _mfom(model).alpha, _mfom(model).beta
    assert alpha.grad is not None and alpha.grad.abs() > 0
    assert beta.grad is not None and beta.grad.abs() > 0
    optimizer = model.configure_optimizers()
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert {id(alpha), id(beta)} <= in_optimizer
    assert {id(p) for p in model.net.parameters()} <= in_optimizer
    before = (alpha.item(), beta.item())
    optimizer.step()
    assert (alpha.item(), beta.item()) != before


def test_criterion_lr_gives_alpha_and_beta_their_own_group() -> None:
    assert list(_cnn(objective="ce", criterion_lr=0.1).criterion.parameters()) == []
    model = _cnn(objective="mfom_eer", criterion_lr=0.1)
    model.optimizer_factory = default_adam  # lr 1e-4
    groups = model.configure_optimizers().param_groups
    assert [g["lr"] for g in groups] == [1e-4, 0.1]
    assert [id(p) for p in groups[1]["params"]] == [id(_mfom(model).alpha), id(_mfom(model).beta)]
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.net.parameters()}
    with pytest.raises(SuiteError, match="criterion_lr"):
        _cnn(objective="mfom_eer", criterion_lr=0.0)


def test_dcf_prior_outside_the_reported_ones_is_reported_and_selects_models() -> None:
    model = _cnn(objective="mfom_dcf", p_target=0.02)
    assert model.metrics["val_video"].p_targets == (0.1, 0.05, 0.01, 0.02)
    assert model._selection_key == "val/video_min_dcf_002"
    assert _cnn(objective="mfom_eer")._selection_key == "val/video_eer"


@pytest.mark.parametrize(
    ("kwargs", "named"), [({"objective": "mfom"}, "objective"), ({"p_target": 1.0}, "p_target")]
)
def test_bad_objective_settings_are_named(kwargs: dict, named: str) -> None:
    with pytest.raises(SuiteError, match=f"model.init_args.{named}"):
        _cnn(**kwargs)


# ---------------------------------------------------------------------- init_from


def _lightning_checkpoint(model: torch.nn.Module, path: Path) -> Path:
    """The layout Lightning saves (state_dict with optimizer state beside it)."""
    torch.save({"epoch": 3, "state_dict": model.state_dict(), "optimizer_states": [{"state": {}}]}, path)
    return path


def test_init_from_loads_exactly_the_baseline_network_and_only_for_fit(tmp_path: Path) -> None:
    baseline = _cnn(objective="ce")
    with torch.no_grad():  # weights no fresh init can produce
        for param in baseline.net.parameters():
            param.add_(torch.randn_like(param))
    path = _lightning_checkpoint(baseline, tmp_path / "best.ckpt")
    finetune = _cnn(objective="mfom_dcf", init_from=str(path), alpha_init=2.0, beta_init=0.5)
    finetune.setup("test")  # test/predict take every weight from their own checkpoint
    assert not torch.equal(finetune.net.head.weight, baseline.net.head.weight)
    finetune.setup("fit")
    expected = baseline.net.state_dict()
    loaded = finetune.net.state_dict()
    assert loaded.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(loaded[key], tensor), key
    assert _mfom(finetune).alpha.item() == 2.0 and _mfom(finetune).beta.item() == 0.5


def test_init_from_missing_file_names_the_setting_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "runs" / "mfom_cnn" / "checkpoints" / "best.ckpt"
    model = _cnn(objective="mfom_eer", init_from=str(missing))
    with pytest.raises(SuiteError, match=r"model\.init_args\.init_from") as error:
        model.setup("fit")
    assert str(missing) in str(error.value)


def test_init_from_other_network_names_the_first_mismatched_key(tmp_path: Path) -> None:
    other = _lightning_checkpoint(_cnn(backbone="test_efficientnet"), tmp_path / "other.ckpt")
    with pytest.raises(SuiteError, match=r"'net\.[\w.]+'"):
        _cnn(init_from=str(other)).setup("fit")
    wider_head = _cnn()
    wider_head.net.head = torch.nn.Linear(wider_head.net.head.in_features, 2)
    path = _lightning_checkpoint(wider_head, tmp_path / "wide.ckpt")
    with pytest.raises(SuiteError, match=r"'net\.head\.weight' .* shape \(2, 1024\)"):
        _cnn(init_from=str(path)).setup("fit")
    torch.save({"net.head.weight": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(SuiteError, match="not a Lightning checkpoint"):
        _cnn(init_from=str(tmp_path / "plain.pt")).setup("fit")


# ---------------------------------------------------------------------- LSTM baseline


def test_lstm_scores_each_subsequence_and_ignores_padding() -> None:
    model = _lstm().eval()
    batch = _clip_batch(n=1, t=6)
    assert model(_clip_batch())["clip"].shape == (2,)
    padded = {**batch, "mask": torch.tensor([[True, True, True, True, False, False]])}
    padded["frames"] = batch["frames"].clone()
    padded["frames"][:, 4:] = batch["frames"][:, 3:4]  # the clip loader repeats the last frame
    truncated = {**batch, "frames": batch["frames"][:, :4], "mask": batch["mask"][:, :4]}
    with torch.no_grad():
        torch.testing.assert_close(model(padded)["clip"], model(truncated)["clip"])
        assert not torch.allclose(model(batch)["clip"], model(truncated)["clip"])


def test_lstm_video_score_is_the_mean_of_its_subsequence_probabilities() -> None:
    model = _lstm()
    # Six subsequences of four videos (two real, two fake), as consecutive windows would give.
    logits = torch.tensor([0.2, -1.0, 2.0, 0.5, -0.3, 1.5])
    labels = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    video_index = torch.tensor([0, 0, 1, 1, 2, 3])
    batch = {"label": labels, "index": torch.arange(6), "video_index": video_index}
    model.update_metrics("test", {"clip": logits}, batch)
    video = model.metrics["test_video"].compute()
    probabilities = torch.sigmoid(logits).tolist()
    means = [sum(probabilities[i] for i in range(6) if video_index[i] == v) / 2 for v in (0, 1)]
    means += [probabilities[4], probabilities[5]]
    assert video["test/video_auc"].item() == pytest.approx(roc_auc_score([0, 1, 0, 1], means))
    clip = model.metrics["test_clip"].compute()
    assert clip["test/clip_auc"].item() == pytest.approx(roc_auc_score(labels.tolist(), probabilities))


def test_frozen_feature_extractor_stays_out_of_the_optimizer_and_in_eval_mode() -> None:
    model = _lstm(freeze_backbone=True, objective="mfom_eer")
    model.optimizer_factory = default_adam
    trained = {id(p) for group in model.configure_optimizers().param_groups for p in group["params"]}
    assert not trained & {id(p) for p in model.net.backbone.parameters()}
    assert {id(_mfom(model).alpha), id(_mfom(model).beta)} <= trained
    model.train()
    assert not model.net.backbone.training and model.net.lstm.training


# ---------------------------------------------------------------------- DET points


def test_det_points_file_holds_every_threshold_of_each_level(tmp_path: Path) -> None:
    scores = [0.9, 0.2, 0.6, 0.6, 0.4, 0.75, 0.1, 0.3]
    labels = [1, 0, 1, 0, 0, 1, 0, 1]
    videos = [0, 0, 1, 1, 2, 2, 3, 3]
    frame = DetectionMetrics("test/frame_")
    video = DetectionMetrics("test/video_", aggregate="mean")
    # video labels must be constant per video: relabel by video for the video level
    video_labels = [1, 1, 0, 0, 1, 1, 0, 0]
    as_tensor = torch.tensor(scores, dtype=torch.float64)  # thresholds then read back exactly
    frame.update(as_tensor, torch.tensor(labels), sample_id=torch.arange(8))
    video.update(
        as_tensor, torch.tensor(video_labels), sample_id=torch.arange(8), group_id=torch.tensor(videos)
    )
    path = write_det_points({"frame": frame, "video": video}, tmp_path / "det_points.csv")
    rows = list(csv.DictReader(path.open()))
    video_scores = [sum(scores[2 * v : 2 * v + 2]) / 2 for v in range(4)]
    for level, level_scores, level_labels in (
        ("frame", scores, labels),
        ("video", video_scores, video_labels[::2]),
    ):
        level_rows = [r for r in rows if r["level"] == level]
        thresholds = [float(r["threshold"]) for r in level_rows]
        assert thresholds == pytest.approx([*sorted(set(level_scores)), math.inf], rel=1e-12)
        n_fake = sum(level_labels)
        n_real = len(level_labels) - n_fake
        for row, t in zip(level_rows, thresholds, strict=True):
            pairs = list(zip(level_scores, level_labels, strict=True))
            p_miss = sum(1 for s, y in pairs if y == 1 and s < t) / n_fake
            p_fa = sum(1 for s, y in pairs if y == 0 and s >= t) / n_real
            assert float(row["p_miss"]) == pytest.approx(p_miss)
            assert float(row["p_fa"]) == pytest.approx(p_fa)


# ---------------------------------------------------------------------- configs through the CLI


def _tiny_data_args(root: Path, tmp_path: Path, frames_key: str) -> list[str]:
    source = "data.init_args.source.init_args"
    return [
        f"--{source}.root={root}",
        *[f"--{source}.{key}={json.dumps(value)}" for key, value in TINY_SOURCE.items()],
        f"--data.init_args.{frames_key}=3",
        "--data.init_args.frame_size=32",
        "--data.init_args.batch_size=6",
        "--data.init_args.num_workers=0",
        f"--runs_dir={tmp_path / 'runs'}",
        f"--results_dir={tmp_path / 'results'}",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]


def _configs(name: str) -> list[str]:
    return [
        "--config",
        str(EXPERIMENTS / f"{name}.yaml"),
        "--config",
        str(EXPERIMENTS / "smoke" / f"{name}.yaml"),
    ]


QUICK = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2"]


def test_cli_baseline_fit_test_then_finetune_from_its_checkpoint(
    tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    from deepfake_suite.cli import main

    data = _tiny_data_args(tiny_synthetic_root, tmp_path, "frames_per_video")
    main(["fit", *_configs("mfom_cnn"), *data, *QUICK, "--run_name=base"])
    best = tmp_path / "runs" / "base" / "checkpoints" / "best.ckpt"
    assert best.is_file()
    main(["test", *_configs("mfom_cnn"), *data, "--run_name=base", "--ckpt_path=best"])
    results = json.loads((tmp_path / "results" / "base.json").read_text())
    for level in ("frame", "video"):
        for name in ("eer", "min_dcf_01", "min_dcf_005", "min_dcf_001", "auc"):
            value = results["metrics"][f"test/{level}_{name}"]
            assert value is None or 0.0 <= value <= 1.0 + 1e-9, (level, name, value)
    det = list(csv.DictReader((tmp_path / "runs" / "base" / "det_points.csv").open()))
    assert {row["level"] for row in det} == {"frame", "video"}

    main(
        [
            "fit",
            *_configs("mfom_finetune_dcf"),
            *data,
            *QUICK,
            f"--model.init_args.init_from={best}",
            "--model.init_args.p_target=0.05",
            "--run_name=dcf005",
        ]
    )
    tuned = torch.load(tmp_path / "runs" / "dcf005" / "checkpoints" / "last.ckpt", weights_only=True)
    base_state = torch.load(best, weights_only=True)["state_dict"]
    assert {"criterion.alpha", "criterion.beta"} <= set(tuned["state_dict"])
    assert tuned["hyper_parameters"]["p_target"] == 0.05
    # Two Adam steps from the baseline: moved, but only a little (a fresh init would be far off).
    key = "net.head.weight"
    assert not torch.equal(tuned["state_dict"][key], base_state[key])
    assert (tuned["state_dict"][key] - base_state[key]).abs().max() < 0.01


def test_cli_lstm_smoke_config_runs_a_step(tiny_synthetic_root: Path, tmp_path: Path) -> None:
    from deepfake_suite.cli import main

    data = _tiny_data_args(tiny_synthetic_root, tmp_path, "clip_len")
    main(["fit", *_configs("mfom_lstm"), *data, "--trainer.fast_dev_run=true", "--run_name=lstm"])


def test_cli_finetune_without_baseline_checkpoint_says_what_to_do(
    tiny_synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deepfake_suite.cli import main

    data = _tiny_data_args(tiny_synthetic_root, tmp_path, "frames_per_video")
    missing = tmp_path / "nowhere" / "best.ckpt"
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *_configs("mfom_finetune_eer"), *data, *QUICK, f"--model.init_args.init_from={missing}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"model.init_args.init_from: checkpoint file not found: {missing}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "network", "feature_dim"),
    [
        ("mfom_cnn", "FrameClassifier", 1024),
        ("mfom_finetune_eer", "FrameClassifier", 1024),
        ("mfom_finetune_dcf", "FrameClassifier", 1024),
        ("mfom_lstm", "SequenceClassifier", 2048),
    ],
)
def test_paper_configs_build_the_paper_networks(
    name: str, network: str, feature_dim: int, tmp_path: Path
) -> None:
    from deepfake_suite.lightning_cli import SuiteCLI

    cli = SuiteCLI(
        args=[
            "--config",
            str(EXPERIMENTS / f"{name}.yaml"),
            "--model.init_args.pretrained=false",
            "--trainer.logger=false",
            f"--runs_dir={tmp_path}",
        ],
        run=False,
    )
    model = cli.model
    assert type(model.net).__name__ == network
    if network == "FrameClassifier":
        assert model.hparams.backbone == "mobilenetv1_100" and model.hparams.pretrained is False
        assert model.net.head.in_features == feature_dim
        assert cli.datamodule.frame_size == 256
        assert cli.trainer.max_epochs == (20 if name == "mfom_cnn" else 5)
        assert model.objective == {"mfom_cnn": "ce", "mfom_finetune_eer": "mfom_eer"}.get(name, "mfom_dcf")
    else:
        assert model.net.lstm.input_size == feature_dim and model.net.lstm.hidden_size == 2048
        assert cli.datamodule.clip_len == 20 and cli.datamodule.frame_size == 299


# ---------------------------------------------------------------------- learning (slow)


@pytest.mark.slow
def test_smoke_baseline_and_mfom_finetune_learn(tmp_path: Path) -> None:
    """The smoke CE baseline, then MFoM-DCF (P_tar 0.1) from its best checkpoint, both on test data.

    Measured on 2 busy CPU cores (the repo's smoke set): baseline test video AUC 0.68, EER 0.375;
    the fine-tune 0.71, EER 0.375. The tiny from-scratch CNN sees 8 frames of 64x64 per video.
    """
    from deepfake_suite.cli import main

    common = [
        f"--data.init_args.source.init_args.root={tmp_path / 'data'}",
        f"--runs_dir={tmp_path / 'runs'}",
        f"--results_dir={tmp_path / 'results'}",
        "--trainer.logger=false",
    ]
    main(["fit", *_configs("mfom_cnn"), *common, "--run_name=base"])
    main(["test", *_configs("mfom_cnn"), *common, "--run_name=base", "--ckpt_path=best"])
    best = tmp_path / "runs" / "base" / "checkpoints" / "best.ckpt"
    tune = [*_configs("mfom_finetune_dcf"), *common, f"--model.init_args.init_from={best}", "--run_name=dcf"]
    main(["fit", *tune])
    main(["test", *tune, "--ckpt_path=best"])
    for run in ("base", "dcf"):
        metrics = json.loads((tmp_path / "results" / f"{run}.json").read_text())["metrics"]
        assert metrics["test/video_auc"] > 0.65, (run, metrics)
        assert metrics["test/video_eer"] < 0.45, (run, metrics)
