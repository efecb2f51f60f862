"""The five papers' published numbers, one table cell per record, loaded from a committed CSV.

``reproduce/data/paper_numbers.csv`` is written by :mod:`reproduce.extract_paper_tables` from the
paper texts, never by hand; ``reproduce/data/README.md`` says where each number comes from.

Example:
    >>> cell = paper_value("dual_level", "Table 6", "CNN +VLC,+TLM,+FLC,+AUC loss", "Video-level/AUC")
    >>> cell.value, cell.unit, round(cell.fraction, 4), cell.line
    (99.4, '%', 0.994, 397)
"""

from __future__ import annotations

import csv
import difflib
import functools
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_PATH = DATA_DIR / "paper_numbers.csv"

#: Short key of each paper -> its text file in the papers folder.
PAPER_FILES: dict[str, str] = {
    "mfom": "mfom-cost-sensitive-deepfake-detector.txt",
    "attribution": "attribution-xception-triplet-arcfacemod.txt",
    "metric_learning": "metric-learning-triplet-facenet.txt",
    "temporal_lstm": "siamese-temporal-lstm-cosine-hinge.txt",
    "dual_level": "dual-level-auc-net.txt",
}

#: "%": printed as a percentage (0-100); "fraction": printed in [0, 1]; "": a count, cost or log loss.
UNITS = ("%", "fraction", "")


@dataclass(frozen=True)
class PaperNumber:
    """One cell of a paper's table.

    Attributes:
        paper: Short paper key, one of :data:`PAPER_FILES`.
        table: Table name as the paper numbers it, e.g. ``"Table 6"`` or ``"Table I"``.
        caption: First line of the table's caption, markup stripped.
        row: Row label (method or setting) as printed; several label columns joined with ``/``.
        column: Column header as printed; multi-level headers joined with ``/``, e.g. ``"Video-level/AUC"``.
        value: The number in the paper's own unit, or ``None`` for a non-numeric cell (e.g. ``"30:1"``).
        std: The standard deviation printed after ``±``, else ``None``.
        unit: One of :data:`UNITS`.
        raw: The cell's text exactly as in the paper file (markup included, before any manual fix).
        line: 1-based line number of the row in the paper file.
    """

    paper: str
    table: str
    caption: str
    row: str
    column: str
    value: float | None
    std: float | None
    unit: str
    raw: str
    line: int

    @property
    def fraction(self) -> float:
        """The value on a 0-1 scale, to compare with metrics the suite computes as fractions.

        Raises:
            ValueError: The cell has no value, or its unit is not a percentage or a fraction.
        """
        if self.value is None or self.unit not in ("%", "fraction"):
            raise ValueError(
                f"{self.paper} {self.table} [{self.row} | {self.column}] = {self.raw!r} "
                f"(unit {self.unit!r}) has no fraction"
            )
        return self.value / 100.0 if self.unit == "%" else self.value


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PaperNumber))


def _optional_float(text: str) -> float | None:
    return float(text) if text else None


def number_to_row(number: PaperNumber) -> dict[str, str]:
    """The CSV row of one cell; floats written with ``repr`` so that they read back identical."""
    row = {name: str(getattr(number, name)) for name in FIELDS}
    row["value"] = "" if number.value is None else repr(number.value)
    row["std"] = "" if number.std is None else repr(number.std)
    return row


def write_paper_numbers(numbers: Sequence[PaperNumber], path: Path | str) -> None:
    """Write cells to ``path`` as CSV with a header (``\\n`` line ends, UTF-8)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(number_to_row(n) for n in numbers)


def _row_to_number(row: dict[str, str], where: str) -> PaperNumber:
    try:
        number = PaperNumber(
            paper=row["paper"],
            table=row["table"],
            caption=row["caption"],
            row=row["row"],
            column=row["column"],
            value=_optional_float(row["value"]),
            std=_optional_float(row["std"]),
            unit=row["unit"],
            raw=row["raw"],
            line=int(row["line"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{where}: malformed paper-number row ({err})") from err
    if number.paper not in PAPER_FILES:
        raise ValueError(f"{where}: unknown paper {number.paper!r}, expected one of {sorted(PAPER_FILES)}")
    if number.unit not in UNITS:
        raise ValueError(f"{where}: unit {number.unit!r} is not one of {UNITS}")
    return number


def load_paper_numbers(path: Path | str = DEFAULT_PATH) -> list[PaperNumber]:
    """Read the paper numbers CSV.

    Args:
        path: CSV written by :mod:`reproduce.extract_paper_tables`; the committed one by default.

    Returns:
        The cells in file order (paper, table, then as printed).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: A row is malformed; the message names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"paper numbers file {path} not found; "
            "regenerate it with `python -m reproduce.extract_paper_tables`"
        )
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(FIELDS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        return [_row_to_number(row, f"{path}:{reader.line_num}") for row in reader]


@functools.lru_cache(maxsize=1)
def _default_numbers() -> tuple[PaperNumber, ...]:
    return tuple(load_paper_numbers(DEFAULT_PATH))


def paper_table(paper: str, table: str, numbers: Sequence[PaperNumber] | None = None) -> list[PaperNumber]:
    """All cells of one table in printed order (row by row, left to right).

    Raises:
        KeyError: No such table; the message lists the paper's tables.
    """
    numbers = _default_numbers() if numbers is None else numbers
    cells = [n for n in numbers if n.paper == paper and n.table == table]
    if not cells:
        tables = sorted({n.table for n in numbers if n.paper == paper})
        raise KeyError(f"no {table!r} for paper {paper!r}; its tables: {tables or 'none (unknown paper?)'}")
    return cells


def paper_value(
    paper: str, table: str, row: str, column: str, numbers: Sequence[PaperNumber] | None = None
) -> PaperNumber:
    """The published cell at (paper, table, row, column), labels exactly as stored.

    Args:
        paper: Short paper key, e.g. ``"dual_level"``.
        table: e.g. ``"Table 6"``.
        row: Row label as printed, e.g. ``"Ours"``.
        column: Column header, levels joined with ``/``, e.g. ``"Video-level/AUC"``.
        numbers: Cells to search; the committed CSV by default.

    Raises:
        KeyError: No such cell; the message lists the closest existing (table | row | column) keys.
    """
    numbers = _default_numbers() if numbers is None else numbers
    for number in numbers:
        if (number.paper, number.table, number.row, number.column) == (paper, table, row, column):
            return number
    keys = [f"{n.table} | {n.row} | {n.column}" for n in numbers if n.paper == paper]
    close = difflib.get_close_matches(f"{table} | {row} | {column}", keys, n=5, cutoff=0.4)
    hint = "; ".join(close) if close else f"none (papers: {sorted(PAPER_FILES)})"
    raise KeyError(f"no paper number for {paper!r} {table!r} row {row!r} column {column!r}; closest: {hint}")
