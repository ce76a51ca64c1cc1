"""Render ``results.json`` into a self-contained ``index.html`` (Jinja2, autoescaped)."""
from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(loader=PackageLoader("seqbench.report", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True))

HEADLINE = {"lm": ("perplexity", "lower"), "tagging": ("accuracy", "higher")}


def _leaderboards(rows):
    """Group ok rows by (task, dataset), best first, with the ratio to the oracle where present."""
    boards = {}
    for row in rows:
        if row.get("status") != "ok":
            continue
        boards.setdefault((row["task"], row["dataset"]), []).append(row)
    out = []
    for (task, dataset), group in sorted(boards.items()):
        metric, better = HEADLINE[task]
        group.sort(key=lambda r: r[metric], reverse=better == "higher")
        oracle = next((r[metric] for r in group if r["model"] == "oracle"), None)
        for r in group:
            r["ratio_to_oracle"] = r[metric] / oracle if oracle else None
        out.append({"task": task, "dataset": dataset, "metric": metric, "better": better, "rows": group})
    return out


def write_report(results_path, out_html=None):
    """Write the report of one results file; returns the path of the HTML file."""
    results_path = Path(results_path)
    doc = json.loads(results_path.read_text())
    out_html = Path(out_html or results_path.with_name("index.html"))
    other = [r for r in doc["rows"] if r.get("status") != "ok"]
    html = _env.get_template("report.html.j2").render(doc=doc, boards=_leaderboards(doc["rows"]), other=other)
    out_html.write_text(html)
    return out_html


def write_index(reports_dir):
    """Refresh ``reports/index.html``: one line per report found below ``reports_dir``."""
    reports_dir = Path(reports_dir)
    entries = []
    for path in sorted(reports_dir.glob("*/results.json")):
        doc = json.loads(path.read_text())
        n_ok = sum(r.get("status") == "ok" for r in doc["rows"])
        entries.append({"suite": doc["suite"], "href": f"{path.parent.name}/index.html",
                        "date": doc.get("finished", doc.get("started")), "n_ok": n_ok, "n_rows": len(doc["rows"])})
    out = reports_dir / "index.html"
    out.write_text(_env.get_template("index.html.j2").render(entries=entries))
    return out
