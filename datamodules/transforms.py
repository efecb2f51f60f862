"""Augmentation pipelines from YAML: albumentations transforms named in a list, applied to uint8 crops.

A pipeline is a list of ``{name, params}`` steps, ``name`` a class of albumentations (2.x) and
``params`` its constructor arguments::

    train_transform:
      - name: HorizontalFlip
        params: {p: 0.5}
      - name: ImageCompression          # the compression augmentation: JPEG at a random quality
        params: {quality_range: [40, 95], p: 0.5}
      - name: OneOf                     # compositions take their steps in params.transforms
        params:
          p: 0.3
          transforms:
            - {name: GaussianBlur, params: {sigma_limit: [0.2, 1.5]}}
            - {name: Downscale, params: {scale_range: [0.5, 0.9]}}
      - name: GaussNoise
        params: {std_range: [0.01, 0.05], p: 0.2}
      - name: RandomBrightnessContrast
        params: {p: 0.3}

Every step is checked when the datamodule is built: an unknown transform or parameter (such as
albumentations 1.x's ``quality_lower``, which 2.x only warns about and ignores) is a
:class:`SuiteError` naming the step and listing the valid parameters.

Crops stay uint8 (H, W, 3) through the pipeline, so worker processes ship a quarter of the bytes
of float images; normalisation runs on the device (:func:`normalize_on_device`, or the model's
own ``forward`` as in ``DualLevelAUCNet``). Normalising transforms are therefore refused.

albumentations is imported on first use: models that only need :func:`normalize_on_device`
do not pay its import time (seconds).
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from deepfake_suite.errors import SuiteError

__all__ = ["Augmentation", "AugmentationStep", "build_augmentation", "normalize_on_device"]

# Compositions whose ``params.transforms`` hold nested steps.
_COMPOSITIONS = ("OneOf", "SomeOf", "Sequential", "SelectiveChannelTransform")
# Their outputs are float or tensors: normalisation belongs on the device.
_REFUSED = {
    "Normalize": "normalisation runs on the device (normalize_on_device or the model's forward)",
    "ToFloat": "crops must stay uint8; normalisation runs on the device",
    "ToTensorV2": "the dataset makes the tensor itself",
    "Compose": "the step list is already a Compose",
    "ReplayCompose": "clips already share one random draw per call",
}


@dataclass(frozen=True)
class AugmentationStep:
    """One albumentations transform of a pipeline.

    Attributes:
        name: Class name in ``albumentations`` (``HorizontalFlip``, ``ImageCompression``, ...), or
            a composition (``OneOf``, ``SomeOf``, ``Sequential``) whose ``params.transforms`` is a
            list of steps.
        params: Constructor arguments, e.g. ``{"quality_range": [40, 95], "p": 0.5}``.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)


StepLike = AugmentationStep | Mapping[str, Any]


class Augmentation:
    """A built pipeline: a seeded ``A.Compose`` applied to one crop or, with one draw, to a clip.

    Randomness: a dataset passes each item's index, and the draw for that item is seeded from
    ``(seed, epoch, index)``. An item's augmentation therefore depends on neither the worker that
    loads it, nor the DDP rank, nor what was loaded before: a fit resumed in epoch ``e`` draws what
    the unbroken fit drew, and 1 and N processes augment alike. The datamodule sets the epoch
    (:meth:`set_epoch`) before each epoch's loader iterator starts; it lives in shared memory, so
    persistent workers see it too. (albumentations 2.0 gives every copy of a ``Compose`` the same
    seed, which per-worker streams would have to undo; per-item seeds avoid the question.)

    Calls without an index (a single image in a notebook) draw from one stream per process,
    seeded from ``(seed, rank, worker seed)``.

    Args:
        compose: The albumentations pipeline.
        seed: Base seed.
        where: Config key shown in errors (``data.init_args.train_transform``).
    """

    def __init__(self, compose: Any, seed: int = 0, where: str = "transform") -> None:
        self.compose = compose
        self.seed = seed
        self.where = where
        self.rank = 0
        self._bound_to: tuple[int, int, int] | None = None
        # Shared memory: persistent DataLoader workers must see the epoch the main process sets.
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()

    def __repr__(self) -> str:
        return f"Augmentation({self.where}, seed={self.seed}, {self.compose.transforms!r})"

    def _bind(self) -> None:
        info = torch.utils.data.get_worker_info()
        worker_seed = -1 if info is None else int(info.seed)
        key = (os.getpid(), self.rank, worker_seed)
        if key != self._bound_to:
            entropy = [self.seed, self.rank] + ([] if info is None else [worker_seed])
            state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0]
            self.compose.set_random_seed(int(state))
            self._bound_to = key

    @property
    def epoch(self) -> int:
        return int(self._epoch[0])

    def set_epoch(self, epoch: int) -> None:
        """Seed the coming epoch's per-item draws (see the class docstring)."""
        self._epoch[0] = int(epoch)

    def _seed_item(self, index: int | None) -> None:
        if index is None:
            self._bind()
            return
        entropy = [self.seed, self.epoch, int(index)]
        self.compose.set_random_seed(
            int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0])
        )
        self._bound_to = None  # a later call without an index starts its stream afresh

    def __call__(self, image: np.ndarray, index: int | None = None) -> np.ndarray:
        """Augment one uint8 (H, W, 3) crop; returns uint8 (H, W, 3).

        Args:
            image: The crop.
            index: The item's dataset index; its draw is then seeded by ``(seed, epoch, index)``.
        """
        self._seed_item(index)
        return self._checked(self.compose(image=image)["image"], image)

    def clip(self, frames: np.ndarray, index: int | None = None) -> np.ndarray:
        """Augment the uint8 (T, H, W, 3) frames of a clip with ONE random draw for all of them.

        A flip or a JPEG quality that changed from frame to frame would add a flicker that real
        videos do not have, and temporal models would learn it. ``index`` as in :meth:`__call__`.
        """
        self._seed_item(index)
        return self._checked(self.compose(images=frames)["images"], frames)

    def _checked(self, out: np.ndarray, given: np.ndarray) -> np.ndarray:
        if out.shape != given.shape or out.dtype != np.uint8:
            raise SuiteError(
                f"{self.where} turned a {given.dtype} {given.shape} crop into {out.dtype} {out.shape}: "
                "steps must keep the crop size and uint8 (normalisation runs on the device)"
            )
        return out

    def reseed(self, seed: int) -> None:
        """Start the stream again from ``seed`` (used by tests and benchmarks)."""
        self.seed = seed
        self._bound_to = None


def build_augmentation(
    steps: Sequence[StepLike] | None, seed: int = 0, where: str = "transform"
) -> Augmentation | None:
    """Build and check a pipeline; ``None`` for no steps.

    Args:
        steps: :class:`AugmentationStep` entries or mappings with keys ``name`` and ``params``.
        seed: Base seed of the random stream (see :class:`Augmentation`).
        where: Config key of the list, used in error messages.

    Raises:
        SuiteError: A step names no albumentations transform, a refused one (normalisation, tensor
            conversion), an unknown parameter, or an invalid value; the message names the step
            (``where[i]``) and the parameter.
    """
    if not steps:
        return None
    import albumentations as A

    transforms = _build_list(A, steps, where)
    return Augmentation(A.Compose(transforms, seed=seed), seed=seed, where=where)


def _build_list(A: Any, steps: Sequence[StepLike], where: str) -> list[Any]:
    if isinstance(steps, str | bytes | Mapping) or not isinstance(steps, Sequence):
        raise SuiteError(f"{where} must be a list of {{name, params}} steps, got {type(steps).__name__}")
    return [_build_step(A, step, f"{where}[{i}]") for i, step in enumerate(steps)]


def _as_step(step: StepLike, where: str) -> AugmentationStep:
    if isinstance(step, AugmentationStep):
        return step
    if not isinstance(step, Mapping):
        raise SuiteError(f"{where} must be {{name: ..., params: {{...}}}}, got {step!r}")
    extra = set(step) - {"name", "params"}
    if extra or "name" not in step:
        raise SuiteError(
            f"{where} must have the keys name and params (constructor arguments), got {sorted(step)}"
        )
    return AugmentationStep(name=step["name"], params=dict(step.get("params") or {}))


def _build_step(A: Any, raw: StepLike, where: str) -> Any:
    step = _as_step(raw, where)
    name, params = step.name, dict(step.params)
    if name in _REFUSED:
        raise SuiteError(f"{where}: {name} is not allowed here: {_REFUSED[name]}")
    cls = getattr(A, name, None) if isinstance(name, str) else None
    if not (inspect.isclass(cls) and issubclass(cls, A.BasicTransform | A.BaseCompose)):
        known = [n for n in dir(A) if inspect.isclass(getattr(A, n)) and n[0].isupper()]
        close = difflib.get_close_matches(str(name), known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SuiteError(f"{where}: {name!r} is not an albumentations transform{hint}")
    signature = inspect.signature(cls.__init__)
    valid = [p for p in signature.parameters if p not in ("self", "strict", "args", "kwargs")]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise SuiteError(
            f"{where} ({name}): unknown parameter(s) {', '.join(unknown)} for albumentations "
            f"{A.__version__}; valid: {', '.join(valid)}"
        )
    if issubclass(cls, A.BaseCompose):
        if name not in _COMPOSITIONS:
            raise SuiteError(f"{where}: composition {name} is not supported; use one of {_COMPOSITIONS}")
        if "transforms" not in params:
            raise SuiteError(f"{where} ({name}): params.transforms must list its steps")
        params["transforms"] = _build_list(A, params["transforms"], f"{where}.transforms")
    try:
        return cls(**params)
    except (ValueError, TypeError) as error:  # pydantic's ValidationError is a ValueError
        detail = " ".join(str(error).split())
        raise SuiteError(f"{where} ({name}): invalid parameters {step.params}: {detail}") from None


def normalize_on_device(
    frames: Tensor,
    mean: Sequence[float] = (0.485, 0.456, 0.406),
    std: Sequence[float] = (0.229, 0.224, 0.225),
) -> Tensor:
    """``(frames / 255 - mean) / std`` per channel, for uint8 frames already on the device.

    Args:
        frames: uint8 (..., 3, H, W), e.g. (N, 3, S, S) or (N, T, 3, S, S).
        mean: Channel means in [0, 1] units (timm's ``pretrained_cfg["mean"]``).
        std: Channel standard deviations in [0, 1] units.

    Returns:
        float32 tensor of the same shape.
    """
    if frames.dim() < 3 or frames.shape[-3] != 3:
        raise ValueError(f"frames must be (..., 3, H, W), got {tuple(frames.shape)}")
    scale = torch.as_tensor(std, dtype=torch.float32, device=frames.device).view(3, 1, 1) * 255.0
    shift = torch.as_tensor(mean, dtype=torch.float32, device=frames.device).view(3, 1, 1) * 255.0
    return (frames.float() - shift) / scale
