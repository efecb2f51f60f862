"""Figures beside the reproduced tables, drawn from what the runs leave behind, never by hand.

- DET curves of MFoM Table I's runs (MFoM Fig. 1), normal-deviate axes;
- ROC curves of each dual-level table, one curve per row's run, a panel per level;
- AUC vs imbalance ratio (dual-level Fig. 1b at frame level, Fig. 7 at video level), ours solid
  and the published numbers dashed;
- AUC vs the AUC loss's margin gamma on the Celeb-DF subsets (dual-level Fig. 6);
- t-SNE plots the attribution runs draw themselves (attribution Figs. 2-3), copied;
- Grad-CAM (Captum's ``LayerGradCam``) on a few test frames of one frame-level run.

Inputs: the per-level test scores each run writes (``<run folder>/test_scores_<level>.csv``, see
:meth:`lightning_modules.base.DetectorModule._dump_test_scores`), ``results/<scale>/<name>.json``
and the runs' checkpoints. Which runs feed which figure is read from the registry
(:mod:`reproduce.papers`) at render time, so a paper module added later gets its figures without
an edit here. Every figure function takes explicit paths and returns the PNG it wrote, or ``None``
after printing why (inputs missing): a missing run never stops the tables. PNGs go to
``results/<scale>/figures/``, written atomically.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from deepfake_suite.atomic import atomic_write_text
from metrics.functional import auc, eer
from metrics.functional.curves import det_curve, roc_curve
from reproduce.spec import Experiment, RowSpec, TableSpec

if TYPE_CHECKING:
    from torch import nn

    from reproduce.runner import Layout

#: Points per drawn curve: more adds nothing at print resolution and slows the PNG.
MAX_CURVE_POINTS = 500
#: DET rates are clipped into [eps, 1 - eps] before the probit (0 and 1 are at infinity).
DET_EPS = 5e-4
_DET_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99, 0.998)
#: Real:fake ratio of a dual-level subset, from its table's caption ("... on Celeb-30 ...").
_SUBSET = re.compile(r"\b(Celeb|DFDC)-(\d+)\b")
#: Frame-level runs tried for Grad-CAM, by config file, in order of preference. The attribution
#: Xception comes first: it is trained and tested on the same datasets, while the first
#: baselines/xception run in the registry is cross-dataset (FF++ c40 -> Celeb-DF), near chance at
#: smoke scale, and its maps show nothing.
GRAD_CAM_CONFIGS = (
    "experiments/attribution_binary.yaml",
    "experiments/baselines/xception.yaml",
    "experiments/mfom_cnn.yaml",
)
_README_MARK = "<!-- figures: written by reproduce.plots -->"

#: ``(results json, metric key)`` of one point of an AUC-vs-imbalance series.
ResultPoint = tuple[Path, str]


def _skip(what: str, reason: str) -> None:
    print(f"figure {what}: skipped, {reason}")


# ---------------------------------------------------------------------------------------- reading


def read_test_scores(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, labels)`` of a ``test_scores_<level>.csv`` file (columns ``label`` and ``score``).

    Returns:
        float64 scores and int64 labels, each (N,).

    Raises:
        ValueError: The file lacks a ``label`` or ``score`` column.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"label", "score"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: needs 'label' and 'score' columns, has {reader.fieldnames}")
        rows = [(float(row["score"]), int(float(row["label"]))) for row in reader]
    scores = np.array([r[0] for r in rows], dtype=np.float64)
    labels = np.array([r[1] for r in rows], dtype=np.int64)
    return scores, labels


def find_test_scores(run_dir: Path, level: str) -> Path:
    """The run's ``test_scores_<level>.csv``: directly in the run folder, else the newest below it
    (a logger with its own ``log_dir``), else the expected path (missing, reported when drawing)."""
    direct = run_dir / f"test_scores_{level}.csv"
    if direct.is_file() or not run_dir.is_dir():
        return direct
    found = sorted(run_dir.rglob(direct.name), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else direct


def _both_classes(scores: np.ndarray, labels: np.ndarray, where: Path) -> bool:
    if len(np.unique(labels)) == 2:
        return True
    print(f"figure input {where}: one class only ({len(scores)} rows), left out")
    return False


# ----------------------------------------------------------------------------------------- curves


def thinned(count: int, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` evenly spaced points out of ``count``, first and last kept."""
    if count <= max_points:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, max_points).round().astype(np.int64))


def roc_points(
    scores: np.ndarray, labels: np.ndarray, max_points: int = MAX_CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, tpr)`` of the ROC, one point per distinct score (thinned to ``max_points``).

    The points of ``sklearn.metrics.roc_curve(labels, scores, drop_intermediate=False)``: thresholds
    descending from ``+inf`` (FPR = TPR = 0) to the lowest score (FPR = TPR = 1).
    """
    fpr, tpr, _ = roc_curve(torch.from_numpy(np.asarray(scores)), torch.from_numpy(np.asarray(labels)))
    keep = thinned(len(fpr), max_points)
    return fpr.numpy()[keep], tpr.numpy()[keep]


def det_points(
    scores: np.ndarray, labels: np.ndarray, max_points: int = MAX_CURVE_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """``(p_fa, p_miss)`` of the DET curve in linear rates, thresholds ascending (thinned).

    :math:`P_\\text{fa}(t)` is the fraction of reals scored :math:`\\ge t` (the ROC's FPR) and
    :math:`P_\\text{miss}(t)` the fraction of fakes scored :math:`< t` (1 - TPR).
    """
    p_fa, p_miss, _ = det_curve(torch.from_numpy(np.asarray(scores)), torch.from_numpy(np.asarray(labels)))
    keep = thinned(len(p_fa), max_points)
    return p_fa.numpy()[keep], p_miss.numpy()[keep]


def probit(rates: np.ndarray, eps: float = DET_EPS) -> np.ndarray:
    """Normal deviates of rates (the DET axes), rates clipped into ``[eps, 1 - eps]``."""
    from scipy.stats import norm

    return np.asarray(norm.ppf(np.clip(rates, eps, 1.0 - eps)), dtype=np.float64)


# ------------------------------------------------------------------------------------------ output


def save_figure(figure: Figure, out: Path) -> Path:
    """Write ``figure`` as a PNG to ``out`` through a temporary file and a rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            figure.savefig(handle, format="png", dpi=120, bbox_inches="tight")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _load_curves(runs: Mapping[str, Path | None], what: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{label: (scores, labels)}`` of the score files that exist and hold both classes."""
    curves = {}
    for label, path in runs.items():
        if path is None or not Path(path).is_file():
            print(f"figure {what}: no test scores for {label!r} ({path or 'no run'} missing), left out")
            continue
        scores, labels = read_test_scores(Path(path))
        if _both_classes(scores, labels, Path(path)):
            curves[label] = (scores, labels)
    return curves


def _det_axes(axes: Axes) -> None:
    ticks = probit(np.array(_DET_TICKS))
    labels = [f"{100 * t:g}" for t in _DET_TICKS]
    limit = float(probit(np.array([DET_EPS]))[0])
    for set_ticks, set_labels, set_lim in (
        (axes.set_xticks, axes.set_xticklabels, axes.set_xlim),
        (axes.set_yticks, axes.set_yticklabels, axes.set_ylim),
    ):
        set_ticks(ticks)
        set_labels(labels, fontsize=7)
        set_lim(limit, -limit)
    axes.set_xlabel("False alarm probability P_fa (%)")
    axes.set_ylabel("Miss probability P_miss (%)")
    axes.plot([limit, -limit], [limit, -limit], color="0.8", linewidth=0.8, zorder=0)  # EER line
    axes.grid(True, linewidth=0.3)


def plot_det_curves(runs: Mapping[str, Path | None], out: Path, title: str) -> Path | None:
    """DET curves of several runs on normal-deviate axes (MFoM Fig. 1), EER in the legend.

    Args:
        runs: Legend label -> the run's ``test_scores_<level>.csv`` (``None``: run missing).
        out: PNG to write.
        title: Figure title.

    Returns:
        ``out``, or ``None`` (with the reason printed) when no run has scores.
    """
    curves = _load_curves(runs, out.stem)
    if not curves:
        _skip(out.stem, "no run has test scores yet")
        return None
    figure = Figure(figsize=(5.5, 5.5))
    axes = figure.subplots()
    for label, (scores, labels) in curves.items():
        p_fa, p_miss = det_points(scores, labels)
        rate = float(eer(torch.from_numpy(scores), torch.from_numpy(labels)))
        axes.plot(probit(p_fa), probit(p_miss), label=f"{label} (EER {100 * rate:.1f}%)", linewidth=1.2)
    _det_axes(axes)
    axes.legend(fontsize=7, loc="upper right")
    axes.set_title(title, fontsize=9)
    return save_figure(figure, out)


def plot_roc_curves(panels: Mapping[str, Mapping[str, Path | None]], out: Path, title: str) -> Path | None:
    """ROC curves, one panel per level, one curve per run, AUC in the legend.

    Args:
        panels: Panel title (e.g. ``"video level"``) -> legend label -> ``test_scores`` CSV.
        out: PNG to write.
        title: Figure title.

    Returns:
        ``out``, or ``None`` (with the reason printed) when no panel has a run with scores.
    """
    loaded = {name: _load_curves(runs, out.stem) for name, runs in panels.items()}
    loaded = {name: curves for name, curves in loaded.items() if curves}
    if not loaded:
        _skip(out.stem, "no run has test scores yet")
        return None
    figure = Figure(figsize=(5.0 * len(loaded), 5.0))
    axes_list = np.atleast_1d(figure.subplots(1, len(loaded)))
    for axes, (name, curves) in zip(axes_list, loaded.items(), strict=True):
        for label, (scores, labels) in curves.items():
            fpr, tpr = roc_points(scores, labels)
            area = float(auc(torch.from_numpy(scores), torch.from_numpy(labels)))
            axes.plot(fpr, tpr, label=f"{label} (AUC {100 * area:.1f}%)", linewidth=1.2)
        axes.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=0.8)
        axes.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate", ylabel="True positive rate")
        axes.set_title(name, fontsize=9)
        axes.legend(fontsize=6, loc="lower right")
        axes.grid(True, linewidth=0.3)
    figure.suptitle(title, fontsize=10)
    return save_figure(figure, out)


def series_points(
    series: Mapping[str, Mapping[float, ResultPoint]],
    describe_x: Callable[[float], str] = lambda ratio: f"1:{ratio:g}",
) -> dict[str, list[tuple[float, float]]]:
    """Read each point's metric from its results file: ``{label: [(x, value), ...]}`` by x.

    A missing file, a failed run (no ``metrics``) or a missing or non-finite key leaves the point out,
    with a printed note naming the point by ``describe_x(x)``; a series without points is dropped.
    """
    points: dict[str, list[tuple[float, float]]] = {}
    for label, by_x in series.items():
        for x, (path, key) in sorted(by_x.items()):
            if not Path(path).is_file():
                print(f"figure input: no results for {label!r} at {describe_x(x)} ({path}), left out")
                continue
            value = (json.loads(Path(path).read_text(encoding="utf-8")).get("metrics") or {}).get(key)
            if value is None or not math.isfinite(float(value)):
                print(f"figure input: {path} has no finite {key!r}, left out")
                continue
            points.setdefault(label, []).append((float(x), float(value)))
    return points


def plot_auc_vs_imbalance(
    series: Mapping[str, Mapping[float, ResultPoint]],
    out: Path,
    title: str,
    ylabel: str = "AUC (%)",
    published: Mapping[str, Mapping[float, float]] | None = None,
) -> Path | None:
    """AUC against the real:fake ratio of the training/test subset (dual-level Figs. 1b and 7).

    Args:
        series: Legend label (a detector) -> ratio N of a 1:N (fake:real) subset -> ``(results json,
            metric key)`` of the run on that subset, e.g. ``test/video_auc``.
        out: PNG to write.
        title: Figure title.
        ylabel: Y axis label.
        published: Label -> ratio -> the paper's value as a fraction, drawn dashed in the same colour.

    Returns:
        ``out``, or ``None`` (with the reason printed) when no results file has the metric.
    """
    points = series_points(series)
    if not points:
        _skip(out.stem, "no imbalanced-subset run has results yet")
        return None
    figure = Figure(figsize=(6.0, 4.5))
    axes = figure.subplots()
    ratios: set[float] = set()
    for label, values in points.items():
        x, y = zip(*values, strict=True)
        (line,) = axes.plot(x, [100 * v for v in y], marker="o", label=f"{label} (ours)", linewidth=1.2)
        ratios.update(x)
        paper = sorted((published or {}).get(label, {}).items())
        if paper:
            axes.plot(
                [r for r, _ in paper],
                [100 * v for _, v in paper],
                marker="x",
                linestyle="--",
                color=line.get_color(),
                linewidth=0.8,
                label=f"{label} (paper)",
            )
            ratios.update(r for r, _ in paper)
    axes.set_xscale("log")
    axes.set_xticks(sorted(ratios))
    axes.set_xticklabels([f"1:{r:g}" for r in sorted(ratios)])
    axes.minorticks_off()
    axes.set(xlabel="fake:real ratio of the subset", ylabel=ylabel)
    axes.legend(fontsize=6)
    axes.grid(True, linewidth=0.3)
    axes.set_title(title, fontsize=9)
    return save_figure(figure, out)


def plot_auc_vs_gamma(
    series: Mapping[str, Mapping[str, Mapping[float, ResultPoint]]],
    out: Path,
    title: str,
    default_gamma: float | None = None,
) -> Path | None:
    """AUC against the AUC-loss margin gamma, one colour per subset (dual-level Fig. 6).

    Args:
        series: Subset label -> level (``video`` solid, ``frame`` dashed) -> gamma -> ``(results
            json, metric key)`` of the run at that margin.
        out: PNG to write.
        title: Figure title.
        default_gamma: Drawn as a dotted vertical line (the paper's default, 0.15).

    Returns:
        ``out``, or ``None`` (with the reason printed) when no run of the sweep has results.
    """
    figure = Figure(figsize=(6.0, 4.5))
    axes = figure.subplots()
    drawn = False
    for subset, levels in series.items():
        colour = None
        for level, style in (("video", "-"), ("frame", "--")):
            points = series_points(
                {f"{subset} {level}": levels.get(level, {})}, describe_x=lambda g: f"gamma {g:g}"
            )
            for label, values in points.items():
                x, y = zip(*values, strict=True)
                (line,) = axes.plot(
                    x, [100 * v for v in y], marker="o", linestyle=style, color=colour, label=label
                )
                colour, drawn = line.get_color(), True
    if not drawn:
        _skip(out.stem, "no run of the gamma sweep has results yet")
        return None
    if default_gamma is not None:
        label = f"default {default_gamma:g}"
        axes.axvline(default_gamma, color="0.6", linestyle=":", linewidth=0.8, label=label)
    axes.set(xlabel="AUC-loss margin γ", ylabel="AUC (%)")
    axes.legend(fontsize=6)
    axes.grid(True, linewidth=0.3)
    axes.set_title(title, fontsize=9)
    return save_figure(figure, out)


def copy_tsne_plots(runs: Mapping[str, Path], out_dir: Path) -> list[Path]:
    """Copy the ``tsne_test*.png`` each attribution run drew to ``out_dir/<run>-tsne_test*.png``."""
    copied = []
    for name, run_dir in runs.items():
        found = sorted(run_dir.glob("tsne_test*.png")) if run_dir.is_dir() else []
        if not found:
            _skip(f"{name}-tsne", f"no tsne_test*.png in {run_dir}")
        for source in found:
            target = out_dir / f"{name}-{source.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            os.close(fd)
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
            copied.append(target)
    return copied


# --------------------------------------------------------------------------------------- Grad-CAM


def last_conv_layer(model: nn.Module) -> nn.Module:
    """The last ``Conv2d`` registered in ``model``: the usual Grad-CAM layer of a CNN backbone.

    Raises:
        ValueError: The model has no 2-D convolution.
    """
    from torch import nn

    convs = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer for Grad-CAM")
    return convs[-1]


def grad_cam_maps(forward: Callable[[Tensor], Tensor], layer: nn.Module, frames: Tensor) -> Tensor:
    r"""Grad-CAM of ``forward``'s score at ``layer``, upsampled to the frames' size (Captum ``LayerGradCam``).

    .. math::
        L = \mathrm{ReLU}\Big(\sum_k \alpha_k A^k\Big), \qquad
        \alpha_k = \frac{1}{hw} \sum_{i,j} \frac{\partial y}{\partial A^k_{ij}}

    for the activations :math:`A^k` (h x w) of ``layer`` and the score :math:`y` of each frame,
    then bilinear interpolation to (H, W).

    Args:
        forward: (N, 3, H, W) float frames -> (N,) score of fake per frame (logit or probability).
        layer: A module inside ``forward``'s network with a (N, K, h, w) output.
        frames: (N, 3, H, W) frames as ``forward`` takes them.

    Returns:
        (N, H, W) non-negative maps (not normalised).
    """
    from captum.attr import LayerAttribution, LayerGradCam

    inputs = frames.detach().float().requires_grad_(True)  # a frozen backbone still gives gradients
    with torch.enable_grad():
        maps = LayerGradCam(forward, layer).attribute(inputs, relu_attributions=True)
    maps = LayerAttribution.interpolate(maps.detach(), tuple(frames.shape[-2:]), interpolate_mode="bilinear")
    return maps[:, 0]


def _instantiate_run(resolved_config: Path, checkpoint: Path) -> tuple[Any, Any]:
    """Model (with the checkpoint's weights, eval mode) and datamodule of a run's saved config."""
    import yaml
    from lightning.pytorch import LightningDataModule, LightningModule
    from lightning.pytorch.cli import LightningArgumentParser

    config = yaml.safe_load(resolved_config.read_text(encoding="utf-8"))
    data = config["data"]
    if isinstance(data.get("init_args"), dict) and "preload" in data["init_args"]:
        data["init_args"]["preload"] = False  # a few frames are read, not the whole test split
    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_lightning_class_args(LightningModule, "model", subclass_mode=True)
    parser.add_lightning_class_args(LightningDataModule, "data", subclass_mode=True)
    parsed = parser.parse_object({"model": config["model"], "data": data})
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    built = instantiate(parsed)
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    built.model.load_state_dict(state["state_dict"])
    return built.model.eval(), built.data


def _pick_frames(dataset: Any, per_class: int) -> list[int]:
    """Indices of ``per_class`` fakes then ``per_class`` reals, spread over the split (other videos)."""
    labels = np.asarray(dataset.labels)
    chosen: list[int] = []
    for label in (1, 0):
        index = np.flatnonzero(labels == label)
        if len(index):
            chosen += index[
                np.linspace(0, len(index) - 1, min(per_class, len(index))).round().astype(int)
            ].tolist()
    return chosen


def plot_grad_cam(results: Path, out: Path, title: str, per_class: int = 4) -> Path | None:
    """Grad-CAM of a frame-level run on ``per_class`` fake and real test frames, as a grid PNG.

    Rows: fake frames, their Grad-CAM overlays, real frames, their overlays; each titled with the
    frame's probability of fake. The layer is the network's last ``Conv2d``.

    Args:
        results: ``results/<scale>/<run>.json`` of a frame-level run (its ``resolved_config`` and
            ``ckpt_path`` are used).
        out: PNG to write.
        title: Figure title.
        per_class: Frames of each class.

    Returns:
        ``out``, or ``None`` (with the reason printed) when the run, its checkpoint or frames are
        missing or the detector does not score frames.
    """
    if not results.is_file():
        _skip(out.stem, f"no results file {results}")
        return None
    record = json.loads(results.read_text(encoding="utf-8"))
    config, checkpoint = Path(record.get("resolved_config") or ""), Path(record.get("ckpt_path") or "")
    if not config.is_file() or not checkpoint.is_file():
        _skip(out.stem, f"run config {config} or checkpoint {checkpoint} missing")
        return None
    model, datamodule = _instantiate_run(config, checkpoint)
    if not hasattr(model, "fake_probability"):
        _skip(out.stem, f"{type(model).__name__} does not score single frames")
        return None
    datamodule.setup("test")
    dataset = datamodule.test_dataloader().dataset
    if not hasattr(dataset, "labels"):
        _skip(out.stem, f"{type(dataset).__name__} has no per-item labels to pick frames by")
        return None
    items = [dataset[i] for i in _pick_frames(dataset, per_class)]
    if not items:
        _skip(out.stem, "empty test split")
        return None
    frames = torch.stack([torch.as_tensor(item["frames"]) for item in items])
    labels = [int(item["label"]) for item in items]

    def forward(x: Tensor) -> Tensor:
        return model.fake_probability(model({"frames": x}))  # type: ignore[no-any-return]

    maps = grad_cam_maps(forward, last_conv_layer(model), frames)
    with torch.no_grad():
        probabilities = forward(frames.float()).tolist()
    return save_figure(_grad_cam_grid(frames, maps, labels, probabilities, title), out)


def _grad_cam_grid(
    frames: Tensor, maps: Tensor, labels: Sequence[int], probabilities: Sequence[float], title: str
) -> Figure:
    columns = max(sum(1 for label in labels if label == c) for c in (0, 1))
    groups = [[i for i, label in enumerate(labels) if label == c] for c in (1, 0)]
    groups = [g for g in groups if g]
    figure = Figure(figsize=(1.6 * columns, 1.7 * 2 * len(groups)))
    grid = np.atleast_2d(figure.subplots(2 * len(groups), columns, squeeze=False))
    for axes in grid.flat:
        axes.axis("off")
    for g, members in enumerate(groups):
        for column, i in enumerate(members):
            image = frames[i].permute(1, 2, 0).numpy().astype(np.float64) / 255.0
            heat = maps[i].numpy()
            heat = heat / heat.max() if heat.max() > 0 else heat
            name = "fake" if labels[i] == 1 else "real"
            grid[2 * g, column].imshow(image)
            grid[2 * g, column].set_title(f"{name}, P(fake) {probabilities[i]:.2f}", fontsize=6)
            grid[2 * g + 1, column].imshow(image)
            grid[2 * g + 1, column].imshow(heat, cmap="jet", alpha=0.45, vmin=0.0, vmax=1.0)
    figure.suptitle(title, fontsize=8)
    return figure


# ----------------------------------------------------------------------------- figures of the registry


@dataclass(frozen=True)
class FigureSpec:
    """One figure of ``make reproduce-tables``: its file stem, README caption and how it is drawn.

    ``draw(out)`` writes the PNG at ``out`` and returns it, or returns ``None`` after printing why.
    """

    slug: str
    caption: str
    draw: Callable[[Path], Path | None]


def _levels(row: RowSpec) -> list[str]:
    """Levels a row reports (``test/video_auc`` -> ``video``; per-dataset keys keep their last part)."""
    levels = {key.rsplit("/", 1)[-1].split("_", 1)[0] for key in row.metrics.values()}
    return sorted(levels & {"frame", "video", "clip"}, key=("frame", "clip", "video").index)


def _row_label(row: RowSpec) -> str:
    return row.label or row.paper_row


def _series_label(row: RowSpec) -> str:
    """One name per method across the subset tables, whose rows the paper labels differently.

    Citations go ("Xception [3]" -> "Xception"), "Ours (default γ)" becomes "Ours" (as the DFDC
    tables print it) and "Ours (γ = 0.1)", the γ tuned per subset, "Ours (tuned γ)".
    """
    label = re.sub(r"\s*\[\d+\]", "", _row_label(row))
    label = re.sub(r"\s*\(default\s*\S*\)", "", label)
    return re.sub(r"\((\S+)\s*=\s*[\d.]+\)", r"(tuned \1)", label).strip()


def det_figures(tables: Sequence[TableSpec], layout: Layout) -> list[FigureSpec]:
    """MFoM Fig. 1: DET curves of Table I's runs at the table's level."""
    specs = []
    for table in tables:
        if table.paper != "mfom" or table.table != "Table I":
            continue
        rows = [row for row in table.rows if row.experiment is not None]
        level = next((lvl for row in rows for lvl in _levels(row)), "video")
        runs = {_row_label(r): find_test_scores(layout.runs_dir / str(r.experiment), level) for r in rows}
        slug = f"{table.slug}-det"
        title = f"MFoM {table.table}: DET curves, {level} level ({layout.scale} scale)"
        specs.append(
            FigureSpec(
                slug,
                f"DET curves of MFoM {table.table}'s runs (paper Fig. 1)",
                functools.partial(plot_det_curves, runs, title=title),
            )
        )
    return specs


def roc_figures(tables: Sequence[TableSpec], layout: Layout) -> list[FigureSpec]:
    """One ROC figure per dual-level table with runs: a panel per level, a curve per row's run."""
    specs = []
    for table in tables:
        if table.paper != "dual_level":
            continue
        panels: dict[str, dict[str, Path | None]] = {}
        for row in table.rows:
            if row.experiment is None:
                continue
            for level in _levels(row):
                panels.setdefault(f"{level} level", {})[_row_label(row)] = find_test_scores(
                    layout.runs_dir / row.experiment, level
                )
        if not panels:
            continue
        title = f"Dual-level {table.table}: ROC curves ({layout.scale} scale)"
        specs.append(
            FigureSpec(
                f"{table.slug}-roc",
                f"ROC curves of dual-level {table.table}'s runs",
                functools.partial(plot_roc_curves, panels, title=title),
            )
        )
    return specs


def subset_ratio(paper: str, table: str) -> int | None:
    """N of the 1:N (fake:real) subset a table reports on, from its published caption, else ``None``."""
    from reproduce.paper_numbers import paper_table

    try:
        caption = paper_table(paper, table)[0].caption
    except KeyError:
        return None
    match = _SUBSET.search(caption)
    return int(match.group(2)) if match else None


def imbalance_series(
    tables: Sequence[TableSpec], layout: Layout, level: str
) -> tuple[dict[str, dict[float, ResultPoint]], dict[str, dict[float, float]]]:
    """Ours and the paper's AUC at ``level`` per method and subset ratio, over the subset tables.

    A table is a subset table when its caption names Celeb-N or DFDC-N; a row contributes when it
    maps that level's AUC column. Returns ``(series, published)`` for :func:`plot_auc_vs_imbalance`.
    """
    from reproduce.paper_numbers import paper_value

    series: dict[str, dict[float, ResultPoint]] = {}
    published: dict[str, dict[float, float]] = {}
    for table in tables:
        ratio = subset_ratio(table.paper, table.table) if table.paper == "dual_level" else None
        if ratio is None:
            continue
        for row in table.rows:
            column = next(
                (c for c in row.metrics if c.lower().replace("-", " ") == f"{level} level/auc"), None
            )
            if row.experiment is None or column is None:
                continue
            label = _series_label(row)
            series.setdefault(label, {})[ratio] = (layout.results(row.experiment), row.metrics[column])
            with contextlib.suppress(KeyError, ValueError):  # a cell the paper leaves blank
                published.setdefault(label, {})[ratio] = paper_value(
                    table.paper, table.table, row.paper_row, column
                ).fraction
    return series, published


def imbalance_figures(tables: Sequence[TableSpec], layout: Layout) -> list[FigureSpec]:
    """Dual-level Fig. 7 (video-level AUC) and Fig. 1b (frame-level AUC) against the subset ratio."""
    specs = []
    for level, figure in (("video", "Fig. 7"), ("frame", "Fig. 1b")):
        series, published = imbalance_series(tables, layout, level)
        if not series:
            continue
        title = f"Dual-level {figure}: {level}-level AUC vs imbalance ({layout.scale} scale; dashed: paper)"
        specs.append(
            FigureSpec(
                f"dual_level-auc_vs_imbalance-{level}",
                f"{level}-level AUC against the subset's imbalance ratio (dual-level paper {figure})",
                functools.partial(plot_auc_vs_imbalance, series, title=title, published=published),
            )
        )
    return specs


def gamma_figures(experiments: Sequence[Experiment], layout: Layout) -> list[FigureSpec]:
    """Dual-level Fig. 6, AUC against the AUC loss's margin gamma, from the registered sweep
    (:data:`reproduce.papers.dual_level.GAMMA_SWEEP`), when the registry holds its runs."""
    from reproduce.papers.dual_level import DEFAULT_GAMMA, GAMMA_SWEEP

    registered = {e.name for e in experiments}
    series: dict[str, dict[str, dict[float, ResultPoint]]] = {}
    for setting, runs in GAMMA_SWEEP.items():
        subset = setting.replace("celeb_", "Celeb-")
        for gamma, run in runs.items():
            if run not in registered:
                continue
            for level in ("video", "frame"):
                point = (layout.results(run), f"test/{level}_auc")
                series.setdefault(subset, {}).setdefault(level, {})[float(gamma)] = point
    if not series:
        return []
    title = f"Dual-level Fig. 6: AUC vs the AUC-loss margin γ ({layout.scale} scale; dashed: frame level)"
    return [
        FigureSpec(
            "dual_level-auc_vs_gamma",
            "AUC against the AUC loss's margin γ on the Celeb-DF subsets (dual-level paper Fig. 6)",
            functools.partial(plot_auc_vs_gamma, series, title=title, default_gamma=float(DEFAULT_GAMMA)),
        )
    ]


def grad_cam_figures(experiments: Sequence[Experiment], layout: Layout) -> list[FigureSpec]:
    """Grad-CAM of the first frame-level run (by :data:`GRAD_CAM_CONFIGS`) that has results."""
    for config in GRAD_CAM_CONFIGS:
        for experiment in experiments:
            if config in experiment.configs and experiment.fit and layout.results(experiment.name).is_file():
                title = f"Grad-CAM of {experiment.name} on test frames ({layout.scale} scale)"
                results = layout.results(experiment.name)
                return [
                    FigureSpec(
                        f"{experiment.name}-grad_cam",
                        f"Grad-CAM of {experiment.name} on a few test frames (top: frames, below: overlay)",
                        functools.partial(plot_grad_cam, results, title=title),
                    )
                ]
    _skip("grad_cam", f"no finished run of {', '.join(GRAD_CAM_CONFIGS)}")
    return []


def figure_specs(
    experiments: Sequence[Experiment], tables: Sequence[TableSpec], layout: Layout
) -> list[FigureSpec]:
    """Every figure the registered tables and experiments call for, in paper order.

    A builder that fails (a registry it does not understand) is reported and the others go on.
    """
    builders: tuple[Callable[[], list[FigureSpec]], ...] = (
        lambda: det_figures(tables, layout),
        lambda: roc_figures(tables, layout),
        lambda: imbalance_figures(tables, layout),
        lambda: gamma_figures(experiments, layout),
        lambda: grad_cam_figures(experiments, layout),
    )
    specs: list[FigureSpec] = []
    for builder in builders:
        try:
            specs += builder()
        except Exception as error:  # figures never stop the tables
            print(f"figures: could not list some figures ({type(error).__name__}: {error})")
    return specs


def render_figures(
    layout: Layout,
    experiments: Sequence[Experiment] | None = None,
    tables: Sequence[TableSpec] | None = None,
) -> list[Path]:
    """Draw every figure into ``results/<scale>/figures/`` and list them in the tables' README.

    A figure whose inputs are missing, or whose drawing fails, is reported on stdout and skipped:
    the tables are the deliverable and a figure never stops them.

    Args:
        layout: Where the runs and results of the scale are.
        experiments, tables: The registry to draw from (all of :mod:`reproduce.papers` by default).

    Returns:
        The PNG files written.
    """
    if experiments is None or tables is None:
        from reproduce.papers import EXPERIMENTS, TABLES

        experiments = EXPERIMENTS if experiments is None else experiments
        tables = TABLES if tables is None else tables
    figures_dir = layout.results_dir / "figures"
    written: list[tuple[str, Path]] = []
    for spec in figure_specs(experiments, tables, layout):
        try:
            path = spec.draw(figures_dir / f"{spec.slug}.png")
        except Exception as error:  # one figure must never stop the others or the tables
            print(f"figure {spec.slug}: failed ({type(error).__name__}: {error})")
            continue
        if path is not None:
            written.append((spec.caption, path))
    runs = {e.name: layout.runs_dir / e.name for e in experiments if e.paper == "attribution"}
    try:
        written += [
            (f"t-SNE of {p.stem.split('-tsne')[0]}'s test embeddings (attribution Figs. 2-3)", p)
            for p in copy_tsne_plots(runs, figures_dir)
        ]
    except OSError as error:
        print(f"figures: t-SNE plots not copied ({error})")
    if written:
        _list_in_readme(layout.tables_dir / "README.md", written)
    print(f"figures written to {figures_dir} ({len(written)} files)")
    return [path for _, path in written]


def _list_in_readme(readme: Path, figures: Sequence[tuple[str, Path]]) -> None:
    """Append (or replace) a Figures section to the tables' README, images linked relatively."""
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    text = text.split(f"\n{_README_MARK}\n")[0].rstrip("\n")
    lines = [f"\n{_README_MARK}", "## Figures", ""]
    for caption, path in figures:
        lines += [f"**{caption}**", "", f"![{caption}](../figures/{path.name})", ""]
    atomic_write_text(readme, text + "\n" + "\n".join(lines))
