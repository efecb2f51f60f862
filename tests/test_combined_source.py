"""CombinedSource: split roles per source, identities per dataset, leaks refused on the union."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import datamodules.combined
from datamodules.combined import CombinedSource
from datamodules.sources import SyntheticSource, VideoRecord, VideoSource
from deepfake_suite.errors import DataLeakError, SuiteError
from tests.conftest import TINY_SOURCE


class ListSource(VideoSource):
    def __init__(self, records: list[VideoRecord], identity_disjoint: bool = True) -> None:
        self._records = records
        self.identity_disjoint = identity_disjoint
        self.prepared = False

    def prepare(self) -> None:
        self.prepared = True

    def records(self) -> list[VideoRecord]:
        return list(self._records)


def dataset(name: str, identities: dict[str, list[str]]) -> ListSource:
    """Two videos (real, fake) per identity and split; ids and paths carry the dataset name."""
    rows = []
    for split, people in identities.items():
        for person in people:
            for label in (0, 1):
                vid = f"{name}/{'fake' if label else 'original'}/c23/{split}-{person}"
                rows.append(
                    VideoRecord(
                        vid,
                        Path(f"/{vid}.mp4"),
                        label,
                        "fake" if label else "original",
                        name,
                        split,
                        "c23",
                        person,
                        10,
                    )
                )
    return ListSource(rows)


FFPP = {"train": ["000", "001"], "val": ["002"], "test": ["003"]}
CELEB = {"train": ["id0", "id1"], "val": ["id2"], "test": ["id3", "id4"]}


def splits_of(records: list[VideoRecord]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in records:
        out.setdefault(r.split, set()).add(r.dataset)
    return out


def test_roles_keep_only_the_named_splits() -> None:
    ff, celeb = dataset("FF++", FFPP), dataset("Celeb-DF", CELEB)
    combined = CombinedSource([ff, celeb], [{"train": "train", "val": "val"}, {"test": "test"}])
    records = combined.records()
    assert splits_of(records) == {"train": {"FF++"}, "val": {"FF++"}, "test": {"Celeb-DF"}}
    expected = {r.video_id for r in ff.records() if r.split != "test"} | {
        r.video_id for r in celeb.records() if r.split == "test"
    }
    assert {r.video_id for r in records} == expected
    assert {r.identity for r in records if r.split == "test"} == {"Celeb-DF/id3", "Celeb-DF/id4"}
    combined.prepare()
    assert ff.prepared and celeb.prepared


def test_null_keeps_every_split_and_roles_can_merge_or_rename() -> None:
    ff, celeb = dataset("FF++", FFPP), dataset("Celeb-DF", CELEB)
    records = CombinedSource([ff, celeb], [None, {"train": "train", "val": "train"}]).records()
    assert splits_of(records) == {"train": {"FF++", "Celeb-DF"}, "val": {"FF++"}, "test": {"FF++"}}
    assert sum(r.dataset == "Celeb-DF" for r in records) == 2 * 3  # id0, id1, id2 into train
    assert len(CombinedSource([ff]).records()) == len(ff.records())


def test_same_identity_name_in_two_datasets_is_not_a_leak() -> None:
    # Both datasets number people from 000: FF++'s test person 003 is not the other's train 003.
    other = dataset("Other", {"train": ["003"], "val": ["009"], "test": ["010"]})
    records = CombinedSource([dataset("FF++", FFPP), other]).records()
    assert {"FF++/003", "Other/003"} <= {r.identity for r in records}


def test_leaks_across_the_union_are_refused() -> None:
    ff = dataset("FF++", FFPP)
    # The same source twice: its ids repeat (and its files would sit under two roles).
    with pytest.raises(DataLeakError, match="not unique"):
        CombinedSource([ff, ff], [{"train": "train"}, {"test": "test", "train": "test"}]).records()
    # The same files under another dataset name: ids differ, the file is under two roles.
    renamed = ListSource(
        [r.__class__(**{**r.__dict__, "video_id": "copy/" + r.video_id}) for r in ff.records()]
    )
    with pytest.raises(DataLeakError, match="several splits"):
        CombinedSource([ff, renamed], [{"train": "train"}, {"train": "test"}]).records()
    # Two sources of one dataset (e.g. c23 and c40 folders) sharing a person across roles.
    c23 = dataset("DS", {"train": ["p1"]})
    c40 = ListSource(
        [
            r.__class__(
                **{
                    **r.__dict__,
                    "video_id": r.video_id + "-c40",
                    "path": Path(f"{r.path}.c40"),
                    "split": "test",
                }
            )
            for r in c23.records()
        ]
    )
    with pytest.raises(DataLeakError, match="test identities also appear in train/val: DS/p1"):
        CombinedSource([c23, c40]).records()


def test_a_role_mapping_cannot_hide_a_sources_own_leak() -> None:
    leaky = dataset("Celeb-DF", {"train": ["id0"], "test": ["id0"]})
    with pytest.raises(DataLeakError, match="Celeb-DF/id0"):
        CombinedSource(
            [dataset("FF++", FFPP), leaky], [{"val": "val"}, {"train": "train", "test": "test"}]
        ).records()
    # The union promises disjoint identities only when every source does.
    loose = dataset("X", {"train": ["a"]})
    loose.identity_disjoint = False
    assert CombinedSource([dataset("FF++", FFPP), loose]).identity_disjoint is False
    assert CombinedSource([dataset("FF++", FFPP)]).identity_disjoint is True


@pytest.mark.parametrize(
    ("splits", "message"),
    [
        ([{"train": "train"}], "has 1 entries for 2 sources"),
        ([{"training": "train"}, None], r"splits\[0\] \(ListSource\): splits and roles must be among"),
        ([None, {"test": "holdout"}], r"splits\[1\].*'test': 'holdout'"),
        ([None, {}], r"splits\[1\] must map the source's splits to roles"),
    ],
)
def test_bad_role_mappings_are_named(splits: list, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        CombinedSource([dataset("FF++", FFPP), dataset("Celeb-DF", CELEB)], splits)
    with pytest.raises(SuiteError, match="at least one source"):
        CombinedSource([])


def test_frame_datamodule_trains_on_one_dataset_and_tests_on_another(tiny_synthetic_root: Path) -> None:
    from datamodules import FrameDataModule

    synthetic = SyntheticSource(root=str(tiny_synthetic_root), **TINY_SOURCE)
    other = dataset("Other", {"test": ["p0", "p1"]})
    # The other dataset's files do not exist: only its role mapping and ids are checked here.
    combined = CombinedSource([synthetic, other], [{"train": "train", "val": "val"}, {"test": "test"}])
    dm = FrameDataModule(combined, frames_per_video=2, frame_size=32, num_workers=0)
    dm.setup("fit")
    assert {r.dataset for r in dm.datasets["train"].records} == {"synthetic"}
    assert "synthetic" in {r.video_id.split("/")[0] for r in dm.datasets["val"].records}
    # Other's method is test only: no class of the head, numbered after the classes.
    assert dm.class_names[0] == "real" and "fake" not in dm.class_names and dm.unseen_methods == ["fake"]
    with pytest.raises(DataLeakError, match="not unique"):
        FrameDataModule(CombinedSource([synthetic, synthetic]), num_workers=0).setup("fit")


def test_docstring_example_is_a_valid_config() -> None:
    from jsonargparse import ArgumentParser

    from datamodules import FrameDataModule

    doc = datamodules.combined.__doc__ or ""
    example = doc.split("::\n", 1)[1].split("\n\n", 1)[0]
    parser = ArgumentParser()
    parser.add_subclass_arguments(FrameDataModule, "data")
    config = parser.parse_string(textwrap.dedent(example))
    source = config.data.init_args.source
    assert source.class_path == "datamodules.CombinedSource"
    assert [s.class_path for s in source.init_args.sources] == [
        "datamodules.sources.FaceForensicsSource",
        "datamodules.sources.CelebDFSource",
    ]
    assert source.init_args.splits == [{"train": "train", "val": "val"}, {"test": "test"}]
