"""Executing one cell of a suite: load the data, build the model, fit, evaluate, one result row.

:func:`execute_cell` never raises (but for ``KeyboardInterrupt``): a model's
exception, a refused allocation or a blown time budget becomes a ``"failed"``
row with the error's type, message and traceback; missing dataset files give
an ``"unavailable"`` row whose message says how to fetch them, and so does a
model's unmet ``requires`` (e.g. no CUDA device; nothing is loaded). The ``oracle``
cells of a synthetic dataset score its generating model (``splits.oracle``):
nothing is fitted (``fit_seconds`` 0).

Row fields
----------
key, dataset, task, model_id, model, seed, cell_seed, status, spec, metrics,
fit_seconds, eval_seconds, tokens_per_s, n_parameters, peak_rss_mb, versions,
threads, device, git_revision, error_type, error_message, traceback, history,
dataset_info, started, finished. ``metrics`` are the task's figures (name ->
float; a non-finite value such as an infinite perplexity is kept as a float, an
undefined one (None, e.g. accuracy on unknown words when there are none) is left out);
the task's timing (``eval_seconds``, ``tokens_per_s``) goes to its columns and
its counts (``n_tokens``, ``n_unknown``, ...) to ``dataset_info["evaluated"]``.

Measurement notes
-----------------
- One intra-op thread: torch and every BLAS/OpenMP pool (threadpoolctl) are
  limited to one thread while the cell runs (parallelism comes from running
  cells side by side); ``threads`` records torch's count, or the model's
  own ``n_threads_`` when it sets one (neural models).
- ``peak_rss_mb`` is the process's peak resident set so far
  (``getrusage(RUSAGE_SELF).ru_maxrss``): it cannot be reset, so with worker
  reuse (loky, Dask) it is the peak of that worker over every cell it ran up
  to and including this one -- an upper bound for the cell.
- The time budget covers fit and evaluation (not the dataset load, which a
  worker caches across cells). In the main thread of a process (sequential
  runs, loky workers) a ``SIGALRM`` timer interrupts the cell with
  :class:`CellTimeout`; Python delivers it between bytecodes, so one long C
  call finishes first. Elsewhere (Dask runs tasks in worker threads, where
  signals cannot be used) the cell runs to its end and is then marked failed
  with ``CellTimeout`` if it went over budget. A model with a
  ``time_budget_s`` parameter the suite did not set also receives the budget,
  so it can stop itself in time.
- A worker keeps the last two datasets it loaded (keyed by the dataset spec's
  canonical JSON) and hands the same ``Splits`` to each cell: models must
  not modify their input arrays in place.
"""
from __future__ import annotations

import datetime
import json
import math
import resource
import signal
import threading
import time
import traceback
import warnings
from collections import OrderedDict
from contextlib import contextmanager

from ..data import load_corpus, load_dataset
from ..exceptions import ConfigError, DatasetUnavailableError
from ..tasks import TASKS
from .provenance import git_revision, versions
from .requirements import unmet_requirements
from .suite import ORACLE, to_json

__all__ = ["execute_cell", "na_row", "failed_row", "CellTimeout", "clear_dataset_cache"]

ROW_FIELDS = ("key", "dataset", "task", "model_id", "model", "seed", "cell_seed", "status", "spec", "metrics",
              "fit_seconds", "eval_seconds", "tokens_per_s", "n_parameters", "peak_rss_mb", "versions",
              "threads", "device", "git_revision", "error_type", "error_message", "traceback", "history",
              "dataset_info", "started", "finished", "warnings")
_TIMING = ("eval_seconds", "tokens_per_s")
_DATASET_CACHE_SIZE = 2
_datasets: OrderedDict = OrderedDict()  # canonical dataset-spec JSON -> Splits, per process


class CellTimeout(TimeoutError):
    """A cell ran past its ``time_budget_s``."""


# ======================================================================= environment
def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


@contextmanager
def _one_thread():
    """Limit torch and the BLAS/OpenMP pools to one thread; yields torch's thread count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        limits = None
    else:
        limits = threadpool_limits(limits=1)
    try:
        yield torch.get_num_threads()
    finally:
        if limits is not None:
            limits.restore_original_limits()
        torch.set_num_threads(before)


@contextmanager
def _time_budget(seconds):
    """Raise :class:`CellTimeout` after ``seconds`` (main thread only; elsewhere a no-op)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise CellTimeout(f"cell ran past its time budget of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# =========================================================================== dataset
def _load(dataset_spec):
    """The Splits of ``dataset_spec``, from this process's small LRU cache when loaded before."""
    cache_key = json.dumps(dataset_spec, sort_keys=True, separators=(",", ":"))
    if cache_key in _datasets:
        _datasets.move_to_end(cache_key)
        return _datasets[cache_key]
    options = dict(dataset_spec.get("options", {}))
    if "paths" in dataset_spec:
        splits = load_corpus(dataset_spec["paths"], format=dataset_spec.get("format", "text"), **options)
    else:
        splits = load_dataset(dataset_spec["name"], **options)
    _datasets[cache_key] = splits
    while len(_datasets) > _DATASET_CACHE_SIZE:
        _datasets.popitem(last=False)
    return splits


def clear_dataset_cache():
    """Forget the datasets this process has cached."""
    _datasets.clear()


def _dataset_info(splits):
    """``splits.info`` as JSON (the synthetic oracle's ``true_params`` arrays left out)."""
    return to_json({k: v for k, v in splits.info.items() if k != "true_params"})


# ============================================================================= model
def _build_model(cell):
    est = cell.build_model()  # make_model + random_state=cell_seed unless the suite set it
    if (cell.time_budget_s and "time_budget_s" in est.get_params(deep=False)
            and "time_budget_s" not in cell.params):
        est.set_params(time_budget_s=cell.time_budget_s)
    return est


def _n_parameters(est):
    n = getattr(est, "n_parameters_", None)
    if n is not None:
        return int(n)
    module = getattr(est, "module_", None)
    if module is not None and hasattr(module, "parameters"):
        return int(sum(p.numel() for p in module.parameters()))
    return None


def _history(est):
    history = getattr(est, "history_", None)
    return to_json(history) if isinstance(history, (list, tuple)) else None


def _warning_lines(caught, limit=20):
    """The distinct warnings a cell raised (e.g. ConvergenceWarning), kept with its row instead of printed."""
    lines = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


def _float(value):
    return float(value) if value is not None else None


# ============================================================================== rows
def _base_row(cell, status):
    row = dict.fromkeys(ROW_FIELDS)
    row.update(key=cell.key, dataset=cell.dataset, task=cell.task, model_id=cell.model_id, model=cell.model,
               seed=int(cell.seed), cell_seed=int(cell.cell_seed), status=status, spec=cell.spec, metrics={},
               versions=versions(), git_revision=git_revision(), dataset_info={})
    return row


def na_row(cell):
    """The row of a cell that does not apply (status "n/a"; the reason in ``error_message``)."""
    row = _base_row(cell, "n/a")
    row.update(error_message=cell.reason, started=now(), finished=now())
    return row


def failed_row(cell, exc, tb=None, *, started=None):
    """The row of a cell that raised ``exc`` outside :func:`execute_cell` (e.g. a worker that died)."""
    row = _base_row(cell, "failed")
    row.update(error_type=type(exc).__name__, error_message=str(exc),
               traceback=tb if tb is not None else "".join(traceback.format_exception(exc)),
               started=started or now(), finished=now(), peak_rss_mb=None)
    return row


def _fit_and_evaluate(cell, splits, row):
    """Fit and test-evaluate the cell's model, filling ``row`` in place."""
    task = TASKS[cell.task]
    if cell.model == ORACLE:  # the generating model of synthetic data: already fitted
        est = splits.oracle
        if est is None:
            raise ConfigError(f"dataset {cell.dataset!r} has no oracle (its generating model is not available)")
        row["fit_seconds"] = 0.0
    else:
        est = _build_model(cell)
        t0 = time.perf_counter()
        fitted = task.fit(est, splits)  # a probe may fit one clone per condition and return them together
        est = est if fitted is None else fitted
        row["fit_seconds"] = time.perf_counter() - t0
    # what the model ran on and with: its resolved device ("auto" -> "cpu"/"cuda") and its own thread count
    row["device"] = str(getattr(est, "device_", None) or est.get_params(deep=False).get("device", "cpu"))
    row["threads"] = int(getattr(est, "n_threads_", None) or row["threads"])
    row["n_parameters"] = _n_parameters(est)
    row["history"] = _history(est)
    t0 = time.perf_counter()
    result = task.evaluate(est, splits, "test")
    seconds = time.perf_counter() - t0
    row["eval_seconds"] = _float(result.get("eval_seconds", seconds))
    n_tokens = result.get("n_tokens")
    speed = result.get("tokens_per_s", n_tokens / seconds if n_tokens and seconds > 0 else None)
    row["tokens_per_s"] = _float(speed) if speed is not None and math.isfinite(speed) else None
    row["metrics"] = {k: float(v) for k, v in result.items()
                      if k not in _TIMING and not k.startswith("n_") and v is not None}
    counts = {k: int(v) for k, v in result.items() if k.startswith("n_")}
    row["dataset_info"] = {**row["dataset_info"], "evaluated": {"split": "test", **counts}}


def execute_cell(cell):
    """Run one cell and return its result row; never raises (but for KeyboardInterrupt).

    Parameters
    ----------
    cell : seqbench.harness.suite.Cell
        A pending cell (``execute_cell`` of an "n/a" cell returns its n/a row).

    Returns
    -------
    dict
        The row, with the fields listed in the module docstring; ``status`` is
        "ok", "failed" (``error_type`` e.g. "CellTimeout", "ConfigError",
        "MemoryError"), "unavailable" (dataset files missing) or "n/a".
    """
    if cell.status == "n/a":
        return na_row(cell)
    row = _base_row(cell, "ok")
    row["started"] = now()
    missing = unmet_requirements(getattr(cell, "requires", ()))
    if missing:
        row.update(status="unavailable", error_type="RequirementUnavailable", error_message=missing,
                   finished=now())
        return row
    t_start = time.perf_counter()
    try:
        with _one_thread() as threads, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            row["threads"] = threads
            splits = _load(cell.dataset_spec)
            row["dataset_info"] = _dataset_info(splits)
            t_start = time.perf_counter()
            with _time_budget(cell.time_budget_s):
                _fit_and_evaluate(cell, splits, row)
            row["warnings"] = _warning_lines(caught)
        elapsed = time.perf_counter() - t_start
        if cell.time_budget_s and elapsed > cell.time_budget_s:  # no signal could stop it (not main thread)
            raise CellTimeout(f"cell took {elapsed:.1f} s, over its time budget of {cell.time_budget_s:g} s "
                              f"(checked after it finished: it ran outside a main thread)")
    except DatasetUnavailableError as exc:
        row.update(status="unavailable", error_type=type(exc).__name__, error_message=str(exc),
                   traceback=traceback.format_exc())
    except Exception as exc:  # noqa: BLE001 - every failure of a cell becomes its row
        row.update(status="failed", metrics={}, error_type=type(exc).__name__, error_message=str(exc),
                   traceback=traceback.format_exc())
    row["peak_rss_mb"] = _peak_rss_mb()
    row["finished"] = now()
    return row
