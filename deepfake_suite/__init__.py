"""Deepfake-detection experiment suite: CLI, logging and run bookkeeping.

The detectors live in :mod:`lightning_modules`, the data in :mod:`datamodules`, the losses in
:mod:`losses` and the metrics in :mod:`metrics`; this package ties them into runnable jobs.
"""

__version__ = "0.1.0"
