"""The store's tables: manifest of stored videos, report of skipped ones, and the on-screen count."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamodules.crop_store import (
    CROPS_DIR,
    MANIFEST_NAME,
    REPORT_COLUMNS,
    REPORT_NAME,
    crop_file_stem,
)
from datamodules.sources.base import MANIFEST_COLUMNS, VideoRecord
from deepfake_suite.atomic import atomic_write_text


@dataclass(frozen=True)
class StoreSummary:
    """What a ``preprocess`` run left in the store.

    Attributes:
        stored: Videos with crops in the store.
        skipped: ``video_id -> reason`` of videos without crops.
        processed: Videos worked on by this run (the rest were done by an earlier run).
        manifest: Path of the manifest.
        report: Path of the report of skipped videos.
        reason_counts: Skipped videos per reason, with file names replaced by ``<file>``.
    """

    stored: int
    skipped: dict[str, str]
    processed: int
    manifest: Path
    report: Path
    reason_counts: dict[str, int]

    def describe(self) -> str:
        """One paragraph for the screen: counts, then the most common skip reasons."""
        total = self.stored + len(self.skipped)
        lines = [
            f"preprocess: {total} videos, {self.stored} stored, {len(self.skipped)} skipped "
            f"({self.processed} processed by this run, {total - self.processed} done before)",
            f"manifest: {self.manifest}",
        ]
        if self.skipped:
            lines.append(f"skipped videos and reasons: {self.report}")
            lines += [
                f"  {count:6d}  {reason}" for reason, count in Counter(self.reason_counts).most_common(5)
            ]
        return "\n".join(lines)


def _csv_text(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_tables(
    root: Path, records: Sequence[VideoRecord], outcomes: dict[str, dict[str, Any]], processed: int
) -> StoreSummary:
    """Write ``manifest.csv`` and ``report.csv`` for ``records`` from their per-video outcomes.

    Rows are sorted by ``video_id`` and nothing depends on the order videos finished in, so a
    resumed run writes the same bytes as an uninterrupted one.

    Args:
        root: Store folder.
        records: The source's videos.
        outcomes: ``video_id ->`` per-video JSON (``status`` ``done`` with ``n_frames``, or
            ``skipped`` with ``reason``).
        processed: Videos this run worked on.
    """
    manifest_rows, report_rows, skipped = [], [], {}
    reason_counts: Counter[str] = Counter()
    for record in sorted(records, key=lambda r: r.video_id):
        outcome = outcomes[record.video_id]
        if outcome["status"] == "done":
            row = {column: getattr(record, column) for column in MANIFEST_COLUMNS}
            row["path"] = f"{CROPS_DIR}/{crop_file_stem(record.video_id)}.npy"
            row["n_frames"] = outcome["n_frames"]
            manifest_rows.append(row)
        else:
            skipped[record.video_id] = outcome["reason"]
            # Reasons name their file; without it they group into a short overview.
            reason_counts[outcome["reason"].replace(str(record.path), "<file>")] += 1
            report_rows.append(
                {
                    "video_id": record.video_id,
                    "path": str(record.path),
                    "split": record.split,
                    "reason": outcome["reason"],
                }
            )
    report = atomic_write_text(root / REPORT_NAME, _csv_text(REPORT_COLUMNS, report_rows))
    manifest = atomic_write_text(root / MANIFEST_NAME, _csv_text(MANIFEST_COLUMNS, manifest_rows))
    return StoreSummary(len(manifest_rows), skipped, processed, manifest, report, dict(reason_counts))
