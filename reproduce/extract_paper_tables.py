"""Extract every table cell of the five papers' texts into ``reproduce/data/paper_numbers.csv``.

The paper texts (markdown-ish conversions of the PDFs) print each table as tab-separated lines next
to its caption. :data:`TABLES` says, per table, where its caption is, whether the body comes after
it (most papers) or before it (the IEEE layout of the metric-learning paper), how many header lines
and row-label columns it has, and the unit of its numbers. Everything else is generic: cells are
split on tabs, markup stripped, multi-level headers joined with ``/``, merged row-label cells
filled down, ``"mean±std"`` split. OCR garbles are fixed by ``reproduce/data/manual_fixes.csv``
(paper, line, old text, new text, reason), applied to the text lines before parsing.

Usage::

    python -m reproduce.extract_paper_tables                   # rewrite the CSV
    python -m reproduce.extract_paper_tables --check           # exit 1 if the CSV is stale
    python -m reproduce.extract_paper_tables --papers DIR --out FILE
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reproduce.paper_numbers import DATA_DIR, DEFAULT_PATH, PAPER_FILES, PaperNumber, write_paper_numbers

PAPERS_ENV = "DEEPFAKE_PAPERS_DIR"
#: The papers live beside the repository checkout (``../shared/papers``), not in it.
DEFAULT_PAPERS_DIR = Path(__file__).resolve().parents[2] / "shared" / "papers"
MANUAL_FIXES_PATH = DATA_DIR / "manual_fixes.csv"
#: A table body must start within this many lines of its caption: a wrong marker then fails loudly
#: instead of silently reading the next table.
MAX_GAP = 6


@dataclass(frozen=True)
class TableSpec:
    """Where one table is in a paper text and how to read it.

    Attributes:
        paper: Paper key.
        table: Table name as the paper numbers it.
        marker: Regex that finds the table's caption label on exactly one line.
        body_after: The tab-separated body follows the caption (False: it precedes it).
        header_rows: Number of header lines at the top of the body.
        label_columns: Leading columns that name the row (method, test set); empty ones are filled down.
        unit: Unit of every numeric cell unless a rule in ``units`` matches.
        units: ``(column regex, row regex, unit)`` rules, the first match wins.
        text_columns: Columns holding marks, not numbers (their ``value`` stays empty).
        header_join: Joins a column's header levels; ``" "`` where one header merely wraps.
    """

    paper: str
    table: str
    marker: str
    body_after: bool = True
    header_rows: int = 1
    label_columns: int = 1
    unit: str = "%"
    units: tuple[tuple[str, str, str], ...] = ()
    text_columns: tuple[str, ...] = ()
    header_join: str = "/"


def _dual_level(n: int, unit: str = "%", units: tuple[tuple[str, str, str], ...] = ()) -> TableSpec:
    return TableSpec("dual_level", f"Table {n}", rf"\*\*Table {n}\*\*", header_rows=2, unit=unit, units=units)


TABLES: tuple[TableSpec, ...] = (
    # EER in %; the normalised minDCF is a cost, not a rate.
    TableSpec("mfom", "Table I", r"^TABLE I\b", header_rows=2, units=(("minDCF", "", ""),)),
    TableSpec("attribution", "Table 1", r"^\*\*Table 1:\*\*", label_columns=2),
    TableSpec("attribution", "Table 2", r"^\*\*Table 2:\*\*", label_columns=2),
    TableSpec("metric_learning", "Table I", r"^TABLE I\b", body_after=False),
    TableSpec("metric_learning", "Table II", r"^TABLE II$", body_after=False),
    TableSpec("metric_learning", "Table III", r"^TABLE III$", body_after=False),
    # The conversion lost the word "TABLE" of Table IV; its number stands alone on a line.
    TableSpec("metric_learning", "Table IV", r"^IV$", body_after=False),
    # Rows are metrics here: accuracy printed as a fraction, log loss unitless.
    TableSpec("temporal_lstm", "Table 1", r"^Table 1\.", unit="", units=(("", "^Accuracy$", "fraction"),)),
    TableSpec(
        "temporal_lstm",
        "Table 2",
        r"^Table 2\.",
        header_rows=2,
        unit="",
        text_columns=("Trained with Hinge Loss",),
        header_join=" ",
    ),
    TableSpec("temporal_lstm", "Table 3", r"^Table 3\.", unit=""),
    _dual_level(1, unit=""),  # dataset sizes: counts and ratios
    *(_dual_level(n) for n in (2, 3)),
    _dual_level(4, units=(("^Input Size$", "", ""),)),
    *(_dual_level(n) for n in range(5, 12)),
)


@dataclass(frozen=True)
class ManualFix:
    """One hand fix of an OCR garble: replace ``old`` by ``new`` on ``line`` of ``paper``'s text."""

    paper: str
    line: int
    old: str
    new: str
    reason: str


_NUMBER = re.compile(r"^([-+]?\d+(?:\.\d+)?)(?:\s*±\s*(\d+(?:\.\d+)?))?$")
_LATEX = {r"\gamma": "γ", r"\alpha": "α", r"\beta": "β", r"\times": "×"}


def strip_markup(text: str) -> str:
    """Plain text of a cell or caption: no HTML, footnote marks, LaTeX dollars or emphasis stars."""
    text = re.sub(r"<sup>.*?</sup>", "", text)  # footnote marks such as DSP-FWA's "a"
    text = re.sub(r"<[^>]+>", "", text)
    for command, symbol in _LATEX.items():
        text = text.replace(command, symbol)
    text = text.replace("$", "").replace("*", "")
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"\s+\)", ")", text)
    return re.sub(r"\s+([.,;:])(?=\s|$)", r"\1", text)


def parse_number(text: str) -> tuple[float, float | None] | None:
    """``"70.4±1.02"`` -> ``(70.4, 1.02)``, ``"99.2"`` -> ``(99.2, None)``, anything else -> None."""
    match = _NUMBER.match(text)
    if match is None:
        return None
    std = match.group(2)
    return float(match.group(1)), None if std is None else float(std)


def load_manual_fixes(path: Path | str = MANUAL_FIXES_PATH) -> list[ManualFix]:
    """Read the manual fixes CSV (columns paper, line, old, new, reason)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            ManualFix(row["paper"], int(row["line"]), row["old"], row["new"], row["reason"])
            for row in csv.DictReader(handle)
        ]


def apply_fixes(paper: str, lines: list[str], fixes: Sequence[ManualFix]) -> list[str]:
    """Lines with this paper's fixes applied; a fix whose ``old`` text is not on its line is an error.

    Raises:
        ValueError: A fix no longer matches the paper text (the text changed: review the fix).
    """
    fixed = list(lines)
    for fix in (f for f in fixes if f.paper == paper):
        where = f"manual fix {fix.old!r} -> {fix.new!r} on line {fix.line} of {paper}"
        if "\t" in fix.old + fix.new:
            raise ValueError(f"{where}: old/new must not contain tabs (cells would shift)")
        if not 1 <= fix.line <= len(fixed) or fixed[fix.line - 1].count(fix.old) != 1:
            raise ValueError(f"{where}: the old text is not exactly once on that line; review the fix")
        fixed[fix.line - 1] = fixed[fix.line - 1].replace(fix.old, fix.new)
    return fixed


def _tab_blocks(lines: Sequence[str]) -> list[tuple[int, int]]:
    """``(first, last)`` 0-based indices of each run of consecutive lines containing a tab."""
    blocks: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate([*lines, ""]):
        if "\t" in line and start is None:
            start = i
        elif "\t" not in line and start is not None:
            blocks.append((start, i - 1))
            start = None
    return blocks


def _locate(spec: TableSpec, lines: Sequence[str]) -> tuple[int, str, tuple[int, int]]:
    """Index of the caption line, the caption's first line, and the body's line range."""
    hits = [i for i, line in enumerate(lines) if re.search(spec.marker, line.strip())]
    if len(hits) != 1:
        raise ValueError(
            f"{spec.paper} {spec.table}: marker {spec.marker!r} matches lines {[h + 1 for h in hits]}"
        )
    at = hits[0]
    after = re.split(spec.marker, lines[at].strip(), maxsplit=1)[1]
    caption = strip_markup(after)
    if not caption:  # the caption text is on the next non-empty line
        caption = strip_markup(next(line for line in lines[at + 1 :] if line.strip()))
    blocks = _tab_blocks(lines)
    if spec.body_after:
        body = next((b for b in blocks if b[0] > at), None)
        gap = None if body is None else body[0] - at
    else:
        body = next((b for b in reversed(blocks) if b[1] < at), None)
        gap = None if body is None else at - body[1]
    if body is None or gap is None or gap > MAX_GAP:
        raise ValueError(
            f"{spec.paper} {spec.table}: no tab-separated body within {MAX_GAP} lines of line {at + 1}"
        )
    return at, caption, body


def _columns(header: Sequence[list[str]], width: int, spec: TableSpec) -> list[str]:
    """Column names of the value columns; an upper header cell spans right over empty ones."""
    levels = [[*row, *[""] * (width - len(row))] for row in header]
    for upper, lower in itertools.pairwise(levels):
        for j in range(spec.label_columns + 1, width):
            if not upper[j] and lower[j]:  # a sub-header under a spanning header to its left
                upper[j] = upper[j - 1]
    return [spec.header_join.join(level[j] for level in levels if level[j]) for j in range(width)]


def _unit(spec: TableSpec, row: str, column: str) -> str:
    for column_pattern, row_pattern, unit in spec.units:
        if re.search(column_pattern, column) and re.search(row_pattern, row):
            return unit
    return spec.unit


def extract_table(spec: TableSpec, lines: Sequence[str], original: Sequence[str]) -> list[PaperNumber]:
    """Cells of one table.

    Args:
        spec: Where and how to read the table.
        lines: The paper's lines with manual fixes applied (parsed).
        original: The same lines as in the file (kept as each cell's ``raw``).
    """
    _, caption, (first, last) = _locate(spec, lines)
    split = [line.split("\t") for line in lines[first : last + 1]]
    raw_split = [line.split("\t") for line in original[first : last + 1]]
    width = max(len(cells) for cells in split)
    header = [[strip_markup(c) for c in cells] for cells in split[: spec.header_rows]]
    columns = _columns(header, width, spec)
    numbers: list[PaperNumber] = []
    labels: list[str] = [""] * spec.label_columns
    for offset in range(spec.header_rows, len(split)):
        cells, raw_cells = split[offset], raw_split[offset]
        line_no = first + offset + 1
        for j in range(spec.label_columns):
            label = strip_markup(cells[j]) if j < len(cells) else ""
            if label:
                labels[j] = label
            elif not labels[j]:
                raise ValueError(f"{spec.paper} {spec.table} line {line_no}: row label column {j} is empty")
        row = "/".join(labels)
        for j in range(spec.label_columns, len(cells)):
            text = strip_markup(cells[j])
            if text in ("", "-"):  # "-": the paper reports no number there
                continue
            parsed = None if columns[j] in spec.text_columns else parse_number(text)
            numbers.append(
                PaperNumber(
                    paper=spec.paper,
                    table=spec.table,
                    caption=caption,
                    row=row,
                    column=columns[j],
                    value=None if parsed is None else parsed[0],
                    std=None if parsed is None else parsed[1],
                    unit="" if parsed is None else _unit(spec, row, columns[j]),
                    raw=raw_cells[j],
                    line=line_no,
                )
            )
    return numbers


def extract_all(papers_dir: Path | str, fixes: Sequence[ManualFix] | None = None) -> list[PaperNumber]:
    """Cells of every table in :data:`TABLES`, in paper then table order.

    Raises:
        FileNotFoundError: A paper text is missing from ``papers_dir``.
        ValueError: A table cannot be located, or two cells share a (paper, table, row, column) key.
    """
    fixes = load_manual_fixes() if fixes is None else fixes
    numbers: list[PaperNumber] = []
    for paper, filename in PAPER_FILES.items():
        path = Path(papers_dir) / filename
        if not path.is_file():
            raise FileNotFoundError(f"paper text {path} not found (set --papers or ${PAPERS_ENV})")
        original = path.read_text(encoding="utf-8").split("\n")
        lines = apply_fixes(paper, original, fixes)
        for spec in (s for s in TABLES if s.paper == paper):
            numbers.extend(extract_table(spec, lines, original))
    keys = [(n.paper, n.table, n.row, n.column) for n in numbers]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"cells with the same (paper, table, row, column): {duplicates}")
    return numbers


def default_papers_dir() -> Path:
    """``$DEEPFAKE_PAPERS_DIR`` if set, else ``../shared/papers`` beside the repository."""
    return Path(os.environ.get(PAPERS_ENV, DEFAULT_PAPERS_DIR))


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the paper numbers CSV; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--papers",
        type=Path,
        default=None,
        help=f"paper texts (default: ${PAPERS_ENV} or {DEFAULT_PAPERS_DIR})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH, help="CSV to write or check")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if --out differs from a fresh extraction"
    )
    args = parser.parse_args(argv)
    try:
        numbers = extract_all(args.papers or default_papers_dir())
    except (FileNotFoundError, ValueError) as err:  # a missing paper or a stale fix: one line, no trace
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not args.check:
        write_paper_numbers(numbers, args.out)
        print(f"wrote {len(numbers)} cells to {args.out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "paper_numbers.csv"
        write_paper_numbers(numbers, fresh)
        same = args.out.is_file() and fresh.read_bytes() == args.out.read_bytes()
    print(
        f"{args.out} is {'up to date' if same else 'stale: rerun python -m reproduce.extract_paper_tables'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
