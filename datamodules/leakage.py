"""Checks that no test video or test identity can reach training or model selection."""

from __future__ import annotations

from collections import Counter, defaultdict

from datamodules.sources.base import VideoRecord
from deepfake_suite.errors import DataLeakError


def _examples(items: set[str] | list[str], limit: int = 5) -> str:
    items = sorted(items)
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def check_split_integrity(records: list[VideoRecord], identity_disjoint: bool) -> None:
    """Raise :class:`DataLeakError` when splits share videos (or identities, if promised disjoint).

    Run on every manifest before any loader exists: a test video in training inflates every
    number the suite prints, and it is invisible in the numbers themselves.
    """
    duplicates = [vid for vid, n in Counter(r.video_id for r in records).items() if n > 1]
    if duplicates:
        raise DataLeakError(f"video_id is not unique: {_examples(duplicates)}")
    splits_of_path: dict[str, set[str]] = defaultdict(set)
    for record in records:
        splits_of_path[str(record.path)].add(record.split)
    shared = {path for path, splits in splits_of_path.items() if len(splits) > 1}
    if shared:
        raise DataLeakError(f"the same video file is in several splits: {_examples(shared)}")
    if not identity_disjoint:
        return
    identities = defaultdict(set)
    for record in records:
        if record.identity:
            identities[record.split].add(record.identity)
    leaked = identities["test"] & (identities["train"] | identities["val"])
    if leaked:
        raise DataLeakError(f"test identities also appear in train/val: {_examples(leaked)}")
