"""Report data -> one self-contained HTML page (Jinja2 with autoescape, inline SVG, one inline script).

The page needs nothing from any other host: styles and figures are inline and a
Content-Security-Policy meta tag (:data:`CSP`) forbids every fetch; the only
script allowed is the table-sorting one, by its sha256. The output is a pure
function of the store (no render time is written), so two renders of the same
store are byte-identical. Files are written atomically (temporary file, then
rename): an interrupted render leaves the previous report in place.
"""
from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from .build import build_report, build_summary

__all__ = ["write_report", "write_index", "render_report", "CSP"]

_env = Environment(loader=PackageLoader("seqbench.report", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)
SORT_JS = resources.files("seqbench.report").joinpath("templates/sort.js").read_text()
_SORT_HASH = base64.b64encode(hashlib.sha256(SORT_JS.encode()).digest()).decode()
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
       f"script-src 'sha256-{_SORT_HASH}'; base-uri 'none'; form-action 'none'")


def _figures(doc):
    """Draw each section's figures (learning curves, quality-vs-cost scatter) as inline SVG."""
    from .figures import learning_curves, quality_cost_scatter, style_for

    styles = style_for(doc["model_ids"])  # one look per model across every figure of the page
    for section in doc["sections"]:
        section["curves_svg"] = [learning_curves(f["curves"], fig_id=f["fig_id"], title=f["title"], styles=styles)
                                 for f in section["curves"]]
        scatter = section["scatter"]
        section["scatter_svg"] = (quality_cost_scatter(scatter["panels"], fig_id=scatter["fig_id"],
                                                       title=scatter["title"], styles=styles) if scatter else None)
        own = section["spec"].figures
        section["task_svg"] = list(own(section["data"], f"{section['id']}-own", styles)) if own else []
    return doc


def render_report(store_path):
    """The report of one results store, as HTML text."""
    doc = _figures(build_report(store_path))
    return _env.get_template("report.html.j2").render(doc=doc, csp=CSP, sort_js=Markup(SORT_JS))


def _write_atomic(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a report is for reading
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_report(store_path, out_html=None):
    """Write the report of one results store (default: ``index.html`` beside it); returns its path."""
    store_path = Path(store_path)
    return _write_atomic(out_html or store_path.with_name("index.html"), render_report(store_path))


def write_index(reports_dir):
    """Refresh ``reports_dir/index.html``: one row per ``*/results.sqlite`` found below it, and one for
    the peers page when ``peers/peers.sqlite`` (``seqbench bench peers``) is there."""
    reports_dir = Path(reports_dir)
    entries = []
    for path in sorted(reports_dir.glob("*/results.sqlite")):
        summary = build_summary(path)
        entries.append({**summary, "href": f"{path.parent.name}/index.html"})
    peers = reports_dir / "peers" / "peers.sqlite"
    if peers.is_file():
        from .peers_page import peers_summary  # imports this module

        entries.append({**peers_summary(peers), "href": "peers/index.html"})
        entries.sort(key=lambda e: e["href"])
    html = _env.get_template("index.html.j2").render(entries=entries, csp=CSP, sort_js=Markup(SORT_JS))
    return _write_atomic(reports_dir / "index.html", html)
