"""Timing helper shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""
import time

import numpy as np


def timed(fn, repeat=1):
    """Best wall time of ``repeat`` runs of ``fn()``, and the last result."""
    best, result = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result
