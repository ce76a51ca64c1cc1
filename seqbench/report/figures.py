"""Matplotlib figures as inline SVG for the HTML report: byte-stable, accessible, greyscale-safe.

Every figure is drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot, no global
state) under :data:`RC`, and :func:`svg_inline` turns it into markup that several figures
can share one HTML page with: ids prefixed per figure, a ``<title>`` and ``<desc>`` for
screen readers, and no timestamps, so the same input always gives the same bytes.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import matplotlib
import numpy as np
from markupsafe import Markup, escape
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

RC = {
    "svg.hashsalt": "seqbench",  # clip-path and marker ids from content, not uuid4
    "svg.fonttype": "none",  # text stays text: small, searchable, selectable
    "text.parse_math": False,  # a model id "$x$" or "a_b" is shown as written
    "font.size": 9,
    "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial"],
    "lines.linewidth": 1.5, "lines.markersize": 5,
    "axes.grid": True, "grid.color": "#dddddd", "grid.linewidth": 0.6,
}
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
# Okabe-Ito colours and Tol's wine (#882255), ordered so that cyclic neighbours differ
# by >= 48/255 in luminance (0.299 R + 0.587 G + 0.114 B): apart in greyscale too.
_COLORS = ("#0072B2", "#CC79A7", "#882255", "#D55E00", "#000000", "#E69F00", "#009E73", "#56B4E9")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_DASHES = ("-", "--", ":", "-.")
_FIG_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_PANELS = {"tokens": "tokens seen", "seconds": "seconds", "iteration": "iteration"}


@dataclass(frozen=True)
class FigureSVG:
    """One rendered figure: ``svg`` is markup safe to insert into HTML as it is."""

    id: str
    title: str
    desc: str
    svg: str


def style_for(labels):
    """Line style per label: neighbours differ in marker, dash and greyscale lightness.

    Parameters
    ----------
    labels : list of str
        In the order that decides the styles; a repeated label keeps its first style.
        Styles cycle after ``len(_MARKERS)`` labels.

    Returns
    -------
    dict of str to dict
        ``{label: {"color": "#rrggbb", "marker": str, "linestyle": str}}``.
    """
    out = {}
    for label in labels:
        if label not in out:
            i = len(out) % len(_MARKERS)
            out[label] = {"color": _COLORS[i], "marker": _MARKERS[i], "linestyle": _DASHES[i % len(_DASHES)]}
    return out


def svg_inline(fig, *, fig_id, title, desc):
    """Save ``fig`` as SVG markup for inline use in an HTML page.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Its texts are set to ``parse_math=False`` (user strings shown literally).
    fig_id : str
        Matches ``[A-Za-z][A-Za-z0-9_-]*``; every id in the SVG becomes ``f"{fig_id}-{id}"``.
    title, desc : str
        Plain text for the ``<title>`` and ``<desc>`` elements (escaped here).

    Returns
    -------
    FigureSVG
    """
    if not isinstance(fig_id, str) or not _FIG_ID.fullmatch(fig_id):
        raise ValueError(f"fig_id must match [A-Za-z][A-Za-z0-9_-]*, got {fig_id!r}")
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata=_NO_METADATA)
    svg = re.sub(r"<!--.*?-->", "", buf.getvalue(), flags=re.S)
    svg = svg[svg.index("<svg"):].strip()
    svg = re.sub(r"<[^>]*>", lambda m: _prefix_tag(m.group(0), fig_id), svg)
    # matplotlib's one CSS rule ("*{stroke-linejoin...}") would otherwise apply page-wide.
    svg = svg.replace('<style type="text/css">*{', f'<style type="text/css">#{fig_id}-svg *{{', 1)
    open_end = svg.index(">") + 1
    attrs = (f' id="{fig_id}-svg" role="img" aria-labelledby="{fig_id}-title {fig_id}-desc"'
             ' style="max-width:100%;height:auto"')
    head = (f'\n <title id="{fig_id}-title">{escape(title)}</title>'
            f'\n <desc id="{fig_id}-desc">{escape(desc)}</desc>')
    svg = svg[:4] + attrs + svg[4:open_end] + head + svg[open_end:]
    return FigureSVG(id=fig_id, title=str(title), desc=str(desc), svg=Markup(svg))


def _prefix_tag(tag, prefix):
    """Prefix the ids and ``#id`` references inside one SVG tag (never in text content)."""
    tag = re.sub(r'(\sid=")([^"]*")', lambda m: f"{m[1]}{prefix}-{m[2]}", tag)
    tag = re.sub(r'(\s(?:xlink:)?href="#)', lambda m: f"{m[1]}{prefix}-", tag)
    return re.sub(r"url\(#", f"url(#{prefix}-", tag)


def learning_curves(curves, *, fig_id, title, styles=None):
    """Loss against tokens seen and seconds (or against iteration when neither is known).

    Parameters
    ----------
    curves : list of dict
        Keys ``label`` (str), ``loss`` (list of float: the values drawn), ``ylabel`` (str) and
        optional ``quantity`` (what the values are, for panel titles and the text alternative;
        default "loss", e.g. "log-likelihood"), ``tokens``, ``seconds`` (cumulative) and
        ``iteration``, each as long as ``loss``.
        A curve without a panel's x is left out of that panel; non-finite points are dropped.
    fig_id, title : str
        As for :func:`svg_inline`.
    styles : dict, optional
        From :func:`style_for`, to keep one model's style across figures; default from the labels.

    Returns
    -------
    FigureSVG
    """
    if not curves:
        raise ValueError("learning_curves needs at least one curve, got an empty list")
    series = [_series(c) for c in curves]
    labels = [s["label"] for s in series]
    styles = {**style_for(labels), **(styles or {})}
    keys = [k for k in ("tokens", "seconds") if any(k in s for s in series)] or ["iteration"]
    ylabel = " / ".join(dict.fromkeys(str(c.get("ylabel", "loss")) for c in curves))
    quantity = " / ".join(dict.fromkeys(s["quantity"] for s in series))
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(6.4 if len(keys) == 2 else 4.8, 3.2), layout="constrained")
        for ax, key in zip(fig.subplots(1, len(keys), squeeze=False)[0], keys):
            for s in (s for s in series if key in s):
                keep = np.isfinite(s[key]) & np.isfinite(s["loss"])
                ax.plot(s[key][keep], s["loss"][keep], label=s["label"], **styles[s["label"]],
                        markevery=max(1, int(keep.sum()) // 8))
            ax.set(xlabel=_PANELS[key], ylabel=ylabel, title=f"{quantity} vs {_PANELS[key]}")
            if key == "tokens":
                ax.xaxis.set_major_formatter(ticker.EngFormatter(sep=""))
        _legend(fig, [Line2D([], [], label=label, **styles[label]) for label in dict.fromkeys(labels)])
    desc = " ".join(_curve_sentence(s) for s in series)
    return svg_inline(fig, fig_id=fig_id, title=title, desc=desc)


def _series(curve):
    """A curve's arrays: loss and each x it has (iteration defaults to 1..n)."""
    label = str(curve["label"])
    loss = np.asarray(curve["loss"], dtype=float).ravel()
    out = {"label": label, "loss": loss, "iteration": np.arange(1.0, loss.size + 1),
           "quantity": str(curve.get("quantity", "loss"))}
    for key in ("tokens", "seconds", "iteration"):
        if curve.get(key) is not None:
            x = np.asarray(curve[key], dtype=float).ravel()
            if x.size != loss.size:
                raise ValueError(f"curve {label!r}: {key} has {x.size} values for {loss.size} losses")
            out[key] = x
    return out


def _curve_sentence(s):
    """``"kn3: loss 5.10 -> 4.20 over 10 points, 1.2M tokens, 3.4 s."``"""
    loss = s["loss"][np.isfinite(s["loss"])]
    if not loss.size:
        return f"{s['label']}: no finite {s['quantity']} values."
    parts = [f"{s['label']}: {s['quantity']} {loss[0]:.2f} -> {loss[-1]:.2f} over {loss.size} point{'s' * (loss.size != 1)}"]
    for key, unit in (("tokens", " tokens"), ("seconds", " s")):
        x = s.get(key, np.array([]))
        x = x[np.isfinite(x)]
        if x.size:
            parts.append(f"{_si(x.max())}{unit}")
    return ", ".join(parts) + "."


def quality_cost_scatter(panels, *, fig_id, title, styles=None):
    """Metric against fit seconds (log scale), one subplot per dataset, one shared legend.

    Parameters
    ----------
    panels : list of dict
        Keys ``dataset``, ``metric`` (str), ``better`` ("lower" or "higher") and ``points``:
        dicts with ``label``, ``cost`` (fit seconds) and ``value``. Points whose cost is not a
        positive number or whose value is not finite are left out (and counted in ``desc``).
    fig_id, title : str
        As for :func:`svg_inline`.
    styles : dict, optional
        From :func:`style_for`; default from the labels in order of appearance.

    Returns
    -------
    FigureSVG
    """
    if not panels:
        raise ValueError("quality_cost_scatter needs at least one panel, got an empty list")
    for p in panels:
        if p.get("better") not in ("lower", "higher"):
            raise ValueError(f"panel {p.get('dataset')!r}: better must be 'lower' or 'higher', "
                             f"got {p.get('better')!r}")
    styles = {**style_for([str(pt["label"]) for p in panels for pt in p["points"]]), **(styles or {})}
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    sentences, shown = [], {}
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(2.6 * ncols + 0.8, 2.6 * nrows + 0.6), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, p in zip(axes, panels):
            kept = [pt for pt in p["points"] if (_number(pt.get("cost")) or 0) > 0
                    and _number(pt.get("value")) is not None]
            for pt in kept:
                label = str(pt["label"])
                style = {"color": styles[label]["color"], "marker": styles[label]["marker"]}
                ax.plot([float(pt["cost"])], [float(pt["value"])], linestyle="none", markersize=6, **style)
                shown[label] = Line2D([], [], linestyle="none", markersize=6, label=label, **style)
            if kept:
                ax.set_xscale("log")
                ax.xaxis.set_major_formatter(ticker.LogFormatter())  # the default one writes mathtext
                ax.xaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False))
            else:
                ax.text(0.5, 0.5, "no points with a positive fit time", transform=ax.transAxes,
                        ha="center", va="center")
                ax.set(xticks=[], yticks=[])
            ax.set(title=str(p["dataset"]), xlabel="fit seconds (log scale)",
                   ylabel=f"{p['metric']} ({p['better']} is better)")
            sentences.append(_panel_sentence(p, kept, len(p["points"]) - len(kept)))
        for ax in axes[len(panels):]:
            ax.set_axis_off()
        _legend(fig, list(shown.values()))
    return svg_inline(fig, fig_id=fig_id, title=title, desc=" ".join(sentences))


def _panel_sentence(panel, kept, dropped):
    """Best and cheapest model of one scatter panel, with their values."""
    head = f"{panel['dataset']}, {panel['metric']} ({panel['better']} is better):"
    text = f"{head} no points with a positive fit time."
    if kept:
        sign = 1.0 if panel["better"] == "lower" else -1.0
        best = min(kept, key=lambda pt: sign * float(pt["value"]))
        cheap = min(kept, key=lambda pt: float(pt["cost"]))
        text = f"{head} best {_point(best)}; cheapest {_point(cheap)}."
    return text + (f" {dropped} point(s) without a positive fit time or finite value left out."
                   if dropped else "")


def _point(pt):
    return f"{pt['label']} {float(pt['value']):.4g} in {_si(float(pt['cost']))} s"


def _legend(fig, handles):
    """One legend under all panels, in up to four columns."""
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), frameon=False)


def _number(v):
    """``float(v)`` when ``v`` is a finite number, else None."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _si(x):
    """``1234567 -> "1.23M"``: three significant digits and an SI suffix."""
    for suffix in ("", "k", "M", "G", "T"):
        if abs(x) < 999.5 or suffix == "T":
            return f"{x:.3g}{suffix}"
        x /= 1000.0
