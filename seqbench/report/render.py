"""Render a results store into a self-contained ``index.html`` (Jinja2, autoescaped)."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(loader=PackageLoader("seqbench.report", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True))

HEADLINE = {"lm": ("perplexity", "lower"), "tagging": ("accuracy", "higher")}


def _load(store_path):
    """The store's rows, flattened for the templates (metrics as top-level keys), and a header."""
    from ..harness.store import Store

    with Store(store_path, create=False) as store:
        stored = store.rows()
    rows = []
    for r in stored:
        flat = {**r, **(r.get("metrics") or {}), "model": r["model_id"], "estimator": r["model"],
                "reason": r.get("error_message")}
        rows.append(flat)
    times = sorted(t for r in stored for t in (r.get("started"), r.get("finished")) if t)
    versions = next((r["versions"] for r in stored if r.get("versions")), {})
    datasets = {r["dataset"]: {k: v for k, v in (r.get("dataset_info") or {}).items() if k != "evaluated"}
                for r in stored if r.get("dataset_info")}
    doc = {"suite": Path(store_path).parent.name, "started": times[0] if times else "",
           "finished": times[-1] if times else "", "environment": versions, "datasets": datasets, "rows": rows}
    return doc


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


def write_report(store_path, out_html=None):
    """Write the report of one results store; returns the path of the HTML file."""
    store_path = Path(store_path)
    doc = _load(store_path)
    out_html = Path(out_html or store_path.with_name("index.html"))
    other = [r for r in doc["rows"] if r.get("status") != "ok"]
    html = _env.get_template("report.html.j2").render(doc=doc, boards=_leaderboards(doc["rows"]), other=other)
    out_html.write_text(html)
    return out_html


def write_index(reports_dir):
    """Refresh ``reports/index.html``: one line per report found below ``reports_dir``."""
    reports_dir = Path(reports_dir)
    entries = []
    for path in sorted(reports_dir.glob("*/results.sqlite")):
        doc = _load(path)
        n_ok = sum(r.get("status") == "ok" for r in doc["rows"])
        entries.append({"suite": doc["suite"], "href": f"{path.parent.name}/index.html",
                        "date": doc["finished"], "n_ok": n_ok, "n_rows": len(doc["rows"])})
    out = reports_dir / "index.html"
    out.write_text(_env.get_template("index.html.j2").render(entries=entries))
    return out
