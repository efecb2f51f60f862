"""The papers' reference numbers: extracted by code, matching the paper texts, loadable by key."""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import pytest

import reproduce.paper_numbers
from reproduce.extract_paper_tables import (
    TableSpec,
    apply_fixes,
    default_papers_dir,
    extract_all,
    extract_table,
    load_manual_fixes,
    main,
    parse_number,
    strip_markup,
)
from reproduce.paper_numbers import (
    DEFAULT_PATH,
    PAPER_FILES,
    PaperNumber,
    load_paper_numbers,
    paper_table,
    paper_value,
    write_paper_numbers,
)

PAPERS = default_papers_dir()
needs_papers = pytest.mark.skipif(
    not all((PAPERS / name).is_file() for name in PAPER_FILES.values()),
    reason=f"paper texts not in {PAPERS} (CI has no ../shared); the committed CSV is checked without them",
)

# The tables issue 7 asks `make reproduce-tables` to render.
ISSUE_TABLES = {
    "mfom": ["Table I"],
    "attribution": ["Table 1", "Table 2"],
    "metric_learning": ["Table I", "Table II", "Table III"],
    "temporal_lstm": ["Table 1", "Table 2", "Table 3"],
    "dual_level": [f"Table {n}" for n in range(2, 12)],
}

# (paper, table, row, column, value, std, unit, line): read by eye from the paper texts.
SPOT_CHECKS = [
    # mfom-cost-sensitive-deepfake-detector.txt; the text also says "8,07% EER" and "30.56% EER".
    ("mfom", "Table I", "CNN", "EER", 8.07, None, "%", 179),
    ("mfom", "Table I", "CNN+MDCF 0.05", "minDCF with P_{tar}/0.01", 0.46, None, "", 182),
    ("mfom", "Table I", "CNN+MDCF 0.05", "Eval/EER", 30.56, None, "%", 182),
    # attribution-xception-triplet-arcfacemod.txt; "Attribution" and "ArcFaceMod-LR" filled down.
    ("attribution", "Table 1", "Attribution/Celeb-DF", "AUC", 100.0, None, "%", 83),
    ("attribution", "Table 1", "ArcFaceMod-LR/HifiFace", "HTER (%)", 8.93, None, "%", 94),
    ("attribution", "Table 2", "TripletLoss-NN/DF-Mobio", "HTER (%)", 24.32, None, "%", 126),
    # metric-learning-triplet-facenet.txt; the abstract quotes 99.2 AUC and 90.71 accuracy.
    ("metric_learning", "Table I", "Ours", "AUC Score", 99.2, None, "%", 131),
    ("metric_learning", "Table II", "Triplets (Semi-hard)", "Accuracy", 86.74, None, "%", 151),
    ("metric_learning", "Table III", "Triplets + SGD", "EER", 10.07, None, "%", 165),
    ("metric_learning", "Table III", "Triplets + SGD", "P", 90.55, None, "%", 165),
    ("metric_learning", "Table IV", "Ours", "NeuralTexture", 90.71, None, "%", 186),
    # siamese-temporal-lstm-cosine-hinge.txt
    ("temporal_lstm", "Table 1", "Accuracy", "Mean", 0.81, None, "fraction", 115),
    ("temporal_lstm", "Table 2", "Resnet50", "LogLoss", 0.4410648, None, "", 129),
    ("temporal_lstm", "Table 3", "4-layer MLP", "LogLoss for our Test set", 0.5137186, None, "", 137),
    # dual-level-auc-net.txt; the text quotes 73.7 (Celeb-30), 81.4 (DFDC-200) and 70.3 (cross-dataset).
    ("dual_level", "Table 6", "CNN +VLC,+TLM,+FLC,+AUC loss", "Video-level/AUC", 99.4, None, "%", 397),
    ("dual_level", "Table 2", "Meso4 [2]", "Frame Level/ACC", 70.4, 1.02, "%", 269),
    ("dual_level", "Table 4", "Ours", "Frame-level AUC/Celeb-DF", 70.3, None, "%", 339),
    ("dual_level", "Table 7", "Ours (γ = 0.1)", "Video Level/AUC", 73.7, None, "%", 437),
    ("dual_level", "Table 11", "Ours", "Frame Level/AUC", 81.4, None, "%", 561),
]

# Numeric cells per table, counted by hand from the paper texts (rows x filled columns).
HAND_COUNTS = {
    ("mfom", "Table I"): 6 * 5,
    ("attribution", "Table 1"): 16 * 4,
    ("attribution", "Table 2"): 12 * 4,
    ("metric_learning", "Table I"): 12,
    ("metric_learning", "Table III"): 2 * 5,
    ("metric_learning", "Table IV"): 7 * 2,
    ("temporal_lstm", "Table 2"): 4,  # the hinge-loss marks are text
    ("dual_level", "Table 2"): 7 * 5 + 10,
    ("dual_level", "Table 4"): 8 * 2 + 4,  # "Input Size" printed on 4 rows only
    ("dual_level", "Table 6"): 4 * 2 + 2 * 4,
    ("dual_level", "Table 7"): 9 * 5 + 4 * 10,
}


@pytest.fixture(scope="module")
def committed() -> list[PaperNumber]:
    return load_paper_numbers()


@needs_papers
def test_committed_csv_is_exactly_the_extraction(tmp_path: Path) -> None:
    fresh = tmp_path / "paper_numbers.csv"
    write_paper_numbers(extract_all(PAPERS), fresh)
    assert fresh.read_bytes() == DEFAULT_PATH.read_bytes(), "rerun python -m reproduce.extract_paper_tables"
    assert main(["--papers", str(PAPERS), "--check"]) == 0


@needs_papers
def test_check_flags_a_stale_csv(tmp_path: Path) -> None:
    stale = tmp_path / "stale.csv"
    stale.write_bytes(DEFAULT_PATH.read_bytes().replace(b",99.4,", b",99.5,", 1))
    assert main(["--papers", str(PAPERS), "--out", str(stale), "--check"]) == 1


@needs_papers
def test_each_cell_is_on_its_line_of_the_paper(committed: list[PaperNumber]) -> None:
    texts = {p: (PAPERS / f).read_text(encoding="utf-8").split("\n") for p, f in PAPER_FILES.items()}
    for n in committed:
        assert n.raw in texts[n.paper][n.line - 1].split("\t"), n


@pytest.mark.parametrize(("paper", "table", "row", "column", "value", "std", "unit", "line"), SPOT_CHECKS)
def test_spot_checks_read_from_the_papers(
    committed: list[PaperNumber],
    paper: str,
    table: str,
    row: str,
    column: str,
    value: float,
    std: float | None,
    unit: str,
    line: int,
) -> None:
    cell = paper_value(paper, table, row, column, numbers=committed)
    assert (cell.value, cell.std, cell.unit, cell.line) == (value, std, unit, line)


def test_every_table_the_issue_lists_is_present(committed: list[PaperNumber]) -> None:
    present = {(n.paper, n.table) for n in committed}
    missing = [(p, t) for p, tables in ISSUE_TABLES.items() for t in tables if (p, t) not in present]
    assert not missing


@pytest.mark.parametrize(("key", "count"), HAND_COUNTS.items(), ids=[" ".join(k) for k in HAND_COUNTS])
def test_no_row_or_column_is_lost(committed: list[PaperNumber], key: tuple[str, str], count: int) -> None:
    assert sum(n.value is not None for n in paper_table(*key, numbers=committed)) == count


def test_values_are_the_printed_text_except_the_listed_fixes(committed: list[PaperNumber]) -> None:
    differ = []
    for n in committed:
        parsed = parse_number(strip_markup(n.raw))
        if (n.value, n.std) != ((None, None) if parsed is None else parsed):
            differ.append((n.paper, n.table, n.row, n.column))
    hinge_marks = [
        ("temporal_lstm", "Table 2", row, "Trained with Hinge Loss") for row in ("4-layer CNN", "Resnet50")
    ]  # a printed "0" that is a mark, kept as text
    assert sorted(differ) == sorted(
        [("temporal_lstm", "Table 2", "InceptionResnetV2", "LogLoss"), *hinge_marks]
    )
    assert len(load_manual_fixes()) == 5


def test_units_are_consistent_with_the_values(committed: list[PaperNumber]) -> None:
    for n in committed:
        if n.unit == "%":
            assert n.value is not None and 0.0 <= n.value <= 100.0, n
        elif n.unit == "fraction":
            assert n.value is not None and 0.0 <= n.value <= 1.0, n
    assert all(n.raw.strip() not in ("", "-") for n in committed)


def test_keys_are_unique_and_labels_have_no_markup(committed: list[PaperNumber]) -> None:
    keys = [(n.paper, n.table, n.row, n.column) for n in committed]
    assert len(keys) == len(set(keys))
    for n in committed:
        for text in (n.row, n.column, n.caption):
            assert not any(mark in text for mark in ("<", "$", "*", "\t")), text


def test_paper_value_names_close_matches() -> None:
    with pytest.raises(KeyError, match=r"Table 6 \| CNN \+VLC,\+TLM,\+FLC,\+AUC loss \| Video-level/AUC"):
        paper_value("dual_level", "Table 6", "CNN +VLC,+TLM,+FLC,+AUC loss", "Video Level/AUC")
    with pytest.raises(KeyError, match="its tables"):
        paper_table("dual_level", "Table 12")


def test_fraction_follows_the_unit(committed: list[PaperNumber]) -> None:
    assert math.isclose(paper_value("dual_level", "Table 6", "CNN +VLC", "Video-level/AUC").fraction, 0.52)
    assert paper_value("temporal_lstm", "Table 1", "Accuracy", "Mean").fraction == 0.81
    with pytest.raises(ValueError, match="no fraction"):
        _ = paper_value("mfom", "Table I", "CNN", "minDCF with P_{tar}/0.1").fraction


def test_csv_round_trip_and_bad_rows(tmp_path: Path) -> None:
    cells = [
        PaperNumber("mfom", "Table I", "cap", "CNN", "EER", 8.07, None, "%", "8.07", 3),
        PaperNumber("dual_level", "Table 1", "cap", "Celeb-30", "Ratio", None, None, "", "30:1", 9),
        PaperNumber("dual_level", "Table 2", "cap", "Ours", "AUC", 0.1 + 0.2, 1e-17, "%", "x", 10),
    ]
    path = tmp_path / "n.csv"
    write_paper_numbers(cells, path)
    assert load_paper_numbers(path) == cells
    path.write_text(path.read_text().replace(",%,8.07,", ",percent,8.07,"))
    with pytest.raises(ValueError, match=r"n\.csv:2: unit 'percent'"):
        load_paper_numbers(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        load_paper_numbers(tmp_path / "missing.csv")


def test_parser_on_a_hand_built_table() -> None:
    text = [
        "Intro\ttext far above",
        "",
        "**Table 9:** Toy results *on* $\\gamma$ data.",
        "",
        "Method\tSet\tVideo\t\tFrame",
        "\t\tAUC\tACC\tAUC",
        "A <sup>a</sup>\tX\t<b>90.5±0.25</b>\t-\t7",
        "\tY\t80\t\t",
        "B ( $\\gamma = 0.1$ )\tX\tn/a\t50.0\t0.5",
    ]
    spec = TableSpec("toy", "Table 9", r"^\*\*Table 9:\*\*", header_rows=2, label_columns=2)
    got = {(n.row, n.column): (n.value, n.std, n.raw, n.line) for n in extract_table(spec, text, text)}
    assert got == {
        ("A/X", "Video/AUC"): (90.5, 0.25, "<b>90.5±0.25</b>", 7),
        ("A/X", "Frame/AUC"): (7.0, None, "7", 7),
        ("A/Y", "Video/AUC"): (80.0, None, "80", 8),
        ("B (γ = 0.1)/X", "Video/AUC"): (None, None, "n/a", 9),
        ("B (γ = 0.1)/X", "Video/ACC"): (50.0, None, "50.0", 9),
        ("B (γ = 0.1)/X", "Frame/AUC"): (0.5, None, "0.5", 9),
    }
    assert {n.caption for n in extract_table(spec, text, text)} == {"Toy results on γ data."}
    before = TableSpec("toy", "Table 9", r"^TABLE IX$", body_after=False)
    ieee = ["M\tV", "a\t1", "", "TABLE IX", "", "CAPTION"]
    assert [(n.row, n.column, n.caption) for n in extract_table(before, ieee, ieee)] == [
        ("a", "V", "CAPTION")
    ]
    with pytest.raises(ValueError, match="no tab-separated body"):
        extract_table(spec, text[:4] + [""] * 8 + text[4:], text[:4] + [""] * 8 + text[4:])


def test_a_fix_that_no_longer_matches_fails_loudly() -> None:
    fixes = load_manual_fixes()
    with pytest.raises(
        ValueError,
        match="'Loglogo' -> 'LogLoss' on line 124 of temporal_lstm: the old text is not exactly once",
    ):
        apply_fixes("temporal_lstm", [""] * 200, fixes)
    assert apply_fixes("mfom", ["a\tb"], fixes) == ["a\tb"]


def test_docstring_example() -> None:
    assert doctest.testmod(reproduce.paper_numbers).failed == 0
