"""What `make reproduce-tables` runs and how a paper table is filled: plain, frozen declarations.

An :class:`Experiment` is one ``fit`` then one ``test`` of the suite's CLI (or a ``test`` alone of
another experiment's checkpoint). A :class:`TableSpec` maps each published row of a paper table
(:mod:`reproduce.paper_numbers`) to the experiment and the ``test/...`` metric keys that give our
number for it, or says why that row is not reproduced. The per-paper declarations live in
:mod:`reproduce.papers`; :mod:`reproduce.runner` runs them and :mod:`reproduce.render` draws the
tables, so a table is never typed by hand.

Example:
    >>> ours = Experiment(
    ...     name="dual_level-ffpp_c23",
    ...     paper="dual_level",
    ...     configs=("experiments/dual_level.yaml", "experiments/dual_level/ffpp_c23.yaml"),
    ...     smoke_configs=("experiments/smoke/dual_level.yaml",),
    ... )
    >>> c40 = Experiment(
    ...     name="dual_level-ffpp_test_c40",
    ...     paper="dual_level",
    ...     configs=("experiments/dual_level.yaml", "experiments/dual_level/ffpp_test_c40.yaml"),
    ...     test_checkpoint_of="dual_level-ffpp_c23",
    ... )
    >>> c40.fit, c40.dependencies
    (False, ('dual_level-ffpp_c23',))
    >>> ours.command_configs("smoke")[-1]
    'experiments/smoke/dual_level.yaml'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Scale = Literal["smoke", "full"]
SCALES: tuple[Scale, ...] = ("smoke", "full")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def face_crops_overlay(paper: str) -> str:
    """The overlay that makes a paper's full-tier runs train on detected face crops (its detector):
    ``data.init_args.face_crops``, see :mod:`datamodules.face_crop_step`. Stacked last."""
    return f"experiments/{paper}/face_crops.yaml"


@dataclass(frozen=True)
class Experiment:
    """One run of the suite's CLI feeding one or more table cells.

    Attributes:
        name: Run name: ``runs/reproduce-<scale>/<name>/`` and ``results/<scale>/<name>.json``.
        paper: Short paper key (:data:`reproduce.paper_numbers.PAPER_FILES`), for ``--only``.
        configs: Config files of the full (paper) tier, stacked in order.
        smoke_configs: Config files stacked after ``configs`` at smoke scale (CPU overrides).
        full_configs: Config files stacked after ``configs`` at full scale only (the real data
            where the paper config's default is the synthetic set).
        args: Extra CLI arguments at both scales (``--model.init_args.gamma=0.3``).
        smoke_args: Extra CLI arguments at smoke scale only (fewer epochs, a smaller set).
        test_checkpoint_of: ``None``: fit, then test this run's best checkpoint. Otherwise no fit:
            test the best checkpoint of that experiment (cross-dataset and compression tests).
        checkpoint_args: CLI key -> experiment whose best checkpoint path fills it (a fine-tune
            starting from a baseline, a second stage on a frozen first stage).
        seed: ``seed_everything`` of the run; ``None`` keeps the config's. Recorded in the results file.
        tags: W&B tags added to the run (detector, loss, dataset, compression, imbalance).
    """

    name: str
    paper: str
    configs: tuple[str, ...]
    smoke_configs: tuple[str, ...] = ()
    full_configs: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    smoke_args: tuple[str, ...] = ()
    test_checkpoint_of: str | None = None
    checkpoint_args: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    seed: int | None = None
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"experiment name {self.name!r}: use letters, digits and _ . + - only")
        if not self.configs:
            raise ValueError(f"experiment {self.name!r}: no config files")
        if self.test_checkpoint_of == self.name or self.name in self.checkpoint_args.values():
            raise ValueError(f"experiment {self.name!r} depends on itself")

    @property
    def fit(self) -> bool:
        """Whether this experiment trains (else it only tests another one's checkpoint)."""
        return self.test_checkpoint_of is None

    @property
    def dependencies(self) -> tuple[str, ...]:
        """Experiments whose checkpoints must exist before this one runs."""
        needed = [self.test_checkpoint_of] if self.test_checkpoint_of else []
        needed += [name for name in self.checkpoint_args.values() if name not in needed]
        return tuple(needed)

    def command_configs(self, scale: Scale) -> list[str]:
        """Config files in stacking order at ``scale``."""
        return [*self.configs, *(self.smoke_configs if scale == "smoke" else self.full_configs)]

    def command_args(self, scale: Scale) -> list[str]:
        """Extra CLI arguments at ``scale``."""
        return [*self.args, *(self.smoke_args if scale == "smoke" else ())]


@dataclass(frozen=True)
class RowSpec:
    """How one published row of a table is filled.

    Attributes:
        paper_row: The row label exactly as in ``reproduce/data/paper_numbers.csv``.
        experiment: The experiment giving our numbers; ``None`` for a row not reproduced.
        metrics: Paper column label -> our ``test/...`` metric key (fractions, as the suite logs
            them; the renderer converts to the paper's unit). A column left out shows "-".
        note: Why a row is not reproduced (out of scope, numbers quoted from the literature).
        label: Our row label when it differs from the paper's (shown as ``paper_row`` otherwise).
        column_experiments: Paper column -> the experiment that column reads instead of
            ``experiment``: one published line whose columns are different test runs of one
            model (the dual-level paper's raw/c23/c40 columns) stays one line.
    """

    paper_row: str
    experiment: str | None = None
    metrics: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    note: str = ""
    label: str = ""
    column_experiments: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def experiment_of(self, column: str) -> str | None:
        """The experiment whose results fill ``column``."""
        return self.column_experiments.get(column, self.experiment)

    @property
    def experiments(self) -> tuple[str, ...]:
        """Every experiment the row reads, ``experiment`` first."""
        names = [self.experiment] if self.experiment is not None else []
        return tuple(dict.fromkeys([*names, *self.column_experiments.values()]))

    def __post_init__(self) -> None:
        if self.experiment is None and not self.note:
            raise ValueError(f"row {self.paper_row!r}: a row without an experiment needs a note saying why")
        if self.experiment is not None and not self.metrics:
            raise ValueError(f"row {self.paper_row!r}: experiment {self.experiment!r} but no metrics mapped")
        if self.column_experiments and self.experiment is None:
            raise ValueError(f"row {self.paper_row!r}: column_experiments need a row experiment too")
        stray = sorted(set(self.column_experiments) - set(self.metrics))
        if stray:
            raise ValueError(f"row {self.paper_row!r}: column_experiments for unmapped columns {stray}")


@dataclass(frozen=True)
class TableSpec:
    """One published table: its rows, in the paper's order, each with where our number comes from.

    Attributes:
        paper: Short paper key.
        table: Table name as in the paper numbers (``"Table 6"``, ``"Table I"``).
        title: One line saying what the table shows and on which data (paper vs smoke).
        rows: The rows to render, in order.
        columns: Paper columns to render, in order; empty: every column the paper prints.
        notes: Lines printed under the table (a column not reproduced and why, protocol stand-ins).
    """

    paper: str
    table: str
    title: str
    rows: tuple[RowSpec, ...]
    columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        """File-name stem of the rendered table, e.g. ``dual_level-table_6``."""
        return f"{self.paper}-{self.table.lower().replace(' ', '_')}"


def check_registry(experiments: Sequence[Experiment], tables: Sequence[TableSpec]) -> None:
    """Fail early, naming the culprit, on a duplicate or unknown name or a dependency cycle.

    Raises:
        ValueError: The first inconsistency found.
    """
    names: dict[str, Experiment] = {}
    for experiment in experiments:
        if experiment.name in names:
            raise ValueError(f"experiment {experiment.name!r} is declared twice")
        names[experiment.name] = experiment
    for experiment in experiments:
        for needed in experiment.dependencies:
            if needed not in names:
                raise ValueError(f"experiment {experiment.name!r} needs unknown experiment {needed!r}")
    run_order(experiments)  # raises on a cycle
    slugs: set[str] = set()
    for table in tables:
        if table.slug in slugs:
            raise ValueError(f"{table.paper} {table.table} is declared twice")
        slugs.add(table.slug)
        for row in table.rows:
            for name in row.experiments:
                if name not in names:
                    where = f"{table.paper} {table.table} row {row.paper_row!r}"
                    raise ValueError(f"{where}: unknown experiment {name!r}")


def run_order(experiments: Sequence[Experiment]) -> list[Experiment]:
    """Experiments with every dependency before its dependents, otherwise in declared order.

    Raises:
        ValueError: A dependency cycle, naming its members.
    """
    by_name = {e.name: e for e in experiments}
    done: set[str] = set()
    order: list[Experiment] = []
    visiting: list[str] = []

    def visit(experiment: Experiment) -> None:
        if experiment.name in done:
            return
        if experiment.name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(experiment.name) :], experiment.name])
            raise ValueError(f"dependency cycle: {cycle}")
        visiting.append(experiment.name)
        for needed in experiment.dependencies:
            if needed in by_name:
                visit(by_name[needed])
        visiting.pop()
        done.add(experiment.name)
        order.append(experiment)

    for experiment in experiments:
        visit(experiment)
    return order
