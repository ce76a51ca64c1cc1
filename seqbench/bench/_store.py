"""Peers results in a seqbench results store (:class:`seqbench.harness.store.Store`), for the report.

Default file: ``reports/peers/peers.sqlite`` (not ``results.sqlite``, so
``seqbench report`` does not read it as a suite). One store row per case x
contender x size (``quick`` or ``full``), replaced by the next run of the
same; each run also adds a record to the ``runs`` table (``info["kind"] ==
"peers"``, the machine, versions, sizes, repeats, seed) and every row keeps
its ``run_id``, so :func:`read_results` returns by default the rows of the
latest run only: every ratio measured in one run.

Mapping of a peers row onto the store's columns: ``task`` = case,
``dataset`` = data description, ``model_id`` = contender, ``model`` =
library, ``metrics`` = the numbers (``seconds_median``, ``seconds_min``,
``items_per_s``, ``time_ratio``, ``speedup``, ``max_abs_diff``,
``max_rel_diff``, ``gflops``, ``fraction_of_peak`` and the case's own such
as ``accuracy``), ``tokens_per_s`` = items per second for token and step
units, ``error_message`` = why a row failed or is unavailable; the other
keys of the row (family, operation, unit, role, n_items, seconds, agreement,
flops, note, run_id, size) go to the JSON column ``extra`` and come back as
top-level keys.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .peers import ROW_KEYS

DEFAULT_PATH = Path("reports") / "peers" / "peers.sqlite"
NUMBERS = ("seconds_median", "seconds_min", "items_per_s", "time_ratio", "speedup", "gflops", "fraction_of_peak")


def row_key(case, contender, size):
    """sha256 hex of ``("peers", case, contender, size)``."""
    return hashlib.sha256(json.dumps(["peers", case, contender, size]).encode()).hexdigest()


def to_store_row(row, *, run_id, size, seed, started, finished, versions=None, git_revision=None):
    """The store row (a dict for :meth:`Store.put`) of one peers row."""
    agreement = row.get("agreement") or {}
    metrics = {k: row.get(k) for k in NUMBERS}
    metrics.update(max_abs_diff=agreement.get("max_abs"), max_rel_diff=agreement.get("max_rel"))
    metrics.update(row.get("metrics") or {})
    extra = {k: row.get(k) for k in ("family", "operation", "unit", "role", "n_items", "seconds", "agreement",
                                      "flops", "note")}
    return {
        "key": row_key(row["case"], row["contender"], size), "dataset": row.get("data") or "-",
        "task": row["case"], "model_id": row["contender"], "model": row.get("library") or "-",
        "seed": seed, "status": row["status"], "metrics": metrics,
        "tokens_per_s": row.get("items_per_s") if row.get("unit") in ("token", "step") else None,
        "threads": 1, "device": "cpu", "versions": versions or {}, "git_revision": git_revision,
        "error_type": row["error"].split(":", 1)[0] if row.get("error") and row["status"] == "failed" else None,
        "error_message": row.get("error"), "traceback": row.get("traceback"),
        "started": started, "finished": finished, "run_id": run_id, "size": size, **extra,
    }


def from_store_row(stored):
    """A peers row (keys :data:`~seqbench.bench.peers.ROW_KEYS`, plus run_id, size, seed) from a store row."""
    metrics = dict(stored.get("metrics") or {})
    row = {k: stored.get(k) for k in ROW_KEYS}
    row.update({k: metrics.pop(k, None) for k in NUMBERS})
    for k in ("max_abs_diff", "max_rel_diff"):
        metrics.pop(k, None)
    row.update(case=stored["task"], data=stored["dataset"], contender=stored["model_id"],
               library=stored["model"], metrics=metrics, error=stored.get("error_message"),
               run_id=stored.get("run_id"), size=stored.get("size"), seed=stored.get("seed"))
    return row


def write_results(rows, path=DEFAULT_PATH, *, info, started, finished):
    """Add one run of ``rows`` to the store at ``path`` (created when missing); returns the run id.

    Parameters
    ----------
    rows : list of dict
        From :func:`~seqbench.bench.peers.run_cases`.
    path : str or Path
    info : dict
        JSON-able run description; must hold ``size`` ("quick" or "full") and
        ``seed``; ``kind = "peers"`` and the row ``order`` are added.
    started, finished : str
        ISO timestamps.
    """
    from ..harness.provenance import git_revision, versions
    from ..harness.store import Store

    summary = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "unavailable")}
    summary["disagreements"] = sum(bool(r.get("agreement")) and r["agreement"].get("ok") is False for r in rows)
    with Store(path) as store, store.lock():
        order = [f"{r['case']}\t{r['contender']}" for r in rows]
        run_id = store.begin_run({**info, "kind": "peers", "order": order}, started)
        for row in rows:
            store.put(to_store_row(row, run_id=run_id, size=info["size"], seed=info["seed"], started=started,
                                   finished=finished, versions=versions(), git_revision=git_revision()))
        store.end_run(run_id, summary, finished)
    return run_id


def read_results(path=DEFAULT_PATH, run_id="latest"):
    """Peers rows from the store, in the order of the run that wrote them.

    Parameters
    ----------
    path : str or Path
    run_id : int, "latest" or None
        The rows of one run (default: the latest peers run); None: every row held.

    Returns
    -------
    rows : list of dict
    run : dict or None
        The ``runs`` record (id, started, finished, info, summary) of ``run_id``.
    """
    from ..harness.store import Store

    with Store(path, create=False) as store:
        runs = [r for r in store.runs() if r["info"].get("kind") == "peers"]
        stored = store.rows()
    run = runs[-1] if run_id == "latest" and runs else next((r for r in runs if r["id"] == run_id), None)
    if run_id is not None:
        stored = [s for s in stored if run is not None and s.get("run_id") == run["id"]]
    order = {name: i for i, name in enumerate((run or {}).get("info", {}).get("order", []))}
    rows = [from_store_row(s) for s in stored]
    rows.sort(key=lambda r: order.get(f"{r['case']}\t{r['contender']}", len(order)))
    return rows, run
