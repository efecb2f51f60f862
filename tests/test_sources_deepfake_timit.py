"""DeepfakeTIMITSource with VidTIMIT frame-folder reals, and video_io reading frame folders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from datamodules.leakage import check_split_integrity
from datamodules.sources import DeepfakeTIMITSource
from datamodules.video_io import VideoDecodeError, count_frames, decode_frames
from deepfake_suite.errors import SuiteError
from tests.source_trees import timit_tree, touch, write_frames

SUBJECTS = ["fadg0", "faks0", "fcft0", "mccs0", "mdab0", "mrjo0"]
SENTENCES = ["sa1", "sa2", "head"]
KEY = "data.init_args.source.init_args"


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    root, vidtimit = tmp_path / "DeepfakeTIMIT", tmp_path / "VidTIMIT"
    names = ["sa1-video-fram1", "sa2-video-fram1"]
    fakes = {q: {s: names for s in SUBJECTS} for q in ("higher_quality", "lower_quality")}
    timit_tree(root, vidtimit, fakes, {s: SENTENCES for s in [*SUBJECTS, "mwbt0"]})
    return root, vidtimit


def test_rows_split_by_subject(roots: tuple[Path, Path]) -> None:
    root, vidtimit = roots
    records = DeepfakeTIMITSource(str(root), str(vidtimit), val_fraction=1 / 6, test_fraction=2 / 6).records()
    assert len({r.video_id for r in records}) == len(records) == 6 * 2 * 2 + 6 * 2
    fakes = [r for r in records if r.label == 1]
    reals = [r for r in records if r.label == 0]
    assert {r.compression for r in fakes} == {"higher_quality", "lower_quality"}
    assert {r.method for r in fakes} == {"faceswap-GAN"} and {r.method for r in reals} == {"original"}
    assert all(r.path.is_dir() and r.path.parent.name == "video" for r in reals)  # frame folders
    assert {r.path.name for r in reals} == {"sa1", "sa2"}  # head rotations left out
    subject_split: dict[str, str] = {}
    for r in records:
        subject = r.path.parent.name if r.label else r.path.parent.parent.name
        assert r.identity == subject
        assert subject_split.setdefault(subject, r.split) == r.split
    assert sorted(list(subject_split.values()).count(s) for s in ("train", "val", "test")) == [1, 2, 3]
    check_split_integrity(records, identity_disjoint=DeepfakeTIMITSource.identity_disjoint)


def test_options_add_subjects_and_head_sequences(roots: tuple[Path, Path]) -> None:
    root, vidtimit = roots
    records = DeepfakeTIMITSource(
        str(root), str(vidtimit), qualities=["lower_quality"], all_vidtimit_subjects=True,
        include_head_sequences=True, val_fraction=0.0, test_fraction=1.0,
    ).records()  # fmt: skip
    assert sum(r.label == 1 for r in records) == 6 * 2 and sum(r.label == 0 for r in records) == 7 * 3
    assert {r.split for r in records} == {"test"}


def test_missing_inputs_are_clear(roots: tuple[Path, Path], tmp_path: Path) -> None:
    root, vidtimit = roots
    with pytest.raises(SuiteError, match=f"{KEY}.vidtimit_root"):
        DeepfakeTIMITSource(str(root), str(tmp_path / "none")).records()
    with pytest.raises(SuiteError, match=f"{KEY}.qualities"):
        DeepfakeTIMITSource(str(root), str(vidtimit), qualities=["medium_quality"])
    touch(root / "higher_quality" / "zzzz0" / "sa1.avi")
    with pytest.raises(SuiteError, match=r"no VidTIMIT videos for DeepfakeTIMIT subjects \['zzzz0'\]"):
        DeepfakeTIMITSource(str(root), str(vidtimit)).records()


# --- frame folders in video_io -----------------------------------------------------------------------


def coded_frames(n: int) -> list[np.ndarray]:
    """Frame i is a flat RGB colour (10 i, 255 - 10 i, 40): its index and channel order are readable."""
    return [np.full((24, 32, 3), (10 * i, 255 - 10 * i, 40), dtype=np.uint8) for i in range(n)]


def test_frame_folder_reads_in_natural_order_as_rgb(tmp_path: Path) -> None:
    folder = write_frames(
        tmp_path / "sa1", coded_frames(12), [str(i) for i in range(1, 13)]
    )  # 1 .. 12, unpadded
    touch(folder / ".hidden")
    (folder / "notes.txt").write_text("not a frame")
    assert count_frames(folder) == 12
    frames = decode_frames(folder, [0, 9, 9, 11, 30])
    assert len(frames) == 4  # index 30 lies past the end: left out for the caller to pad
    for frame, i in zip(frames, [0, 9, 9, 11], strict=True):
        assert frame.shape == (24, 32, 3) and frame.dtype == np.uint8
        np.testing.assert_array_equal(frame[0, 0], (10 * i, 255 - 10 * i, 40))
    seen: list[int] = []
    crops = decode_frames(folder, [2, 5], lambda f, i: seen.append(i) or f[:4, :4])  # type: ignore[func-returns-value]
    assert seen == [2, 5] and crops[1].shape == (4, 4, 3)


def test_vidtimit_style_extensionless_jpeg_frames(tmp_path: Path) -> None:
    folder = write_frames(tmp_path / "sa2", coded_frames(3), ["001", "002", "003"], fmt=".jpg")
    assert count_frames(folder) == 3
    last = decode_frames(folder, [2])[0].astype(int)
    assert np.abs(last[12, 16] - (20, 235, 40)).max() <= 6  # JPEG is lossy; RGB order must hold


def test_frame_folder_errors_name_the_folder_or_frame(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoDecodeError, match=f"{empty}: the frame folder holds no frame images"):
        count_frames(empty)
    folder = write_frames(tmp_path / "broken", coded_frames(2), ["001", "002"])
    (folder / "002").write_bytes(b"not an image")
    with pytest.raises(VideoDecodeError, match=f"{folder / '002'}"):
        count_frames(folder)
    with pytest.raises(VideoDecodeError, match="video not found"):
        count_frames(tmp_path / "missing.mp4")


def test_frame_folder_feeds_the_clip_dataset(roots: tuple[Path, Path]) -> None:
    from datamodules.clip_dataset import ClipDataset  # imports torch: only this test pays for it

    root, vidtimit = roots
    sentence = vidtimit / "fadg0" / "video" / "sa1"
    (sentence / "001").unlink()
    write_frames(sentence, coded_frames(5), ["001", "002", "003", "004", "005"])
    record = next(
        r for r in DeepfakeTIMITSource(str(root), str(vidtimit)).records() if r.path == sentence.resolve()
    )
    item = ClipDataset([replace(record, n_frames=count_frames(record.path))], clip_len=3, frame_size=16)[0]
    assert tuple(item["frames"].shape) == (3, 3, 16, 16) and bool(item["mask"].all())
    assert item["label"].item() == 0.0 and item["video_id"] == record.video_id
    # Evenly spaced over 5 frames: 0, 2, 4 (checked through the colour code of the red channel).
    assert [int(f[0, 8, 8]) for f in item["frames"]] == [0, 20, 40]


def test_video_files_still_decode_as_before(tmp_path: Path) -> None:
    """The frame-folder branch must leave real video files on the PyAV path."""
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for frame in coded_frames(6):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    assert count_frames(path) == 6
    frames = decode_frames(path, [1, 5, 9])
    assert len(frames) == 2 and np.abs(frames[1][12, 16].astype(int) - (50, 205, 40)).max() <= 12
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="the file is empty"):
        count_frames(tmp_path / "empty.mp4")
