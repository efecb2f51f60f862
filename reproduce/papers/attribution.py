"""Attribution (Korshunov, Jain and Marcel, ICASSP 2022) Tables 1 and 2: Binary, Attribution,
TripletLoss-NN and ArcFaceMod-LR, each trained once on the "super-set" and tested per dataset.

One experiment per approach (:mod:`lightning_modules.attribution`, ``head``): its single test run
logs every source dataset of the test split on its own (``test/<dataset>/video_...``), which fills
both the same-database rows (Table 1) and the cross-database rows (Table 2).

Columns: the paper calls *real* the positive class, so its FPR (fake videos accepted as real,
10 % on validation by construction of the threshold, Sec. 2.2) is our FAR and its FNR (real videos
flagged fake) our FRR. Video level: the threshold is defined on fake *videos*, and frames are
averaged per video. TripletLoss is scored by the kNN (k = 14) and ArcFaceMod by the logistic
regression (C = 0.001) fitted on the validation embeddings, the classifiers the paper reports.

Full tier: each head's paper config with ``experiments/attribution/superset.yaml`` stacked, the
real super-set (10 classes) and the three unseen test sets, whose sources' ``dataset_name`` are
the row names (``FaceForensics++``, ``Celeb-DF``, ...). A dataset missing from the user's copy
shows as ``missing`` in its rows.
"""

from __future__ import annotations

from reproduce.spec import Experiment, RowSpec, TableSpec, face_crops_overlay

PAPER = "attribution"

#: Full scale: the real super-set and the unseen test sets.
_FULL_DATA = "experiments/attribution/superset.yaml"
#: Smoke scale: seven synthetic "datasets" named as the paper's, four merged for training.
_SMOKE_DATA = "reproduce/smoke/attribution/superset.yaml"
#: Smoke budget (4 runs in about 4 minutes): 8 epochs at Adam 1e-3 (the overlays' 3e-4 needs more),
#: one t-SNE of 500 test frames per run (Figs. 2-3) instead of one per dataset of 1000 (half the test time).
_SMOKE_ARGS = (
    "--trainer.max_epochs=8",
    "--model.init_args.optimizer.init_args.lr=1e-3",
    "--model.init_args.tsne_per_dataset=false",
    "--model.init_args.tsne_max_points=500",
)

#: Paper approach (row prefix) -> (head config suffix, suffix of the classifier the paper reports).
_APPROACHES: dict[str, tuple[str, str]] = {
    "Binary": ("binary", ""),
    "Attribution": ("attribution", ""),
    "TripletLoss-NN": ("triplet", "_knn"),
    "ArcFaceMod-LR": ("arcface", "_logreg"),
}
_SAME_DATABASE = ("Celeb-DF", "FaceForensics++", "DeeperForensics", "HifiFace")
_CROSS_DATABASE = ("DF-Mobio", "Google", "DeepfakeTIMIT")
#: Paper column -> our metric stem (the paper's FPR/FNR are our FAR/FRR, see the module docstring).
_COLUMNS = {"AUC": "auc", "FNR (%)": "frr", "FPR (%)": "far", "HTER (%)": "hter"}


def _experiment(head: str) -> Experiment:
    return Experiment(
        name=f"attribution-{head}",
        paper=PAPER,
        configs=(f"experiments/attribution_{head}.yaml",),
        full_configs=(_FULL_DATA, face_crops_overlay(PAPER)),
        smoke_configs=(f"experiments/smoke/attribution_{head}.yaml", _SMOKE_DATA),
        smoke_args=_SMOKE_ARGS,
    )


EXPERIMENTS: tuple[Experiment, ...] = tuple(_experiment(head) for head, _ in _APPROACHES.values())


def _row(approach: str, dataset: str) -> RowSpec:
    head, suffix = _APPROACHES[approach]
    metrics = {column: f"test/{dataset}/video_{stem}{suffix}" for column, stem in _COLUMNS.items()}
    return RowSpec(f"{approach}/{dataset}", f"attribution-{head}", metrics)


_STAND_IN = (
    "Smoke stand-in: seven small synthetic sets (own seeds, so other people) named after the paper's "
    "datasets; the splits of Celeb-DF, FaceForensics++, DeeperForensics and HifiFace form the training "
    "super-set (real + 2 frame-visible synthetic methods = 3 classes, not 10), and every video of "
    "DF-Mobio, Google and DeepfakeTIMIT (other crf, subtler fakes) is test only. Tiny test sets "
    "(5-12 people each): the numbers move in steps of 4-20 %."
)
_COLUMN_NOTE = (
    "Video level. The paper's positive class is real: its FPR (fakes accepted as real, 10 % on "
    "validation by construction of the threshold) is our FAR, its FNR (reals rejected) our FRR."
)
_CLASSIFIER_NOTE = (
    "TripletLoss-NN: kNN (k = 14) and ArcFaceMod-LR: logistic regression (C = 0.001), fitted on the "
    "validation embeddings, as the rows the paper reports."
)


def _table(table: str, title: str, datasets: tuple[str, ...]) -> TableSpec:
    return TableSpec(
        PAPER,
        table,
        title,
        rows=tuple(_row(approach, dataset) for approach in _APPROACHES for dataset in datasets),
        columns=tuple(_COLUMNS),
        notes=(_COLUMN_NOTE, _CLASSIFIER_NOTE, _STAND_IN),
    )


TABLES: tuple[TableSpec, ...] = (
    _table("Table 1", "Same-database evaluation: AUC, FNR, FPR, HTER (%), video level", _SAME_DATABASE),
    _table("Table 2", "Cross-database evaluation: AUC, FNR, FPR, HTER (%), video level", _CROSS_DATABASE),
)
