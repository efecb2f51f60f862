"""CsvSource: the generic list of videos, its label/split spellings and its clear errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from datamodules.leakage import check_split_integrity
from datamodules.sources import CsvSource
from deepfake_suite.errors import DataLeakError, SuiteError
from tests.source_trees import touch, write_text

KEY = "data.init_args.source.init_args"
ROWS = [
    ("real/a.mp4", "REAL", "Train", "", "p1"),
    ("fake/a.mp4", "FAKE", "train", "HifiFace", "p1"),
    ("real/b.mp4", "0", "val", "original", "p2"),
    ("fake/b.mp4", "1", "val", "", "p2"),
    ("real/c.mp4", "real", "TEST", "", "p3"),
    ("fake/c.mp4", "fake", "test", "HifiFace", "p3"),
]


def write_csv(
    path: Path, rows: Sequence[Sequence[str]], header: str = "path,label,split,method,identity"
) -> Path:
    return write_text(path, header + "\n" + "".join(",".join(row) + "\n" for row in rows))


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    for row in ROWS:
        touch(tmp_path / "videos" / row[0])
    return write_csv(tmp_path / "videos" / "list.csv", ROWS)


def test_rows_labels_splits_and_defaults(csv_path: Path) -> None:
    records = CsvSource(str(csv_path), dataset_name="HifiFace").records()
    assert [(r.label, r.split) for r in records] == [
        (0, "train"), (1, "train"), (0, "val"), (1, "val"), (0, "test"), (1, "test"),
    ]  # fmt: skip
    assert [r.method for r in records] == ["original", "HifiFace", "original", "fake", "original", "HifiFace"]
    assert records[1].video_id == "HifiFace/HifiFace/unknown/fake/a"
    assert all(r.path == (csv_path.parent / row[0]).resolve() for r, row in zip(records, ROWS, strict=True))
    assert [r.identity for r in records] == ["p1", "p1", "p2", "p2", "p3", "p3"]
    assert {r.compression for r in records} == {"unknown"} and {r.n_frames for r in records} == {0}
    check_split_integrity(records, identity_disjoint=True)


def test_optional_columns_root_and_bom(tmp_path: Path) -> None:
    touch(tmp_path / "data" / "x.mp4")
    (tmp_path / "data" / "frames").mkdir()  # a frame folder is a video too
    path = tmp_path / "lists" / "l.csv"
    path.parent.mkdir()
    path.write_bytes(
        "\ufeffsplit,label,path,dataset,compression,n_frames,extra\n"
        "test,1,x.mp4,DF-Mobio,c23,12,ignored\ntest,0,frames,,,,\n".encode()
    )
    records = CsvSource(str(path), root=str(tmp_path / "data")).records()
    assert (records[0].dataset, records[0].compression, records[0].n_frames) == ("DF-Mobio", "c23", 12)
    assert (records[1].dataset, records[1].path.is_dir()) == ("csv", True)


def test_identity_promise_is_checked(csv_path: Path) -> None:
    rows = [*ROWS[:5], ("fake/c.mp4", "1", "test", "", "p1")]  # p1 is also in train
    write_csv(csv_path, rows)
    records = CsvSource(str(csv_path), identity_disjoint=True).records()
    with pytest.raises(DataLeakError, match="p1"):
        check_split_integrity(
            records, identity_disjoint=CsvSource(str(csv_path), identity_disjoint=True).identity_disjoint
        )
    assert not CsvSource(str(csv_path)).identity_disjoint


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("real/a.mp4", "yes", "train", "", ""), "label must be 1/fake or 0/real, got 'yes'"),
        (("real/a.mp4", "0", "valid", "", ""), "split must be one of train, val, test, got 'valid'"),
        (("real/a.mp4", "0", "train", "FaceSwap", ""), "method 'FaceSwap' contradicts label '0'"),
        (("fake/a.mp4", "1", "train", "original", ""), "method 'original' contradicts label '1'"),
        (("", "1", "train", "", ""), "empty path"),
    ],
)
def test_bad_rows_name_file_and_line(csv_path: Path, row: tuple[str, ...], message: str) -> None:
    write_csv(csv_path, [ROWS[0], row])
    with pytest.raises(SuiteError, match=f"{csv_path}, line 3: {message}"):
        CsvSource(str(csv_path)).records()


def test_missing_columns_and_duplicates(csv_path: Path) -> None:
    write_csv(csv_path, [("real/a.mp4", "0")], header="path,label")
    with pytest.raises(SuiteError, match="lacks the columns split"):
        CsvSource(str(csv_path)).records()
    write_csv(csv_path, [ROWS[0], ROWS[1], ("real/a.mp4", "0", "test", "", "")])
    with pytest.raises(SuiteError, match="lines 2 and 4: the same video_id csv/original/unknown/real/a"):
        CsvSource(str(csv_path)).records()


def test_missing_files_error_or_skip(csv_path: Path, tmp_path: Path) -> None:
    (csv_path.parent / "fake" / "b.mp4").unlink()
    with pytest.raises(SuiteError, match=f"line 5: .*fake/b.mp4 does not exist.*{KEY}.missing_files"):
        CsvSource(str(csv_path)).records()
    with pytest.warns(UserWarning, match="skipping 1 rows .* fake/b.mp4"):
        records = CsvSource(str(csv_path), missing_files="skip").records()
    assert len(records) == 5
    with pytest.raises(SuiteError, match=f"{KEY}.csv_path"):
        CsvSource(str(tmp_path / "none.csv")).records()
    with pytest.raises(SuiteError, match=f"{KEY}.missing_files"):
        CsvSource(str(csv_path), missing_files="ignore")  # type: ignore[arg-type]
