"""The results store: schema, upserts, done keys, non-finite values, the run lock, crash safety, export."""
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqbench.exceptions import ConfigError
from seqbench.harness.store import Store, StoreLockedError, export, results_frame

# One definition of a test row, shared with the child processes below.
ROW_SRC = textwrap.dedent('''
    import hashlib

    def make_row(i, status="ok", metrics=None):
        return {
            "key": hashlib.sha256(str(i).encode()).hexdigest(), "dataset": f"d{i % 3}",
            "task": "lm", "model_id": f"m{i % 5}", "model": "ngram", "seed": i,
            "cell_seed": 1000 + i, "status": status,
            "metrics": {"perplexity": 10.0 + i, "nll": 0.5 * i} if metrics is None else metrics,
            "spec": {"params": {"order": i % 4 + 1}, "seed": i}, "versions": {"seqbench": "0.1.0"},
            "history": [{"epoch": e, "loss": 1.0 / (e + 1)} for e in range(3)],
            "dataset_info": {"n_train": i}, "fit_seconds": 0.25 * i, "eval_seconds": 0.5,
            "tokens_per_s": 100.0 * i, "n_parameters": 10 * i, "peak_rss_mb": 12.5, "threads": 1,
            "device": "cpu", "git_revision": "abc", "error_type": None, "error_message": None,
            "traceback": None, "started": "2024-01-01T00:00:00Z", "finished": "2024-01-01T00:00:01Z",
        }
''')
_ns = {}
exec(ROW_SRC, _ns)
make_row = _ns["make_row"]

PUT_FOREVER = ROW_SRC + textwrap.dedent('''
    import sys
    from seqbench.harness.store import Store
    store = Store(sys.argv[1])
    store.lock()
    i = 0
    while True:
        store.put(make_row(i))
        print(i, flush=True)
        i += 1
''')
TRY_LOCK = textwrap.dedent('''
    import sys
    from seqbench.harness.store import Store, StoreLockedError
    try:
        Store(sys.argv[1]).lock()
    except StoreLockedError as e:
        print(e)
        sys.exit(3)
    print("GOT")
''')
HOLD_LOCK = textwrap.dedent('''
    import sys, time
    from seqbench.harness.store import Store
    Store(sys.argv[1]).lock()
    print("ready", flush=True)
    time.sleep(120)
''')


def _python(code, *args, **kw):
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "sub" / "results.db"


def test_schema_wal_and_version(path):
    Store(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    columns = [r[1] for r in db.execute("PRAGMA table_info(cells)")]
    assert columns == [
        "key", "dataset", "task", "model_id", "model", "seed", "cell_seed", "status",
        "fit_seconds", "eval_seconds", "tokens_per_s", "n_parameters", "peak_rss_mb", "threads",
        "device", "git_revision", "error_type", "error_message", "traceback", "started",
        "finished", "spec", "metrics", "versions", "history", "dataset_info", "extra"]


def test_newer_schema_is_refused(path):
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(ConfigError, match="schema 99"):
        Store(path)


def test_check_constraints_reject_bad_writes(path):
    Store(path).close()
    db = sqlite3.connect(path)
    row = make_row(1)
    sql = "INSERT INTO cells (key, dataset, task, model_id, model, status, metrics) VALUES (?,?,?,?,?,?,?)"
    base = [row[c] for c in ("key", "dataset", "task", "model_id", "model", "status")]
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute(sql, [*base, '{"perplexity": 1.0'])          # truncated JSON
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute(sql, [*base[:5], "done", "{}"])              # unknown status
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute(sql, ["xyz", *base[1:], "{}"])               # not a sha256 hex key
    db.execute(sql, [*base, '{"perplexity": 1.0}'])
    assert db.execute("SELECT count(*) FROM cells").fetchone()[0] == 1


def test_put_roundtrip_and_upsert(path):
    with Store(path) as store:
        store.put(make_row(7, status="failed", metrics={}))
        store.put(make_row(8))
        store.put(make_row(7))                                   # the re-run replaces the row
        assert len(store) == 2
        assert store.rows() == [make_row(7), make_row(8)]       # datasets d1, d2


def test_rows_order_by_dataset_then_model(path):
    with Store(path) as store:
        for i in (5, 4, 3):                                      # datasets d2, d1, d0
            store.put(make_row(i))
        assert [r["seed"] for r in store.rows()] == [3, 4, 5]


def test_done_keys(path):
    statuses = ["ok", "n/a", "failed", "unavailable"]
    with Store(path) as store:
        for i, status in enumerate(statuses):
            store.put(make_row(i, status=status))
        key = {s: make_row(i)["key"] for i, s in enumerate(statuses)}
        assert store.done_keys() == {key["ok"], key["n/a"], key["failed"]}
        assert store.done_keys(retry_failed=True) == {key["ok"], key["n/a"]}


def test_nonfinite_and_numpy_values_survive(path):
    metrics = {"a": float("nan"), "b": np.inf, "c": -np.inf, "d": np.float32(0.25), "e": None}
    row = make_row(1, metrics=metrics)
    row.update(seed=np.int64(1), n_parameters=np.int32(10), history=[{"loss": np.nan}])
    with Store(path) as store:
        store.put(row)
        got = store.rows()[0]
        raw = store._db.execute("SELECT metrics FROM cells").fetchone()[0]
    assert math.isnan(got["metrics"]["a"]) and got["metrics"]["b"] == math.inf
    assert got["metrics"]["c"] == -math.inf and got["metrics"]["d"] == 0.25 and got["metrics"]["e"] is None
    assert math.isnan(got["history"][0]["loss"])
    assert got["seed"] == 1 and type(got["seed"]) is int and got["n_parameters"] == 10

    def refuse(token):
        raise ValueError(token)

    stored = json.loads(raw, parse_constant=refuse)              # strict JSON: no NaN tokens
    assert stored == {"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": 0.25, "e": None}


def test_extra_keys_come_back(path):
    with Store(path) as store:
        store.put({**make_row(2), "time_budget_s": 5.0})
        assert store.rows()[0]["time_budget_s"] == 5.0


@pytest.mark.parametrize("change, match", [
    ({"status": "done"}, "status"),
    ({"model_id": None}, "lacks model_id"),
    ({"key": "ABC"}, "not a sha256"),
    ({"metrics": {"acc": "high"}}, r"metrics\['acc'\]"),
    ({"history": [{"w": object()}]}, r"history\[0\]\['w'\]"),
])
def test_bad_rows_raise_config_error(path, change, match):
    with Store(path) as store, pytest.raises(ConfigError, match=match):
        store.put({**make_row(3), **change})


def test_lock_refuses_second_process_then_allows(path):
    store = Store(path)
    with store.lock():
        child = _python(TRY_LOCK, path)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 3, err
        assert str(path) in out and f"pid {os.getpid()}" in out
        with Store(path) as other, pytest.raises(StoreLockedError):  # a second handle here too
            other.lock()
    child = _python(TRY_LOCK, path)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0 and out.strip() == "GOT", err
    assert issubclass(StoreLockedError, ConfigError)


def test_lock_released_when_holder_dies(path):
    Store(path).close()
    child = _python(HOLD_LOCK, path)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        with Store(path) as other, pytest.raises(StoreLockedError, match=f"pid {child.pid}"):
            other.lock()
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    with Store(path) as store, store.lock():
        assert Path(f"{path}.lock").read_text().strip() == str(os.getpid())


def test_sigkill_mid_run_loses_nothing_committed(path):
    child = _python(PUT_FOREVER, path)
    acked = []
    while len(acked) < 300:
        line = child.stdout.readline()
        assert line, child.stderr.read()
        acked.append(int(line))
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL
    acked += [int(x) for x in child.stdout.read().split()]  # what it printed before it died
    child.stdout.close(), child.stderr.close()
    assert acked == list(range(len(acked)))
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Store(path) as store:
        rows = {r["seed"]: r for r in store.rows()}
        assert set(range(len(acked))) <= set(rows) <= set(range(len(acked) + 1))  # + the one in flight
        assert all(rows[i] == make_row(i) for i in rows)
        with store.lock():                                       # the dead run's lock is gone
            pass


def _four_cells(path):
    with Store(path) as store:
        store.put(make_row(0, metrics={"perplexity": 12.5, "nll": math.log(12.5)}))
        store.put(make_row(1, metrics={"accuracy": 0.9, "odd": math.inf}))
        failed = make_row(2, status="failed", metrics={})
        store.put({**failed, "error_type": "ValueError", "error_message": "boom"})
        store.put({**make_row(3, status="n/a", metrics={}), "error_message": "no tags"})


def test_results_frame_is_tidy(path):
    _four_cells(path)
    frame = results_frame(path)
    assert list(frame.columns) == [
        "key", "dataset", "task", "model_id", "model", "seed", "status", "metric", "value",
        "fit_seconds", "eval_seconds", "tokens_per_s", "n_parameters", "peak_rss_mb", "threads",
        "device", "error_type", "error_message", "finished"]
    got = sorted(zip(frame["seed"], frame["metric"].fillna("-"), map(str, frame["value"])))
    assert got == [(0, "nll", str(math.log(12.5))), (0, "perplexity", "12.5"),
                   (1, "accuracy", "0.9"), (1, "odd", "inf"), (2, "-", "nan"), (3, "-", "nan")]
    by_seed = frame.drop_duplicates("seed").set_index("seed").sort_index()
    assert by_seed.loc[2, "status"] == "failed" and by_seed.loc[2, "error_message"] == "boom"
    assert by_seed.loc[3, "error_message"] == "no tags"
    assert list(by_seed["fit_seconds"]) == [0.0, 0.25, 0.5, 0.75]
    assert list(by_seed["n_parameters"]) == [0, 10, 20, 30]


def test_results_frame_of_missing_store(tmp_path):
    with pytest.raises(ConfigError, match="no results store"):
        results_frame(tmp_path / "none.db")
    assert not (tmp_path / "none.db").exists()
    with Store(tmp_path / "empty.db") as empty:
        assert len(results_frame(empty)) == 0


def _read_csv(path):
    return pd.read_csv(path, keep_default_na=False, na_values=[""])  # status "n/a" is no NA


@pytest.mark.parametrize("fmt, read", [("csv", _read_csv), ("parquet", pd.read_parquet)])
def test_export_roundtrip(path, tmp_path, fmt, read):
    _four_cells(path)
    out = export(path, tmp_path / "out" / f"results.{fmt}", format=fmt)
    back, frame = read(out), results_frame(path)
    assert sorted(back["status"]) == ["failed", "n/a", "ok", "ok", "ok", "ok"]
    pd.testing.assert_frame_equal(back, frame, check_dtype=(fmt == "parquet"))
    assert np.isinf(back["value"]).sum() == 1


def test_export_rejects_unknown_format(path, tmp_path):
    _four_cells(path)
    with pytest.raises(ConfigError, match="'xlsx'"):
        export(path, tmp_path / "r.xlsx", format="xlsx")


def test_run_records_round_trip(path):
    with Store(path) as store:
        first = store.begin_run({"suite": "quick", "targets": [{"value": 141.2}]}, "2026-01-01T00:00:00+00:00")
        second = store.begin_run({"suite": "quick"}, "2026-01-02T00:00:00+00:00")
        store.end_run(first, {"n_ok": 3, "wall_seconds": float("inf")}, "2026-01-01T00:01:00+00:00")
        runs = store.runs()
    assert [r["id"] for r in runs] == [first, second] and first < second
    assert runs[0]["finished"] == "2026-01-01T00:01:00+00:00" and runs[1]["finished"] is None
    assert runs[0]["info"]["targets"] == [{"value": 141.2}]
    assert runs[0]["summary"] == {"n_ok": 3, "wall_seconds": float("inf")} and runs[1]["summary"] is None


def test_schema_1_store_gains_the_runs_table(path):
    """A store written before the runs table existed opens, keeps its rows and can record runs."""
    Store(path).close()
    with sqlite3.connect(path) as db:  # make it look like a schema-1 file
        db.execute("DROP TABLE runs")
        db.execute("PRAGMA user_version=1")
    with Store(path) as store:
        store.put(make_row(1))
        assert store.runs() == []
        store.begin_run({"suite": "s"}, "t0")
        assert [r["info"] for r in store.runs()] == [{"suite": "s"}]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
