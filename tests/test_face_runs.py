"""The temporal LSTM paper's two-pointer selection of constant-gap windows inside face runs."""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import datamodules.face_runs
from datamodules.face_runs import face_run_starts, face_run_windows, face_runs, face_track
from deepfake_suite.errors import SuiteError

T, F = True, False


def _window_is_valid(
    start: int, clip_len: int, gap: int, detected: np.ndarray, source: np.ndarray | None
) -> bool:
    """Brute force: every crop the window spans (skipped ones too) detected, equal source steps."""
    span = (clip_len - 1) * gap + 1
    if start < 0 or start + span > len(detected):
        return False
    covered = range(start, start + span)
    if not all(detected[i] for i in covered):
        return False
    if source is None:
        return True
    steps = {int(source[i + 1] - source[i]) for i in range(start, start + span - 1)}
    return len(steps) <= 1


def _runs_by_groupby(detected: list[bool]) -> list[tuple[int, int]]:
    """Runs of True without source frames: an independent reference (itertools.groupby)."""
    runs, position = [], 0
    for value, group in itertools.groupby(detected):
        length = len(list(group))
        if value:
            runs.append((position, position + length))
        position += length
    return runs


def test_hand_built_mask_skips_short_runs_and_never_crosses_a_missed_frame() -> None:
    detected = [T] * 5 + [F] + [T] * 10 + [F, F] + [T] * 3
    assert face_runs(detected) == [(0, 5), (6, 16), (18, 21)]
    # clip_len 4: one window in the 5-run, two back to back in the 10-run, none in the 3-run.
    assert face_run_starts(detected, clip_len=4).tolist() == [0, 6, 10]
    # frame_gap 2: a window spans 5 crops, so the 5-run holds one and the 10-run two.
    assert face_run_starts(detected, clip_len=3, frame_gap=2).tolist() == [0, 6, 11]
    # A window longer than every run: nothing.
    assert face_run_starts(detected, clip_len=11).tolist() == []
    assert face_run_windows(detected, clip_len=11) == []


def test_window_with_a_gap_does_not_step_over_a_missed_frame() -> None:
    # Crops 0, 2, 4 are detected but crop 1 is not: the paper's gap would then not be constant.
    detected = [T, F, T, T, T, T, T]
    assert face_run_starts(detected, clip_len=3, frame_gap=2).tolist() == [2]


def test_constant_source_gap_splits_runs_where_the_step_changes() -> None:
    detected = [T] * 8
    source = [0, 1, 2, 3, 5, 7, 9, 11]  # step 1, then step 2 from frame 3 on
    assert face_runs(detected, source) == [(0, 4), (3, 8)]
    windows = face_run_windows(detected, clip_len=3, frame_indices=source)
    assert [np.asarray(source)[idx].tolist() for idx, _ in windows] == [[0, 1, 2], [3, 5, 7]]
    for indices, mask in windows:
        assert mask.all() and mask.dtype == bool and indices.dtype == np.int64
        assert len(set(np.diff(np.asarray(source)[indices]).tolist())) == 1


def test_windows_match_a_brute_force_reference_on_random_masks() -> None:
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 60))
        detected = rng.random(n) < rng.uniform(0.5, 1.0)
        source = np.cumsum(rng.choice([1, 1, 1, 2], size=n)) if trial % 2 else None
        clip_len, gap = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        starts = face_run_starts(detected, clip_len, gap, source).tolist()
        span = (clip_len - 1) * gap + 1
        assert starts == sorted(starts)
        for start in starts:
            assert _window_is_valid(start, clip_len, gap, detected, source), (trial, start)
        if source is None:
            # Back to back inside each run: floor(run length / span) windows per run, no overlap.
            runs = _runs_by_groupby(detected.tolist())
            assert len(starts) == sum((stop - begin) // span for begin, stop in runs)
            assert all(b - a >= span for a, b in itertools.pairwise(starts))
            # Nothing left: no valid window fits in the crops that no chosen window covers.
            covered = {i for s in starts for i in range(s, s + span)}
            for begin, stop in runs:
                free = [i for i in range(begin, stop) if i not in covered]
                assert len(free) < span or not _window_is_valid(free[0], clip_len, gap, detected, None)


def test_max_windows_keeps_an_even_spread_in_time_order() -> None:
    detected = [T] * 40
    assert face_run_starts(detected, clip_len=4).tolist() == list(range(0, 40, 4))
    assert face_run_starts(detected, clip_len=4, max_windows=4).tolist() == [0, 12, 24, 36]
    assert face_run_starts(detected, clip_len=4, max_windows=50).tolist() == list(range(0, 40, 4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frame_indices": [0, 1, 1, 2]}, "strictly increasing"),
        ({"frame_indices": [0, 1, 2]}, "one per stored crop"),
        ({"clip_len": 0}, "clip_len and frame_gap"),
        ({"frame_gap": 0}, "clip_len and frame_gap"),
        ({"max_windows": 0}, "max_windows"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        face_run_starts([T, T, T, T], **{"clip_len": 2, **kwargs})


def test_face_track_reads_the_store_sidecar_and_names_the_file() -> None:
    sidecar = {"frame_indices": [0, 3, 6], "detected": [True, False, True], "crop_boxes": [[0, 0, 8, 8]] * 3}
    detected, source = face_track(sidecar, "store/crops/v.npy", n_stored=3)
    assert detected.tolist() == [True, False, True] and source.tolist() == [0, 3, 6]
    with pytest.raises(SuiteError, match=r"store/crops/v\.json has no 'detected'"):
        face_track({"frame_indices": [0]}, "store/crops/v.npy")
    with pytest.raises(SuiteError, match="for 4 stored crops"):
        face_track(sidecar, "store/crops/v.npy", n_stored=4)


def test_docstring_examples() -> None:
    assert doctest.testmod(datamodules.face_runs).failed == 0


def _store_with_a_missed_face(root: Path, tmp_path: Path) -> tuple[Path, str]:
    """Every frame of the tiny synthetic set in a store, with frame 4 of one video marked missed."""
    from datamodules.preprocessing import CropParams, build_store
    from tests.test_preprocessing import tiny_source

    store = tmp_path / "store"
    params = CropParams(frame_size=32, frames_per_video=None, detector="sidecar", face_margin=0.3)
    build_store(tiny_source(root), store, params, 0, progress=False)
    marker = sorted((store / "crops").glob("*.json"))[0]
    outcome = json.loads(marker.read_text())
    outcome["detected"][4] = False
    marker.write_text(json.dumps(outcome))
    return store, outcome["video_id"]


def test_clip_dataset_takes_face_run_windows_from_the_store(
    tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    from datamodules.clip_dataset import ClipDataset
    from datamodules.crop_store import CropStoreSource

    store, missed = _store_with_a_missed_face(tiny_synthetic_root, tmp_path)
    records = CropStoreSource(str(store)).records()
    dataset = ClipDataset(records, clip_len=3, frame_size=32, sampling="face_runs", clips_per_video=5)
    per_video: dict[str, list[list[int]]] = {}
    for video, indices, mask in dataset._windows:
        assert mask.all()
        per_video.setdefault(records[video].video_id, []).append(indices.tolist())
    # 10 detected frames: windows of 3 back to back; frame 4 missed: runs [0, 4) and [5, 10).
    assert per_video[missed] == [[0, 1, 2], [5, 6, 7]]
    assert all(
        windows == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] for v, windows in per_video.items() if v != missed
    )
    item = next(
        dataset[i] for i, (video, _, _) in enumerate(dataset._windows) if records[video].video_id == missed
    )
    stored = np.load(next(r.path for r in records if r.video_id == missed))
    assert np.array_equal(item["frames"].permute(0, 2, 3, 1).numpy(), stored[[0, 1, 2]])


def test_face_runs_on_videos_asks_for_a_store(tiny_synthetic_root: Path) -> None:
    from datamodules.clip_dataset import ClipDataset
    from tests.test_preprocessing import tiny_source

    records = [dataclasses.replace(tiny_source(tiny_synthetic_root).records()[0], n_frames=10)]
    with pytest.raises(SuiteError, match=r"face_runs .* is a video: set data\.init_args\.face_crops"):
        ClipDataset(records, clip_len=3, frame_size=32, sampling="face_runs")


def test_clip_datamodule_crops_faces_then_samples_face_runs(
    tiny_synthetic_root: Path, tmp_path: Path
) -> None:
    from tests.test_face_crop_step import cropped_clips

    dm = cropped_clips(tiny_synthetic_root, tmp_path, "face_runs", clips_per_video=2)
    train = dm.datasets["train"]
    # Every synthetic frame has its face: runs of 10, two back-to-back windows of 4 per video.
    assert len(train) == 2 * len(train.records)
    batch = next(iter(dm.train_dataloader()))
    assert batch["frames"].shape == (4, 4, 3, 32, 32) and batch["mask"].all()
