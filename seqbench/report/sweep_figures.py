"""Curves of a probe's metric against its condition (lag, distance, context, length), one panel per dataset.

The probes store one metric per condition, named ``"<metric>@<name>=<value>"``
(``"accuracy@k=4"``). :func:`condition_curves` reads those names back into
curves, and :func:`sweep_figure` draws them with the report's shared styles,
with reference lines (a baseline, a chance level, the oracle's ceiling) and a
vertical mark per model where the probe names one (a memory horizon).
"""
from __future__ import annotations

import math
import re

import matplotlib
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .figures import RC, _legend, style_for, svg_inline

__all__ = ["condition_curves", "sweep_figure"]

_CONDITION = re.compile(r"^(?P<metric>[^@]+)@(?P<name>[A-Za-z_]+)=(?P<value>[-+0-9.eE]+)$")
_REFERENCES = ({"color": "#555555", "linestyle": ":", "linewidth": 1.4},
               {"color": "#222222", "linestyle": "--", "linewidth": 1.2},
               {"color": "#888888", "linestyle": "-.", "linewidth": 1.2})


def condition_curves(metrics, metric):
    """``{"accuracy@k=1": (m, sd), ...}`` -> ``(condition name, x, y)`` of ``metric``, sorted by x.

    Parameters
    ----------
    metrics : dict
        Metric name -> value or ``(mean, sd)``.
    metric : str
        The part before ``@``.

    Returns
    -------
    tuple of (str or None, ndarray, ndarray)
        Empty arrays (and None) when no condition of ``metric`` is stored.
    """
    points, name = [], None
    for key, value in metrics.items():
        m = _CONDITION.match(key)
        if m and m["metric"] == metric:
            y = value[0] if isinstance(value, (tuple, list)) else value
            if y is not None and math.isfinite(float(y)):
                points.append((float(m["value"]), float(y)))
                name = m["name"]
    points.sort()
    return name, np.array([p[0] for p in points]), np.array([p[1] for p in points])


def sweep_figure(panels, *, fig_id, title, styles=None):
    """One subplot per panel: a curve per model against the condition, with references and marks.

    Parameters
    ----------
    panels : list of dict
        Keys ``dataset`` (panel title), ``xlabel``, ``ylabel``, optional ``logx`` /
        ``logy`` (bool), ``series``: dicts with ``label``, ``x``, ``y`` and
        optional ``mark`` (an x to mark with a vertical tick line, e.g. the
        memory horizon), and ``references``: dicts with ``label`` and either
        ``y`` (a horizontal line) or ``x`` and ``y`` arrays (a reference curve).
    fig_id, title : str
        As for :func:`~seqbench.report.figures.svg_inline`.
    styles : dict, optional
        From :func:`~seqbench.report.figures.style_for`.

    Returns
    -------
    FigureSVG
    """
    if not panels:
        raise ValueError("sweep_figure needs at least one panel, got an empty list")
    styles = {**style_for([str(s["label"]) for p in panels for s in p["series"]]), **(styles or {})}
    ncols = min(2, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    handles, sentences = {}, []
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(3.6 * ncols + 0.6, 2.8 * nrows + 0.7), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, panel in zip(axes, panels):
            sentences.append(_draw_panel(ax, panel, styles, handles))
        for ax in axes[len(panels):]:
            ax.set_axis_off()
        _legend(fig, list(handles.values()))
    return svg_inline(fig, fig_id=fig_id, title=title, desc=" ".join(sentences))


def _draw_panel(ax, panel, styles, handles):
    parts = []
    for s in panel["series"]:
        label = str(s["label"])
        x, y = np.asarray(s["x"], float), np.asarray(s["y"], float)
        ax.plot(x, y, label=label, **styles[label])
        handles.setdefault(label, Line2D([], [], label=label, **styles[label]))
        if s.get("mark") is not None and math.isfinite(float(s["mark"])) and float(s["mark"]) > 0:
            ax.axvline(float(s["mark"]), color=styles[label]["color"], linestyle=styles[label]["linestyle"],
                       linewidth=0.8, alpha=0.8)
        if y.size:
            parts.append(f"{label} {y[0]:.3g} at {x[0]:g} to {y[-1]:.3g} at {x[-1]:g}"
                         + (f" (mark at {float(s['mark']):g})" if s.get("mark") is not None else ""))
    for i, ref in enumerate(panel.get("references", ())):
        label, style = str(ref["label"]), dict(_REFERENCES[i % len(_REFERENCES)])
        if np.ndim(ref["y"]) == 0:
            ax.axhline(float(ref["y"]), **style)
            parts.append(f"{label} {float(ref['y']):.3g}")
        else:
            rx, ry = np.asarray(ref["x"], float), np.asarray(ref["y"], float)
            ax.plot(rx, ry, **style)
            if ry.size:
                parts.append(f"{label} {ry[0]:.3g} at {rx[0]:g} to {ry[-1]:.3g} at {rx[-1]:g}")
        handles.setdefault(label, Line2D([], [], label=label, **style))
    xs = sorted({float(v) for s in panel["series"] for v in np.asarray(s["x"], float)})
    for axis, flag in (("x", panel.get("logx")), ("y", panel.get("logy"))):
        if flag:
            getattr(ax, f"set_{axis}scale")("log")
            scale = getattr(ax, f"{axis}axis")
            if axis == "x" and 0 < len(xs) <= 12:  # a tick at every condition of the sweep
                scale.set_major_locator(ticker.FixedLocator(xs))
            scale.set_major_formatter(ticker.FormatStrFormatter("%g"))  # plain text: mathtext is off
            scale.set_minor_formatter(ticker.NullFormatter())
    ax.set(title=str(panel["dataset"]), xlabel=panel["xlabel"], ylabel=panel["ylabel"])
    return f"{panel['dataset']}: " + ("; ".join(parts) if parts else "no values") + "."
