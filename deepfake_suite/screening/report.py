"""The screening CSVs: one row per upload, and one row per scored frame.

Floats are written with ``repr`` (the shortest text that reads back as the same float64), so a
reader recomputing ``video_score >= threshold`` gets the decision in the file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from deepfake_suite.atomic import atomic_write_text

VIDEO_COLUMNS = (
    "path",
    "status",
    "reason",
    "n_frames_scored",
    "video_score",
    "decision",
    "threshold",
    "operating_point",
)
FRAME_COLUMNS = ("path", "frame_index", "score")


@dataclass(frozen=True)
class UploadRow:
    """One upload's line of the output.

    Attributes:
        path: The upload, as found under ``--videos``.
        reason: Why it was skipped; empty when it was scored.
        score: Video score (probability of fake), ``None`` when skipped.
        n_frames_scored: Frames behind the score.
        frames: ``(frame index in the source video, score)`` per scored frame.
    """

    path: str
    reason: str = ""
    score: float | None = None
    n_frames_scored: int = 0
    frames: tuple[tuple[int, float], ...] = ()


def frames_path(out: Path) -> Path:
    """``scores.csv`` -> ``scores_frames.csv`` beside it."""
    return out.with_name(f"{out.stem}_frames.csv")


def _csv_text(header: tuple[str, ...], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_reports(out: Path, rows: list[UploadRow], threshold: float | None, operating_point: str) -> None:
    """Write ``out`` and its per-frame companion, each through a temporary file and a rename.

    The per-frame file is written first: a complete ``out`` implies a complete companion.

    Args:
        out: Path of the per-video CSV.
        rows: Every upload, scored or skipped.
        threshold: Decision threshold (``score >= threshold`` is fake); ``None`` when none was set.
        operating_point: How the threshold was chosen, e.g. ``min_dcf:0.01``.
    """
    ordered = sorted(rows, key=lambda row: row.path)
    frame_rows: list[list[object]] = [
        [row.path, frame, repr(score)] for row in ordered for frame, score in row.frames
    ]
    atomic_write_text(frames_path(out), _csv_text(FRAME_COLUMNS, frame_rows))
    video_rows: list[list[object]] = []
    for row in ordered:
        scored = row.score is not None
        decision = ""
        if scored and threshold is not None:
            decision = "fake" if row.score >= threshold else "real"  # type: ignore[operator]
        video_rows.append(
            [
                row.path,
                "ok" if scored else "skipped",
                row.reason,
                row.n_frames_scored,
                repr(row.score) if scored else "",
                decision,
                "" if threshold is None else repr(threshold),
                operating_point,
            ]
        )
    atomic_write_text(out, _csv_text(VIDEO_COLUMNS, video_rows))
