"""Training throughput of each paper config beside its bare backbone's, measured in one run.

For every paper config (``experiments/*.yaml``), the detector is built exactly as ``lightning fit``
builds it (its precision, ``channels_last``, ``compile``; random weights, since the rate does not
depend on them) and trained by a Lightning ``Trainer`` for ``--steps`` steps on one repeated batch
of the config's shape (batch size, clip length or frames, crop size): the whole training step,
host-to-device copy, forward, loss, backward and optimizer included, data loading excluded
(``bench/data_bench.py`` measures the loaders). Then the bare backbone the config names (a timm
model, torchvision's R3D-18, facenet-pytorch's InceptionResnetV1) runs forward + backward on the
same number of frames, with the same precision, memory format and compilation. The ratio
``detector / backbone`` is what the detector's own parts (temporal module, heads, losses,
Lightning) cost; the issues' target is >= 0.9. A frozen backbone (the siamese stage 2, TripletFaceNet
with ``freeze_embedder``) skips its backward pass, so its ratio exceeds 1.

    python bench/detector_bench.py --device cuda                     # every paper config, paper shapes
    python bench/detector_bench.py --device cuda --only dual_level,mfom_cnn
    python bench/detector_bench.py --device cpu --batch 2 --clip-len 4 --frame-size 64 --steps 2 \
        --precision 32-true --no-compile                               # a quick look on a laptop
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIGS = (
    "dual_level",
    "baselines/cnn_gru",
    "baselines/cnn_lstm",
    "baselines/xception",
    "baselines/xception_auc",
    "baselines/meso4",
    "baselines/mesoinception4",
    "baselines/feature_mlp",
    "mfom_cnn",
    "mfom_finetune_eer",
    "mfom_lstm",
    "attribution_binary",
    "attribution_attribution",
    "attribution_triplet",
    "attribution_arcface",
    "triplet_facenet",
    "triplet_bagging_xception",
    "triplet_frames_only",
    "triplet_lstm",
    "triplet_r3d",
    "siamese_extractor",
    "siamese_lstm",
    "siamese_mlp",
)
# Weights are never loaded: each detector names its pretrained switch differently.
_NO_WEIGHTS = (
    ["--model.init_args.pretrained=false"],
    ["--model.init_args.network.init_args.pretrained=false"],
    [],
)
_BACKBONE_KEYS = ("backbone", "extractor", "embedder", "arch")


@dataclass
class Row:
    config: str
    backbone: str
    frames_per_step: int
    detector_fps: float
    backbone_fps: float | None
    ratio: float | None
    note: str = ""


class _Data:
    """What the detectors ask of a datamodule during ``fit``, around one repeated batch."""

    def __init__(self, batch: dict[str, Any], steps: int, datamodule: Any) -> None:
        from lightning.pytorch import LightningDataModule
        from torch.utils.data import DataLoader

        labels = batch["label"].long().numpy()

        class Data(LightningDataModule):
            def __init__(self) -> None:
                super().__init__()
                self.batch_size = int(batch["label"].numel())
                self.class_names = list(getattr(datamodule, "class_names", []) or [])
                self.datasets = {
                    "train": type(
                        "Frames", (), {"video_index": batch["video_index"].numpy(), "labels": labels}
                    )
                }

            def set_epoch(self, epoch: int) -> None:
                pass

            def train_dataloader(self) -> DataLoader:
                return DataLoader([batch] * steps, batch_size=None, shuffle=False)

        self.module = Data()


def paper_batch(
    datamodule: Any, batch: int | None, clip_len: int | None, frame_size: int | None
) -> dict[str, Any]:
    """One batch of the config's shape, both classes: clips (B, T, 3, S, S) or frames (B, 3, S, S)."""
    from datamodules import ClipDataModule

    size = frame_size or datamodule.frame_size
    n = batch or datamodule.batch_size
    labels = torch.arange(n) % 2
    common = {
        "label": labels.float(),
        "method_label": labels.long(),
        "video_index": torch.arange(n),
        "index": torch.arange(n),
        "video_id": [f"bench/{i}" for i in range(n)],
    }
    generator = torch.Generator().manual_seed(0)
    if isinstance(datamodule, ClipDataModule):
        length = clip_len or datamodule.clip_len
        frames = torch.randint(0, 256, (n, length, 3, size, size), dtype=torch.uint8, generator=generator)
        return {
            **common,
            "frames": frames,
            "mask": torch.ones(n, length, dtype=torch.bool),
            "frame_labels": labels[:, None].float().expand(n, length).contiguous(),
        }
    frames = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    return {
        **common,
        "frames": frames.contiguous(memory_format=torch.channels_last),
        "frame_label": labels.float(),
    }


def frames_in(batch: dict[str, Any]) -> int:
    shape = batch["frames"].shape
    return int(shape[0] * shape[1]) if batch["frames"].dim() == 5 else int(shape[0])


def build_cli(config: str, extra: list[str]) -> Any:
    """The CLI objects ``lightning fit --config experiments/<config>.yaml`` builds, weights off."""
    from deepfake_suite.lightning_cli import SuiteCLI

    base = ["--config", str(REPO / "experiments" / f"{config}.yaml"), "--trainer.logger=false", *extra]
    messages = []
    for no_weights in _NO_WEIGHTS:
        captured = io.StringIO()
        try:
            with contextlib.redirect_stderr(captured):  # the parser's usage text for a wrong key
                return SuiteCLI(args=[*base, *no_weights], run=False)
        except SystemExit:
            lines = [line for line in captured.getvalue().splitlines() if "error:" in line]
            messages.append(lines[-1].strip() if lines else "exit 2")
    raise RuntimeError(f"{config}: the config does not parse: {messages[-1]}")


def backbone_name(config_dict: dict[str, Any]) -> str | None:
    """The backbone the config names (``model.init_args.backbone`` and its siblings), if any."""
    init = config_dict["model"]["init_args"]
    for owner in (init, (init.get("network") or {}).get("init_args") or {}):
        for key in _BACKBONE_KEYS:
            if isinstance(owner.get(key), str):
                return str(owner[key])
    return None


def bare_backbone(name: str) -> torch.nn.Module:
    """The backbone alone, random weights, no classifier."""
    if name == "facenet":
        from facenet_pytorch import InceptionResnetV1

        return InceptionResnetV1(pretrained=None)
    if name.startswith(("r3d_", "r2plus1d_", "mc3_")):
        import torchvision.models.video as video

        return getattr(video, name)(weights=None)
    import timm

    return timm.create_model(name, pretrained=False, num_classes=0)


def _autocast(device: str, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision.startswith("bf16"):
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    if precision.startswith("16"):
        return torch.autocast(device_type=device, dtype=torch.float16)
    return contextlib.nullcontext()


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_steps(step: Callable[[], None], warmup: int, steps: int, device: str) -> float:
    """Seconds for ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronize(device)
    return time.perf_counter() - start


def backbone_rate(
    name: str,
    batch: dict[str, Any],
    hparams: dict[str, Any],
    precision: str,
    device: str,
    warmup: int,
    steps: int,
) -> float:
    """Frames/s of the bare backbone's forward + backward on the batch's frames."""
    network = bare_backbone(name).to(device).train()
    frames = batch["frames"].to(device).float() / 255
    if name.startswith(("r3d_", "r2plus1d_", "mc3_")):
        inputs = frames.permute(0, 2, 1, 3, 4).contiguous()  # (B, 3, T, S, S)
    else:
        inputs = frames.flatten(0, 1) if frames.dim() == 5 else frames
        if hparams.get("channels_last"):
            network = network.to(memory_format=torch.channels_last)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
    if hparams.get("compile"):
        network = torch.compile(network)

    def step() -> None:
        network.zero_grad(set_to_none=True)
        with _autocast(device, precision):
            output = network(inputs)
        output.float().sum().backward()

    return frames_in(batch) * steps / time_steps(step, warmup, steps, device)


class _StepTimer:
    """Times training steps ``warmup`` .. end inside ``Trainer.fit``."""

    def __init__(self, warmup: int, device: str) -> None:
        from lightning.pytorch import Callback

        timer = self

        class Timer(Callback):
            def on_train_batch_start(self, trainer: Any, *args: Any) -> None:
                if trainer.global_step == warmup:
                    _synchronize(device)
                    timer.start = time.perf_counter()

            def on_train_end(self, trainer: Any, *args: Any) -> None:
                _synchronize(device)
                timer.stop = time.perf_counter()

        self.start = self.stop = math.nan
        self.callback = Timer()


def detector_rate(
    cli: Any, batch: dict[str, Any], precision: str, device: str, warmup: int, steps: int
) -> float:
    """Frames/s of full Lightning training steps of the configured detector."""
    from lightning.pytorch import Trainer

    model = cli.model
    # Two-stage and fine-tuning configs load an earlier run's weights at fit start; the rate does not
    # depend on them, and the siamese stage 2 freezes its extractor in __init__ either way.
    for attribute in ("init_from", "extractor_checkpoint", "init_checkpoint"):
        if getattr(model, attribute, None) is not None:
            setattr(model, attribute, None)
    if hasattr(model, "extractor_checkpoint"):
        model.pretrained = True  # "no stage-1 file" is then allowed
    timer = _StepTimer(warmup, device)
    trainer = Trainer(
        accelerator=device,
        devices=1,
        precision=precision,
        max_steps=warmup + steps,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer.callback],
    )
    data = _Data(batch, warmup + steps, cli.datamodule)
    trainer.fit(model, datamodule=data.module)
    return frames_in(batch) * steps / (timer.stop - timer.start)


def measure(config: str, args: argparse.Namespace) -> Row:
    extra = [f"--trainer.precision={args.precision}"] if args.precision else []
    if args.no_compile:
        # Compilation happens in the detectors' constructors: it must be off before they run.
        extra.append("--model.init_args.compile=false")
    cli = build_cli(config, extra)
    precision = str(args.precision or cli.config.trainer.precision)
    batch = paper_batch(cli.datamodule, args.batch, args.clip_len, args.frame_size)
    name = backbone_name(cli.config.as_dict())
    hparams = dict(getattr(cli.model, "hparams", {}))
    if args.no_compile:
        hparams["compile"] = False
    detector = detector_rate(cli, batch, precision, args.device, args.warmup, args.steps)
    backbone: float | None = None
    note = ""
    if name is None:
        note = "no named backbone"
    else:
        try:
            backbone = backbone_rate(name, batch, hparams, precision, args.device, args.warmup, args.steps)
        except (ImportError, RuntimeError) as error:
            note = f"backbone not measured: {error}"
    ratio = None if backbone is None else detector / backbone
    return Row(config, name or "-", frames_in(batch), detector, backbone, ratio, note)


def render(rows: list[Row], device: str) -> str:
    lines = [
        f"Training frames/s on {device} (detector: full Lightning step; backbone: forward + backward)",
        "",
        "| config | backbone | frames/step | detector | backbone | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        bare = "-" if row.backbone_fps is None else f"{row.backbone_fps:,.0f}"
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        note = f" {row.note}" if row.note else ""
        lines.append(
            f"| {row.config} | {row.backbone} | {row.frames_per_step} | {row.detector_fps:,.0f} | {bare} | "
            f"{ratio}{note} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda")
    )
    parser.add_argument(
        "--only", default="", help="Comma-separated config names (default: every paper config)."
    )
    parser.add_argument("--steps", type=int, default=20, help="Timed training steps.")
    parser.add_argument(
        "--warmup", type=int, default=5, help="Untimed steps first (compilation, cuDNN autotune)."
    )
    parser.add_argument("--batch", type=int, default=None, help="Batch size instead of the config's.")
    parser.add_argument("--clip-len", type=int, default=None, help="Clip length instead of the config's.")
    parser.add_argument("--frame-size", type=int, default=None, help="Crop size instead of the config's.")
    parser.add_argument("--precision", default=None, help="Instead of the config's (e.g. 32-true on CPU).")
    parser.add_argument("--no-compile", action="store_true", help="Leave torch.compile off.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the rows as JSON here.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    configs = [c.strip() for c in args.only.split(",") if c.strip()] or list(PAPER_CONFIGS)
    unknown = [c for c in configs if not (REPO / "experiments" / f"{c}.yaml").is_file()]
    if unknown:
        raise SystemExit(f"error: --only: no experiments/<name>.yaml for {unknown}")
    torch.backends.cudnn.benchmark = True
    rows = []
    for config in configs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rows.append(measure(config, args))
            except Exception as error:  # one config that cannot run must not hide the others
                rows.append(
                    Row(config, "-", 0, math.nan, None, None, f"failed: {type(error).__name__}: {error}")
                )
        print(render(rows[-1:], args.device).splitlines()[-1], flush=True)
    print()
    print(render(rows, args.device))
    if args.out is not None:
        args.out.write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return rows


if __name__ == "__main__":
    main()
