"""DeepfakeTIMIT fakes with their VidTIMIT reals (frame folders), split by subject."""

from __future__ import annotations

from pathlib import Path

from datamodules.sources.base import FAKE, REAL, VideoRecord, VideoSource
from datamodules.sources.common import check_fractions, config_key, group_split, require_dir
from deepfake_suite.errors import SuiteError

QUALITIES = ("higher_quality", "lower_quality")
FAKE_METHOD = "faceswap-GAN"
VIDEO_EXTENSIONS = (".avi", ".mp4")


class DeepfakeTIMITSource(VideoSource):
    """DeepfakeTIMIT (faceswap-GAN swaps of VidTIMIT) with VidTIMIT's own videos as reals.

    Layout (as published)::

        <root>/higher_quality/<subject>/<sentence>-video-<...>.avi     fakes, 128x128 model
        <root>/lower_quality/<subject>/<sentence>-video-<...>.avi      fakes, 64x64 model
        <vidtimit_root>/<subject>/video/<sentence>/001, 002, ...      reals: JPEG frames, no extension

    The reals are frame folders, not video files; :mod:`datamodules.video_io` reads such a
    folder as a video (sorted frame files), so a real's ``path`` is its frame folder.
    ``compression`` is the quality folder for fakes and ``jpeg`` for the reals.

    Splits: subjects are assigned to splits by hash rank of ``seed/subject`` (see
    :func:`~datamodules.sources.faceforensics.group_split`); all videos of a subject share its
    split and ``identity`` is the subject, so ``identity_disjoint = True``. Limitation: a fake
    shows another subject's face on the folder's subject, and the file names do not say whose
    face, so that second person is not tracked. For cross-dataset testing set
    ``test_fraction: 1.0`` and ``val_fraction: 0.0``.

    By default the reals are the sentence videos of the subjects that have fakes (the usual
    320 real videos for 32 subjects); ``all_vidtimit_subjects`` adds the other VidTIMIT
    subjects and ``include_head_sequences`` the ``head``/``head2``/``head3`` rotation clips.

    Args:
        root: The DeepfakeTIMIT folder.
        vidtimit_root: The VidTIMIT folder (one folder per subject).
        qualities: Quality folders to include; defaults to both.
        val_fraction: Share of the subjects in val.
        test_fraction: Share of the subjects in test.
        seed: Seed of the subject split.
        all_vidtimit_subjects: Also use VidTIMIT subjects without fakes as reals.
        include_head_sequences: Also use the head-rotation sequences as reals.
        dataset_name: Name used in video ids and results.
    """

    identity_disjoint = True

    def __init__(
        self,
        root: str,
        vidtimit_root: str,
        qualities: list[str] | None = None,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
        all_vidtimit_subjects: bool = False,
        include_head_sequences: bool = False,
        dataset_name: str = "DeepfakeTIMIT",
    ) -> None:
        self.qualities = tuple(qualities) if qualities is not None else QUALITIES
        if not self.qualities or set(self.qualities) - set(QUALITIES):
            raise SuiteError(
                f"{config_key('qualities')} must be a non-empty subset of {QUALITIES}, got {qualities}"
            )
        check_fractions(val_fraction, test_fraction)
        self.root = Path(root)
        self.vidtimit_root = Path(vidtimit_root)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.all_vidtimit_subjects = all_vidtimit_subjects
        self.include_head_sequences = include_head_sequences
        self.dataset_name = dataset_name

    def records(self) -> list[VideoRecord]:
        require_dir(self.root, "root", "DeepfakeTIMIT folder")
        require_dir(self.vidtimit_root, "vidtimit_root", "VidTIMIT folder")
        fakes = [
            (quality, path)
            for quality in self.qualities
            for subject in sorted(
                require_dir(self.root / quality, "qualities", "DeepfakeTIMIT folder").iterdir()
            )
            if subject.is_dir()
            for path in sorted(subject.iterdir())
            if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file()
        ]
        if not fakes:
            raise SuiteError(
                f"no DeepfakeTIMIT videos under {self.root}/<quality>/<subject>/ ({VIDEO_EXTENSIONS})"
            )
        fake_subjects = {path.parent.name for _, path in fakes}
        subjects = sorted(
            s.name
            for s in self.vidtimit_root.iterdir()
            if (s / "video").is_dir() and (self.all_vidtimit_subjects or s.name in fake_subjects)
        )
        without_reals = sorted(fake_subjects - set(subjects))
        if without_reals:
            raise SuiteError(
                f"no VidTIMIT videos for DeepfakeTIMIT subjects {without_reals}: expected "
                f"{self.vidtimit_root}/<subject>/video/<sentence>/ (set {config_key('vidtimit_root')})"
            )
        reals = [
            sentence
            for subject in subjects
            for sentence in sorted((self.vidtimit_root / subject / "video").iterdir())
            if sentence.is_dir() and (self.include_head_sequences or not sentence.name.startswith("head"))
        ]
        split_of = group_split(subjects, self.val_fraction, self.test_fraction, self.seed)
        records = [self._record(path, FAKE, quality, split_of) for quality, path in fakes]
        return records + [self._record(path, REAL, "jpeg", split_of) for path in reals]

    def _record(self, path: Path, label: int, compression: str, split_of: dict[str, str]) -> VideoRecord:
        # fakes: <quality>/<subject>/<file>; reals: <subject>/video/<sentence>
        subject = path.parent.name if label == FAKE else path.parent.parent.name
        method = FAKE_METHOD if label == FAKE else "original"
        name = path.stem if label == FAKE else path.name
        return VideoRecord(
            video_id=f"{self.dataset_name}/{method}/{compression}/{subject}/{name}",
            path=path.resolve(),
            label=label,
            method=method,
            dataset=self.dataset_name,
            split=split_of[subject],
            compression=compression,
            identity=subject,
            n_frames=0,
        )
