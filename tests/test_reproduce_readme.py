"""reproduce.readme: rendered smoke tables copied into README.md's marked block and docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deepfake_suite.errors import SuiteError
from reproduce.readme import END, START, publish, replace_block


def _tables(folder: Path, slugs: list[str]) -> Path:
    tables = folder / "results" / "smoke" / "tables"
    tables.mkdir(parents=True)
    for slug in slugs:
        (tables / f"{slug}.md").write_text(f"### {slug}\n\n| | EER |\n|---|---|\n| CNN | 1.0 / 8.07 |\n")
    (tables / "README.md").write_text(
        "# Reproduced tables\n\npreamble\n\n" + "".join(f"### {s}\n" for s in slugs)
    )
    (tables.parent / "a.json").write_text('{"commit": "abc1234", "metrics": {}}')  # one experiment's results
    (tables.parent / "b.json").write_text('{"metrics": {}}')  # written before results recorded their commit
    (tables.parent / "reproduce_summary.json").write_text("{}")  # the runner's summary: not a result
    return tables


def test_block_is_replaced_and_the_rest_of_the_readme_kept(tmp_path: Path) -> None:
    tables = _tables(tmp_path, ["p-table_1", "q-table_2"])
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{START}\nold numbers\n{END}\n\n## After\n")
    docs = tmp_path / "docs" / "smoke_tables.md"
    docs.parent.mkdir()
    publish(tables, readme, docs, slugs=["q-table_2"])
    text = readme.read_text()
    assert text.startswith("# Title\n\nintro\n\n" + START) and text.endswith(END + "\n\n## After\n")
    assert "old numbers" not in text and "#### q-table_2" in text and "p-table_1" not in text
    assert (
        "results of 2 experiments, produced at commit `abc1234`, `unknown`" in text
        and "[docs/smoke_tables.md](docs/smoke_tables.md)" in text
    )
    full = docs.read_text()
    assert "### p-table_1" in full and "### q-table_2" in full and "results of 2 experiments" in full
    publish(tables, readme, docs, slugs=["q-table_2"])
    assert readme.read_text() == text  # idempotent


def test_bad_readme_or_missing_tables_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"one .*smoke-tables:start"):
        replace_block("no markers here", "x")
    with pytest.raises(SuiteError, match=r"one .*smoke-tables:start"):
        replace_block(f"{END}\n{START}\n", "x")
    tables = _tables(tmp_path, ["p-table_1"])
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    with pytest.raises(SuiteError, match=r"no rendered tables \['q-table_2'\].*make reproduce-tables"):
        publish(tables, readme, tmp_path / "out.md", slugs=["q-table_2"])
    assert readme.read_text() == f"{START}\n{END}\n"  # nothing written on error


def test_linked_figures_are_copied_beside_the_page_and_stale_ones_removed(tmp_path: Path) -> None:
    tables = _tables(tmp_path, ["p-table_1"])
    combined = tables / "README.md"
    combined.write_text(combined.read_text() + "\n**DET**\n\n![DET of Table I](../figures/p-det.png)\n")
    (tables.parent / "figures").mkdir()
    (tables.parent / "figures" / "p-det.png").write_bytes(b"\x89PNG det")
    (tables.parent / "figures" / "unlinked.png").write_bytes(b"\x89PNG other")
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    docs = tmp_path / "docs" / "smoke_tables.md"
    (docs.parent / "figures").mkdir(parents=True)
    (docs.parent / "figures" / "old-grad_cam.png").write_bytes(b"\x89PNG old")

    publish(tables, readme, docs, slugs=["p-table_1"])
    page = docs.read_text()
    assert "![DET of Table I](figures/p-det.png)" in page and "../figures" not in page
    assert sorted(f.name for f in (docs.parent / "figures").iterdir()) == ["p-det.png"]
    assert (docs.parent / "figures" / "p-det.png").read_bytes() == b"\x89PNG det"

    (tables.parent / "figures" / "p-det.png").unlink()
    readme.write_text(f"{START}\n{END}\n")
    with pytest.raises(SuiteError, match=r"figures \['p-det.png'\] are linked .* missing from .*figures"):
        publish(tables, readme, docs, slugs=["p-table_1"])
    assert readme.read_text() == f"{START}\n{END}\n" and docs.read_text() == page  # nothing written


def test_every_image_the_published_pages_show_is_in_the_repository() -> None:
    from reproduce.readme import REPO

    for page in (REPO / "README.md", REPO / "docs" / "smoke_tables.md"):
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).is_file(), f"{page.name} shows {target}, not in the repository"


def test_the_projects_readme_has_the_block_and_the_embedded_tables_exist() -> None:
    from reproduce.papers import TABLES
    from reproduce.readme import README_TABLES, REPO

    replace_block((REPO / "README.md").read_text(encoding="utf-8"), "x")  # one well-formed block
    assert set(README_TABLES) <= {t.slug for t in TABLES}
