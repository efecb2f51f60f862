"""ReencodedSource: every video of a source as H.264 copies at chosen CRFs (MFoM's DeepfakeTIMIT)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from datamodules.sources import ReencodedSource
from datamodules.sources.base import VideoRecord, VideoSource
from datamodules.sources.reencoded import reencode_h264
from datamodules.video_io import count_frames, decode_frames
from deepfake_suite.errors import SuiteError
from tests.conftest import TINY_SOURCE
from tests.test_preprocessing import tiny_source


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def _all_frames(path: Path) -> np.ndarray:
    return np.stack(decode_frames(path, list(range(count_frames(path)))))


@pytest.fixture(scope="module")
def copies(tiny_synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> ReencodedSource:
    source = ReencodedSource(
        tiny_source(tiny_synthetic_root),
        crfs=[23, 40],
        root=str(tmp_path_factory.mktemp("reencoded")),
        num_workers=0,
    )
    source.prepare()
    return source


def test_each_video_gets_one_copy_per_crf_in_its_own_split(
    copies: ReencodedSource, tiny_synthetic_root: Path
) -> None:
    originals = {r.video_id: r for r in tiny_source(tiny_synthetic_root).records()}
    records = copies.records()
    assert len(records) == 2 * len(originals)
    assert len({r.video_id for r in records}) == len(records)
    for record in records:
        original_id, crf = record.video_id.rsplit("/", 1)
        original = originals[original_id]
        # The source's own encoding name stays in front: the synthetic set's "c23" -> "c23/crf40".
        assert crf in ("crf23", "crf40") and record.compression == f"{original.compression}/{crf}"
        assert (record.label, record.method, record.dataset, record.split, record.identity) == (
            original.label,
            original.method,
            original.dataset,
            original.split,
            original.identity,
        )
        assert record.path.is_file() and record.path.parent.name == crf
    assert copies.identity_disjoint is True


def test_copies_keep_every_frame_and_crf_40_loses_more_than_crf_23(
    copies: ReencodedSource, tiny_synthetic_root: Path
) -> None:
    original = tiny_source(tiny_synthetic_root).records()[0]
    reference = _all_frames(original.path)
    by_crf = {
        r.video_id.rsplit("/", 1)[1]: r
        for r in copies.records()
        if r.video_id.startswith(original.video_id + "/")
    }
    high, low = _all_frames(by_crf["crf23"].path), _all_frames(by_crf["crf40"].path)
    assert high.shape == low.shape == reference.shape == (TINY_SOURCE["num_frames"], 64, 64, 3)
    assert _psnr(high, reference) > _psnr(low, reference) + 3
    assert by_crf["crf40"].path.stat().st_size < by_crf["crf23"].path.stat().st_size


def test_a_second_prepare_keeps_the_copies(copies: ReencodedSource) -> None:
    stamps = {r.path: r.path.stat().st_mtime_ns for r in copies.records()}
    copies.prepare()
    assert {r.path: r.path.stat().st_mtime_ns for r in copies.records()} == stamps


def test_frame_folders_with_odd_sizes_are_encoded_at_their_frame_rate(tmp_path: Path) -> None:
    folder = tmp_path / "vidtimit" / "fadg0" / "video" / "sa1"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):  # VidTIMIT's extension-less JPEG names: 001, 002, ...
        frame = rng.integers(0, 255, (31, 33, 3), dtype=np.uint8)
        (folder / f"{i:03d}").write_bytes(cv2.imencode(".jpg", frame)[1].tobytes())
    target = tmp_path / "out.mp4"
    assert reencode_h264(folder, target, crf=23, fps=25) == 5
    decoded = _all_frames(target)
    assert decoded.shape == (5, 30, 32, 3)  # 4:2:0 needs even sizes: the last row and column go
    import av

    with av.open(str(target)) as container:
        assert container.streams.video[0].average_rate == 25
        assert container.streams.video[0].codec_context.name == "h264"


class _Listed(VideoSource):
    def __init__(self, paths: list[Path], root: Path) -> None:
        self.paths, self.root = paths, root

    def records(self) -> list[VideoRecord]:
        return [
            VideoRecord(f"d/original/raw/{p.stem}", p, 0, "original", "d", "train", "raw", p.stem, 0)
            for p in self.paths
        ]


def test_a_bad_video_is_reported_and_the_others_are_copied(tmp_path: Path, tiny_synthetic_root: Path) -> None:
    good = tiny_source(tiny_synthetic_root).records()[0].path
    empty = tmp_path / "data" / "empty.mp4"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    source = ReencodedSource(_Listed([good, empty], tmp_path / "data"), crfs=[40], num_workers=0)
    assert source.root == tmp_path / "data-reencoded"
    source.prepare()
    assert [r.video_id for r in source.records()] == [f"d/original/raw/{good.stem}/crf40"]
    with (source.root / "report.csv").open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["video_id"] == "d/original/raw/empty" and row["crf"] == "40"
    assert "empty.mp4" in row["reason"] and "empty (0 bytes)" in row["reason"]
    assert not list(source.root.rglob(".*tmp*"))  # no half-written copy left behind


def test_bad_settings_and_a_missing_prepare_step_get_clear_errors(
    tmp_path: Path, tiny_synthetic_root: Path
) -> None:
    with pytest.raises(SuiteError, match=r"crfs must be distinct x264 CRFs in 0-51, got \[23, 60\]"):
        ReencodedSource(tiny_source(tiny_synthetic_root), crfs=[23, 60])
    with pytest.raises(SuiteError, match="crfs"):
        ReencodedSource(tiny_source(tiny_synthetic_root), crfs=[23, 23])
    fresh = ReencodedSource(tiny_source(tiny_synthetic_root), root=str(tmp_path / "none"))
    with pytest.raises(SuiteError, match="made by prepare"):
        fresh.records()
