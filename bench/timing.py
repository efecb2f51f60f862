"""Timing shared by the micro-benchmarks: the median of repeated calls after one warm-up call."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` calls.

    One untimed call first (CUDA kernels, the allocator, lazy imports); ``sync`` waits for queued
    GPU work before each clock read, or kernels launched but not run would go uncounted.
    """
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
