"""Exact detection metrics: pure functions in :mod:`metrics.functional`, torchmetrics classes here."""

from metrics import functional
from metrics.classification import EER, HTER, MinDCF

__all__ = ["EER", "HTER", "MinDCF", "functional"]
