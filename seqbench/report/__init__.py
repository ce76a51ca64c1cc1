"""HTML reports from stored results (the report never re-runs a model)."""
from .render import write_index, write_report

__all__ = ["write_report", "write_index"]
