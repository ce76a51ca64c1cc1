"""Tasks: ``evaluate(estimator, splits, split="test") -> dict`` of metrics, using only public estimator methods.

The core tasks score a model on ordinary datasets; the long-dependency probes
(:mod:`seqbench.tasks.probes`) are tasks too, run when a suite names them.
"""
from . import continuous, lm, tagging
from .probes import adding, context, copy_memory, lag, mi, order, transduction

CORE_TASKS = {"lm": lm, "tagging": tagging, "continuous": continuous}
PROBES = {"lag": lag, "mi": mi, "context": context, "transduction": transduction, "order": order,
          "adding": adding, "copy": copy_memory}
TASKS = {**CORE_TASKS, **PROBES}

__all__ = ["lm", "tagging", "continuous", "lag", "mi", "context", "transduction", "order", "adding",
           "copy_memory", "TASKS", "CORE_TASKS", "PROBES"]
