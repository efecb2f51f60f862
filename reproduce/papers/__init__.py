"""Every paper's experiments and tables, one module per paper, gathered in paper order."""

from __future__ import annotations

from reproduce.papers import attribution, dual_level, metric_learning, mfom, temporal_lstm
from reproduce.spec import Experiment, TableSpec, check_registry

_MODULES = (mfom, attribution, metric_learning, temporal_lstm, dual_level)

EXPERIMENTS: tuple[Experiment, ...] = tuple(e for module in _MODULES for e in module.EXPERIMENTS)
TABLES: tuple[TableSpec, ...] = tuple(t for module in _MODULES for t in module.TABLES)
check_registry(EXPERIMENTS, TABLES)
