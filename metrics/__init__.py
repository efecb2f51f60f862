"""Exact detection metrics: pure functions in :mod:`metrics.functional`, torchmetrics classes here."""

from metrics import functional
from metrics.classification import AUC, EER, HTER, Accuracy, F1Score, LogLoss, MinDCF, Precision, Recall
from metrics.detection import DetectionMetrics

__all__ = [
    "AUC",
    "EER",
    "HTER",
    "Accuracy",
    "DetectionMetrics",
    "F1Score",
    "LogLoss",
    "MinDCF",
    "Precision",
    "Recall",
    "functional",
]
