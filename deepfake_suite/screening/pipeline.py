"""``lightning score``: screen a folder of uploads with a trained detector at a chosen operating point.

1. The model and datamodule come from the same ``--config`` files as ``fit``; the weights from
   ``--ckpt_path`` (``best``/``last`` find the run's checkpoints as ``test`` does).
2. The threshold is ``--threshold``, or the one ``--operating_point`` picks on the video scores
   of the config's **validation** split (never test data), computed afresh on every run.
3. Uploads are cropped by the preprocessing pipeline into a temporary face-crop store, read by
   the datamodule's own dataset class with its sampling and evaluation transforms, and scored by
   the model's ``predict_step`` through ``Trainer.predict`` in batches.
4. One CSV row per upload (skipped ones with their reason) and one per scored frame.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from datamodules.clip_datamodule import AugmentedClips, ClipDataModule
from datamodules.clip_dataset import ClipDataset
from datamodules.frame_datamodule import FrameDataModule
from datamodules.frame_dataset import FrameDataset
from datamodules.preprocessing.extract import CropParams
from datamodules.sources.base import VideoRecord
from deepfake_suite.errors import SuiteError
from deepfake_suite.lightning_cli import SuiteCLI
from deepfake_suite.run_layout import resolve_checkpoint
from deepfake_suite.screening.operating_point import OperatingPoint, choose_threshold, describe
from deepfake_suite.screening.report import UploadRow, frames_path, write_reports
from deepfake_suite.screening.scores import collect_predictions, frame_layout, video_results, video_scores
from deepfake_suite.screening.uploads import (
    CroppedUploads,
    Rejected,
    UploadSource,
    crop_uploads,
    find_uploads,
)


@dataclass(frozen=True)
class ScoreOptions:
    """The ``score`` command's arguments (see :func:`deepfake_suite.screening.command.build_parser`)."""

    configs: list[str]
    ckpt_path: str
    videos: Path
    out: Path
    operating_point: OperatingPoint | None
    threshold: float | None
    detector: str | None = None
    detector_model: str | None = None
    batch_size: int | None = None
    preprocess_workers: int | None = None
    progress: bool = True
    overrides: tuple[str, ...] = ()


class _ModelAndDataCLI(SuiteCLI):
    """The suite's CLI parsing the same configs as ``fit``, building the model and data only.

    The config's trainer (loggers that create run folders, several devices) is not built:
    screening runs its own one-device predict-only Trainer.
    """

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        return None  # type: ignore[return-value]


def load_config(configs: list[str], overrides: tuple[str, ...]) -> _ModelAndDataCLI:
    """Parse ``--config`` files (and ``--model.*``/``--data.*``/``--trainer.*`` overrides)."""
    args = [arg for config in configs for arg in ("--config", config)]
    with warnings.catch_warnings():
        # The `score` words in sys.argv are this command's, not a second set of CLI arguments.
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
        return _ModelAndDataCLI(args=[*args, *overrides, "--trainer.logger=false"], run=False)


def checkpoint_path(cli: _ModelAndDataCLI, requested: str) -> str:
    """``--ckpt_path``: a file, or ``best``/``last`` of the configs' run, as ``test`` resolves them."""
    trainer = cli.config_init.get("trainer") or {}
    callbacks = trainer.get("callbacks") or []
    dirpath = next((c.dirpath for c in callbacks if isinstance(c, ModelCheckpoint) and c.dirpath), None)
    resolved = resolve_checkpoint(requested, None if dirpath is None else str(dirpath), cli.config.run_name)
    assert resolved is not None
    return resolved


def load_weights(model: LightningModule, path: str) -> None:
    """Restore a checkpoint's weights as Lightning does (``on_load_checkpoint``, then the state dict).

    Raises:
        SuiteError: The file is not a Lightning checkpoint, or its weights do not fit the model
            the configs build (another detector or other sizes).
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # pickle, zip and OS errors alike mean "not a readable checkpoint"
        raise SuiteError(
            f"--ckpt_path {path}: cannot read the checkpoint ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise SuiteError(f"--ckpt_path {path} is not a Lightning checkpoint (it holds no state_dict)")
    model.on_load_checkpoint(checkpoint)
    try:
        model.load_state_dict(checkpoint["state_dict"], strict=model.strict_loading)
    except RuntimeError as error:
        detail = " ".join(str(error).split())[:400]
        raise SuiteError(
            f"--ckpt_path {path} does not fit the model of the --config files "
            f"({type(model).__name__}): {detail}"
        ) from None


def build_trainer(cli: _ModelAndDataCLI, progress: bool, root_dir: str) -> Trainer:
    """One device, the config's accelerator and precision, no logger, checkpoints or config files.

    Predictions of several devices would each hold a shard of the videos; one device keeps the
    loader's order, which matching outputs to videos relies on.
    """
    config = cli.config.get("trainer") or {}
    return Trainer(
        accelerator=config.get("accelerator") or "auto",
        devices=1,
        num_nodes=1,
        precision=config.get("precision"),
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress,
        default_root_dir=root_dir,
        callbacks=[],
    )


def _predict(trainer: Trainer, model: LightningModule, loader: DataLoader) -> list[dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        outputs = trainer.predict(model, dataloaders=loader, return_predictions=True)
    return list(outputs or [])  # type: ignore[arg-type]


def validation_threshold(
    trainer: Trainer, model: LightningModule, datamodule: Any, point: OperatingPoint
) -> tuple[float, str]:
    """The threshold ``point`` picks on the video scores of the datamodule's validation split."""
    datamodule.prepare_data()
    datamodule.setup("validate")
    items = collect_predictions(_predict(trainer, model, datamodule.val_dataloader()), model)
    scores = video_scores(items, model)
    labels = {record.video_id: record.label for record in datamodule.datasets["val"].records}
    videos = sorted(scores)
    choice = choose_threshold(
        torch.tensor([scores[v] for v in videos], dtype=torch.float64),
        torch.tensor([labels[v] for v in videos]),
        point,
    )
    return choice.threshold, describe(choice, point)


def training_crop_params(datamodule: Any) -> tuple[CropParams, str]:
    """How the training faces were cropped: the training store's parameters, or the datamodule's.

    A model trained on a face-crop store gets uploads cropped with that store's detector,
    margin, size, frame sampling and smoothing. A model trained on raw videos (whose datasets
    crop at the boxes of each video's sidecar) gets the datamodule's margin and size, the frames
    its dataset samples, and a face detector (``haar`` unless ``--detector`` says otherwise).
    """
    from datamodules.combined import CombinedSource
    from datamodules.crop_store import CropStoreSource

    source = datamodule.source
    sources = source.sources if isinstance(source, CombinedSource) else [source]
    stores = [s for s in sources if isinstance(s, CropStoreSource)]
    if stores:
        names = {f.name for f in fields(CropParams)}
        recorded = {k: v for k, v in stores[0].params.items() if k in names}
        return CropParams(**recorded), f"the training store {stores[0].root}"
    if isinstance(datamodule, FrameDataModule):
        frames = datamodule.frames_per_video
    else:
        # Consecutive windows need every frame to place them; one even clip needs clip_len frames.
        frames = datamodule.clip_len if datamodule.clip_sampling == "even" else None
    params = CropParams(
        frame_size=datamodule.frame_size,
        frames_per_video=frames,
        face_margin=datamodule.face_margin,
        min_frames=1,
    )
    return params, "the datamodule (raw training videos)"


def upload_loader(datamodule: Any, records: list[VideoRecord], batch_size: int | None) -> DataLoader:
    """The datamodule's dataset class over the uploads' crops, loaded as its evaluation loaders are."""
    loaded: Any
    if isinstance(datamodule, FrameDataModule):
        dataset: Any = FrameDataset(
            records,
            frames_per_video=datamodule.frames_per_video,
            frame_size=datamodule.frame_size,
            video_index={r.video_id: i for i, r in enumerate(records)},
            class_index={},
            face_margin=datamodule.face_margin,
            transform=datamodule.eval_augmentation,
            num_threads=max(1, datamodule.num_workers),
        )
        loaded = dataset
    else:
        dataset = ClipDataset(
            records,
            clip_len=datamodule.clip_len,
            frame_size=datamodule.frame_size,
            face_margin=datamodule.face_margin,
            num_threads=max(1, datamodule.num_workers),
            sampling=datamodule.clip_sampling,
            frame_gap=datamodule.frame_gap,
            clips_per_video=datamodule.clips_per_video,
        )
        augmentation = datamodule.eval_augmentation
        loaded = dataset if augmentation is None else AugmentedClips(dataset, augmentation)
    return DataLoader(
        loaded,
        batch_size=batch_size or datamodule.eval_batch_size,
        shuffle=False,
        collate_fn=datamodule.collate_fn,
        num_workers=datamodule.num_workers,
    )


def score_uploads(
    trainer: Trainer,
    model: LightningModule,
    datamodule: Any,
    cropped: CroppedUploads,
    batch_size: int | None,
) -> dict[str, Any]:
    """``video_id ->`` :class:`~deepfake_suite.screening.scores.VideoResult` of the cropped uploads."""
    loader = upload_loader(datamodule, cropped.records, batch_size)
    dataset: Any = loader.dataset.clips if isinstance(loader.dataset, AugmentedClips) else loader.dataset
    if len(dataset) == 0:
        return {}
    items = collect_predictions(_predict(trainer, model, loader), model)
    return video_results(items, frame_layout(dataset), cropped.frame_indices, model)


def run_screening(options: ScoreOptions) -> int:
    """Score every upload and write the CSVs; returns the number of videos scored.

    Raises:
        SuiteError: Bad config, checkpoint or operating point, or nothing could be scored (the
            CSVs are written first, with every upload's reason).
    """
    out = options.out
    outputs = frozenset({out.resolve(), frames_path(out).resolve()})
    videos, rejected = find_uploads(options.videos, exclude=outputs)
    if not videos:
        _write(options, {}, {}, rejected, None, None, "")
        raise SuiteError(f"no video to score under {options.videos} ({len(rejected)} other files, see {out})")
    cli = load_config(options.configs, options.overrides)
    model, datamodule = cli.model, cli.datamodule
    if not isinstance(datamodule, FrameDataModule | ClipDataModule):
        raise SuiteError(
            f"score reads uploads with datamodules.FrameDataModule or ClipDataModule; the config's data is "
            f"{type(datamodule).__name__}"
        )
    load_weights(model, checkpoint_path(cli, options.ckpt_path))
    params, params_from = training_crop_params(datamodule)
    if options.detector is not None:
        same = options.detector == params.detector
        model_file = options.detector_model or (params.detector_model if same else None)
        params = replace(params, detector=options.detector, detector_model=model_file)  # type: ignore[arg-type]
    print(
        f"faces: detector {params.detector}, margin {params.face_margin}, {params.frame_size} px, "
        f"{params.frames_per_video or 'all'} frames per video (crop settings from {params_from})"
    )
    with tempfile.TemporaryDirectory(prefix="deepfake-suite-score-") as work:
        trainer = build_trainer(cli, options.progress, work)
        if options.threshold is not None:
            threshold, point_text = options.threshold, f"threshold:{options.threshold!r}"
        else:
            assert options.operating_point is not None
            threshold, line = validation_threshold(trainer, model, datamodule, options.operating_point)
            point_text = options.operating_point.text
            print(line)
            print(f"to apply it again without validation: --threshold {threshold!r}")
        root = options.videos if options.videos.is_dir() else options.videos.parent
        source = UploadSource(root, videos)
        cropped = crop_uploads(
            source, Path(work) / "store", params, options.preprocess_workers, options.progress
        )
        results = (
            score_uploads(trainer, model, datamodule, cropped, options.batch_size) if cropped.records else {}
        )
    paths = {source.video_id(path): path for path in videos}
    skipped = dict(cropped.skipped)
    for vid in paths:
        if vid not in results and vid not in skipped:
            skipped[vid] = "unreadable: its face crops could not be read back"
    scored = _write(options, paths, results, rejected, skipped, threshold, point_text)
    n_total = len(videos) + len(rejected)
    print(f"scored {scored} of {n_total} uploads ({n_total - scored} skipped): {out}, {frames_path(out)}")
    if scored == 0:
        raise SuiteError(f"no upload under {options.videos} could be scored: the reasons are in {out}")
    return scored


def _write(
    options: ScoreOptions,
    paths: dict[str, Path],
    results: dict[str, Any],
    rejected: list[Rejected],
    skipped: dict[str, str] | None,
    threshold: float | None,
    point_text: str,
) -> int:
    rows = [UploadRow(str(r.path), r.reason) for r in rejected]
    for vid, path in paths.items():
        if vid in results:
            result = results[vid]
            rows.append(UploadRow(str(path), "", result.score, result.n_frames_scored, tuple(result.frames)))
        else:
            rows.append(UploadRow(str(path), (skipped or {}).get(vid, "not scored")))
    write_reports(options.out, rows, threshold, point_text)
    return sum(row.score is not None for row in rows)
