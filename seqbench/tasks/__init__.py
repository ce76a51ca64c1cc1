"""Tasks: ``evaluate(estimator, splits, split="test") -> dict`` of metrics, using only public estimator methods."""
from . import lm, tagging

TASKS = {"lm": lm, "tagging": tagging}

__all__ = ["lm", "tagging", "TASKS"]
