"""Publish rendered smoke tables in the repository: a few in README.md, all in docs/smoke_tables.md.

``results/`` is not versioned, so the tables a reader sees on the project page are copied from
``results/smoke/tables/`` by this module, never typed: ``make readme-tables`` (after ``make
reproduce-tables``) rewrites the block between :data:`START` and :data:`END` in README.md and the
whole of ``docs/smoke_tables.md``, each stamped with the commit and how many experiments had
results, so a stale copy is visible as such.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from deepfake_suite.atomic import atomic_write_text
from deepfake_suite.errors import SuiteError

REPO = Path(__file__).resolve().parent.parent
START = "<!-- smoke-tables:start: written by `make readme-tables`, do not edit by hand -->"
END = "<!-- smoke-tables:end -->"
#: One table per paper in the README; docs/smoke_tables.md holds every table.
README_TABLES = (
    "mfom-table_i",
    "attribution-table_1",
    "metric_learning-table_iii",
    "temporal_lstm-table_3",
    "dual_level-table_5",
)


def _stamp(results_dir: Path, unrecorded: str) -> str:
    """Which code produced the tables: the commits recorded in the results files (``unrecorded``
    for files written before results carried one)."""
    payloads = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(results_dir.glob("*.json"))]
    files = [p for p in payloads if "metrics" in p]  # not the runner's reproduce_summary.json
    commits = {str(p.get("commit") or unrecorded) for p in files}
    shown = ", ".join(f"`{c}`" for c in sorted(commits)) or "none"
    return (
        f"*Rendered from the smoke-scale results of {len(files)} experiments, produced at commit {shown} "
        "(`make reproduce-tables && make readme-tables`); a cell reading `not run` had no results yet.*"
    )


def replace_block(text: str, block: str) -> str:
    """``text`` with everything between :data:`START` and :data:`END` replaced by ``block``."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise SuiteError(f"README.md must hold one '{START}' line followed by one '{END}' line")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block.strip()}\n{END}{tail}"


def publish(
    tables_dir: Path,
    readme: Path,
    full_copy: Path,
    slugs: Sequence[str] = README_TABLES,
    unrecorded_commit: str = "unknown",
) -> None:
    """Copy the rendered tables ``slugs`` into ``readme``'s block and every table into ``full_copy``.

    ``tables_dir`` is ``results/<scale>/tables``: its parent holds the results files stamped.
    """
    combined = tables_dir / "README.md"
    missing = [s for s in slugs if not (tables_dir / f"{s}.md").is_file()]
    if not combined.is_file() or missing:
        raise SuiteError(
            f"no rendered tables {missing or [combined.name]} in {tables_dir}: "
            "run `make reproduce-tables` first"
        )
    stamp = _stamp(tables_dir.parent, unrecorded_commit)
    sections = [(tables_dir / f"{slug}.md").read_text(encoding="utf-8").strip() for slug in slugs]
    # The README's own headings are level 2 and 3: the tables' "###" titles become level 4.
    sections = [s.replace("### ", "#### ", 1) for s in sections]
    target = full_copy.relative_to(readme.parent).as_posix()
    link = f"Every table and its notes: [docs/smoke_tables.md]({target})."
    block = "\n\n".join([stamp, *sections, link])
    atomic_write_text(readme, replace_block(readme.read_text(encoding="utf-8"), block))
    full = combined.read_text(encoding="utf-8").replace("\n\n", f"\n\n{stamp}\n\n", 1)
    atomic_write_text(full_copy, full)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reproduce.readme", description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=Path, default=REPO / "results" / "smoke" / "tables")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "smoke_tables.md")
    parser.add_argument(
        "--unrecorded-commit", default="unknown", help="Commit to show for results files that record none."
    )
    args = parser.parse_args(argv)
    try:
        publish(args.tables, args.readme, args.out, unrecorded_commit=args.unrecorded_commit)
    except SuiteError as error:
        parser.exit(1, f"error: {error}\n")
    print(f"tables copied into {args.readme} and {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
