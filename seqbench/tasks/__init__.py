"""Tasks: ``evaluate(estimator, splits, split="test") -> dict`` of metrics, using only public estimator methods."""
from . import continuous, lm, tagging

TASKS = {"lm": lm, "tagging": tagging, "continuous": continuous}

__all__ = ["lm", "tagging", "continuous", "TASKS"]
