"""Peer cases and their runner: seqbench and the libraries a user would otherwise pick, timed side by side.

A :class:`Case` is one operation on one data set (``hmm-score``: total
log-likelihood of 200k tokens under a 30-state HMM). Its ``setup(seed,
quick)`` builds the data from a seed and returns :class:`Contender` s: the
seqbench callable (``library="seqbench"``) and each peer's callable over the
same data and settings. A peer library is an optional import: when it does
not import, its row says ``unavailable`` with the command that installs it.

:func:`run_cases` runs, per case and in this order, untimed:

1. ``prepare`` of every contender (fit a peer model that a scoring call needs);
2. the agreement check ``agree() -> (seqbench value, peer value)``: the max
   absolute and relative difference, and whether it lies within the
   contender's tolerance (``rtol=None``: definitions differ, recorded only);
3. ``metrics()`` (accuracy, perplexity) once;

then ``repeats`` rounds, each timing every contender once in turn
(interleaved, so that load on the machine hits all of them alike), and
takes the median. A callable may return :class:`Measured` to report its own
time (a training loop timing its steps without the set-up). The ratio of a
peer row is ``seqbench seconds per item / peer seconds per item`` (below 1:
seqbench is faster); items are the tokens, steps or bytes a call processes,
so a slow peer may run on a subset.

Rows are plain dicts (:data:`ROW_KEYS`); :mod:`._store` keeps them in a
results store and :mod:`._table` prints them.
"""
from __future__ import annotations

import contextlib
import importlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..exceptions import ConfigError, DatasetUnavailableError

__all__ = ["Case", "Contender", "Measured", "Prepared", "Unavailable", "case", "all_cases", "select_cases",
           "run_cases", "run_case", "agreement", "main", "INSTALL_HINT", "ROW_KEYS"]

INSTALL_HINT = "pip install 'seqbench[peers]'"
CASE_MODULES = ("_machine", "_cases_hmm", "_cases_tagger", "_cases_ngram", "_cases_kalman", "_cases_neural")
ROW_KEYS = ("case", "family", "operation", "unit", "data", "contender", "library", "role", "status",
            "n_items", "seconds", "seconds_median", "seconds_min", "items_per_s", "time_ratio", "speedup",
            "agreement", "metrics", "flops", "gflops", "fraction_of_peak", "note", "error", "traceback")
_CASES: dict[str, "Case"] = {}


class Unavailable(Exception):
    """A case cannot run here (a corpus or a seqbench model is missing); the message says why."""


@dataclass(frozen=True)
class Measured:
    """A contender's own timing of its call: ``seconds`` replaces the runner's wall clock."""

    seconds: float
    value: Any = None


@dataclass
class Contender:
    """One implementation of a case's operation.

    Parameters
    ----------
    name : str
        Row label, e.g. ``"hmmlearn score (scaling)"``.
    library : str
        ``"seqbench"`` for the reference contender (at most one per case), a
        peer's distribution name, or ``"machine"`` for a physical limit.
    run : callable () -> object
        The timed call; may return :class:`Measured`.
    n_items : int
        Tokens, steps, FLOPs or bytes one call processes.
    requires : tuple of str
        Modules that must import (the peer library).
    install : str
        How to install what ``requires`` names.
    prepare : callable () -> None, optional
        Untimed set-up before the first timed call.
    agree : callable () -> (array_like, array_like), optional
        The same quantity from seqbench and from this contender.
    rtol, atol : float or None
        Agreement tolerance (``np.isclose`` rule); ``rtol=None`` records the
        difference without judging it (definitions differ).
    what : str
        What ``agree`` compares, e.g. ``"total log-likelihood"``.
    metrics : callable () -> dict of str to float, optional
        Untimed numbers for the row (accuracy, perplexity).
    flops : float or callable () -> float, optional
        Matrix-product FLOPs of one call (GFLOP/s and fraction of the peak);
        a callable is evaluated after ``prepare`` (when the network exists).
    note : str
    unit : str, optional
        What ``n_items`` counts, when not the case's unit.
    """

    name: str
    library: str
    run: Callable[[], Any]
    n_items: int
    requires: tuple = ()
    install: str = INSTALL_HINT
    prepare: Callable[[], Any] | None = None
    agree: Callable[[], tuple] | None = None
    rtol: float | None = 1e-8
    atol: float = 0.0
    what: str = ""
    metrics: Callable[[], dict] | None = None
    flops: float | Callable[[], float] | None = None
    note: str = ""
    unit: str | None = None

    @property
    def role(self):
        return {"seqbench": "seqbench", "machine": "limit"}.get(self.library, "peer")


@dataclass(frozen=True)
class Prepared:
    """What ``Case.setup`` returns: a description of the data and the contenders."""

    data: str
    contenders: list


@dataclass(frozen=True)
class Case:
    """A registered peer case; see the module doc."""

    name: str
    family: str
    operation: str
    unit: str
    setup: Callable[[int, bool], Prepared] = field(repr=False)
    description: str = ""


def case(name, family, operation, unit, description=""):
    """Register ``setup(seed, quick) -> Prepared`` as the case ``name``."""
    def deco(setup):
        if name in _CASES:
            raise ConfigError(f"peer case {name!r} is registered twice")
        _CASES[name] = Case(name, family, operation, unit, setup, description)
        return setup
    return deco


def all_cases():
    """Every registered case (the case modules imported on first use), machine limits first."""
    for module in CASE_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return list(_CASES.values())


def select_cases(cases, only=None):
    """The cases named (or of a family named) in ``only``; all when empty. Unknown names raise ConfigError."""
    if not only:
        return list(cases)
    names = [n.strip() for item in only for n in str(item).split(",") if n.strip()]
    known = {c.name for c in cases} | {c.family for c in cases}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown peer case {', '.join(map(repr, unknown))}; expected one of "
                          f"{', '.join(sorted(known))}")
    return [c for c in cases if c.name in names or c.family in names]


def importable(module):
    """True when ``module`` imports (a broken install counts as missing)."""
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - any import failure means the peer cannot run
        return False
    return True


# ------------------------------------------------------------------------------------ runner
def _row(case_, data, c=None, **values):
    """A result row of case ``case_`` for contender ``c`` (None: a row about the whole case)."""
    row = dict.fromkeys(ROW_KEYS)
    row.update(case=case_.name, family=case_.family, operation=case_.operation, unit=case_.unit, data=data,
               agreement=None, metrics={}, seconds=[], note="")
    if c is not None:
        row.update(contender=c.name, library=c.library, role=c.role, n_items=int(c.n_items), note=c.note,
                   unit=c.unit or case_.unit)
    row.update(values)
    return row


def agreement(ours, theirs, rtol, atol, what=""):
    """Max absolute and relative difference of ``theirs`` from ``ours`` and whether it is within tolerance.

    Parameters
    ----------
    ours, theirs : array_like of the same shape
    rtol : float or None
        None: the difference is recorded, not judged (``ok`` is None).
    atol : float

    Returns
    -------
    dict
        ``what``, ``max_abs``, ``max_rel`` (relative to ``|ours|``), ``rtol``, ``atol``, ``ok``.
    """
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    if a.shape != b.shape:
        return {"what": what, "max_abs": None, "max_rel": None, "rtol": rtol, "atol": atol, "ok": False,
                "detail": f"shapes differ: seqbench {a.shape}, peer {b.shape}"}
    with np.errstate(invalid="ignore"):  # inf - inf: judged by same_inf below
        diff = np.abs(a - b)
    finite = np.isfinite(a) & np.isfinite(b)
    same_inf = (a == b) & ~finite
    max_abs = float(diff[finite].max()) if finite.any() else 0.0
    scale = np.abs(a[finite])
    max_rel = float((diff[finite] / np.where(scale > 0, scale, 1.0)).max()) if finite.any() else 0.0
    ok = None
    if rtol is not None:
        ok = bool(np.all((finite & (diff <= atol + rtol * np.abs(a))) | same_inf))
    return {"what": what, "max_abs": max_abs, "max_rel": max_rel, "rtol": rtol, "atol": atol, "ok": ok}


def _error(exc):
    return f"{type(exc).__name__}: {exc}"


def _untimed(c, row):
    """Prepare, check agreement and collect metrics; False (row marked failed) when one raises."""
    try:
        if c.prepare is not None:
            c.prepare()
        row["flops"] = float(c.flops()) if callable(c.flops) else c.flops
        if c.agree is not None:
            ours, theirs = c.agree()
            row["agreement"] = agreement(ours, theirs, c.rtol, c.atol, c.what)
        if c.metrics is not None:
            row["metrics"] = {k: (None if v is None else float(v)) for k, v in c.metrics().items()}
    except Exception as exc:  # noqa: BLE001 - a peer's failure is a row, not the end of the run
        row.update(status="failed", error=_error(exc), traceback=traceback.format_exc(limit=8))
        return False
    return True


def _time_interleaved(live, repeats, clock):
    """``repeats`` rounds timing each live (contender, row) once, in order; a raising call fails its row."""
    for _ in range(repeats):
        for c, row in live:
            if row["status"] == "failed":
                continue
            t0 = clock()
            try:
                out = c.run()
            except Exception as exc:  # noqa: BLE001
                row.update(status="failed", error=_error(exc), traceback=traceback.format_exc(limit=8))
                continue
            elapsed = clock() - t0
            row["seconds"].append(float(out.seconds) if isinstance(out, Measured) else float(elapsed))


def _summarise(rows):
    """Medians, rates and ratios to the case's seqbench row (in place)."""
    for row in rows:
        if row["status"] == "ok" and row["seconds"]:
            row["seconds_median"] = float(np.median(row["seconds"]))
            row["seconds_min"] = float(np.min(row["seconds"]))
            row["items_per_s"] = row["n_items"] / row["seconds_median"] if row["seconds_median"] > 0 else None
    ours = next((r for r in rows if r["role"] == "seqbench" and r["items_per_s"]), None)
    for row in rows:
        if ours is not None and row["role"] in ("seqbench", "peer") and row["items_per_s"]:
            row["time_ratio"] = ours["seconds_median"] / ours["n_items"] / (row["seconds_median"] / row["n_items"])
            row["speedup"] = 1.0 / row["time_ratio"]


def run_case(case_, *, quick=False, seed=0, repeats=3, clock=time.perf_counter, available=importable,
             threads=False):
    """Rows of one case (see :func:`run_cases`)."""
    try:
        prepared = case_.setup(seed, quick)
    except (Unavailable, DatasetUnavailableError) as exc:
        return [_row(case_, "", status="unavailable", contender="(case)", library="seqbench", role="seqbench",
                     error=str(exc))]
    except Exception as exc:  # noqa: BLE001 - one broken case does not end the run
        return [_row(case_, "", status="failed", contender="(case set-up)", library="seqbench", role="seqbench",
                     error=_error(exc), traceback=traceback.format_exc(limit=8))]
    rows, live = [], []
    for c in prepared.contenders:
        missing = [m for m in c.requires if not available(m)]
        if missing:
            rows.append(_row(case_, prepared.data, c, status="unavailable",
                             error=f"{', '.join(missing)} not importable: {c.install}"))
            continue
        row = _row(case_, prepared.data, c, status="ok")
        rows.append(row)
        if _untimed(c, row):
            live.append((c, row))
    if threads:
        _pin_torch()  # importing a peer (pomegranate) may have reset torch's thread count
    _time_interleaved(live, repeats, clock)
    _summarise(rows)
    return rows


def add_peak_fractions(rows):
    """GFLOP/s of rows with ``flops`` and their fraction of the measured fp32 matmul peak (in place)."""
    peak = next((r for r in rows if r["case"] == "machine-limits" and r["unit"] == "FLOP"
                 and r["status"] == "ok" and r["seconds_min"]), None)
    peak_gflops = peak["n_items"] / peak["seconds_min"] / 1e9 if peak else None
    for row in rows:
        if row["flops"] and row["seconds_median"]:
            row["gflops"] = row["flops"] / row["seconds_median"] / 1e9
            row["fraction_of_peak"] = row["gflops"] / peak_gflops if peak_gflops else None
    return peak_gflops


@contextlib.contextmanager
def one_thread():
    """BLAS and torch on one thread for the whole run (importing a peer may reset torch's count)."""
    from threadpoolctl import threadpool_limits

    import torch

    before = torch.get_num_threads()
    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def run_cases(cases, *, quick=False, seed=0, repeats=3, clock=time.perf_counter, available=importable,
              on_case=None, threads=True):
    """Run ``cases`` one after the other; every contender of a case interleaved with the others.

    Parameters
    ----------
    cases : list of Case
    quick : bool
        Small sizes (seconds per case).
    seed : int
        Seeds every case's data.
    repeats : int
        Timed calls per contender; rows keep all and the median.
    clock : callable () -> float
        Seconds (injected by tests).
    available : callable (module name) -> bool
    on_case : callable (list of dict) -> None, optional
        Called with each case's rows as it finishes.
    threads : bool
        Pin BLAS and torch to one thread while running.

    Returns
    -------
    list of dict
        One row per contender (keys :data:`ROW_KEYS`); ``status`` is ``"ok"``,
        ``"failed"`` or ``"unavailable"``.
    """
    if repeats < 1:
        raise ConfigError(f"repeats={repeats}; expected at least 1")
    rows = []
    with one_thread() if threads else contextlib.nullcontext():
        for c in cases:
            got = run_case(c, quick=quick, seed=seed, repeats=repeats, clock=clock, available=available,
                           threads=threads)
            rows += got
            add_peak_fractions(rows)  # the machine limits run first: a case's rows are complete here
            if on_case is not None:
                on_case(got)
    return rows


def _pin_torch():
    import torch

    torch.set_num_threads(1)


# -------------------------------------------------------------------------------------- main
def main(*, quick=False, repeats=None, only=None, store=None, seed=0, echo=print):
    """``seqbench bench peers``: run, print the table, store the rows, write the page; returns the exit code.

    The page (:mod:`seqbench.report.peers_page`) is ``index.html`` beside the
    store; a store at ``<reports>/peers/peers.sqlite`` also refreshes
    ``<reports>/index.html``.

    Exit code 1 when a contender failed or a peer disagrees beyond its
    tolerance; unavailable peers do not count.
    """
    from ..harness.cell import now
    from ..harness.provenance import git_revision, machine, versions
    from ..report.peers_page import write_peers_page
    from ..report.render import write_index
    from ._store import DEFAULT_PATH, write_results
    from ._table import format_table

    everything = all_cases()
    cases = select_cases(everything, only)
    if any(c.family == "neural" for c in cases) and all(c.family != "machine" for c in cases):
        cases = [c for c in everything if c.family == "machine"] + cases  # the neural rows' limits
    repeats = repeats or (3 if quick else 5)
    size = "quick" if quick else "full"
    echo(f"seqbench bench peers: {len(cases)} cases, {size} sizes, median of {repeats} interleaved repeats, "
         f"1 thread, seed {seed}")
    started = now()
    t0 = time.perf_counter()
    rows = run_cases(cases, quick=quick, seed=seed, repeats=repeats,
                     on_case=lambda got: echo(format_table(got) + "\n"))
    path = Path(store) if store else DEFAULT_PATH
    info = {"size": size, "seed": seed, "repeats": repeats, "cases": [c.name for c in cases],
            "machine": machine(), "versions": versions(), "git_revision": git_revision(),
            "wall_seconds": time.perf_counter() - t0, "command": _command(quick, repeats, only, store, seed)}
    run_id = write_results(rows, path, info=info, started=started, finished=now())
    page = write_peers_page(path)
    if path.parent.name == "peers":  # the reports layout: reports/peers/peers.sqlite
        write_index(path.parent.parent)
    failed = [r for r in rows if r["status"] == "failed"]
    differ = [r for r in rows if (r.get("agreement") or {}).get("ok") is False]
    unavailable = [r for r in rows if r["status"] == "unavailable"]
    echo(f"{len(rows)} rows: {len(rows) - len(failed) - len(unavailable)} ok, {len(failed)} failed, "
         f"{len(unavailable)} unavailable, {len(differ)} disagreeing; {time.perf_counter() - t0:.1f} s; "
         f"store {path} (run {run_id}); page {page}")
    return 1 if failed or differ else 0


def _command(quick, repeats, only, store, seed):
    """The ``seqbench bench peers`` command line that reproduces a run (for the page's provenance)."""
    import shlex

    parts = ["seqbench bench peers", *(["--quick"] if quick else []), f"--repeats {repeats}",
             *(f"--only {shlex.quote(str(o))}" for o in only or ()), f"--seed {seed}",
             *([f"--store {shlex.quote(str(store))}"] if store else [])]
    return " ".join(parts)
