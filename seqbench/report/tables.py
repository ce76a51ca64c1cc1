"""Table cells for the report: number formatting and the sortable-table data the templates draw.

A table is a dict ``{"id", "caption", "columns", "rows"}``; a column is
``{"label", "numeric", "help"}``; a row is ``{"cells", "status", "note"}`` and a
cell ``{"text", "sort"}`` where ``sort`` is the number a numeric column sorts
by, as text ("" when missing; "Infinity"/"-Infinity" kept so the page's script
can parse them).
"""
from __future__ import annotations

import math

__all__ = ["fmt", "num_cell", "text_cell", "column", "table", "mean_std", "sort_text"]


def fmt(value, digits=5):
    """A number as short readable text: ``digits`` significant figures, thousands separated, "inf" kept."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if isinstance(value, int) or (abs(value) >= 10 ** digits and float(value).is_integer()):
        return f"{int(value):,}"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def sort_text(value):
    """The ``data-sort`` text of a number ("" for missing or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def num_cell(value, text=None, digits=5):
    """A numeric cell: ``text`` (default :func:`fmt` of ``value``) shown, ``value`` sorted."""
    return {"text": fmt(value, digits) if text is None else text, "sort": sort_text(value)}


def text_cell(text):
    return {"text": "" if text is None else str(text), "sort": None}


def column(label, numeric=False, help=None):
    return {"label": label, "numeric": numeric, "help": help}


def table(table_id, caption, columns, rows):
    """Check every row has one cell per column and return the table dict."""
    for i, row in enumerate(rows):
        if len(row["cells"]) != len(columns):
            raise ValueError(f"table {table_id!r} row {i} has {len(row['cells'])} cells for {len(columns)} columns")
    return {"id": table_id, "caption": caption, "columns": columns, "rows": rows}


def mean_std(values):
    """(mean, sample standard deviation or None for one value) of finite-or-infinite floats."""
    values = [float(v) for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None, None
    mean = math.fsum(values) / len(values) if all(map(math.isfinite, values)) else sum(values)
    if any(math.isinf(v) for v in values):
        return (mean if not math.isnan(mean) else math.nan), None
    if len(values) < 2:
        return mean, None
    var = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)
