"""Publish rendered smoke tables in the repository: a few in README.md, all in docs/smoke_tables.md.

``results/`` is not versioned, so the tables a reader sees on the project page are copied from
``results/smoke/tables/`` by this module, never typed: ``make readme-tables`` (after ``make
reproduce-tables``) rewrites the block between :data:`START` and :data:`END` in README.md and the
whole of ``docs/smoke_tables.md``, each stamped with the commit and how many experiments had
results, so a stale copy is visible as such. The figures that page shows are copied into
``docs/figures/`` beside it, so its image links resolve on the project page too.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from deepfake_suite.atomic import atomic_write_text
from deepfake_suite.errors import SuiteError

REPO = Path(__file__).resolve().parent.parent
START = "<!-- smoke-tables:start: written by `make readme-tables`, do not edit by hand -->"
END = "<!-- smoke-tables:end -->"
#: An image link of the rendered tables' README, which sits in ``results/<scale>/tables/``.
_FIGURE_LINK = re.compile(r"\]\(\.\./figures/([^)/]+\.png)\)")
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
    link = (
        "Every table, its notes, and the figures (DET and ROC curves, t-SNE, AUC against imbalance and γ, "
        f"Grad-CAM): [docs/smoke_tables.md]({target})."
    )
    block = "\n\n".join([stamp, *sections, link])
    full = combined.read_text(encoding="utf-8").replace("\n\n", f"\n\n{stamp}\n\n", 1)
    full = publish_figures(full, tables_dir.parent / "figures", full_copy.parent / "figures")
    atomic_write_text(readme, replace_block(readme.read_text(encoding="utf-8"), block))
    atomic_write_text(full_copy, full)


def publish_figures(markdown: str, figures: Path, target: Path) -> str:
    """Copy every figure ``markdown`` links into ``target`` and point its links there.

    ``markdown`` links figures as ``../figures/<name>.png``, relative to ``results/<scale>/tables``;
    the returned text links ``figures/<name>.png``, relative to ``target``'s parent. PNGs in
    ``target`` that no link names any more are removed, so a figure dropped from the results does
    not linger on the page.

    Raises:
        SuiteError: a linked figure is missing from ``figures`` (nothing is copied then).
    """
    names = sorted(set(_FIGURE_LINK.findall(markdown)))
    missing = [name for name in names if not (figures / name).is_file()]
    if missing:
        raise SuiteError(f"figures {missing} are linked by the tables but missing from {figures}")
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        # Copy under a temporary name then rename, so a reader never sees half a PNG.
        partial = target / f".{name}.tmp"
        shutil.copyfile(figures / name, partial)
        partial.replace(target / name)
    for stale in target.glob("*.png"):
        if stale.name not in names:
            stale.unlink()
    return _FIGURE_LINK.sub(lambda m: f"]({target.name}/{m.group(1)})", markdown)


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
