"""SiameseTemporalLSTM (temporal LSTM paper): networks, both stages' losses against their formulas,
the frozen extractor, the stage-1 -> stage-2 checkpoint, Table 1's repeated test subsets, configs."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.synthetic.manipulations import MANIPULATIONS
from deepfake_suite.errors import SuiteError
from lightning_modules.base import default_adam
from lightning_modules.siamese_networks import CNN4, FrameMLPHead, LSTMHead, TimmEncoder
from lightning_modules.siamese_temporal import (
    SiameseFeatureExtractor,
    SiameseTemporalLSTM,
    repeated_test_metrics,
    split_test_groups,
)
from losses.cosine_hinge import CosineSimilarityHingeLoss
from tests.conftest import REPO, TINY_SOURCE

EXPERIMENTS = REPO / "experiments"
TINY = {"extractor": "cnn4", "cnn_widths": (4, 8, 8, 8), "feature_dim": 6}


def _extractor(**kwargs) -> SiameseFeatureExtractor:
    torch.manual_seed(0)
    return SiameseFeatureExtractor(**{**TINY, **kwargs})


def _detector(**kwargs) -> SiameseTemporalLSTM:
    torch.manual_seed(0)
    return SiameseTemporalLSTM(**{**TINY, "hidden_size": 5, "num_layers": 2, **kwargs})


def _batch(n: int = 4, t: int = 5, size: int = 32) -> dict:
    generator = torch.Generator().manual_seed(3)
    return {
        "frames": torch.randint(0, 256, (n, t, 3, size, size), dtype=torch.uint8, generator=generator),
        "mask": torch.ones(n, t, dtype=torch.bool),
        "label": torch.tensor([0.0, 1.0, 1.0, 0.0])[:n],
        "video_index": torch.tensor([0, 0, 1, 2])[:n],
        "index": torch.arange(n),
        "video_id": ["a", "a", "b", "c"][:n],
    }


# ---------------------------------------------------------------------------------- networks


def test_extractors_map_frames_to_feature_vectors() -> None:
    cnn = CNN4((4, 8, 8, 8), feature_dim=512)
    assert cnn(torch.randn(3, 3, 32, 32)).shape == (3, 512)
    assert cnn(torch.randn(2, 3, 48, 40)).shape == (2, 512)  # global pooling: any size
    resnet = TimmEncoder("resnet50", pretrained=False, feature_dim=512).eval()
    with torch.no_grad():
        assert resnet(torch.randn(1, 3, 32, 32)).shape == (1, 512)
    assert resnet.project.in_features == 2048
    assert (
        TimmEncoder("test_resnet", feature_dim=None).feature_dim
        == TimmEncoder("test_resnet").backbone.num_features
    )


def test_heads_give_one_logit_per_clip() -> None:
    features, mask = torch.randn(3, 7, 16), torch.ones(3, 7, dtype=torch.bool)
    lstm = LSTMHead(16, hidden_size=12, num_layers=4, dropout=0.3)
    assert lstm.lstm.num_layers == 4 and lstm.lstm.hidden_size == 12 and lstm.lstm.dropout == 0.3
    assert lstm(features, mask).shape == (3,)
    mlp = FrameMLPHead(16, (12, 8, 4))
    assert sum(isinstance(m, torch.nn.Linear) for m in mlp.modules()) == 4
    assert mlp(features, mask).shape == (3,)


def test_lstm_reads_the_last_valid_step_and_the_mlp_ignores_order() -> None:
    torch.manual_seed(0)
    lstm, mlp = LSTMHead(8, 6, 2, 0.0).eval(), FrameMLPHead(8, (6, 6, 6), 0.0).eval()
    features = torch.randn(1, 6, 8)
    padded = features.clone()
    padded[:, 4:] = features[:, 3:4]  # the clip loader repeats the last frame
    mask = torch.tensor([[True] * 4 + [False] * 2])
    order = torch.tensor([3, 0, 2, 1, 4, 5])
    full = torch.ones(1, 6, dtype=torch.bool)
    with torch.no_grad():
        for head in (lstm, mlp):
            torch.testing.assert_close(head(padded, mask), head(features[:, :4], mask[:, :4]))
        # The MLP sees the same frames in any order; the LSTM does not.
        torch.testing.assert_close(mlp(features[:, order], full), mlp(features, full))
        assert not torch.allclose(lstm(features[:, order], full), lstm(features, full))


# ---------------------------------------------------------------------------------- losses


def _hinge_reference(features: torch.Tensor, labels: list[float], mask: torch.Tensor) -> float:
    """Eqs. 1-2 in float64 loops over each clip's valid frames: mean |cos - I| over the T_n x T_n
    entries, then L1 (fake) or max(0, 1 - L1) (real), averaged over the clips."""
    total = 0.0
    for clip, label, valid in zip(features.double(), labels, mask, strict=True):
        clip = clip[valid]
        t = len(clip)
        l1 = 0.0
        for i in range(t):
            for j in range(t):
                cos = float(clip[i] @ clip[j] / (clip[i].norm() * clip[j].norm()))
                l1 += abs(cos - (1.0 if i == j else 0.0))
        l1 /= t * t
        total += l1 if label == 1 else max(0.0, 1.0 - l1)
    return total / len(labels)


def test_stage_one_loss_is_the_cosine_hinge_of_its_features() -> None:
    model, batch = _extractor(), _batch()
    # End padding (the clip loader repeats the last frame) must take no part in the matrix.
    batch["mask"][0, 3:] = False
    batch["mask"][1, 4:] = False
    features = model(batch)["features"]
    assert features.shape == (4, 5, 6)
    loss = model.compute_loss({"features": features}, batch)["loss"]
    torch.testing.assert_close(loss, CosineSimilarityHingeLoss()(features, batch["label"], batch["mask"]))
    expected = _hinge_reference(features.detach(), batch["label"].tolist(), batch["mask"])
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    full = torch.ones(4, 5, dtype=torch.bool)
    unmasked = _hinge_reference(features.detach(), batch["label"].tolist(), full)
    assert abs(unmasked - expected) > 1e-4  # the padded frames would have changed the loss


def test_stage_two_loss_is_bce_of_the_sigmoid_output() -> None:
    model, batch = _detector(), _batch()
    logits = model(batch)["clip"]
    assert logits.shape == (4,)
    loss = model.compute_loss({"clip": logits}, batch)["loss"]
    expected = 0.0
    for z, y in zip(logits.tolist(), batch["label"].tolist(), strict=True):
        p = 1.0 / (1.0 + math.exp(-z))
        expected -= y * math.log(p) + (1.0 - y) * math.log(1.0 - p)
    assert loss.item() == pytest.approx(expected / 4, rel=1e-6)


# ---------------------------------------------------------------------------------- frozen stage 2


def test_frozen_extractor_gets_no_gradient_stays_in_eval_and_keeps_its_weights() -> None:
    model, batch = _detector(), _batch()
    # Lightning restores the modes it finds rather than calling .train(): eval from the start.
    assert not model.extractor.training and model.head.training
    model.optimizer_factory = default_adam
    optimizer = model.configure_optimizers()
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert trained == {id(p) for p in model.head.parameters()}
    before = {k: v.clone() for k, v in model.extractor.state_dict().items()}  # BN statistics too
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    model.train()
    assert not model.extractor.training and model.head.training
    assert all(not m.training for m in model.extractor.modules())
    loss = model.compute_loss(model(batch), batch)["loss"]
    loss.backward()
    optimizer.step()
    assert all(p.grad is None and not p.requires_grad for p in model.extractor.parameters())
    for key, value in model.extractor.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert any(not torch.equal(v, head_before[k]) for k, v in model.head.state_dict().items())


def _lightning_checkpoint(model: torch.nn.Module, path: Path) -> Path:
    torch.save({"epoch": 0, "state_dict": model.state_dict(), "optimizer_states": [{"state": {}}]}, path)
    return path


def test_stage_two_loads_exactly_the_stage_one_extractor_and_only_for_fit(tmp_path: Path) -> None:
    stage1 = _extractor()
    with torch.no_grad():  # weights and BN statistics no fresh init has
        for tensor in stage1.extractor.state_dict().values():
            tensor.add_(torch.rand_like(tensor.float()).to(tensor.dtype) + 1)
    path = _lightning_checkpoint(stage1, tmp_path / "best.ckpt")
    stage2 = _detector(extractor_checkpoint=str(path))
    stage2.setup("test")  # test/predict take the extractor from their own checkpoint
    key = "project.weight"
    assert not torch.equal(stage2.extractor.state_dict()[key], stage1.extractor.state_dict()[key])
    stage2.setup("fit")
    expected, loaded = stage1.extractor.state_dict(), stage2.extractor.state_dict()
    assert loaded.keys() == expected.keys()
    for key, tensor in expected.items():
        assert torch.equal(loaded[key], tensor), key


def test_stage_two_without_a_usable_checkpoint_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="extractor_checkpoint is not set"):
        _detector().setup("fit")
    missing = tmp_path / "runs" / "siamese_extractor" / "checkpoints" / "best.ckpt"
    with pytest.raises(
        SuiteError, match=r"model\.init_args\.extractor_checkpoint: checkpoint file not found"
    ):
        _detector(extractor_checkpoint=str(missing)).setup("fit")
    other = _lightning_checkpoint(_extractor(feature_dim=7), tmp_path / "other.ckpt")
    with pytest.raises(SuiteError, match=r"'extractor\.project\.weight' .* shape \(7, 8\)"):
        _detector(extractor_checkpoint=str(other)).setup("fit")


def test_bad_settings_are_named() -> None:
    with pytest.raises(SuiteError, match="head must be 'lstm' or 'mlp'"):
        _detector(head="gru")
    with pytest.raises(SuiteError, match="test_repeats"):
        _detector(test_repeats=0)
    with pytest.raises(SuiteError, match="cnn4 has no pretrained weights"):
        _extractor(pretrained=True)


# ---------------------------------------------------------------------------------- Table 1


def test_split_test_groups_partitions_or_draws_videos_reproducibly() -> None:
    groups = np.arange(10, 21)
    parts = split_test_groups(groups, 3, seed=5)
    assert sorted(len(p) for p in parts) == [3, 4, 4]
    assert sorted(np.concatenate(parts).tolist()) == groups.tolist()
    assert [p.tolist() for p in parts] == [p.tolist() for p in split_test_groups(groups, 3, seed=5)]
    assert [p.tolist() for p in parts] != [p.tolist() for p in split_test_groups(groups, 3, seed=6)]
    draws = split_test_groups(groups, 6, subset_size=4, seed=1)
    assert len(draws) == 6 and all(len(set(d.tolist())) == 4 and set(d) <= set(groups) for d in draws)
    with pytest.raises(SuiteError, match="only 11 videos"):
        split_test_groups(groups, 12)
    with pytest.raises(SuiteError, match="only 11 videos"):
        split_test_groups(groups, 2, subset_size=12)


def _numpy_table1(scores, labels, groups, subsets, eps=1e-15):
    """Per subset: ACC (fake iff p >= 0.5) and log loss of clips and of video means, then mean/std."""
    scores, labels, groups = (np.asarray(a, dtype=np.float64) for a in (scores, labels, groups))
    per = {k: [] for k in ("clip_acc", "clip_log_loss", "video_acc", "video_log_loss")}
    for subset in subsets:
        keep = np.isin(groups, subset)
        vids = sorted(set(groups[keep].tolist()))
        video_p = np.array([scores[keep & (groups == v)].mean() for v in vids])
        video_y = np.array([labels[keep & (groups == v)][0] for v in vids])
        for level, p, y in (("clip", scores[keep], labels[keep]), ("video", video_p, video_y)):
            per[f"{level}_acc"].append(np.mean((p >= 0.5) == (y == 1)))
            q = np.clip(p, eps, 1 - eps)
            per[f"{level}_log_loss"].append(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    out = {}
    for key, values in per.items():
        out[f"{key}_mean"], out[f"{key}_std"] = np.mean(values), np.std(values)  # numpy: ddof = 0
    return out


def test_repeated_test_metrics_equal_a_numpy_computation() -> None:
    scores = [0.9, 0.7, 0.2, 0.4, 0.55, 0.1, 0.65, 0.3, 0.8, 0.45]
    labels = [1, 1, 0, 0, 1, 0, 0, 1, 1, 0]
    groups = [0, 0, 1, 1, 2, 3, 4, 5, 6, 7]  # video 5's label is 1, video 4's is 0, ...
    subsets = [np.array([0, 1, 4]), np.array([2, 3, 5, 7]), np.array([6, 0])]
    got = repeated_test_metrics(
        torch.tensor(scores, dtype=torch.float64),
        torch.tensor(labels),
        torch.tensor(groups),
        subsets,
        threshold=0.5,
    )
    expected = _numpy_table1(scores, labels, groups, subsets)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize("subset_size", [None, 8])
def test_six_random_splits_equal_numpy_on_the_per_split_numbers(subset_size: int | None) -> None:
    # Table 1's protocol on a random test set: 30 videos of 1-3 clips, 6 disjoint or drawn subsets.
    rng = np.random.default_rng(4)
    clips = rng.integers(1, 4, size=30)
    groups = np.repeat(np.arange(100, 130), clips)
    labels = np.repeat(rng.integers(0, 2, size=30), clips)
    scores = rng.uniform(0.0, 1.0, size=len(groups))
    subsets = split_test_groups(np.unique(groups), 6, subset_size, seed=2)
    assert len(subsets) == 6
    got = repeated_test_metrics(
        torch.tensor(scores), torch.tensor(labels), torch.tensor(groups), subsets, threshold=0.5
    )
    expected = _numpy_table1(scores, labels, groups, subsets)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert got["clip_acc_std"] > 0.0 and got["video_log_loss_std"] > 0.0  # the subsets differ


def test_population_std_reproduces_table_1() -> None:
    # Six 100-sequence test sets with accuracies 0.76, 0.81 x 4, 0.86 give Table 1's mean 0.81 and
    # standard deviation 0.028867513 with ddof = 0 (ddof = 1 would give 0.0316).
    accuracies = [76, 81, 81, 81, 81, 86]
    scores, labels, groups, subsets = [], [], [], []
    for k, correct in enumerate(accuracies):
        ids = np.arange(100 * k, 100 * (k + 1))
        labels += [1] * 100
        scores += [0.9] * correct + [0.1] * (100 - correct)
        groups += ids.tolist()
        subsets.append(ids)
    got = repeated_test_metrics(torch.tensor(scores), torch.tensor(labels), torch.tensor(groups), subsets)
    assert got["clip_acc_mean"] == pytest.approx(0.81)
    assert got["clip_acc_std"] == pytest.approx(0.028867513, abs=1e-9)


def test_module_summary_uses_the_test_clips_of_the_epoch() -> None:
    model = _detector(test_repeats=2, test_split_seed=3)
    logits = torch.tensor([1.2, -0.4, 0.3, -2.0, 0.8, 0.1, -0.7, 2.2])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    groups = torch.tensor([0, 0, 1, 1, 2, 3, 4, 4])
    for half in (slice(0, 4), slice(4, 8)):
        batch = {"label": labels[half], "index": torch.arange(8)[half], "video_index": groups[half]}
        model.update_metrics("test", {"clip": logits[half]}, batch)
    # DistributedSampler's padding repeats a clip: it must count once.
    model.update_metrics(
        "test",
        {"clip": logits[:1]},
        {"label": labels[:1], "index": torch.tensor([0]), "video_index": groups[:1]},
    )
    subsets = split_test_groups(np.arange(5), 2, seed=3)
    expected = _numpy_table1(torch.sigmoid(logits).tolist(), labels.tolist(), groups.tolist(), subsets)
    got = model.repeated_test_summary()
    assert got.keys() == {f"test/{key}" for key in expected}
    for key, value in expected.items():
        assert got[f"test/{key}"] == pytest.approx(value, abs=1e-6), key


# ---------------------------------------------------------------------------------- configs and CLI


def _configs(name: str) -> list[str]:
    return [
        "--config",
        str(EXPERIMENTS / f"{name}.yaml"),
        "--config",
        str(EXPERIMENTS / "smoke" / f"{name}.yaml"),
    ]


def _tiny_data_args(root: Path, tmp_path: Path) -> list[str]:
    source = "data.init_args.source.init_args"
    return [
        f"--{source}.root={root}",
        *[f"--{source}.{key}={json.dumps(value)}" for key, value in TINY_SOURCE.items()],
        # The shared tiny set holds every method; the smoke configs ask for FlickerSwap only.
        f"--{source}.methods={json.dumps(sorted(MANIPULATIONS))}",
        "--data.init_args.clip_len=4",
        "--data.init_args.frame_size=32",
        "--data.init_args.batch_size=6",
        # Validation runs 2 batches (QUICK) of clips in manifest order, fakes first: one batch of the
        # whole split (8 videos, 16 clips) holds reals too, so val/test metrics are real numbers.
        "--data.init_args.eval_batch_size=16",
        f"--runs_dir={tmp_path / 'runs'}",
        f"--results_dir={tmp_path / 'results'}",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]


QUICK = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2"]


# A validation or test batch of one class makes AUC, EER and minDCF NaN: the tiny split must not.
@pytest.mark.filterwarnings("error:detection_summary")
def test_cli_stage_one_then_frozen_stage_two_fit_and_test(tiny_synthetic_root: Path, tmp_path: Path) -> None:
    from deepfake_suite.cli import main

    data = _tiny_data_args(tiny_synthetic_root, tmp_path)
    main(["fit", *_configs("siamese_extractor"), *data, *QUICK, "--run_name=extractor"])
    best = tmp_path / "runs" / "extractor" / "checkpoints" / "best.ckpt"
    stage1 = torch.load(best, weights_only=True)
    assert stage1["callbacks"] and any("val/loss" in key for key in stage1["callbacks"])

    lstm = [
        *_configs("siamese_lstm"),
        *data,
        f"--model.init_args.extractor_checkpoint={best}",
        "--run_name=lstm",
    ]
    main(["fit", *lstm, *QUICK])
    stage2 = torch.load(tmp_path / "runs" / "lstm" / "checkpoints" / "last.ckpt", weights_only=True)
    extractor_keys = [k for k in stage1["state_dict"] if k.startswith("extractor.")]
    assert extractor_keys and any("running_mean" in k for k in extractor_keys)
    for key in extractor_keys:  # frozen through Lightning's own loop, BN statistics included
        assert torch.equal(stage2["state_dict"][key], stage1["state_dict"][key]), key
    main(["test", *lstm, "--ckpt_path=best"])
    metrics = json.loads((tmp_path / "results" / "lstm.json").read_text())["metrics"]
    for level in ("clip", "video"):
        assert 0.0 <= metrics[f"test/{level}_acc"] <= 1.0 and metrics[f"test/{level}_log_loss"] > 0.0
        assert 0.0 <= metrics[f"test/{level}_auc"] <= 1.0  # both classes in the test split
        for name in ("acc", "log_loss"):
            assert metrics[f"test/{level}_{name}_mean"] > 0.0 and metrics[f"test/{level}_{name}_std"] >= 0.0

    mlp = [
        *_configs("siamese_mlp"),
        *data,
        f"--model.init_args.extractor_checkpoint={best}",
        "--run_name=mlp",
    ]
    main(["fit", *mlp, "--trainer.fast_dev_run=true"])


def test_cli_stage_two_without_stage_one_says_what_to_do(
    tiny_synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deepfake_suite.cli import main

    missing = tmp_path / "nowhere" / "best.ckpt"
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "fit",
                *_configs("siamese_lstm"),
                *_tiny_data_args(tiny_synthetic_root, tmp_path),
                f"--model.init_args.extractor_checkpoint={missing}",
                "--trainer.fast_dev_run=true",
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"model.init_args.extractor_checkpoint: checkpoint file not found: {missing}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["siamese_extractor", "siamese_lstm", "siamese_mlp"])
def test_paper_configs_build_the_paper_networks(name: str, tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    from deepfake_suite.lightning_cli import SuiteCLI

    args = ["--config", str(EXPERIMENTS / f"{name}.yaml"), "--trainer.logger=false", f"--runs_dir={tmp_path}"]
    cli = SuiteCLI(args=[*args, "--model.init_args.pretrained=false"], run=False)
    model, data = cli.model, cli.datamodule
    assert isinstance(model.extractor, TimmEncoder) and model.extractor.feature_dim == 512
    assert model.extractor.project.in_features == 2048  # ResNet-50's pooled features
    # Sec. 3: 100-frame windows of 256x256 faces inside runs of detected faces (two pointers).
    assert (data.clip_len, data.frame_size, data.clip_sampling, data.frame_gap) == (100, 256, "face_runs", 1)
    assert data.face_crops is not None and data.face_crops.frames_per_video is None  # every frame
    lr = model.optimizer_factory([torch.nn.Parameter(torch.zeros(1))]).defaults["lr"]
    assert lr == 1e-3
    monitor = cli.trainer.checkpoint_callback
    assert isinstance(monitor, ModelCheckpoint)
    assert (monitor.monitor, monitor.mode) == ("val/loss", "min")
    if name == "siamese_extractor":
        assert cli.trainer.max_epochs == 100 and model.criterion.delta == 1.0
        return
    assert cli.trainer.max_epochs == 20 and model.test_repeats == 6
    assert model.extractor_checkpoint == "runs/siamese_extractor/checkpoints/best.ckpt"
    if name == "siamese_lstm":
        lstm = model.head.lstm
        assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.dropout) == (512, 512, 4, 0.3)
    else:
        assert isinstance(model.head, FrameMLPHead)
        assert sum(isinstance(m, torch.nn.Linear) for m in model.head.modules()) == 4
    cnn = SuiteCLI(args=[*args, "--model.init_args.extractor=cnn4"], run=False).model
    assert isinstance(cnn.extractor, CNN4) and cnn.extractor.feature_dim == 512


# ---------------------------------------------------------------------------------- learning (slow)


@pytest.fixture
def one_thread() -> Iterator[None]:
    # The smoke CNN's convolutions are too small to gain from a second thread, and on a shared
    # 2-core machine two threads per process thrash: 5-10x slower steps when other jobs run.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_smoke_extractor_then_lstm_learn_better_than_chance(tmp_path: Path, one_thread: None) -> None:
    from deepfake_suite.cli import main

    common = [
        f"--runs_dir={tmp_path / 'runs'}",
        f"--results_dir={tmp_path / 'results'}",
        "--trainer.logger=false",
    ]
    main(["fit", *_configs("siamese_extractor"), *common, "--run_name=extractor"])
    best = tmp_path / "runs" / "extractor" / "checkpoints" / "best.ckpt"
    lstm = [
        *_configs("siamese_lstm"),
        *common,
        f"--model.init_args.extractor_checkpoint={best}",
        "--run_name=lstm",
    ]
    main(["fit", *lstm])
    main(["test", *lstm, "--ckpt_path=best"])
    metrics = json.loads((tmp_path / "results" / "lstm.json").read_text())["metrics"]
    assert metrics["test/video_auc"] > 0.7, metrics
    assert metrics["test/clip_acc_mean"] > 0.6, metrics
