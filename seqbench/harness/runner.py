"""Running many cells: in-process, on local processes (joblib/loky) or on Dask; ONE writer.

:func:`run_cells` skips the cells the store already holds, writes the "n/a"
cells directly, runs the others with :func:`~seqbench.harness.cell.execute_cell`
on the chosen backend and writes each row from the calling process as it
arrives (``store.put``), so a crash or Ctrl-C loses only the cells in flight:
the next run redoes exactly those.

Backends
--------
``"sequential"``
    A plain loop in this process (tests, debugging, ``pdb``).
``"loky"``
    ``joblib.Parallel(n_jobs, backend="loky", return_as="generator_unordered")``,
    one cell per task (``batch_size=1``) so rows stream back as each finishes.
    The pool is joblib's reusable one: its workers (and the datasets they
    cached) survive between calls in one process.
``"dask"``
    ``dask.distributed``: ``Client(scheduler)`` for a running cluster (its
    workers need seqbench installed), else a ``LocalCluster`` of ``n_jobs``
    single-threaded worker processes without a dashboard, closed at the end.
    Workers of your own cluster should run without Dask's default
    ``MALLOC_TRIM_THRESHOLD_`` (set ``distributed.nanny.pre-spawn-environ.
    MALLOC_TRIM_THRESHOLD_: null`` in their Dask config): see :func:`_local_cluster`.
    A cell whose worker died (e.g. killed for memory) is written as failed
    with the error Dask reports (``KilledWorker``). Tasks run in worker
    threads, so time budgets are checked after a cell ends (see
    :mod:`seqbench.harness.cell`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from joblib import Parallel, delayed

from ..exceptions import ConfigError
from .cell import execute_cell, failed_row, na_row
from .suite import BACKENDS

__all__ = ["run_cells", "RunSummary", "BACKENDS"]



@dataclass(frozen=True)
class RunSummary:
    """What one :func:`run_cells` call did.

    Attributes
    ----------
    n_total : int
        Cells given.
    n_skipped_done : int
        Cells the store already held as done (ok, n/a; failed unless retrying).
    n_run : int
        Cells executed in this call (n/a cells are written, not run).
    n_ok, n_failed, n_na, n_unavailable : int
        Rows written in this call, by status.
    wall_seconds : float
        Wall-clock time of the call.
    """

    n_total: int
    n_skipped_done: int
    n_run: int
    n_ok: int
    n_failed: int
    n_na: int
    n_unavailable: int
    wall_seconds: float


def _sequential(cells, n_jobs, scheduler):
    for cell in cells:
        yield execute_cell(cell)


def _loky(cells, n_jobs, scheduler):
    parallel = Parallel(n_jobs=n_jobs, backend="loky", batch_size=1, return_as="generator_unordered")
    results = parallel(delayed(execute_cell)(cell) for cell in cells)
    try:
        yield from results
    finally:
        results.close()  # on an early exit (Ctrl-C, a failing writer) joblib aborts the tasks not yet run


def _local_cluster(n_workers):
    """A LocalCluster of single-threaded worker processes, without dashboard and without malloc trimming.

    Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers, which
    turns off glibc's dynamic mmap threshold: every large numpy temporary is
    then mapped and unmapped afresh, and allocation-heavy cells (HMM EM) ran
    2.4x slower. The cluster's workers keep glibc's default instead.
    """
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)


def _dask(cells, n_jobs, scheduler):
    from dask.distributed import Client, as_completed

    cluster = None if scheduler else _local_cluster(n_jobs)
    try:
        with Client(scheduler or cluster) as client:
            futures = {client.submit(execute_cell, cell, pure=False): cell for cell in cells}
            try:
                for future in as_completed(futures):
                    try:
                        yield future.result()
                    except Exception as exc:  # noqa: BLE001 - the worker died or the task could not run
                        yield failed_row(futures[future], exc)
                    future.release()
            finally:
                client.cancel(list(futures))  # an early exit: drop what has not run
    finally:
        if cluster is not None:
            cluster.close()


_RUNNERS = {"sequential": _sequential, "loky": _loky, "dask": _dask}
assert set(_RUNNERS) == set(BACKENDS)  # the suite schema and the runner accept the same backends


def run_cells(cells, store, *, backend="loky", n_jobs=1, scheduler=None, retry_failed=False, on_row=None):
    """Run the cells the store does not hold yet and write one row per cell.

    Parameters
    ----------
    cells : list of Cell
        From :func:`seqbench.harness.suite.expand_cells`.
    store : Store
        Anything with ``done_keys(retry_failed)`` and ``put(row)``; only this
        process writes to it.
    backend : {"loky", "dask", "sequential"}
    n_jobs : int
        Parallel cells (loky workers; LocalCluster workers).
    scheduler : str or None
        Dask scheduler address ("tcp://host:8786"); None starts a LocalCluster.
    retry_failed : bool
        Also re-run cells stored as failed.
    on_row : callable or None
        ``on_row(row, i, n)`` after each row is stored; ``i`` counts from 1 to
        ``n``, the number of rows this call writes (n/a and run cells).

    Returns
    -------
    RunSummary

    Raises
    ------
    ConfigError
        Unknown backend or ``n_jobs < 1``.
    KeyboardInterrupt
        Re-raised after stopping: rows written so far stay in the store;
        the cells in flight are run again next time.
    """
    if backend not in _RUNNERS:
        raise ConfigError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ConfigError(f"n_jobs must be an integer >= 1, got {n_jobs!r}")
    t0 = time.perf_counter()
    cells = list(cells)
    done = store.done_keys(retry_failed=retry_failed)
    fresh = [c for c in cells if c.key not in done]
    na = [c for c in fresh if c.status == "n/a"]
    todo = [c for c in fresh if c.status != "n/a"]
    counts = dict.fromkeys(("ok", "failed", "n/a", "unavailable"), 0)
    n = len(na) + len(todo)

    def write(row):
        store.put(row)
        counts[row["status"]] += 1
        if on_row is not None:
            on_row(row, sum(counts.values()), n)

    for cell in na:
        write(na_row(cell))
    if todo:
        for row in _RUNNERS[backend](todo, n_jobs, scheduler):
            write(row)
    return RunSummary(n_total=len(cells), n_skipped_done=len(cells) - len(fresh), n_run=len(todo),
                      n_ok=counts["ok"], n_failed=counts["failed"], n_na=counts["n/a"],
                      n_unavailable=counts["unavailable"], wall_seconds=time.perf_counter() - t0)
