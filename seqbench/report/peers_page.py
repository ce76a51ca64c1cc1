"""The peers page (``reports/peers/index.html``): ``seqbench bench peers`` results as one HTML page.

Read from the peers store (:func:`seqbench.bench.read_results`, the latest run)
and drawn with the report's machinery (:mod:`.render`: Jinja2 with autoescape,
the same CSP, styles and sorting script, atomic 0644 writes; the output is a
pure function of the store, so the same store renders to the same bytes).

The page shows:

- the machine limits (fp32 matmul peak in GFLOP/s, memory bandwidth in GB/s,
  each from its fastest repeat) and every row with matrix-product FLOPs
  (the neural cases) as GFLOP/s and fraction of that peak;
- a dot chart of the time ratios, one row per case x peer, log scale, 1 marked;
- one sortable table per case: contender, library, role, status, median
  seconds, rate, the ``seqbench/peer`` ratio (seqbench seconds per item over
  the peer's: below 1 seqbench is faster), the agreement verdict with the max
  relative and absolute differences, and notes (metrics, the case's remark,
  or why a row failed or could not run);
- the peers that could not run here, with the command that installs them;
- provenance: command, run dates, sizes, repeats, seed, machine, versions.
"""
from __future__ import annotations

import math
import shlex
from pathlib import Path

import matplotlib
import numpy as np
from markupsafe import Markup
from matplotlib import ticker
from matplotlib.figure import Figure

from ..bench import read_results
from ..bench._table import RATE
from .figures import RC, style_for, svg_inline
from .render import CSP, SORT_JS, _env, _write_atomic
from .tables import column, fmt, num_cell, table, text_cell

__all__ = ["build_peers", "render_peers", "write_peers_page", "peers_summary", "ratio_figure"]

LIMITS = "machine-limits"
_NOT_IMPORTABLE = " not importable: "
_RATIO_HELP = "seqbench seconds per item / this contender's seconds per item: below 1, seqbench is faster"


# ===================================================================== cells
def _rate(row):
    """(items per second in the unit's scale, unit label); limits at their fastest repeat."""
    label, scale = RATE.get(row["unit"], (f"{row['unit']}/s", 1.0))
    seconds = row.get("seconds_min") if row.get("role") == "limit" else row.get("seconds_median")
    if not seconds or not row.get("n_items"):
        return None, label
    return row["n_items"] / seconds / scale, label


def _verdict(row):
    """The agreement check in words."""
    a = row.get("agreement")
    if not a:
        if row.get("role") == "seqbench":
            return "reference"
        return "not compared" if row["status"] == "ok" and row.get("role") == "peer" else ""
    what = a.get("what") or "values"
    if a.get("max_rel") is None:
        return f"DIFFERS: {a.get('detail') or what}"
    if a.get("ok") is None:
        return f"recorded, not judged (definitions differ): {what}"
    tolerance = f"rtol {a['rtol']:g}" + (f", atol {a['atol']:g}" if a.get("atol") else "")
    return f"agrees: {what} within {tolerance}" if a["ok"] else f"DIFFERS: {what} beyond {tolerance}"


def _diff_cell(value):
    return num_cell(value, text=None if value is None else f"{value:.2g}")


def _notes(row):
    """Metrics and the case's remark for an ok row; the reason for any other."""
    if row["status"] != "ok":
        return row.get("error") or ""
    bits = [f"{k} {fmt(v, 4)}" for k, v in (row.get("metrics") or {}).items() if v is not None]
    return "; ".join(bits + ([row["note"]] if row.get("note") else []))


def _percent_cell(fraction):
    return num_cell(fraction, text=None if fraction is None else f"{fraction:.0%}")


def _case_table(table_id, name, rows):
    """One sortable table of a case's rows (in the order they ran)."""
    has_flops = any(r.get("gflops") for r in rows)
    columns = [column("contender"), column("library"), column("role"), column("status"),
               column("median s", numeric=True, help="median of the timed repeats"),
               column("rate", numeric=True, help="items per second of the median (limits: of the fastest repeat)"),
               column("seqbench/peer", numeric=True, help=_RATIO_HELP),
               column("agreement"),
               column("max rel diff", numeric=True, help="max |peer - seqbench| / |seqbench|"),
               column("max abs diff", numeric=True, help="max |peer - seqbench|")]
    if has_flops:
        columns += [column("GFLOP/s", numeric=True, help="matrix-product FLOPs per second of the median"),
                    column("of peak", numeric=True, help="GFLOP/s / the fp32 matmul peak of this run")]
    columns.append(column("notes"))
    body = []
    for r in rows:
        value, label = _rate(r)
        agreement = r.get("agreement") or {}
        ratio = r.get("time_ratio")
        cells = [text_cell(r["contender"]), text_cell(r["library"]), text_cell(r.get("role")), text_cell(r["status"]),
                 num_cell(r.get("seconds_median"), digits=4),
                 num_cell(value, text=None if value is None else f"{fmt(value, 3)} {label}"),
                 num_cell(ratio, text=None if ratio is None else f"{ratio:.3g}×"),
                 text_cell(_verdict(r)), _diff_cell(agreement.get("max_rel")), _diff_cell(agreement.get("max_abs"))]
        if has_flops:
            cells += [num_cell(r.get("gflops"), digits=3), _percent_cell(r.get("fraction_of_peak"))]
        cells.append(text_cell(_notes(r)))
        differs = agreement.get("ok") is False  # drawn like a failure: the run's exit code counts it as one
        body.append({"cells": cells, "status": "failed" if differs else r["status"], "oracle": False})
    data = rows[0].get("data") or ""
    return table(table_id, f"{name}: {rows[0].get('operation') or ''} ({data})" if data else name, columns, body)


# ================================================================ sections
def _limits(rows):
    """The two machine limits and the table of rows with FLOPs (their fraction of the peak)."""
    limits = {}
    for r in rows:
        if r["case"] == LIMITS and r["status"] == "ok" and r["unit"] in ("FLOP", "byte"):
            value, label = _rate(r)
            if value is not None:
                limits["peak" if r["unit"] == "FLOP" else "bandwidth"] = {
                    "value": fmt(value, 3), "unit": label, "how": r["contender"]}
    flops = [r for r in rows if r["case"] != LIMITS and r.get("gflops")]
    fraction_table = None
    if flops:
        columns = [column("case"), column("contender"), column("GFLOP/s", numeric=True),
                   column("fraction of peak", numeric=True, help="GFLOP/s / the fp32 matmul peak of this run")]
        body = [{"cells": [text_cell(r["case"]), text_cell(r["contender"]), num_cell(r["gflops"], digits=3),
                           _percent_cell(r.get("fraction_of_peak"))], "status": r["status"], "oracle": False}
                for r in flops]
        fraction_table = table("peak-fractions", "Rows with matrix-product FLOPs against the fp32 matmul peak",
                               columns, body)
    return {**limits, "fractions": fraction_table}


def _unavailable(rows):
    missing = [r for r in rows if r["status"] == "unavailable"]
    if not missing:
        return None
    columns = [column("case"), column("contender"), column("library"), column("why"), column("install")]
    body = []
    for r in missing:
        why, sep, install = (r.get("error") or "").partition(_NOT_IMPORTABLE)
        cells = [text_cell(r["case"]), text_cell(r["contender"]), text_cell(r["library"]),
                 text_cell(f"{why} not importable" if sep else why), text_cell(install)]
        body.append({"cells": cells, "status": "unavailable", "oracle": False})
    return table("unavailable", "Contenders that could not run here", columns, body)


def _ratio_points(rows):
    return [{"case": r["case"], "contender": r["contender"], "ratio": float(r["time_ratio"])}
            for r in rows if r.get("role") == "peer" and r["status"] == "ok" and r.get("time_ratio")
            and math.isfinite(r["time_ratio"]) and r["time_ratio"] > 0]


def _ticks(lo, hi):
    """1-2-5 ticks between ``lo`` and ``hi``; decades only when that gives more than nine."""
    ticks = [m * 10.0 ** e for e in range(-9, 10) for m in (1, 2, 5) if lo <= m * 10.0 ** e <= hi]
    return ticks if len(ticks) <= 9 else [t for t in ticks if round(math.log10(t), 9).is_integer()]


def ratio_figure(points, *, fig_id, title):
    """Dot chart of ``seqbench/peer`` time ratios on a log axis, one row per case x peer, 1 marked.

    Parameters
    ----------
    points : list of dict
        Keys ``case``, ``contender`` (str) and ``ratio`` (float > 0), top to bottom.
    fig_id, title : str
        As for :func:`~seqbench.report.figures.svg_inline`.

    Returns
    -------
    FigureSVG
    """
    if not points:
        raise ValueError("ratio_figure needs at least one point, got an empty list")
    ratios = np.array([p["ratio"] for p in points], dtype=float)
    y = np.arange(len(points))[::-1]
    styles = style_for([p["case"] for p in points])
    lo, hi = min(ratios.min(), 1.0) / 1.6, max(ratios.max(), 1.0) * 1.6
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8.0, 0.24 * len(points) + 1.3), layout="constrained")
        ax = fig.add_subplot()
        ax.axvline(1.0, color="#222222", linestyle="--", linewidth=1.0)
        ax.hlines(y, 1.0, ratios, color="#bbbbbb", linewidth=1.0)
        for case in dict.fromkeys(p["case"] for p in points):
            keep = np.array([p["case"] == case for p in points])
            ax.plot(ratios[keep], y[keep], linestyle="none", color=styles[case]["color"],
                    marker=styles[case]["marker"], markersize=6)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(ticker.FixedLocator(_ticks(lo, hi)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.set_yticks(y, labels=[f"{p['case']}: {p['contender']}" for p in points])
        ax.set_ylim(-0.7, len(points) - 0.3)
        ax.grid(False, axis="y")
        ax.set_xlabel("seqbench time per item / peer time per item (log scale)")
        ax.text(0.0, 1.01, "\u2190 seqbench faster", transform=ax.transAxes, ha="left", va="bottom")
        ax.text(1.0, 1.01, "peer faster \u2192", transform=ax.transAxes, ha="right", va="bottom")
    faster = int((ratios < 1).sum())
    desc = (f"Dashed line at 1 (equal speed). seqbench is faster in {faster} of {len(points)} comparisons. "
            + "; ".join(f"{p['case']}, {p['contender']}: {p['ratio']:.3g}" for p in points) + ".")
    return svg_inline(fig, fig_id=fig_id, title=title, desc=desc)


def _command(info):
    if info.get("command"):
        return info["command"]
    parts = ["seqbench bench peers", *(["--quick"] if info.get("size") == "quick" else [])]
    if info.get("repeats") is not None:
        parts.append(f"--repeats {info['repeats']}")
    if info.get("cases"):
        parts.append(f"--only {shlex.quote(','.join(info['cases']))}")
    if info.get("seed") is not None:
        parts.append(f"--seed {info['seed']}")
    return " ".join(parts)


def _provenance(run):
    if run is None:
        return []
    info = run["info"]
    fields = [("command", _command(info)),
              ("run", f"{run['id']}: {run['started']} to {run['finished'] or '(unfinished)'}"
                      + (f", {info['wall_seconds']:.1f} s" if info.get("wall_seconds") is not None else "")),
              ("sizes", info.get("size")), ("repeats", f"{info.get('repeats')}, interleaved; the median is shown"),
              ("seed", info.get("seed")), ("threads", "1 (BLAS and torch pinned to one thread)"),
              ("machine", "; ".join(f"{k.replace('_', ' ')}: {'none' if v is None else v}"
                                    for k, v in (info.get("machine") or {}).items())),
              ("versions", ", ".join(f"{k} {v}" for k, v in sorted((info.get("versions") or {}).items()))),
              ("git revision", info.get("git_revision")),
              ("cases", ", ".join(info.get("cases") or []))]
    return [(k, str(v)) for k, v in fields if v not in (None, "")]


# ================================================================== public
def build_peers(store_path):
    """The page data of a peers store's latest run (plain dicts, lists and inline SVG).

    Returns
    -------
    dict
        ``counts``, ``limits``, ``figure`` (FigureSVG or None), ``cases``
        (``{"id", "name", "table"}``), ``unavailable``, ``failures`` and
        ``provenance`` (list of (label, text)).
    """
    rows, run = read_results(store_path)
    names = list(dict.fromkeys(r["case"] for r in rows))
    cases = [{"id": f"case-{i}", "name": name, "table": _case_table(f"case-table-{i}", name,
                                                                     [r for r in rows if r["case"] == name])}
             for i, name in enumerate(names)]
    points = _ratio_points(rows)
    figure = (ratio_figure(points, fig_id="ratios", title="seqbench/peer time ratio per case and peer")
              if points else None)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "unavailable")}
    counts["disagreeing"] = sum((r.get("agreement") or {}).get("ok") is False for r in rows)
    info = (run or {}).get("info") or {}
    return {"run": run, "size": info.get("size"), "repeats": info.get("repeats"), "seed": info.get("seed"),
            "counts": counts, "n_rows": len(rows), "limits": _limits(rows), "figure": figure,
            "limit_table": next((c["table"] for c in cases if c["name"] == LIMITS), None),
            "cases": [c for c in cases if c["name"] != LIMITS], "unavailable": _unavailable(rows),
            "failures": [r for r in rows if r["status"] == "failed"], "provenance": _provenance(run)}


def render_peers(store_path):
    """The peers page of ``store_path``, as HTML text."""
    return _env.get_template("peers.html.j2").render(doc=build_peers(store_path), csp=CSP, sort_js=Markup(SORT_JS))


def write_peers_page(store_path, out_html=None):
    """Write the peers page (default: ``index.html`` beside the store); returns its path."""
    store_path = Path(store_path)
    return _write_atomic(out_html or store_path.with_name("index.html"), render_peers(store_path))


def peers_summary(store_path):
    """What ``reports/index.html`` lists for the peers store: counts and the ratio range per case."""
    rows, run = read_results(store_path)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "unavailable")}
    points, best = _ratio_points(rows), []
    for name in dict.fromkeys(p["case"] for p in points):
        ratios = [p["ratio"] for p in points if p["case"] == name]
        span = f"{min(ratios):.3g}×" if len(ratios) == 1 else f"{min(ratios):.3g}× to {max(ratios):.3g}×"
        best.append({"dataset": name, "model": f"vs {len(ratios)} peer{'s' * (len(ratios) != 1)}:",
                     "value": span, "ratio": None})
    headline = [{"title": "seqbench/peer time ratio (below 1: seqbench faster)", "best": best}] if best else []
    return {"suite": "peers", "description": "seqbench bench peers", "started": (run or {}).get("started") or "",
            "finished": (run or {}).get("finished") or "", "counts": {**counts, "n/a": 0}, "n_rows": len(rows),
            "headline": headline}
