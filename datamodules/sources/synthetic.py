"""The built-in synthetic deepfake dataset, generated on first use like a download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datamodules.sources.base import VideoRecord, VideoSource, read_manifest
from deepfake_suite.errors import SuiteError


class SyntheticSource(VideoSource):
    """Procedural face videos with swapped/blended fakes (see :mod:`datamodules.synthetic`).

    Splits are identity-disjoint. The dataset is written to ``root`` the first time
    :meth:`prepare` runs and reused afterwards; asking for other parameters on an existing
    folder is an error rather than a silent mix of two datasets.

    Args:
        root: Folder of the generated dataset.
        dataset_name: Name used in video ids and results.
        num_identities: Number of distinct procedural people.
        reals_per_identity: Real videos per identity.
        fakes_per_real: Fake videos made from each real video (methods taken in turn).
        num_frames: Frames per video.
        frame_size: Width and height of the videos in pixels.
        methods: Manipulation methods (names in ``datamodules.synthetic.MANIPULATIONS``).
        crf: H.264 constant rate factor (23 ~ FF++ c23, 40 ~ c40).
        seed: Seed of identities, motion, splits and artifacts.
        artifact_strength: Range of per-fake artifact strength in [0, 1] (subtle to obvious).
        num_workers: Processes used to render videos (0 = in-process).
    """

    identity_disjoint = True

    def __init__(
        self,
        root: str = "data/synthetic",
        dataset_name: str = "synthetic",
        num_identities: int = 12,
        reals_per_identity: int = 2,
        fakes_per_real: int = 1,
        num_frames: int = 32,
        frame_size: int = 128,
        methods: list[str] | None = None,
        crf: int = 23,
        seed: int = 0,
        num_workers: int = 0,
        artifact_strength: tuple[float, float] = (0.15, 1.0),
    ) -> None:
        self.root = Path(root)
        self.options: dict[str, Any] = {
            "dataset_name": dataset_name,
            "num_identities": num_identities,
            "reals_per_identity": reals_per_identity,
            "fakes_per_real": fakes_per_real,
            "num_frames": num_frames,
            "frame_size": frame_size,
            "crf": crf,
            "seed": seed,
            "num_workers": num_workers,
            "artifact_strength": tuple(artifact_strength),
        }
        if methods is not None:
            self.options["methods"] = tuple(methods)

    def prepare(self) -> None:
        from datamodules.synthetic import generate_synthetic_dataset

        try:
            generate_synthetic_dataset(self.root, **self.options)
        except ValueError as error:
            raise SuiteError(
                f"{error}. Use another data.init_args.source.init_args.root or remove that folder"
            ) from None

    def records(self) -> list[VideoRecord]:
        return read_manifest(self.root / "manifest.csv", self.root)
