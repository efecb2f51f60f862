"""MFoM (Kukanov et al., APSIPA 2020) Table I: EER and minDCF of the CE baselines and the MFoM fine-tunes.

Video level (frame probabilities averaged per video, LSTM subsequence scores averaged per video),
as the paper scores videos. The "Eval" column is the authors' self-collected set, not public.
"""

from __future__ import annotations

from reproduce.spec import Experiment, RowSpec, TableSpec

PAPER = "mfom"
_EVAL_NOTE = "Eval/EER: the authors' self-collected evaluation set is not public; not reproduced."


def _experiment(name: str, config: str, *args: str, init_from_baseline: bool = False) -> Experiment:
    return Experiment(
        name=f"mfom-{name}",
        paper=PAPER,
        configs=(f"experiments/{config}.yaml",),
        smoke_configs=(f"experiments/smoke/{config}.yaml",),
        args=args,
        checkpoint_args={"--model.init_args.init_from": "mfom-cnn"} if init_from_baseline else {},
    )


EXPERIMENTS: tuple[Experiment, ...] = (
    _experiment("cnn", "mfom_cnn"),
    _experiment("lstm", "mfom_lstm"),
    _experiment("finetune_eer", "mfom_finetune_eer", init_from_baseline=True),
    *(
        _experiment(
            f"finetune_dcf_{p}",
            "mfom_finetune_dcf",
            f"--model.init_args.p_target={p}",
            init_from_baseline=True,
        )
        for p in ("0.1", "0.05", "0.01")
    ),
)

_COLUMNS = {
    "EER": "test/video_eer",
    "minDCF with P_{tar}/0.1": "test/video_min_dcf_01",
    "minDCF with P_{tar}/0.05": "test/video_min_dcf_005",
    "minDCF with P_{tar}/0.01": "test/video_min_dcf_001",
}


def _row(paper_row: str, experiment: str) -> RowSpec:
    return RowSpec(paper_row, f"mfom-{experiment}", _COLUMNS)


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        PAPER,
        "Table I",
        "EER (%) and minDCF at three P_tar, video level",
        rows=(
            _row("LSTM [14]", "lstm"),
            _row("CNN", "cnn"),
            _row("CNN+MEER", "finetune_eer"),
            _row("CNN+MDCF 0.1", "finetune_dcf_0.1"),
            _row("CNN+MDCF 0.05", "finetune_dcf_0.05"),
            _row("CNN+MDCF 0.01", "finetune_dcf_0.01"),
        ),
        notes=(_EVAL_NOTE,),
    ),
)
