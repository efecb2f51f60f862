"""Figures of `make reproduce-tables` and the per-run test-score dumps they are drawn from."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from sklearn.metrics import roc_auc_score, roc_curve
from torch import Tensor, nn
from torch.utils.data import DataLoader

from lightning_modules.base import FrameDetector, curve_points, format_test_scores
from metrics.detection import DetectionMetrics
from reproduce import plots
from reproduce.runner import Layout
from reproduce.spec import Experiment, RowSpec, TableSpec

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _random_scores(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    # Rounded so that ties (one ROC point for several samples) are exercised.
    scores = np.round(rng.random(n) * 0.6 + 0.3 * labels, 2)
    return scores, labels


def _write_scores(path: Path, scores: np.ndarray, labels: np.ndarray) -> Path:
    rows = [
        "sample_id,label,score",
        *(f"{i},{int(y)},{float(s)!r}" for i, (s, y) in enumerate(zip(scores, labels, strict=True))),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


# ------------------------------------------------------------------------------------------ curves


def test_roc_and_det_points_equal_sklearn_roc_curve() -> None:
    scores, labels = _random_scores()
    fpr_ref, tpr_ref, _ = roc_curve(labels, scores, drop_intermediate=False)
    fpr, tpr = plots.roc_points(scores, labels, max_points=10_000)
    np.testing.assert_allclose(fpr, fpr_ref, atol=1e-12)
    np.testing.assert_allclose(tpr, tpr_ref, atol=1e-12)
    # DET: the same operating points, thresholds ascending: P_fa = FPR, P_miss = 1 - TPR.
    p_fa, p_miss = plots.det_points(scores, labels, max_points=10_000)
    np.testing.assert_allclose(p_fa, fpr_ref[::-1], atol=1e-12)
    np.testing.assert_allclose(p_miss, 1.0 - tpr_ref[::-1], atol=1e-12)
    # The curves logged to W&B are the same points.
    logged = curve_points(torch.from_numpy(scores), torch.from_numpy(labels), max_points=10_000)
    np.testing.assert_allclose(logged["fpr"].numpy(), fpr_ref, atol=1e-12)
    np.testing.assert_allclose(logged["p_miss"].numpy(), 1.0 - tpr_ref[::-1], atol=1e-12)
    from scipy.stats import norm

    clipped = np.clip(1.0 - tpr_ref[::-1], 1e-4, 1 - 1e-4)
    np.testing.assert_allclose(logged["probit_p_miss"].numpy(), norm.ppf(clipped), atol=1e-9)


def test_thinned_curves_keep_both_ends_and_only_true_points() -> None:
    scores, labels = _random_scores(n=5000, seed=1)
    scores = scores + np.random.default_rng(2).random(5000) * 1e-3  # ~5000 distinct thresholds
    fpr_ref, tpr_ref, _ = roc_curve(labels, scores, drop_intermediate=False)
    fpr, tpr = plots.roc_points(scores, labels, max_points=500)
    assert len(fpr) <= 500 < len(fpr_ref)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    reference = set(zip(fpr_ref.round(12).tolist(), tpr_ref.round(12).tolist(), strict=True))
    assert set(zip(fpr.round(12).tolist(), tpr.round(12).tolist(), strict=True)) <= reference
    logged = curve_points(torch.from_numpy(scores), torch.from_numpy(labels))
    assert len(logged["fpr"]) <= 500 and len(logged["p_fa"]) <= 500


# -------------------------------------------------------------------------------------- score dump


def _parse(text: str) -> tuple[str, list[tuple[int, int, float]]]:
    rows = list(csv.reader(text.splitlines()))
    assert rows[0][1:] == ["label", "score"]
    return rows[0][0], [(int(i), int(y), float(s)) for i, y, s in rows[1:]]


def test_dump_is_the_metric_input_once_per_sample_id() -> None:
    # Two "ranks" after a gather: rank 1 repeats samples 0 and 1, as DistributedSampler pads.
    ids = torch.tensor([4, 0, 2, 1, 3, 0, 1])
    scores = torch.tensor([0.9, 0.2, 0.6, 0.4, 0.7, 0.2, 0.4])
    labels = torch.tensor([1, 0, 1, 0, 1, 0, 0])
    videos = torch.tensor([7, 5, 6, 5, 7, 5, 5])
    frame, video = DetectionMetrics(), DetectionMetrics(aggregate="mean")
    for metric in (frame, video):
        metric.update(scores[:4], labels[:4], sample_id=ids[:4], group_id=videos[:4])
        metric.update(scores[4:], labels[4:], sample_id=ids[4:], group_id=videos[4:])

    expected: dict[int, tuple[int, float]] = {}
    for i, y, s in zip(ids.tolist(), labels.tolist(), scores.tolist(), strict=True):
        expected.setdefault(i, (y, s))
    kind, rows = _parse(format_test_scores(frame.gathered()))
    assert kind == "sample_id"
    assert rows == [(i, *expected[i]) for i in sorted(expected)]
    # What compute() reports is computed on exactly these rows.
    auc = roc_auc_score([y for _, y, _ in rows], [s for _, _, s in rows])
    assert float(frame.compute()["auc"]) == pytest.approx(auc, abs=1e-12)

    # Video level: the mean of each video's distinct frames, in float64, brute force.
    kind, rows = _parse(format_test_scores(video.gathered()))
    assert kind == "group_id"
    by_video: dict[int, list[float]] = {}
    video_of = dict(zip(ids.tolist(), videos.tolist(), strict=True))
    for i, (_, s) in expected.items():
        by_video.setdefault(video_of[i], []).append(s)
    assert [r[0] for r in rows] == sorted(by_video)
    for group, label, score in rows:
        assert score == pytest.approx(float(np.mean(np.asarray(by_video[group], dtype=np.float64))), abs=1e-7)
        assert label == expected[next(i for i in expected if video_of[i] == group)][0]


class _FixedScores(FrameDetector):
    """Scores each frame with the logit its batch carries: the dump must give back sigmoid(logit)."""

    def __init__(self) -> None:
        super().__init__(("frame", "video"))
        self.unused = nn.Linear(1, 1)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        return {"frame": batch["logit"]}

    def compute_loss(self, outputs: dict[str, Tensor], batch: dict[str, Any]) -> dict[str, Tensor]:
        return {"loss": outputs["frame"].sum() * 0.0}


def test_test_epoch_writes_scores_with_logger_false(tmp_path: Path) -> None:
    logits = torch.linspace(-2.0, 2.0, 12)
    items = [
        {
            "logit": logits[i],
            "label": torch.tensor(float(i % 2)),
            "video_index": torch.tensor(i // 4 * 2 + i % 2),
            "index": torch.tensor(i),
        }
        for i in range(12)
    ]
    # A list is a map-style dataset at run time; the stubs only know Dataset subclasses.
    loader: DataLoader[dict[str, Tensor]] = DataLoader(items, batch_size=5)  # type: ignore[arg-type]
    trainer = Trainer(
        logger=False, default_root_dir=tmp_path, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.test(_FixedScores(), loader, verbose=False)
    kind, rows = _parse((tmp_path / "test_scores_frame.csv").read_text())
    assert kind == "sample_id"
    assert [r[0] for r in rows] == list(range(12))
    assert [r[1] for r in rows] == [i % 2 for i in range(12)]
    np.testing.assert_allclose([r[2] for r in rows], logits.sigmoid().numpy(), atol=1e-7)
    kind, rows = _parse((tmp_path / "test_scores_video.csv").read_text())
    assert kind == "group_id" and len(rows) == 6


# ------------------------------------------------------------------------------------------ figures


def test_missing_inputs_give_none_and_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "figures"
    assert plots.plot_det_curves({"CNN": tmp_path / "nope.csv"}, out / "det.png", "t") is None
    assert plots.plot_roc_curves({"video level": {"CNN": None}}, out / "roc.png", "t") is None
    missing = {"Ours": {10.0: (tmp_path / "nope.json", "test/video_auc")}}
    assert plots.plot_auc_vs_imbalance(missing, out / "auc.png", "t") is None
    assert plots.plot_grad_cam(tmp_path / "nope.json", out / "cam.png", "t") is None
    assert plots.copy_tsne_plots({"attribution-binary": tmp_path / "no_run"}, out) == []
    printed = capsys.readouterr().out
    for stem in ("det", "roc", "auc", "cam", "attribution-binary-tsne"):
        assert f"figure {stem}: skipped" in printed
    assert not out.exists() or not any(out.iterdir())
    # A whole render with nothing run writes nothing and does not raise.
    assert plots.render_figures(Layout(tmp_path, "smoke"), experiments=(), tables=()) == []


def test_det_and_roc_figures_are_drawn_from_score_files(tmp_path: Path) -> None:
    a = _write_scores(tmp_path / "a" / "test_scores_video.csv", *_random_scores(seed=3))
    b = _write_scores(tmp_path / "b" / "test_scores_video.csv", *_random_scores(seed=4))
    assert plots.find_test_scores(tmp_path / "a", "video") == a
    det = plots.plot_det_curves({"A": a, "B": b, "missing": None}, tmp_path / "det.png", "DET")
    roc = plots.plot_roc_curves(
        {"video level": {"A": a}, "frame level": {"B": b}}, tmp_path / "roc.png", "ROC"
    )
    for path in (det, roc):
        assert path is not None and path.read_bytes().startswith(PNG_MAGIC)


def test_render_figures_finds_the_runs_of_the_registered_table(tmp_path: Path) -> None:
    layout = Layout(tmp_path, "smoke")
    _write_scores(layout.runs_dir / "mfom-cnn" / "test_scores_video.csv", *_random_scores(seed=5))
    experiments = (Experiment("mfom-cnn", "mfom", ("experiments/mfom_cnn.yaml",)),)
    rows = (RowSpec("CNN", "mfom-cnn", {"EER": "test/video_eer"}), RowSpec("LSTM [14]", note="not run"))
    tables = (TableSpec("mfom", "Table I", "t", rows=rows),)
    written = plots.render_figures(layout, experiments, tables)
    assert written == [layout.results_dir / "figures" / "mfom-table_i-det.png"]
    assert "![DET curves" in (layout.tables_dir / "README.md").read_text()


def _results(path: Path, metrics: dict[str, float] | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_name": path.stem} if metrics is None else {"metrics": metrics}))
    return path


def test_auc_vs_imbalance_reads_each_runs_key(tmp_path: Path) -> None:
    both = {"test/video_auc": 0.71, "test/frame_auc": 0.52}
    series = {
        "Ours": {
            30.0: (_results(tmp_path / "o30.json", both), "test/video_auc"),
            10.0: (_results(tmp_path / "o10.json", {"test/video_auc": 0.9}), "test/video_auc"),
            20.0: (_results(tmp_path / "failed.json", None), "test/video_auc"),
        },
        "Xception": {
            30.0: (tmp_path / "o30.json", "test/frame_auc"),
            100.0: (tmp_path / "not_run.json", "test/frame_auc"),
        },
    }
    assert plots.series_points(series) == {
        "Ours": [(10.0, 0.9), (30.0, 0.71)],
        "Xception": [(30.0, 0.52)],
    }
    path = plots.plot_auc_vs_imbalance(series, tmp_path / "auc.png", "t", published={"Ours": {10.0: 0.925}})
    assert path is not None and path.read_bytes().startswith(PNG_MAGIC)


def test_imbalance_series_come_from_the_subset_tables(tmp_path: Path) -> None:
    layout = Layout(tmp_path, "smoke")
    frame_auc = {"Frame Level/AUC": "test/frame_auc"}
    tables = [
        TableSpec("dual_level", "Table 7", "Celeb-30", rows=(RowSpec("Xception [3]", "x30", frame_auc),)),
        TableSpec("dual_level", "Table 9", "Celeb-10", rows=(RowSpec("Xception [3]", "x10", frame_auc),)),
        # Not a subset table (FF++ c23): no ratio, so no point.
        TableSpec("dual_level", "Table 2", "FF++", rows=(RowSpec("Xception [3]", "c23", frame_auc),)),
    ]
    series, published = plots.imbalance_series(tables, layout, "frame")
    assert series == {
        "Xception": {
            30: (layout.results("x30"), "test/frame_auc"),
            10: (layout.results("x10"), "test/frame_auc"),
        }
    }
    assert published == {"Xception": {30: pytest.approx(0.50), 10: pytest.approx(0.60)}}
    assert plots.imbalance_series(tables, layout, "video") == ({}, {})


def test_gamma_sweep_figure_reads_each_registered_margins_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reproduce.papers.dual_level import GAMMA_SWEEP

    layout = Layout(tmp_path, "smoke")
    celeb_10 = GAMMA_SWEEP["celeb_10"]
    _results(layout.results(celeb_10["0.3"]), {"test/video_auc": 0.8, "test/frame_auc": 0.6})
    _results(layout.results(celeb_10["0.15"]), {"test/video_auc": 0.7, "test/frame_auc": 0.65})
    registered = [Experiment(name=run, paper="dual_level", configs=("x.yaml",)) for run in celeb_10.values()]
    (spec,) = plots.gamma_figures(registered, layout)
    series = spec.draw.args[0]  # type: ignore[attr-defined]
    assert set(series) == {"Celeb-10"}  # the other subsets' runs are not in this registry
    assert set(series["Celeb-10"]["video"]) == {float(g) for g in celeb_10}
    assert plots.series_points({"v": series["Celeb-10"]["video"]}) == {"v": [(0.15, 0.7), (0.3, 0.8)]}
    assert plots.series_points({"f": series["Celeb-10"]["frame"]}) == {"f": [(0.15, 0.65), (0.3, 0.6)]}
    path = spec.draw(tmp_path / "gamma.png")
    assert path is not None and path.read_bytes().startswith(PNG_MAGIC)
    assert "at gamma 0.6" in capsys.readouterr().out  # runs without results are named and left out
    assert plots.gamma_figures([], layout) == []


def test_readme_lists_figures_once(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Tables\n")
    plots._list_in_readme(readme, [("DET curves", tmp_path / "mfom-table_i-det.png")])
    plots._list_in_readme(readme, [("ROC curves", tmp_path / "roc.png")])
    text = readme.read_text()
    assert text.startswith("# Tables\n") and text.count("## Figures") == 1
    assert "![ROC curves](../figures/roc.png)" in text and "DET curves" not in text


# ----------------------------------------------------------------------------------------- Grad-CAM


def test_grad_cam_matches_a_hand_computed_map_at_frame_size() -> None:
    import timm

    torch.manual_seed(0)
    model = timm.create_model("test_resnet", pretrained=False, num_classes=1).eval()
    frames = torch.rand(3, 3, 48, 40) * 255.0
    layer = plots.last_conv_layer(model)

    def forward(x: Tensor) -> Tensor:
        return model(x / 255.0)[:, 0]

    maps = plots.grad_cam_maps(forward, layer, frames)
    assert maps.shape == (3, 48, 40)
    assert torch.isfinite(maps).all() and (maps >= 0).all() and maps.amax() > 0

    # Reference: activations and gradients of the layer by hooks, eq. in grad_cam_maps' docstring.
    saved: list[Tensor] = []

    def keep(_module: nn.Module, _inputs: Any, output: Tensor) -> None:
        saved.append(output)

    handle = layer.register_forward_hook(keep)
    score = forward(frames).sum()  # frames are independent in eval mode: d(sum)/dA_n = dy_n/dA_n
    handle.remove()
    (gradients,) = torch.autograd.grad(score, saved[0])
    activations, gradients = saved[0].double(), gradients.double()
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = (weights * activations).sum(1, keepdim=True).clamp(min=0)
    reference = torch.nn.functional.interpolate(cam.detach(), size=(48, 40), mode="bilinear")[:, 0]
    torch.testing.assert_close(
        maps.double(), reference, rtol=1e-4, atol=1e-6 * float(reference.abs().max().detach())
    )
