"""Draw each paper table with our number beside the published one: Markdown, LaTeX and CSV.

Every cell is computed from ``results/<scale>/<experiment>.json`` and the committed paper numbers
(:mod:`reproduce.paper_numbers`), never typed. Our metrics are logged as fractions; a cell is
shown in the paper's unit (a ``%`` column gets ours x 100) with the paper's number of decimals.
A cell whose run failed or has not run says so, and a row the suite does not reproduce keeps the
published number with the reason. A metric the run did not log (at full scale, a dataset the
user's test split lacks, such as ``test/DF-Mobio/...``) is shown as ``missing`` and listed under
the table with the run's name: the rest of the table still renders.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deepfake_suite.atomic import atomic_write_text
from reproduce.paper_numbers import PaperNumber, paper_table
from reproduce.runner import Layout, load_results
from reproduce.spec import RowSpec, TableSpec

_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip


@dataclass(frozen=True)
class Cell:
    """One rendered cell: ours and the paper's, as text in the paper's unit, and why ours is empty."""

    row: str
    column: str
    ours: float | None
    paper: PaperNumber | None
    status: str  # "ok", "not run", "failed", "no metric", "missing", "undefined", "not reproduced"
    experiment: str | None
    metric: str | None
    decimals: int = 3

    @property
    def ours_text(self) -> str:
        if self.status == "ok" and self.ours is not None:
            scaled = self.ours * 100.0 if self.paper is not None and self.paper.unit == "%" else self.ours
            return f"{scaled:.{self.decimals}f}"
        shown = {"not run": "not run", "failed": "failed", "missing": "missing", "undefined": "NaN"}
        return shown.get(self.status, "-")

    @property
    def paper_text(self) -> str:
        if self.paper is None:
            return "-"
        return self.paper.raw if self.paper.value is None else _paper_format(self.paper)


def _decimals(number: PaperNumber | None) -> int:
    if number is None or number.value is None:
        return 3
    # The raw cell keeps the paper's markup (``<b>99.2</b>`` for a best result): count its digits only.
    text = re.sub(r"<[^>]*>|\*", "", number.raw).strip().split("±")[0].strip().rstrip("%")
    return len(text.split(".", 1)[1]) if "." in text else 0


def _paper_format(number: PaperNumber) -> str:
    assert number.value is not None
    return f"{number.value:.{_decimals(number)}f}"


def _column_decimals(published: Sequence[PaperNumber], column: str) -> int:
    """Ours gets one more decimal than the paper prints in that column (at least two)."""
    printed = [_decimals(n) for n in published if n.column == column and n.value is not None]
    return max(2, max(printed) + 1) if printed else 3


def table_cells(spec: TableSpec, layout: Layout) -> tuple[list[str], list[str], list[Cell]]:
    """Rows, columns and cells (row-major) of one table at ``layout.scale``."""
    published = paper_table(spec.paper, spec.table)
    columns = list(spec.columns) or list(dict.fromkeys(n.column for n in published))
    by_key = {(n.row, n.column): n for n in published}
    runs = {name for row in spec.rows for name in row.experiments}
    failed = {name: layout.failure(name).is_file() for name in runs}
    results = {name: load_results(layout, name) for name in sorted(runs)}
    decimals = {column: _column_decimals(published, column) for column in columns}
    cells: list[Cell] = []
    for row in spec.rows:
        for column in columns:
            experiment = row.experiment_of(column)
            ran = results.get(experiment) if experiment else None
            cell = _cell(row, column, by_key.get((row.paper_row, column)), ran, failed)
            cells.append(dataclasses.replace(cell, decimals=decimals[column]))
    return [row.label or row.paper_row for row in spec.rows], columns, cells


def _cell(
    row: RowSpec,
    column: str,
    paper: PaperNumber | None,
    results: dict[str, float | None] | None,
    failed: dict[str, bool],
) -> Cell:
    metric = row.metrics.get(column)
    label = row.label or row.paper_row
    experiment = row.experiment_of(column)
    if experiment is None:
        return Cell(label, column, None, paper, "not reproduced", None, None)
    if metric is None:
        return Cell(label, column, None, paper, "no metric", experiment, None)
    if results is None:
        status = "failed" if failed.get(experiment) else "not run"
        return Cell(label, column, None, paper, status, experiment, metric)
    if metric not in results:
        return Cell(label, column, None, paper, "missing", experiment, metric)
    value = results[metric]
    if value is None or math.isnan(value):
        return Cell(label, column, None, paper, "undefined", experiment, metric)
    return Cell(label, column, float(value), paper, "ok", experiment, metric)


def render_markdown(spec: TableSpec, layout: Layout) -> str:
    """A Markdown table: each cell ``ours / paper``; notes and failed runs listed below it."""
    rows, columns, cells = table_cells(spec, layout)
    lines = [f"### {_paper_title(spec)} {spec.table}: {spec.title}", ""]
    lines.append("| | " + " | ".join(columns) + " |")
    lines.append("|---" * (len(columns) + 1) + "|")
    for index, row in enumerate(rows):
        row_cells = cells[index * len(columns) : (index + 1) * len(columns)]
        lines.append(f"| {row} | " + " | ".join(f"{c.ours_text} / {c.paper_text}" for c in row_cells) + " |")
    lines += ["", f"Each cell: ours ({layout.scale} scale) / published. " + _unit_note(cells)]
    notes = [f"- {note}" for note in spec.notes]
    notes += [f"- {r.label or r.paper_row}: {r.note}" for r in spec.rows if r.note]
    failures = sorted({c.experiment for c in cells if c.status == "failed" and c.experiment})
    for name in failures:
        detail = json.loads(layout.failure(name).read_text(encoding="utf-8"))
        notes.append(f"- run `{name}` failed: {detail.get('error', '?')} (log: `{detail.get('log', '?')}`)")
    notes += _missing_notes(cells)
    return "\n".join(lines + (["", *notes] if notes else [])) + "\n"


def _missing_notes(cells: Sequence[Cell]) -> list[str]:
    missing: dict[str, list[str]] = {}
    for cell in cells:
        if cell.status == "missing" and cell.experiment and cell.metric:
            missing.setdefault(cell.experiment, []).append(cell.metric)
    hint = "(is that dataset in its test split?)"
    return [
        f"- run `{name}` logged no {', '.join(f'`{m}`' for m in metrics)} {hint}"
        for name, metrics in sorted(missing.items())
    ]


def _unit_note(cells: Sequence[Cell]) -> str:
    percent = sorted({c.column for c in cells if c.paper is not None and c.paper.unit == "%"})
    return f"Columns in %: {', '.join(percent)}." if percent else ""


def _paper_title(spec: TableSpec) -> str:
    return {
        "mfom": "MFoM",
        "attribution": "Attribution",
        "metric_learning": "Metric learning",
        "temporal_lstm": "Temporal LSTM",
        "dual_level": "Dual-level",
    }.get(spec.paper, spec.paper)


def render_csv(spec: TableSpec, layout: Layout) -> str:
    """Long format, one line per cell, with the numbers unrounded (ours in the paper's unit)."""
    _, _, cells = table_cells(spec, layout)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["paper", "table", "row", "column", "ours", "paper_value", "unit", "status", "experiment", "metric"]
    )
    for c in cells:
        unit = c.paper.unit if c.paper is not None else ""
        ours = "" if c.ours is None else repr(c.ours * 100.0 if unit == "%" else c.ours)
        paper_value = "" if c.paper is None or c.paper.value is None else repr(c.paper.value)
        writer.writerow([spec.paper, spec.table, c.row, c.column, ours, paper_value, unit, c.status,
                         c.experiment or "", c.metric or ""])  # fmt: skip
    return buffer.getvalue()


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def render_latex(spec: TableSpec, layout: Layout) -> str:
    """A booktabs ``table`` environment; each cell ``ours / paper``."""
    rows, columns, cells = table_cells(spec, layout)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(f'{_paper_title(spec)} {spec.table}: {spec.title}')} "
        rf"(ours, {layout.scale} scale / published)}}",
        r"\begin{tabular}{l" + "c" * len(columns) + "}",
        r"\toprule",
        " & ".join(["", *(latex_escape(c) for c in columns)]) + r" \\",
        r"\midrule",
    ]
    for index, row in enumerate(rows):
        row_cells = cells[index * len(columns) : (index + 1) * len(columns)]
        values = [latex_escape(f"{c.ours_text} / {c.paper_text}") for c in row_cells]
        lines.append(" & ".join([latex_escape(row), *values]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def render_all(tables: Sequence[TableSpec], layout: Layout, preamble: str = "") -> list[Path]:
    """Write ``<slug>.md/.tex/.csv`` per table and ``README.md`` with every Markdown table."""
    written: list[Path] = []
    sections = [preamble] if preamble else []
    for spec in tables:
        markdown = render_markdown(spec, layout)
        sections.append(markdown)
        for suffix, text in (
            (".md", markdown),
            (".tex", render_latex(spec, layout)),
            (".csv", render_csv(spec, layout)),
        ):
            written.append(atomic_write_text(layout.tables_dir / f"{spec.slug}{suffix}", text))
    written.append(atomic_write_text(layout.tables_dir / "README.md", "\n".join(sections)))
    return written
