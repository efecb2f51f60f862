"""Built-in synthetic deepfake video dataset: procedural faces, face-swap fakes, FF++-like layout.

Usage::

    from datamodules.synthetic import generate_synthetic_dataset

    manifest = generate_synthetic_dataset("data/synthetic")  # idempotent, atomic
"""

from datamodules.synthetic.generator import (
    FORMAT_VERSION,
    MANIFEST_COLUMNS,
    REAL_METHOD,
    SPLITS,
    generate_synthetic_dataset,
)
from datamodules.synthetic.manipulations import MANIPULATIONS, Manipulation

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_COLUMNS",
    "MANIPULATIONS",
    "REAL_METHOD",
    "SPLITS",
    "Manipulation",
    "generate_synthetic_dataset",
]
