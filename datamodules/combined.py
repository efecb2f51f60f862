"""One manifest from several sources, each giving chosen splits a role: cross-dataset protocols.

Train on FaceForensics++, select models on its validation split and test on Celeb-DF (the
dual-level paper's cross-dataset Table 4)::

    data:
      class_path: datamodules.FrameDataModule
      init_args:
        source:
          class_path: datamodules.CombinedSource
          init_args:
            sources:
              - class_path: datamodules.sources.FaceForensicsSource
                init_args: {root: /data/FaceForensics++, compression: c23}
              - class_path: datamodules.sources.CelebDFSource
                init_args: {root: /data/Celeb-DF-v2}
            splits:
              - {train: train, val: val}   # FF++ test is left out
              - {test: test}               # only Celeb-DF's official test list

The Celeb-DF imbalanced subsets validate on FF++ as the paper did: give Celeb-DF
``val_fraction: 0`` and ``splits: [{train: train, test: test}, {val: val}]`` with
``imbalance: celeb-30`` on the datamodule (presets leave the val split whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from datamodules.leakage import check_split_integrity
from datamodules.sources.base import SPLITS, VideoRecord, VideoSource
from deepfake_suite.errors import SuiteError

__all__ = ["CombinedSource"]


class CombinedSource(VideoSource):
    """The videos of several sources, each split kept under the role it is given, or left out.

    ``splits[i]`` maps the ``i``-th source's own split names to roles here (``train``, ``val``,
    ``test``); splits it does not name are left out, and ``null`` keeps the source's splits as
    they are. Two splits may share a role (``{train: train, val: train}`` trains on both).

    Checks: each source's videos, under their new roles, must pass the source's own split checks
    (a Celeb-DF test identity must not reach training even when its train split is renamed),
    and the union must have unique video ids (they include the dataset name, so the same source
    listed twice is caught) and no file under two roles. Identities are prefixed with the
    dataset name (``Celeb-DF/id0``): datasets number their people independently, so ``id0`` of
    one is not ``id0`` of another. The union promises identity-disjoint splits only when every
    source does.

    Args:
        sources: Dataset adapters, any of ``datamodules.sources.*`` (a face-crop store too).
        splits: One role mapping (or ``null``) per source; ``null`` or omitted keeps every split.

    Raises:
        SuiteError: ``splits`` does not match ``sources`` or names an unknown split or role.
        DataLeakError: From :meth:`records`, when the union breaks a check above.
    """

    def __init__(self, sources: list[VideoSource], splits: list[dict[str, str] | None] | None = None) -> None:
        if not sources:
            raise SuiteError("data.init_args.source.init_args.sources: give at least one source")
        roles = list(splits) if splits is not None else [None] * len(sources)
        if len(roles) != len(sources):
            raise SuiteError(
                f"data.init_args.source.init_args.splits has {len(roles)} entries for {len(sources)} "
                "sources: give one role mapping (or null) per source"
            )
        for i, mapping in enumerate(roles):
            if mapping is None:
                continue
            if not isinstance(mapping, Mapping) or not mapping:
                raise SuiteError(
                    f"data.init_args.source.init_args.splits[{i}] must map the source's splits to roles, "
                    f"e.g. {{test: test}}; got {mapping!r}"
                )
            bad = {k: v for k, v in mapping.items() if k not in SPLITS or v not in SPLITS}
            if bad:
                raise SuiteError(
                    f"data.init_args.source.init_args.splits[{i}] ({type(sources[i]).__name__}): "
                    f"splits and roles must be among {SPLITS}, got {bad}"
                )
        self.sources = list(sources)
        self.splits = roles
        self.identity_disjoint = all(source.identity_disjoint for source in self.sources)

    def prepare(self) -> None:
        for source in self.sources:
            source.prepare()

    def records(self) -> list[VideoRecord]:
        combined: list[VideoRecord] = []
        for source, mapping in zip(self.sources, self.splits, strict=True):
            kept = [
                replace(
                    record,
                    split=record.split if mapping is None else mapping[record.split],
                    identity=f"{record.dataset}/{record.identity}" if record.identity else "",
                )
                for record in source.records()
                if mapping is None or record.split in mapping
            ]
            check_split_integrity(kept, identity_disjoint=source.identity_disjoint)
            combined += kept
        check_split_integrity(combined, identity_disjoint=self.identity_disjoint)
        return combined
