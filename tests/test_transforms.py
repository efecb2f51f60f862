"""Augmentation pipelines from config: clear errors, seeded streams, one draw per clip, uint8 out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.transforms import Augmentation, AugmentationStep, build_augmentation, normalize_on_device
from deepfake_suite.errors import SuiteError

PIPELINE = [
    {"name": "HorizontalFlip", "params": {"p": 0.5}},
    {"name": "ImageCompression", "params": {"quality_range": [20, 60], "p": 0.8}},
    {
        "name": "OneOf",
        "params": {
            "p": 0.8,
            "transforms": [
                {"name": "GaussianBlur", "params": {"sigma_limit": [0.5, 1.5]}},
                {"name": "Downscale", "params": {"scale_range": [0.4, 0.8]}},
            ],
        },
    },
    {"name": "GaussNoise", "params": {"std_range": [0.02, 0.08], "p": 0.5}},
    {"name": "RandomBrightnessContrast", "params": {"p": 0.5}},
]


def face(seed: int = 0, side: int = 32) -> np.ndarray:
    """A smooth random image: JPEG and blur change it visibly but not beyond recognition."""
    coarse = np.random.default_rng(seed).integers(0, 256, (side // 4, side // 4, 3), dtype=np.uint8)
    return np.repeat(np.repeat(coarse, 4, axis=0), 4, axis=1)


def build(steps: list, seed: int = 0) -> Augmentation:
    augmentation = build_augmentation(steps, seed=seed, where="data.init_args.train_transform")
    assert augmentation is not None
    return augmentation


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # albumentations 1.x names: 2.x only warns and ignores them, so training would run without them.
        (
            [{"name": "ImageCompression", "params": {"quality_lower": 30}}],
            r"train_transform\[0\] \(ImageCompression\): unknown parameter\(s\) quality_lower"
            r".*valid: .*quality_range",
        ),
        (
            [PIPELINE[0], {"name": "GaussNoise", "params": {"var_limit": [10, 50]}}],
            r"train_transform\[1\] \(GaussNoise\): unknown parameter\(s\) var_limit",
        ),
        (
            [{"name": "GausianBlur"}],
            r"train_transform\[0\]: 'GausianBlur' is not an albumentations transform; "
            r"did you mean GaussianBlur",
        ),
        (
            [{"name": "ImageCompression", "params": {"quality_range": [0, 300]}}],
            r"train_transform\[0\] \(ImageCompression\): invalid parameters .*quality_range",
        ),
        (
            [{"name": "Normalize"}],
            r"train_transform\[0\]: Normalize is not allowed here: normalisation runs on the device",
        ),
        ([{"name": "HorizontalFlip", "p": 0.5}], r"train_transform\[0\] must have the keys name and params"),
        (
            [{"name": "OneOf", "params": {"transforms": [{"name": "Blurr"}]}}],
            r"train_transform\[0\]\.transforms\[0\]: 'Blurr'",
        ),
        (
            [{"name": "OneOf", "params": {"p": 1}}],
            r"train_transform\[0\] \(OneOf\): params.transforms must list its steps",
        ),
        ("HorizontalFlip", r"train_transform must be a list"),
    ],
)
def test_bad_steps_are_named_in_the_error(steps: list, expected: str) -> None:
    with pytest.raises(SuiteError, match=expected):
        build_augmentation(steps, where="data.init_args.train_transform")


def test_steps_from_dataclasses_and_mappings_build_the_same_pipeline() -> None:
    as_dataclasses = [AugmentationStep(name="HorizontalFlip", params={"p": 1.0})]
    image = face()
    for steps in (as_dataclasses, [{"name": "HorizontalFlip", "params": {"p": 1.0}}]):
        np.testing.assert_array_equal(build(steps)(image), image[:, ::-1])
    assert build_augmentation(None) is None and build_augmentation([]) is None


def test_stream_is_deterministic_per_seed_and_differs_between_seeds() -> None:
    images = [face(i) for i in range(12)]

    def stream(seed: int) -> list[np.ndarray]:
        augmentation = build(PIPELINE, seed=seed)
        return [augmentation(x) for x in images]

    first, again, other = stream(5), stream(5), stream(6)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    # Something happened: the pipeline is not the identity.
    assert sum(not np.array_equal(a, x) for a, x in zip(first, images, strict=True)) >= 6
    augmentation = build(PIPELINE, seed=5)
    [augmentation(x) for x in images]
    augmentation.reseed(5)
    np.testing.assert_array_equal(augmentation(images[0]), first[0])


def test_output_stays_uint8_of_the_same_size() -> None:
    out = build(PIPELINE)(face(side=64))
    assert out.dtype == np.uint8 and out.shape == (64, 64, 3)
    resize = build([{"name": "Resize", "params": {"height": 16, "width": 16}}])
    with pytest.raises(
        SuiteError, match=r"train_transform turned a uint8 \(32, 32, 3\) crop into uint8 \(16, 16, 3\)"
    ):
        resize(face())


def test_a_clip_gets_one_draw_for_all_its_frames() -> None:
    augmentation = build(PIPELINE, seed=1)
    for trial in range(8):
        # Identical frames must stay identical: any per-frame draw (flip, JPEG quality, noise)
        # would make them differ.
        frames = np.stack([face(trial)] * 6)
        out = augmentation.clip(frames)
        assert out.shape == frames.shape and out.dtype == np.uint8
        for t in range(1, 6):
            np.testing.assert_array_equal(out[t], out[0])
    # Distinct frames under a coin-flip mirror: all mirrored or none, and both happen over clips.
    flip = build([{"name": "HorizontalFlip", "params": {"p": 0.5}}], seed=2)
    decisions = set()
    for trial in range(12):
        frames = np.stack([face(trial * 10 + t) for t in range(5)])
        out = flip.clip(frames)
        mirrored = [np.array_equal(o, f[:, ::-1]) for o, f in zip(out, frames, strict=True)]
        kept = [np.array_equal(o, f) for o, f in zip(out, frames, strict=True)]
        assert all(mirrored) or all(kept)
        decisions.add(all(mirrored))
    assert decisions == {True, False}


class _Augmented(Dataset):
    def __init__(self, augmentation: Augmentation) -> None:
        self.augmentation = augmentation

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.augmentation(face(0)).copy())


def test_workers_draw_different_augmentations_repeatably() -> None:
    # albumentations gives every copy of a Compose the same seed: each worker would repeat the
    # others' augmentations. Per-worker seeding must make them differ, yet repeat per loader seed.
    augmentation = build([{"name": "GaussNoise", "params": {"std_range": [0.1, 0.2], "p": 1.0}}])

    def run(seed: int) -> torch.Tensor:
        loader = DataLoader(
            _Augmented(augmentation),
            batch_size=1,
            num_workers=2,
            generator=torch.Generator().manual_seed(seed),
        )
        return torch.cat(list(loader))

    out = run(0)
    assert not torch.equal(out[0], out[1])  # items 0 and 1 come from workers 0 and 1
    assert torch.equal(out, run(0))
    assert not torch.equal(out, run(1))


class _Indexed(Dataset):
    """Item ``i`` is the same image augmented with its index, as the suite's datasets do."""

    def __init__(self, augmentation: Augmentation, size: int = 8) -> None:
        self.augmentation = augmentation
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.augmentation(face(0), index).copy())


def _epoch_outputs(
    augmentation: Augmentation, epochs: list[int], **loader_args: object
) -> list[torch.Tensor]:
    loader = DataLoader(_Indexed(augmentation), batch_size=1, **loader_args)  # type: ignore[arg-type]
    outputs = []
    for epoch in epochs:
        augmentation.set_epoch(epoch)  # before the epoch's iterator, as DetectorModule does
        outputs.append(torch.cat(list(loader)))
    return outputs


def test_an_item_draw_depends_on_seed_epoch_and_index_only() -> None:
    noise = [{"name": "GaussNoise", "params": {"std_range": [0.1, 0.2], "p": 1.0}}]
    augmentation = build(noise)
    image = face(0)
    augmentation.set_epoch(3)
    first = augmentation(image, 5)
    [augmentation(image, i) for i in range(4)]  # what came before does not matter
    augmentation(image)  # nor does the un-indexed stream
    np.testing.assert_array_equal(augmentation(image, 5), first)
    assert not np.array_equal(augmentation(image, 6), first)
    augmentation.set_epoch(4)
    assert not np.array_equal(augmentation(image, 5), first)
    other = build(noise, seed=1)
    other.set_epoch(3)
    assert not np.array_equal(other(image, 5), first)

    # Order, workers and their persistence change nothing; a fresh epoch draws anew, even in
    # persistent workers that were forked before set_epoch.
    main_process = _epoch_outputs(build(noise), [0, 1])
    assert not torch.equal(main_process[0], main_process[1])
    assert not torch.equal(main_process[0][0], main_process[0][1])
    for loader_args in ({"num_workers": 2}, {"num_workers": 2, "persistent_workers": True}):
        workers = _epoch_outputs(build(noise), [0, 1], **loader_args)
        assert all(torch.equal(a, b) for a, b in zip(workers, main_process, strict=True)), loader_args
    reordered = DataLoader(_Indexed(build(noise)), batch_size=1, sampler=list(reversed(range(8))))
    assert torch.equal(torch.cat(list(reordered)).flip(0), main_process[0])


def test_normalize_on_device_matches_a_per_channel_loop() -> None:
    frames = torch.randint(0, 256, (2, 4, 3, 5, 5), dtype=torch.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    out = normalize_on_device(frames, mean, std)
    expected = frames.double().clone()
    for c in range(3):
        expected[..., c, :, :] = (frames[..., c, :, :].double() / 255.0 - mean[c]) / std[c]
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
        normalize_on_device(torch.zeros(2, 4, 5, 5, dtype=torch.uint8))
