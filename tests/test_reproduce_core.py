"""The reproduce-tables machinery: registry checks, the runner's skip/force/failure rules, the renderer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from reproduce.command import link_data_root, table_slugs
from reproduce.paper_numbers import paper_value
from reproduce.render import latex_escape, render_csv, render_latex, render_markdown, table_cells
from reproduce.runner import Layout, Runner, commands, load_results, wandb_args
from reproduce.spec import Experiment, RowSpec, TableSpec, check_registry, run_order

STUB = "tests.reproduce_stub_cli:main"


def _experiment(name: str, **kwargs) -> Experiment:
    return Experiment(name=name, paper="mfom", configs=(f"experiments/{name}.yaml",), **kwargs)


def _runner(tmp_path: Path, **kwargs) -> Runner:
    defaults = {"isolation": "subprocess", "echo": False, "entry": STUB, "wandb": False}
    return Runner(Layout(tmp_path, "smoke"), **{**defaults, **kwargs})


# ------------------------------------------------------------------------------------------- registry


def test_dependencies_run_first_whatever_the_declared_order() -> None:
    finetune = _experiment("finetune", checkpoint_args={"--model.init_args.init_from": "base"})
    cross = _experiment("cross", test_checkpoint_of="finetune")
    order = [e.name for e in run_order([cross, finetune, _experiment("base"), _experiment("other")])]
    assert order.index("base") < order.index("finetune") < order.index("cross")
    assert set(order) == {"base", "finetune", "cross", "other"}


def test_registry_errors_name_the_culprit() -> None:
    a = _experiment("a", test_checkpoint_of="b")
    b = _experiment("b", checkpoint_args={"--x": "a"})
    with pytest.raises(ValueError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        check_registry([a, b], [])
    with pytest.raises(ValueError, match="'a' needs unknown experiment 'missing'"):
        check_registry([_experiment("a", test_checkpoint_of="missing")], [])
    with pytest.raises(ValueError, match="declared twice"):
        check_registry([_experiment("a"), _experiment("a")], [])
    table = TableSpec("mfom", "Table I", "t", rows=(RowSpec("CNN", "nope", {"EER": "test/video_eer"}),))
    with pytest.raises(ValueError, match="row 'CNN': unknown experiment 'nope'"):
        check_registry([_experiment("a")], [table])
    split = RowSpec("CNN", "a", {"EER": "test/video_eer"}, column_experiments={"EER": "nope"})
    with pytest.raises(ValueError, match="row 'CNN': unknown experiment 'nope'"):
        check_registry([_experiment("a")], [TableSpec("mfom", "Table I", "t", rows=(split,))])
    with pytest.raises(ValueError, match=r"column_experiments for unmapped columns \['Eval/EER'\]"):
        RowSpec("CNN", "a", {"EER": "test/video_eer"}, column_experiments={"Eval/EER": "b"})
    with pytest.raises(ValueError, match="needs a note"):
        RowSpec("Capsule")
    with pytest.raises(ValueError, match="name"):
        _experiment("bad name")


def test_commands_fit_then_test_best_or_test_another_runs_checkpoint(tmp_path: Path) -> None:
    layout = Layout(tmp_path, "smoke")
    base = _experiment(
        "base", smoke_configs=("experiments/smoke/base.yaml",), smoke_args=("--trainer.max_epochs=2",)
    )
    fit, test = commands(base, layout, extra_args=["--trainer.devices=1"])
    assert fit[0] == "fit" and test[0] == "test" and test[-1] == "--ckpt_path=best"
    assert fit[1:5] == ["--config", "experiments/base.yaml", "--config", "experiments/smoke/base.yaml"]
    assert "--trainer.max_epochs=2" in fit and fit[-1] == "--trainer.devices=1"
    # Full scale prepares the data (face crops, re-encodings) in one process before a DDP fit.
    prepare, full_fit, _ = commands(base, Layout(tmp_path, "full"), extra_args=["--trainer.devices=4"])
    assert prepare[0] == "prepare_data" and prepare[1:] == full_fit[1:]
    assert "--trainer.max_epochs=2" not in full_fit
    tagged = commands(base, layout, logger_args=wandb_args(base, ["mfom-table_i", "mfom-table_x"], "smoke"))[
        0
    ]
    assert "--trainer.logger.init_args.group=mfom-table_i" in tagged
    assert {
        "--trainer.logger.init_args.tags+=table:mfom-table_x",
        "--trainer.logger.init_args.tags+=scale:smoke",
    } <= {*tagged}
    (only,) = commands(_experiment("cross", test_checkpoint_of="base"), layout)
    assert only[0] == "test" and only[-1] == f"--ckpt_path={layout.best_checkpoint('base')}"


# --------------------------------------------------------------------------------------------- runner


def test_runner_runs_skips_finished_and_forces(tmp_path: Path) -> None:
    experiments = [_experiment("cross", test_checkpoint_of="base"), _experiment("base")]
    outcomes = _runner(tmp_path).run(experiments)
    assert [(o.name, o.status) for o in outcomes] == [("base", "ran"), ("cross", "ran")]
    layout = Layout(tmp_path, "smoke")
    cross = json.loads(layout.results("cross").read_text())
    assert cross["tested_checkpoint_of"] == "base"  # the test-only run tested base's checkpoint
    assert load_results(layout, "base") == {"test/video_auc": 0.04, "test/video_eer": None}
    assert [o.status for o in _runner(tmp_path).run(experiments)] == ["done", "done"]
    assert [o.status for o in _runner(tmp_path, force=True).run(experiments)] == ["ran", "ran"]
    assert "stub fit base" in layout.log("base").read_text()


def test_a_failure_is_recorded_its_dependents_skipped_and_the_rest_go_on(tmp_path: Path) -> None:
    experiments = [
        _experiment("boom"),
        _experiment("after_boom", test_checkpoint_of="boom"),
        _experiment("fine"),
    ]
    outcomes = {o.name: o for o in _runner(tmp_path).run(experiments)}
    assert outcomes["boom"].status == "failed"
    assert (
        outcomes["after_boom"].status == "skipped"
        and "needs boom, which failed" in outcomes["after_boom"].detail
    )
    assert outcomes["fine"].status == "ran"
    layout = Layout(tmp_path, "smoke")
    failure = json.loads(layout.failure("boom").read_text())
    assert failure["log"] == str(layout.log("boom"))
    assert "boom exploded" in layout.log("boom").read_text()
    assert not layout.results("boom").exists()


def test_in_process_workers_run_commands_and_capture_their_output(tmp_path: Path) -> None:
    outcomes = _runner(tmp_path, isolation="in_process", jobs=2).run(
        [_experiment("base"), _experiment("boom"), _experiment("cross", test_checkpoint_of="base")]
    )
    assert {o.name: o.status for o in outcomes} == {"base": "ran", "boom": "failed", "cross": "ran"}
    layout = Layout(tmp_path, "smoke")
    assert "stub test cross" in layout.log("cross").read_text()
    assert "RuntimeError: boom exploded" in layout.log("boom").read_text()


# ------------------------------------------------------------------------------------------- renderer


def _table() -> TableSpec:
    columns = {"EER": "test/video_eer", "minDCF with P_{tar}/0.1": "test/video_min_dcf_01"}
    return TableSpec(
        "mfom",
        "Table I",
        "EER and minDCF",
        rows=(
            RowSpec("CNN", "cnn", columns),
            RowSpec("CNN+MEER", "meer", columns),
            RowSpec("LSTM [14]", "lstm", columns),
        ),
        columns=("EER", "minDCF with P_{tar}/0.1", "Eval/EER"),
        notes=("Eval/EER: not public",),
    )


def _write_results(layout: Layout, name: str, metrics: dict) -> None:
    layout.results_dir.mkdir(parents=True, exist_ok=True)
    layout.results(name).write_text(json.dumps({"metrics": metrics}))


def test_cells_are_ours_in_the_papers_unit_beside_the_published_number(tmp_path: Path) -> None:
    layout = Layout(tmp_path, "smoke")
    _write_results(layout, "cnn", {"test/video_eer": 0.123456, "test/video_min_dcf_01": 0.5})
    layout.failure("meer").write_text(json.dumps({"error": "RuntimeError: x", "log": "runs/x.log"}))
    rows, _, cells = table_cells(_table(), layout)
    assert rows == ["CNN", "CNN+MEER", "LSTM [14]"] and len(cells) == 9
    eer, dcf, eval_eer = cells[:3]
    published = paper_value("mfom", "Table I", "CNN", "EER")
    assert eer.paper == published and published.unit == "%"
    assert eer.ours_text == "12.346" and eer.paper_text == "8.07"  # paper prints 2 decimals: we print 3
    assert dcf.ours_text == "0.500"
    assert eval_eer.status == "no metric" and eval_eer.ours_text == "-"
    assert [c.status for c in cells[3:6]] == ["failed", "failed", "no metric"]
    assert [c.status for c in cells[6:9]] == ["not run", "not run", "no metric"]
    markdown = render_markdown(_table(), layout)
    assert "| CNN | 12.346 / 8.07 | 0.500 / 0.37 | - / 30.80 |" in markdown
    assert "run `meer` failed: RuntimeError: x (log: `runs/x.log`)" in markdown
    assert "Eval/EER: not public" in markdown
    csv_lines = render_csv(_table(), layout).splitlines()
    assert csv_lines[1] == f"mfom,Table I,CNN,EER,{0.123456 * 100!r},8.07,%,ok,cnn,test/video_eer"


def test_undefined_metric_shows_nan_and_a_missing_one_is_listed_with_its_run(tmp_path: Path) -> None:
    layout = Layout(tmp_path, "smoke")
    _write_results(layout, "cnn", {"test/video_eer": None, "test/video_min_dcf_01": 0.5})
    _, _, cells = table_cells(_table(), layout)
    assert cells[0].status == "undefined" and cells[0].ours_text == "NaN"
    _write_results(layout, "cnn", {"test/video_auc": 0.5, "test/video_min_dcf_01": 0.25})
    _, _, cells = table_cells(_table(), layout)
    assert (cells[0].status, cells[0].ours_text, cells[0].metric) == ("missing", "missing", "test/video_eer")
    assert cells[1].status == "ok" and cells[1].ours == 0.25  # the rest of the row still renders
    markdown = render_markdown(_table(), layout)
    assert "| CNN | missing / 8.07 | 0.250 / 0.37 |" in markdown
    assert "- run `cnn` logged no `test/video_eer` (is that dataset in its test split?)" in markdown


def test_a_line_can_read_each_column_from_another_run(tmp_path: Path) -> None:
    # One published line, two runs of one model: the CNN's EER from "cnn", its minDCF from the
    # run that tested the same checkpoint elsewhere ("cnn_other").
    columns = {"EER": "test/video_eer", "minDCF with P_{tar}/0.1": "test/video_min_dcf_01"}
    row = RowSpec("CNN", "cnn", columns, column_experiments={"minDCF with P_{tar}/0.1": "cnn_other"})
    table = TableSpec("mfom", "Table I", "t", rows=(row,), columns=tuple(columns))
    layout = Layout(tmp_path, "smoke")
    _write_results(layout, "cnn", {"test/video_eer": 0.25, "test/video_min_dcf_01": 0.9})
    _, _, cells = table_cells(table, layout)
    assert (cells[0].ours, cells[0].experiment) == (0.25, "cnn")
    assert (cells[1].status, cells[1].experiment) == ("not run", "cnn_other")  # not cnn's 0.9
    _write_results(layout, "cnn_other", {"test/video_min_dcf_01": 0.4})
    _, _, cells = table_cells(table, layout)
    assert (cells[1].ours, cells[1].experiment) == (0.4, "cnn_other")
    assert row.experiments == ("cnn", "cnn_other")
    assert table_slugs([table]) == {"cnn": ["mfom-table_i"], "cnn_other": ["mfom-table_i"]}


def test_latex_escapes_specials(tmp_path: Path) -> None:
    assert latex_escape("P_{tar} 10% & #1") == r"P\_\{tar\} 10\% \& \#1"
    latex = render_latex(_table(), Layout(tmp_path, "smoke"))
    assert r"\begin{tabular}{lccc}" in latex and r"LSTM [14] & not run / 24.1" in latex


# ---------------------------------------------------------------------------------------- data root


def test_data_root_is_linked_without_overwriting(tmp_path: Path) -> None:
    datasets, repo = tmp_path / "datasets", tmp_path / "repo"
    (datasets / "Celeb-DF-v2").mkdir(parents=True)
    (datasets / "FaceForensics++").mkdir()
    repo.mkdir()
    assert len(link_data_root(datasets, repo)) == 2
    assert (repo / "data" / "Celeb-DF-v2").resolve() == (datasets / "Celeb-DF-v2").resolve()
    assert link_data_root(datasets, repo) == []  # idempotent
    (repo / "data" / "FaceForensics++").unlink()
    (repo / "data" / "FaceForensics++").mkdir()
    from deepfake_suite.errors import SuiteError

    with pytest.raises(SuiteError, match="FaceForensics\\+\\+ exists"):
        link_data_root(datasets, repo)


# ------------------------------------------------------------------------------ the real registry


def test_registered_rows_are_published_cells_and_configs_exist() -> None:
    from reproduce.paper_numbers import paper_table
    from reproduce.papers import EXPERIMENTS, TABLES

    repo = Path(__file__).resolve().parent.parent
    for experiment in EXPERIMENTS:
        for config in (*experiment.configs, *experiment.smoke_configs):
            assert (repo / config).is_file(), f"{experiment.name}: no config {config}"
    for table in TABLES:
        published = paper_table(table.paper, table.table)
        rows = {n.row for n in published}
        for column in table.columns:
            assert column in {n.column for n in published}, f"{table.slug}: no column {column!r}"
        for row in table.rows:
            assert row.paper_row in rows, f"{table.slug}: no published row {row.paper_row!r}"
            for column in row.metrics:
                paper_value(table.paper, table.table, row.paper_row, column)  # raises, naming the cell
            for metric in row.metrics.values():
                assert metric.startswith("test/"), (
                    f"{table.slug} {row.paper_row}: {metric!r} is not a test metric"
                )


def test_table_slugs_list_each_table_a_run_feeds_once() -> None:
    from reproduce.command import table_slugs

    rows = (RowSpec("CNN", "cnn", {"EER": "test/video_eer"}), RowSpec("CNN+MEER", "cnn", {"EER": "test/x"}))
    tables = [TableSpec("mfom", "Table I", "t", rows), TableSpec("mfom", "Table II", "t", rows[:1])]
    assert table_slugs(tables) == {"cnn": ["mfom-table_i", "mfom-table_ii"]}


def test_decimals_ignore_the_papers_bold_markup() -> None:
    from reproduce.render import _decimals

    bold = dataclasses.replace(paper_value("mfom", "Table I", "CNN", "EER"), raw="<b>99.2</b>", value=99.2)
    assert _decimals(bold) == 1


def test_two_jobs_at_smoke_scale_where_the_cores_allow_and_one_at_full_scale() -> None:
    from reproduce.command import default_jobs

    assert [default_jobs("smoke", cores) for cores in (1, 2, 16)] == [1, 2, 2]
    assert [default_jobs("full", cores) for cores in (1, 2, 16)] == [1, 1, 1]
