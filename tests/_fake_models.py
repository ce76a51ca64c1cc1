"""Fake models for the harness tests, importable by worker processes (they are not registered on import)."""
import threading
import time

import numpy as np

from seqbench import registry
from seqbench.base import SequenceEstimator, Tags
from seqbench.harness.cell import execute_cell

SLOW_KEY = "_test_slow_lm"


class SlowLM(SequenceEstimator):
    """An LM that sleeps ``delay`` seconds in fit; its per-token NLL equals the time budget it was given."""

    def __init__(self, delay=0.0, time_budget_s=None, random_state=None):
        self.delay = delay
        self.time_budget_s = time_budget_s
        self.random_state = random_state

    def __seqbench_tags__(self):
        return Tags(input_kind="discrete", density=True)

    def fit(self, X, y=None):
        self._validate_fit_X(X)
        time.sleep(self.delay)
        self.fit_mode_ = "density"
        return self

    def score_tokens(self, X, max_context=None):
        return [np.full(len(x), -float(self.time_budget_s or 0.0)) for x in X]


def register_slow():
    """Register :class:`SlowLM` under :data:`SLOW_KEY` in this process (idempotent); returns the key."""
    if registry._REGISTRY.get(SLOW_KEY) is not SlowLM:
        registry.register(SLOW_KEY)(SlowLM)
    return SLOW_KEY


def unregister_slow():
    registry._REGISTRY.pop(SLOW_KEY, None)


def execute_in_worker(cell):
    """``execute_cell`` in a worker that first registers the fake; also says whether it ran in the main thread."""
    register_slow()
    return execute_cell(cell), threading.current_thread() is threading.main_thread()
