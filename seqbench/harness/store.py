"""The results store: one SQLite row per cell, keyed by the cell key; a file lock per run.

Schema (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`): table ``cells`` with
``key`` (sha256 hex, primary key), scalar columns for what people filter on
(:data:`SCALARS`) and JSON text columns (:data:`JSONS`), each declared
``CHECK(json_valid(col))``. Row keys outside the schema go to the JSON column
``extra`` and come back as top-level keys from :meth:`Store.rows`.

Table ``runs`` (schema 2) keeps one record per ``seqbench run`` invocation:
``id``, ``started``, ``finished`` (NULL while running or after a crash) and a
JSON ``info`` (suite name, suite file path, its text and sha256, the published
targets, backend, machine) and ``summary`` (cell counts). The report reads its
provenance and reproduction targets from the latest record; stores from
schema 1 gain the empty table on open.

Non-finite floats: JSON has no NaN, so inside JSON columns ``nan``, ``inf`` and
``-inf`` are stored as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
(what ``json_extract`` shows) and read back as floats; a genuine string with one
of those three values would also read back as a float. In scalar REAL columns
SQLite keeps ``inf`` and turns NaN into NULL.

Durability: WAL mode with ``synchronous=NORMAL``. Every :meth:`Store.put` is its
own ``BEGIN IMMEDIATE`` transaction, committed before it returns, so a run killed
by SIGKILL loses at most the cell in flight; an operating-system crash or power
loss may roll back the last few commits, never corrupt the file.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import sqlite3
import threading
from pathlib import Path

import numpy as np

from ..exceptions import ConfigError

__all__ = ["Store", "StoreLockedError", "merge_into", "results_frame", "export", "SCHEMA_VERSION"]

SCHEMA_VERSION = 2
STATUSES = ("ok", "failed", "n/a", "unavailable")
REQUIRED = ("key", "dataset", "task", "model_id", "model", "status")
SCALARS = {
    "dataset": "TEXT NOT NULL", "task": "TEXT NOT NULL", "model_id": "TEXT NOT NULL",
    "model": "TEXT NOT NULL", "seed": "INTEGER", "cell_seed": "INTEGER",
    "status": f"TEXT NOT NULL CHECK(status IN {STATUSES})",
    "fit_seconds": "REAL", "eval_seconds": "REAL", "tokens_per_s": "REAL",
    "n_parameters": "INTEGER", "peak_rss_mb": "REAL", "threads": "INTEGER",
    "device": "TEXT", "git_revision": "TEXT", "error_type": "TEXT",
    "error_message": "TEXT", "traceback": "TEXT", "started": "TEXT", "finished": "TEXT",
}
JSONS = {"spec": {}, "metrics": {}, "versions": {}, "history": None, "dataset_info": {}, "extra": {}}
COLUMNS = ("key", *SCALARS, *JSONS)
COST_COLUMNS = ("fit_seconds", "eval_seconds", "tokens_per_s", "n_parameters", "peak_rss_mb",
                "threads", "device")
INFO_COLUMNS = ("error_type", "error_message", "finished")
_HEX = "0123456789abcdef"
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

_SCHEMA = [
    "CREATE TABLE cells (\n  key TEXT PRIMARY KEY CHECK(length(key) = 64 AND key NOT GLOB '*[^0-9a-f]*'),\n  "
    + ",\n  ".join([f"{c} {t}" for c, t in SCALARS.items()]
                   + [f"{c} TEXT CHECK({c} IS NULL OR json_valid({c}))" for c in JSONS]) + "\n)",
    "CREATE INDEX cells_grid ON cells (dataset, task, model_id, seed)",
    "CREATE INDEX cells_status ON cells (status)",
]
_RUNS_TABLE = ("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL, finished TEXT, "
               "info TEXT NOT NULL CHECK(json_valid(info)), summary TEXT CHECK(summary IS NULL OR json_valid(summary)))")
_SCHEMA.append(_RUNS_TABLE)
# _MIGRATIONS[v]: SQL statements taking a store from schema version v to v + 1.
_MIGRATIONS: dict[int, list[str]] = {1: [_RUNS_TABLE]}
_UPSERT = (f"INSERT INTO cells ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
           f"ON CONFLICT(key) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in COLUMNS[1:])}")


class StoreLockedError(ConfigError):
    """Another process holds the store's file lock (another run is using it)."""


def _to_json(value, where):
    """JSON-able copy of ``value``: numpy -> python, non-finite floats -> strings; else ConfigError."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        return {str(k): _to_json(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise ConfigError(f"{where} is a {type(value).__name__} ({value!r:.60}), not a JSON value")


def _from_json(value):
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return _NONFINITE.get(value, value) if isinstance(value, str) else value


def _encode(row):
    """The tuple of column values (in :data:`COLUMNS` order) for one result row."""
    missing = [k for k in REQUIRED if row.get(k) is None]
    if missing:
        raise ConfigError(f"result row {row.get('key')!r} lacks {', '.join(missing)}")
    if not (isinstance(row["key"], str) and len(row["key"]) == 64 and set(row["key"]) <= set(_HEX)):
        raise ConfigError(f"row key {row['key']!r} is not a sha256 hex digest")
    if row["status"] not in STATUSES:
        raise ConfigError(f"row[{row['key']!r}].status is {row['status']!r}; expected one of {STATUSES}")
    for name, v in (row.get("metrics") or {}).items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.number))):
            raise ConfigError(f"row[{row['key']!r}].metrics[{name!r}] is {v!r}; expected a number")
    extra = {k: v for k, v in row.items() if k not in COLUMNS}
    out = []
    for c in COLUMNS:
        v = extra if c == "extra" else row.get(c, JSONS.get(c))
        if c in JSONS:
            v = None if v is None else json.dumps(_to_json(v, f"row[{row['key']!r}].{c}"),
                                                  sort_keys=True, allow_nan=False)
        elif isinstance(v, np.generic):
            v = v.item()
        out.append(v)
    return tuple(out)


def _decode(record):
    row = dict(zip(COLUMNS, record))
    for c in JSONS:
        row[c] = None if row[c] is None else _from_json(json.loads(row[c]))
    row.update(row.pop("extra") or {})
    return row


class _FileLock:
    """An exclusive, non-blocking ``fcntl.flock`` on ``lock_path``, holding the owner's pid."""

    def __init__(self, lock_path, store_path):
        self.fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise StoreLockedError(
                f"another seqbench run is using {store_path} (pid {pid}); wait for it to end "
                f"or stop it (lock file {lock_path})") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self):
        if self.fd is not None:
            os.ftruncate(self.fd, 0)  # still held: no other holder's pid is erased
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class Store:
    """SQLite store of result rows, one per cell key.

    Parameters
    ----------
    path : str or Path
        The database file; parent folders are created.
    create : bool, default True
        When False, a missing file raises :class:`ConfigError` instead of being created.
    """

    def __init__(self, path, *, create=True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise ConfigError(f"no results store at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._mutex = threading.Lock()
        self._lock = None
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def _query(self, sql, params=()):
        with self._mutex:
            return self._db.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def _transaction(self):
        """One BEGIN IMMEDIATE transaction (the write lock taken up front), committed on exit."""
        with self._mutex:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self):
        """Create the schema in a new file or migrate an older one to :data:`SCHEMA_VERSION`."""
        if self._query("PRAGMA user_version")[0][0] == SCHEMA_VERSION:
            return
        with self._transaction() as db:  # re-read: another process may have just migrated
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(f"{self.path} has store schema {version}; this seqbench reads "
                                  f"up to {SCHEMA_VERSION}: upgrade seqbench")
            steps = _SCHEMA if version == 0 else [s for v in range(version, SCHEMA_VERSION)
                                                  for s in _MIGRATIONS[v]]
            for sql in steps:
                db.execute(sql)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def lock(self):
        """Take the run lock on ``f"{path}.lock"`` (a context manager); :class:`StoreLockedError` if held."""
        self._lock = _FileLock(f"{self.path}.lock", self.path)
        return self._lock

    def put(self, row):
        """Insert ``row`` (a result dict, see the module doc) or replace the row with its key."""
        values = _encode(row)
        with self._transaction() as db:
            db.execute(_UPSERT, values)

    def done_keys(self, retry_failed=False):
        """Keys that need no re-run: status ok or n/a, and failed unless ``retry_failed``."""
        done = ("ok", "n/a") if retry_failed else ("ok", "n/a", "failed")
        sql = f"SELECT key FROM cells WHERE status IN ({', '.join('?' * len(done))})"
        return {k for (k,) in self._query(sql, done)}

    def rows(self):
        """Every row as a dict (JSON columns decoded), ordered by dataset, task, model id, seed."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM cells ORDER BY dataset, task, model_id, seed, key"
        return [_decode(r) for r in self._query(sql)]

    def begin_run(self, info, started):
        """Record the start of a run (``info``: a JSON-able dict); returns the run's id."""
        text = json.dumps(_to_json(info, "run info"), sort_keys=True, allow_nan=False)
        with self._transaction() as db:
            return db.execute("INSERT INTO runs (started, info) VALUES (?, ?)", (started, text)).lastrowid

    def end_run(self, run_id, summary, finished):
        """Record the end of run ``run_id`` with its ``summary`` (a JSON-able dict of counts)."""
        text = json.dumps(_to_json(summary, "run summary"), sort_keys=True, allow_nan=False)
        with self._transaction() as db:
            db.execute("UPDATE runs SET finished = ?, summary = ? WHERE id = ?", (finished, text, run_id))

    def runs(self):
        """Every run record, oldest first: dicts with id, started, finished, info, summary."""
        records = self._query("SELECT id, started, finished, info, summary FROM runs ORDER BY id")
        return [{"id": i, "started": s, "finished": f, "info": _from_json(json.loads(info)),
                 "summary": None if summary is None else _from_json(json.loads(summary))}
                for i, s, f, info, summary in records]

    def __len__(self):
        return self._query("SELECT count(*) FROM cells")[0][0]

    def close(self):
        """Close the database and release the lock if this store holds it."""
        if self._lock is not None:
            self._lock.release()
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def merge_into(store, source_path):
    """Copy the rows of the store at ``source_path`` into ``store`` (e.g. the GPU rows run elsewhere).

    A source row replaces the row with its key unless that row is ``"ok"``
    and the source row is not, or both are ok and the source's finished
    earlier: an ok result is never replaced by a failure or by an older run.

    Returns
    -------
    dict
        ``{"copied": n, "kept": n}``: rows written, rows left as they were.
    """
    ours = {r["key"]: r for r in store.rows()}
    with Store(source_path, create=False) as source:
        rows = source.rows()
    copied = 0
    for row in rows:
        mine = ours.get(row["key"])
        if mine is not None and mine["status"] == "ok" and (
                row["status"] != "ok" or (row.get("finished") or "") < (mine.get("finished") or "")):
            continue
        store.put(row)
        copied += 1
    return {"copied": copied, "kept": len(rows) - copied}


def results_frame(store_or_path):
    """Tidy results: one row per cell x metric; a cell without metrics appears once with metric None.

    Parameters
    ----------
    store_or_path : Store or str or Path

    Returns
    -------
    pandas.DataFrame, shape (sum over cells of max(1, n_metrics), 19)
        Columns key, dataset, task, model_id, model, seed, status, metric, value, the
        cost columns :data:`COST_COLUMNS` and :data:`INFO_COLUMNS` (error_type,
        error_message: the reason of an n/a or unavailable cell, finished);
        ``value`` is float (NaN and inf preserved).
    """
    import pandas as pd

    if isinstance(store_or_path, Store):
        rows = store_or_path.rows()
    else:
        with Store(store_or_path, create=False) as store:
            rows = store.rows()
    ids = ("key", "dataset", "task", "model_id", "model", "seed", "status")
    records = []
    for row in rows:
        base = {c: row.get(c) for c in ids}
        cost = {c: row.get(c) for c in (*COST_COLUMNS, *INFO_COLUMNS)}
        metrics = row.get("metrics") or {None: None}
        records += [{**base, "metric": m, "value": v, **cost} for m, v in metrics.items()]
    columns = [*ids, "metric", "value", *COST_COLUMNS, *INFO_COLUMNS]
    frame = pd.DataFrame.from_records(records, columns=columns)
    floats = ("value", "fit_seconds", "eval_seconds", "tokens_per_s", "peak_rss_mb")
    return frame.astype({**dict.fromkeys(("seed", "n_parameters", "threads"), "Int64"),
                         **dict.fromkeys(floats, "float64")})


def export(store_or_path, out_path, format="csv"):
    """Write :func:`results_frame` to ``out_path`` as ``"csv"`` or ``"parquet"``; return the path.

    pandas reads the status ``"n/a"`` as missing by default: read the CSV back with
    ``pd.read_csv(path, keep_default_na=False, na_values=[""])``.
    """
    if format not in ("csv", "parquet"):
        raise ConfigError(f"export format is {format!r}; expected 'csv' or 'parquet'")
    frame = results_frame(store_or_path)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "csv":
        frame.to_csv(out, index=False)
    else:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError("parquet export needs pyarrow: pip install 'pyarrow>=14'") from None
        frame.to_parquet(out, index=False, engine="pyarrow")
    return out
