"""A sequential suite runner: every dataset x task x model of a suite, one result row each.

Rows are plain dicts (status "ok", "n/a", "unavailable" or "failed" with the reason),
written to ``<out>/results.json`` after every cell, so an interrupted run keeps
what it finished.
"""
from __future__ import annotations

import json
import os
import platform
import time
import tomllib
import traceback
from importlib import resources
from pathlib import Path

from .. import __version__
from ..base import get_tags
from ..data import load_dataset
from ..exceptions import ConfigError, DatasetUnavailableError
from ..registry import make_model
from ..tasks import TASKS

__all__ = ["load_suite", "run_suite"]


def load_suite(name_or_path):
    """Read a suite: a path to a TOML file, or the name of a bundled suite (``quick``)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text = path.read_text()
    else:
        bundled = resources.files("seqbench.suites") / f"{name_or_path}.toml"
        if not bundled.is_file():
            raise ConfigError(f"no suite {name_or_path!r}: not a .toml file and not a bundled suite")
        text = bundled.read_text()
    suite = tomllib.loads(text)
    suite.setdefault("name", path.stem)
    for key in ("datasets", "models"):
        if not suite.get(key):
            raise ConfigError(f"suite {suite['name']!r} has no [[{key}]] entries")
    return suite


def _environment():
    import numpy
    import torch

    return {
        "seqbench": __version__,
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def _run_cell(splits, task, entry):
    est = make_model(entry["model"], **entry.get("params", {}))
    t0 = time.perf_counter()
    task.fit(est, splits)
    fit_seconds = time.perf_counter() - t0
    metrics = task.evaluate(est, splits, "test")
    n_train = sum(len(x) for x in splits.train.X)
    return {"fit_seconds": fit_seconds, "fit_tokens_per_s": n_train / max(fit_seconds, 1e-9), **metrics}


def _cells(splits, entry):
    """Yield (task, reason-or-None) for one model entry on one dataset."""
    tags = get_tags(make_model(entry["model"], **entry.get("params", {})))
    for name, task in TASKS.items():
        if "tasks" in entry and name not in entry["tasks"]:
            continue
        yield task, task.applies(tags, splits)


def _oracle_rows(name, splits, log):
    """The generating model's scores: the limit every other row is a ratio to."""
    tags = get_tags(splits.oracle)
    tasks = [("lm", tags.density), ("tagging", tags.hidden_states and splits.test.y is not None)]
    for task_name, applies in tasks:
        if applies:
            metrics = TASKS[task_name].evaluate(splits.oracle, splits, "test")
            log(f"[ok] {name} {task_name} oracle: {metrics.get('perplexity', metrics.get('accuracy')):.4f}")
            yield {"dataset": name, "task": task_name, "model": "oracle", "status": "ok", **metrics}


def run_suite(suite, out_dir, log=print):
    """Run every cell of ``suite`` and write ``out_dir/results.json``; returns the rows."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"suite": suite["name"], "started": time.strftime("%Y-%m-%d %H:%M:%S"),
           "environment": _environment(), "datasets": {}, "rows": []}
    rows = doc["rows"]

    def save():
        tmp = out_dir / "results.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1, default=float))
        tmp.replace(out_dir / "results.json")  # atomic: an interrupted run never leaves half a file

    for ds in suite["datasets"]:
        name, options = ds["name"], ds.get("options", {})
        try:
            splits = load_dataset(name, **options)
        except DatasetUnavailableError as exc:
            log(f"[skip] {name}: {str(exc).splitlines()[0]}")
            rows.append({"dataset": name, "status": "unavailable", "reason": str(exc)})
            save()
            continue
        doc["datasets"][name] = {k: v for k, v in splits.info.items() if k != "true_params"}
        if splits.oracle is not None:
            rows.extend(_oracle_rows(name, splits, log))
        for entry in suite["models"]:
            for task, reason in _cells(splits, entry):
                row = {"dataset": name, "task": task.NAME, "model": entry["id"],
                       "estimator": entry["model"], "params": entry.get("params", {})}
                if reason:
                    rows.append({**row, "status": "n/a", "reason": reason})
                    continue
                try:
                    row.update(status="ok", **_run_cell(splits, task, entry))
                    headline = row.get("perplexity", row.get("accuracy"))
                    log(f"[ok] {name} {task.NAME} {entry['id']}: {headline:.4f} (fit {row['fit_seconds']:.1f}s)")
                except Exception as exc:  # a failed cell is recorded, the run goes on
                    row.update(status="failed", error=type(exc).__name__, reason=str(exc),
                               traceback=traceback.format_exc())
                    log(f"[failed] {name} {task.NAME} {entry['id']}: {type(exc).__name__}: {exc}")
                rows.append(row)
                save()
    doc["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    save()
    return rows
