"""t-SNE of test embeddings as in Figs. 2-3 of the attribution paper (Korshunov et al., ICASSP 2022).

"Color shows predicted labels, real videos in blue; marker style - true labels." The figure is
drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch) and written
through a temporary file and a rename, so a crash never leaves half a PNG.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p", "d", "8", "H")
_REAL_COLOUR = "tab:blue"
_EXACT_UP_TO = 200


def tsne_2d(embeddings: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """(N, 2) t-SNE of (N, D) embeddings; the perplexity shrinks for small N (it must stay < N).

    Args:
        embeddings: (N, D) with N >= 2.
        seed: Random state of the embedding.
        perplexity: scikit-learn's perplexity for large N.
    """
    from sklearn.manifold import TSNE

    n = len(embeddings)
    if n < 2:
        raise ValueError(f"t-SNE needs at least 2 embeddings, got {n}")
    perplexity = min(perplexity, max(1.0, (n - 1) / 3.0))
    # Barnes-Hut approximates for scale; on a few hundred points the exact gradient is faster.
    method = "exact" if n <= _EXACT_UP_TO else "barnes_hut"
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", method=method, random_state=seed)
    return np.asarray(tsne.fit_transform(np.asarray(embeddings, dtype=np.float32)))


def subsample(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``max_points`` of ``n`` items, drawn without replacement."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def _colours(n: int) -> list[str]:
    """One colour per predicted class, class 0 (real) blue as in the paper."""
    palette = [f"C{i}" for i in range(1, 10)] + [f"tab:{c}" for c in ("olive", "cyan", "pink", "gray")]
    rest = [c for c in palette if c not in ("C0", _REAL_COLOUR)]
    return [_REAL_COLOUR] + [rest[i % len(rest)] for i in range(max(0, n - 1))]


def save_tsne_plot(
    points: np.ndarray,
    predicted: np.ndarray,
    true: np.ndarray,
    predicted_names: Sequence[str],
    true_names: Sequence[str],
    path: str | Path,
    title: str = "",
) -> Path:
    """Scatter 2-D points, colour = predicted class, marker = true class; write a PNG atomically.

    Args:
        points: (N, 2) t-SNE coordinates (:func:`tsne_2d`).
        predicted: (N,) predicted class index into ``predicted_names`` (0 = real).
        true: (N,) true class index into ``true_names`` (0 = real).
        predicted_names: Name of each predicted class.
        true_names: Name of each true class.
        path: Target ``.png``.
        title: Figure title.

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    points, predicted, true = np.asarray(points), np.asarray(predicted), np.asarray(true)
    if not (points.ndim == 2 and points.shape[1] == 2 and len(points) == len(predicted) == len(true)):
        raise ValueError(
            f"points must be (N, 2) with N predicted and true labels, got points {points.shape}, "
            f"predicted {predicted.shape}, true {true.shape}"
        )
    colours = _colours(len(predicted_names))
    figure = Figure(figsize=(8, 6.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for t in np.unique(true):
        for p in np.unique(predicted[true == t]):
            chosen = (true == t) & (predicted == p)
            axes.scatter(
                points[chosen, 0],
                points[chosen, 1],
                c=colours[int(p) % len(colours)],
                marker=_MARKERS[int(t) % len(_MARKERS)],
                s=14,
                alpha=0.75,
                linewidths=0,
            )
    colour_keys = [
        Line2D([], [], ls="", marker="o", color=colours[int(p) % len(colours)], label=predicted_names[int(p)])
        for p in np.unique(predicted)
    ]
    marker_keys = [
        Line2D(
            [], [], ls="", marker=_MARKERS[int(t) % len(_MARKERS)], color="black", label=true_names[int(t)]
        )
        for t in np.unique(true)
    ]
    first = axes.legend(handles=colour_keys, title="predicted (colour)", loc="upper left", fontsize=7)
    axes.add_artist(first)
    axes.legend(handles=marker_keys, title="true (marker)", loc="lower right", fontsize=7)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title)
    figure.tight_layout()
    return _write_png_atomically(figure, Path(path))


def _write_png_atomically(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            figure.savefig(handle, format="png")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
