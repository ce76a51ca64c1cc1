"""Store -> report data: leaderboards, headline, reproduction panel, costs, curves, cards, provenance.

Everything here is plain data (dicts, lists, strings); :mod:`.render` turns it
into HTML and SVG. The report reads only the store (cells and run records): it
never re-runs a model.

Learning curves come from each row's ``history`` (a model's ``history_``):

- a list of numbers is read as the training log-likelihood (nats) per EM iteration;
- a list of dicts, one per epoch or evaluation, is read by key: ``loss``
  (training loss, nats per token) or else ``log_likelihood``; optional
  ``tokens_seen`` (cumulative tokens) and ``seconds`` (cumulative wall time)
  give the x axes "tokens seen" and "seconds".
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

from ..harness.store import Store
from ..harness.suite import ORACLE
from .sections import section_for
from .tables import column, fmt, mean_std, num_cell, table, text_cell

__all__ = ["build_report", "build_summary", "STATUSES"]

STATUSES = ("ok", "failed", "unavailable", "n/a")
_REASON_CHARS = 300
_CARD_ORDER = ("name", "kind", "source", "licence", "citation", "split", "preprocessing", "vocabulary", "options")
_CARD_SKIP = {"evaluated", "files", "true_params", "n_tokens", "n_sequences", "oov_rate"}


# ============================================================================ loading
def _load(store_path):
    with Store(store_path, create=False) as store:
        return store.rows(), store.runs()


def _reason(row):
    text = row.get("error_message") or ""
    if row.get("error_type"):
        text = f"{row['error_type']}: {text}"
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"


def _entries(rows):
    """Ok rows grouped over seeds per (task, dataset, model id); non-ok rows kept one by one."""
    groups = defaultdict(list)
    problems = defaultdict(list)
    for row in rows:
        where = (row["task"], row["dataset"])
        if row["status"] == "ok":
            groups[(*where, row["model_id"])].append(row)
        else:
            problems[where].append(row)
    entries = defaultdict(list)
    for (task, dataset, model_id), group in groups.items():
        metrics = sorted({m for r in group for m in r["metrics"]})
        entries[(task, dataset)].append({
            "model_id": model_id, "model": group[0]["model"], "seeds": sorted(r["seed"] for r in group),
            "metrics": {m: mean_std([r["metrics"].get(m) for r in group]) for m in metrics},
            "fit_seconds": mean_std([r.get("fit_seconds") for r in group])[0],
            "tokens_per_s": mean_std([r.get("tokens_per_s") for r in group])[0],
            "n_parameters": next((r["n_parameters"] for r in group if r.get("n_parameters") is not None), None),
            "peak_rss_mb": max((r["peak_rss_mb"] for r in group if r.get("peak_rss_mb") is not None), default=None),
            "device": ", ".join(sorted({str(r.get("device")) for r in group if r.get("device")})),
            "threads": ", ".join(sorted({str(r.get("threads")) for r in group if r.get("threads") is not None})),
            "history": next((r["history"] for r in group if r.get("history")), None),
            "rows": group,
        })
    return entries, problems


# ======================================================================= leaderboards
def _ordered(entries, section):
    """Best first by the headline metric (missing last), the oracle wherever its value puts it."""
    if section.metric is None:
        return sorted(entries, key=lambda e: e["model_id"])

    def key(e):
        mean = e["metrics"].get(section.metric, (None, None))[0]
        if mean is None or math.isnan(mean):
            return (1, 0.0, e["model_id"])
        return (0, mean if section.better == "lower" else -mean, e["model_id"])

    return sorted(entries, key=key)


def _oracle_value(entries, metric):
    oracle = next((e for e in entries if e["model_id"] == ORACLE), None)
    value = oracle["metrics"].get(metric, (None, None))[0] if oracle and metric else None
    return value if value is not None and math.isfinite(value) and value != 0 else None


def _metric_names(entries, section):
    stored = sorted({m for e in entries for m in e["metrics"]})
    named = [m for m, _ in section.columns if m in stored]
    head = [section.metric] if section.metric in stored else []
    return head + named + [m for m in stored if m not in head and m not in named]


# How a metric compares with the oracle's value of it ("ratio to the limit everywhere"):
# ratio = model / oracle, excess = model - oracle (nats), gap = oracle - model (accuracy points).
LIMIT_COMPARISONS = {"perplexity": "ratio", "mse": "ratio", "state_mse": "ratio",
                     "nll_per_token": "excess", "bits_per_token": "excess", "nll_per_step": "excess",
                     "accuracy": "gap", "accuracy_known": "gap", "accuracy_unknown": "gap"}
_COMPARE = {"ratio": (lambda m, o: m / o, "{:.3f}×"), "excess": (lambda m, o: m - o, "{:+.4f}"),
            "gap": (lambda m, o: o - m, "{:+.4f}")}


def _limit_columns(entries, names, headline):
    """``(metric, kind, oracle value)`` for every stored metric, but the headline, that the oracle also has."""
    out = []
    for m in names:
        kind, value = LIMIT_COMPARISONS.get(m), _oracle_value(entries, m)
        if m != headline and kind and value is not None and math.isfinite(value) and value != 0:
            out.append((m, kind, value))
    return out


def _compare_cell(kind, mean, oracle):
    if mean is None or not math.isfinite(mean):
        return num_cell(None)
    op, pattern = _COMPARE[kind]
    value = op(mean, oracle)
    return num_cell(value, text=pattern.format(value))


def _leaderboard(board_id, task, dataset, entries, problems, section):
    labels = dict(section.columns)
    names = _metric_names(entries, section)
    oracle = _oracle_value(entries, section.metric)
    limits = _limit_columns(entries, names, section.metric)
    columns = [column("model"), column("estimator"), column("seeds", numeric=True)]
    for m in names:
        label = labels.get(m, m) + (f" ({section.better} is better)" if m == section.metric else "")
        columns += [column(label, numeric=True, help="mean over seeds"),
                    column("± sd", numeric=True, help="sample standard deviation over seeds")]
    if oracle is not None:
        columns.append(column("ratio to oracle", numeric=True, help=f"mean / oracle: {section.limit}"))
    for m, kind, value in limits:
        columns.append(column(f"{labels.get(m, m)}: {kind} vs oracle", numeric=True,
                              help=f"{kind} against the oracle's {value:.6g}: "
                                   + {"ratio": "mean / oracle", "excess": "mean - oracle",
                                      "gap": "oracle - mean"}[kind]))
    columns.append(column("status"))
    rows = []
    for e in _ordered(entries, section):
        cells = [text_cell(e["model_id"]), text_cell(e["model"]), num_cell(len(e["seeds"]))]
        for m in names:
            mean, sd = e["metrics"].get(m, (None, None))
            cells += [num_cell(mean), num_cell(sd, digits=2)]
        if oracle is not None:
            mean = e["metrics"].get(section.metric, (None, None))[0]
            ratio = mean / oracle if mean is not None else None
            cells.append(num_cell(ratio, text=f"{ratio:.3f}×" if ratio is not None and math.isfinite(ratio)
                                  else fmt(ratio)))
        cells += [_compare_cell(kind, e["metrics"].get(m, (None, None))[0], value) for m, kind, value in limits]
        cells.append(text_cell("ok"))
        rows.append({"cells": cells, "status": "ok", "note": None, "oracle": e["model_id"] == ORACLE})
    for r in sorted(problems, key=lambda r: (STATUSES.index(r["status"]), r["model_id"], r["seed"])):
        blank = [num_cell(None)] * (len(columns) - 4)
        cells = [text_cell(r["model_id"]), text_cell(r["model"]), num_cell(None), *blank,
                 text_cell(f"{r['status']} (seed {r['seed']}): {_reason(r)}")]
        rows.append({"cells": cells, "status": r["status"], "note": _reason(r), "oracle": False})
    caption = f"{section.title} on {dataset}"
    return table(board_id, caption, columns, rows), oracle


def _headline_item(dataset, entries, section, oracle):
    contenders = [e for e in _ordered(entries, section)
                  if e["model_id"] != ORACLE and e["metrics"].get(section.metric, (None,))[0] is not None]
    if not contenders:
        return None
    best = contenders[0]
    value = best["metrics"][section.metric][0]
    item = {"dataset": dataset, "model": best["model_id"], "metric": section.metric, "value": fmt(value),
            "oracle": fmt(oracle) if oracle is not None else None, "ratio": None}
    if oracle is not None and math.isfinite(value):
        item["ratio"] = f"{value / oracle:.3f}×"
    return item


def _not_applicable(table_id, section, rows):
    """One table of the cells of datasets where the task applies to no model (each with its reason)."""
    if not rows:
        return None
    columns = [column("dataset"), column("model"), column("estimator"), column("seed", numeric=True),
               column("reason")]
    body = [{"cells": [text_cell(r["dataset"]), text_cell(r["model_id"]), text_cell(r["model"]), num_cell(r["seed"]),
                       text_cell(r.get("error_message") or "")], "status": "n/a", "note": None, "oracle": False}
            for r in sorted(rows, key=lambda r: (r["dataset"], r["model_id"], r["seed"]))]
    return table(table_id, f"{section.title}: datasets where the task applies to no model", columns, body)


# ====================================================================== cost, curves
def _cost_table(table_id, section, boards):
    columns = [column("dataset"), column("model"), column("parameters", numeric=True),
               column("fit s", numeric=True, help="mean over seeds"),
               column("eval tokens/s", numeric=True, help="test-split scoring throughput, mean over seeds"),
               column("peak memory MB", numeric=True, help="peak resident set of the worker process, max over seeds"),
               column("device"), column("threads")]
    rows = []
    for dataset, entries in boards:
        for e in sorted(entries, key=lambda e: e["model_id"]):
            if e["model_id"] == ORACLE:
                continue
            cells = [text_cell(dataset), text_cell(e["model_id"]), num_cell(e["n_parameters"]),
                     num_cell(e["fit_seconds"], digits=3), num_cell(e["tokens_per_s"], text=fmt(
                         round(e["tokens_per_s"]) if e["tokens_per_s"] is not None else None)),
                     num_cell(e["peak_rss_mb"], digits=4), text_cell(e["device"]), text_cell(e["threads"])]
            rows.append({"cells": cells, "status": "ok", "note": None, "oracle": False})
    return table(table_id, f"{section.title}: cost per model and dataset", columns, rows) if rows else None


def _scatter(fig_id, section, boards):
    if section.metric is None:
        return None
    panels = []
    for dataset, entries in boards:
        points = [{"label": e["model_id"], "cost": e["fit_seconds"], "value": e["metrics"][section.metric][0]}
                  for e in entries if e["model_id"] != ORACLE and section.metric in e["metrics"]
                  and e["fit_seconds"] and e["metrics"][section.metric][0] is not None
                  and math.isfinite(e["metrics"][section.metric][0])]
        if points:
            panels.append({"dataset": dataset, "metric": section.metric, "better": section.better, "points": points})
    if not panels:
        return None
    return {"fig_id": fig_id, "title": f"{section.title}: {section.metric} against fit time", "panels": panels}


def history_curve(label, history):
    """One learning curve (see the module docstring) or None when ``history`` holds none."""
    if not history:
        return None
    if all(isinstance(h, (int, float)) for h in history):
        return {"label": label, "loss": [float(h) for h in history], "ylabel": "training log-likelihood (nats)",
                "quantity": "log-likelihood"}
    if not all(isinstance(h, dict) for h in history):
        return None
    key = "loss" if any("loss" in h for h in history) else "log_likelihood"
    points = [h for h in history if isinstance(h.get(key), (int, float))]
    if not points:
        return None
    curve = {"label": label, "loss": [float(h[key]) for h in points],
             "ylabel": "training loss (nats/token)" if key == "loss" else "training log-likelihood (nats)",
             "quantity": "loss" if key == "loss" else "log-likelihood"}
    for x in ("tokens_seen", "seconds"):
        if all(isinstance(h.get(x), (int, float)) for h in points):
            curve["tokens" if x == "tokens_seen" else "seconds"] = [float(h[x]) for h in points]
    return curve


def _curves(fig_prefix, section, boards):
    figures = []
    for dataset, entries in boards:
        by_kind = defaultdict(list)
        for e in sorted(entries, key=lambda e: e["model_id"]):
            curve = history_curve(e["model_id"], e["history"])
            if curve:
                by_kind[curve["ylabel"]].append(curve)
        for ylabel, curves in sorted(by_kind.items()):
            figures.append({"fig_id": f"{fig_prefix}-{len(figures)}", "curves": curves,
                            "title": f"{section.title} on {dataset}: {ylabel} during training"})
    return figures


# ======================================================================== sections
def _sections(entries, problems):
    tasks = sorted({t for t, _ in entries} | {t for t, _ in problems},
                   key=lambda t: ({"lm": 0, "tagging": 1}.get(t, 2), t))
    sections, headline = [], []
    for i, task in enumerate(tasks):
        section = section_for(task)
        datasets = sorted({d for t, d in (*entries, *problems) if t == task})
        boards, tables, items = [], [], []
        not_applicable = []
        for j, dataset in enumerate(datasets):
            group, trouble = entries.get((task, dataset), []), problems.get((task, dataset), [])
            if not group and all(r["status"] == "n/a" for r in trouble):  # the task does not apply here at all
                not_applicable += trouble
                continue
            board, oracle = _leaderboard(f"board-{i}-{j}", task, dataset, group, trouble, section)
            tables.append(board)
            boards.append((dataset, group))
            item = _headline_item(dataset, group, section, oracle) if section.metric else None
            if item:
                items.append(item)
        sections.append({"id": f"task-{i}", "task": task, "spec": section, "data": boards, "title": section.title, "intro": section.intro,
                         "limit": section.limit, "boards": tables, "curves": _curves(f"curve-{i}", section, boards),
                         "not_applicable": _not_applicable(f"na-{i}", section, not_applicable),
                         "cost": _cost_table(f"cost-{i}", section, boards),
                         "scatter": _scatter(f"scatter-{i}", section, boards)})
        if items:
            headline.append({"task": task, "title": section.title, "metric": section.metric,
                             "better": section.better, "limit": section.limit, "best": items})
    return sections, headline


# ===================================================================== reproduction
def reproduction_verdict(metric, diff, tolerance):
    """``(verdict, status)`` of seqbench's figure ``diff`` away from the published one.

    Outside the tolerance, the verdict says whether seqbench is better or
    worse where the metric's direction is known (perplexity and NLL lower,
    accuracy higher); better than published is not marked as a failure.
    """
    if tolerance is None:
        return "no tolerance stated", "ok"
    if abs(diff) <= tolerance:
        return "within tolerance", "ok"
    kind = LIMIT_COMPARISONS.get(metric)
    if kind is None:
        return "outside tolerance", "failed"
    better = diff > 0 if kind == "gap" else diff < 0
    return ("outside tolerance (better than published)", "ok") if better else (
        "outside tolerance (worse than published)", "failed")


def _reproduction(targets, entries, problems):
    if not targets:
        return None
    columns = [column("model"), column("dataset"), column("task"), column("metric"),
               column("published", numeric=True), column("tolerance", numeric=True),
               column("seqbench", numeric=True, help="mean over seeds"), column("difference", numeric=True),
               column("verdict"), column("source")]
    rows = []
    for t in targets:
        where = (t["task"], t["dataset"])
        entry = next((e for e in entries.get(where, []) if e["model_id"] == t["model_id"]), None)
        mean, sd = entry["metrics"].get(t["metric"], (None, None)) if entry else (None, None)
        if mean is None:
            problem = next((r for r in problems.get(where, []) if r["model_id"] == t["model_id"]), None)
            verdict, status = (f"not run: {problem['status']}: {_reason(problem)}" if problem
                               else "not in the store"), "failed"
            diff = None
        else:
            diff = mean - t["value"]
            verdict, status = reproduction_verdict(t["metric"], diff, t.get("tolerance"))
        seqbench = None if mean is None else fmt(mean) + (f" ± {fmt(sd, 2)}" if sd is not None else "")
        cells = [text_cell(t["model_id"]), text_cell(t["dataset"]), text_cell(t["task"]), text_cell(t["metric"]),
                 num_cell(t["value"]), num_cell(t.get("tolerance")), num_cell(mean, text=seqbench),
                 num_cell(diff, text=None if diff is None else f"{diff:+.4g}"), text_cell(verdict),
                 text_cell(t["source"])]
        rows.append({"cells": cells, "status": status, "note": verdict, "oracle": False})
    return table("reproduction-table", "Published figures and seqbench's", columns, rows)


# ============================================================= datasets, provenance
def _dataset_cards(rows):
    infos = {}
    for row in sorted(rows, key=lambda r: r["status"] != "ok"):
        if row.get("dataset_info") and set(row["dataset_info"]) - {"evaluated"}:
            infos.setdefault(row["dataset"], row["dataset_info"])
    cards = []
    for dataset in sorted(infos):
        info = infos[dataset]
        splits = [s for s in ("train", "valid", "test") if any(s in (info.get(k) or {}) for k in
                                                              ("n_tokens", "n_sequences", "oov_rate"))]
        sizes = [{"split": s, "tokens": fmt((info.get("n_tokens") or {}).get(s)),
                  "sequences": fmt((info.get("n_sequences") or {}).get(s)),
                  "oov": _percent((info.get("oov_rate") or {}).get(s))} for s in splits]
        keys = [k for k in _CARD_ORDER if k in info] + sorted(k for k in info if k not in _CARD_ORDER)
        fields = [(k, info[k] if isinstance(info[k], str) else json.dumps(info[k], sort_keys=True))
                  for k in keys if k not in _CARD_SKIP and info[k] not in (None, "", [], {})]
        cards.append({"id": f"dataset-{len(cards)}", "dataset": dataset, "fields": fields, "sizes": sizes})
    return cards


def _percent(value):
    return "" if value is None else f"{100 * value:.2f}%"


def _distinct(rows, key):
    counts = defaultdict(int)
    for row in rows:
        value = row.get(key)
        if value not in (None, {}, ""):
            counts[json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)] += 1
    return sorted(counts.items())


def _provenance(rows, runs):
    latest = next((r for r in reversed(runs)), None)
    info = latest["info"] if latest else {}
    versions = [(", ".join(f"{k} {v}" for k, v in sorted(json.loads(text).items())), n)
                for text, n in _distinct(rows, "versions")]
    run_rows = [{"id": r["id"], "started": r["started"], "finished": r["finished"] or "(unfinished)",
                 "backend": r["info"].get("backend"), "n_jobs": r["info"].get("n_jobs"),
                 "summary": ", ".join(f"{k.removeprefix('n_')} {fmt(v, 4)}" for k, v in sorted(
                     (r["summary"] or {}).items()) if isinstance(v, (int, float)))} for r in runs]
    return {"versions": versions, "git": _distinct(rows, "git_revision"), "threads": _distinct(rows, "threads"),
            "devices": _distinct(rows, "device"), "machine": info.get("machine") or {},
            "suite_path": info.get("suite_path"), "suite_sha256": info.get("suite_sha256"),
            "suite_toml": info.get("suite_toml"), "runs": run_rows}


# ============================================================================ public
def _current(rows, runs):
    """The rows of the latest run's grid (when it recorded one) and how many older rows were left out.

    A suite edited between runs leaves rows whose keys its grid no longer has
    (other parameters, a changed model): they stay in the store but are not
    the suite's results any more.
    """
    keys = next((r["info"].get("cell_keys") for r in reversed(runs) if r["info"].get("cell_keys")), None)
    if keys is None:
        return rows, 0
    keys = set(keys)
    kept = [r for r in rows if r["key"] in keys]
    return kept, len(rows) - len(kept)


def build_report(store_path):
    """The report data of one store (see the module docstring); deterministic for the same store."""
    store_path = Path(store_path)
    rows, runs = _load(store_path)
    rows, n_superseded = _current(rows, runs)
    entries, problems = _entries(rows)
    sections, headline = _sections(entries, problems)
    latest_info = next((r["info"] for r in reversed(runs)), {})
    times = sorted(t for r in rows for t in (r.get("started"), r.get("finished")) if t)
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    return {
        "suite": latest_info.get("suite") or store_path.parent.name,
        "description": latest_info.get("description") or "",
        "started": times[0] if times else "", "finished": times[-1] if times else "",
        "counts": counts, "n_rows": len(rows), "n_superseded": n_superseded, "model_ids": sorted({r["model_id"] for r in rows}), "headline": headline, "sections": sections,
        "reproduction": _reproduction(latest_info.get("targets") or [], entries, problems),
        "datasets": _dataset_cards(rows), "provenance": _provenance(rows, runs),
    }


def build_summary(store_path):
    """What ``reports/index.html`` lists for one store: suite, dates, counts, headline (no figures)."""
    doc = build_report(store_path)
    return {k: doc[k] for k in ("suite", "description", "started", "finished", "counts", "n_rows", "headline")}
