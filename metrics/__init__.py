"""Exact detection metrics: pure functions in :mod:`metrics.functional`, torchmetrics classes here."""

from metrics import functional
from metrics.classification import EER, MinDCF

__all__ = ["EER", "MinDCF", "functional"]
