"""Executing cells (seqbench.harness.cell) and running many of them (seqbench.harness.runner)."""
import datetime
import json
import math
import threading

import pytest
from _fake_models import execute_in_worker, register_slow, unregister_slow
from joblib import Parallel, delayed

from seqbench.data import load_dataset
from seqbench.exceptions import ConfigError
from seqbench.harness import cell as cell_module
from seqbench.harness.cell import execute_cell, failed_row
from seqbench.harness.runner import run_cells
from seqbench.harness.store import Store
from seqbench.harness.suite import expand_cells, parse_suite
from seqbench.models import HMM, NGram

TINY = {"n_states": 3, "n_symbols": 6, "n_sequences": 30, "length": 15}
# The Row of the harness specification, written out independently of the code.
ROW_FIELDS = {"key", "dataset", "task", "model_id", "model", "seed", "cell_seed", "status", "spec", "metrics",
              "fit_seconds", "eval_seconds", "tokens_per_s", "n_parameters", "peak_rss_mb", "versions",
              "threads", "device", "git_revision", "error_type", "error_message", "traceback", "history",
              "dataset_info", "started", "finished", "warnings"}


# ------------------------------------------------------------------------------ helpers
def suite_cells(models, seeds=(0,), datasets=None):
    doc = {"name": "t", "seeds": list(seeds), "tasks": ["lm", "tagging"],
           "datasets": datasets or [{"name": "synthetic-hmm", "options": TINY}], "models": models}
    return expand_cells(parse_suite(doc))


def only(cells, model_id, task):
    (found,) = [c for c in cells if c.model_id == model_id and c.task == task]
    return found


def tiny_data():
    return load_dataset("synthetic-hmm", **TINY)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "results.sqlite") as s:
        yield s


@pytest.fixture
def slow_key():
    yield register_slow()
    unregister_slow()


# ------------------------------------------------------------------------- execute_cell
def test_ok_lm_row_has_every_field_and_the_direct_perplexity():
    cells = suite_cells([{"id": "kn2", "model": "ngram", "params": {"order": 2}}])
    cell = only(cells, "kn2", "lm")
    row = execute_cell(cell)
    assert set(row) == ROW_FIELDS
    assert row["status"] == "ok", row["traceback"]
    data = tiny_data()
    logp = NGram(order=2).fit(data.train.X).score_tokens(data.test.X)
    total, count = sum(float(lp.sum()) for lp in logp), sum(len(x) for x in data.test.X)
    assert row["metrics"]["perplexity"] == pytest.approx(math.exp(-total / count), rel=1e-12)
    assert row["metrics"]["nll_per_token"] == pytest.approx(-total / count, rel=1e-12)
    assert set(row["metrics"]) == {"perplexity", "nll_per_token", "bits_per_token"}
    assert (row["key"], row["cell_seed"], row["model_id"], row["task"]) == (cell.key, cell.cell_seed, "kn2", "lm")
    assert row["threads"] == 1 and row["device"] == "cpu" and row["n_parameters"] is None
    assert row["fit_seconds"] > 0 and row["eval_seconds"] > 0 and row["tokens_per_s"] > 0
    assert row["peak_rss_mb"] > 10
    assert set(row["versions"]) == {"seqbench", "torch", "hmmlearn", "numpy", "python"}
    assert row["git_revision"] is None or len(row["git_revision"]) == 40
    assert row["dataset_info"]["n_tokens"]["test"] == count == row["dataset_info"]["evaluated"]["n_tokens"]
    assert row["error_type"] is row["traceback"] is None
    started, finished = (datetime.datetime.fromisoformat(row[k]) for k in ("started", "finished"))
    assert started.utcoffset() == datetime.timedelta(0) and started <= finished
    json.dumps(row, allow_nan=False)  # every field is plain JSON


def test_tagging_row_accuracy_matches_direct_prediction():
    cells = suite_cells([{"id": "tag", "model": "ngram", "params": {"order": 2}, "tasks": ["tagging"]}])
    row = execute_cell(only(cells, "tag", "tagging"))
    assert row["status"] == "ok", row["traceback"]
    data = tiny_data()
    pred = NGram(order=2).fit(data.train.X, data.train.y).predict(data.test.X)
    correct = sum(int((p == y).sum()) for p, y in zip(pred, data.test.y))
    assert row["metrics"]["accuracy"] == pytest.approx(correct / sum(len(y) for y in data.test.y), rel=1e-12)


def test_oracle_cells_score_the_generating_model():
    cells = suite_cells([{"id": "kn2", "model": "ngram", "params": {"order": 2}}])
    lm, tagging = (execute_cell(only(cells, "oracle", task)) for task in ("lm", "tagging"))
    assert lm["status"] == tagging["status"] == "ok", (lm["traceback"], tagging["traceback"])
    data = tiny_data()
    logp = data.oracle.score_tokens(data.test.X)
    nll = -sum(float(lp.sum()) for lp in logp) / sum(len(x) for x in data.test.X)
    assert lm["metrics"]["nll_per_token"] == pytest.approx(nll, rel=1e-12)
    states = data.oracle.predict(data.test.X)
    correct = sum(int((p == y).sum()) for p, y in zip(states, data.test.y))
    assert tagging["metrics"]["accuracy"] == pytest.approx(correct / sum(len(y) for y in data.test.y), rel=1e-12)
    assert lm["fit_seconds"] == 0.0  # nothing to fit


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_model_gets_the_cell_seed_as_random_state():
    cells = suite_cells([{"id": "hmm", "model": "hmm", "params": {"n_states": 3, "n_iter": 3}}], seeds=(0, 1))
    hmm_cells = [c for c in cells if c.model_id == "hmm" and c.task == "lm"]
    rows = [execute_cell(c) for c in hmm_cells]
    data = tiny_data()
    for cell, row in zip(hmm_cells, rows):
        est = HMM(n_states=3, n_iter=3, random_state=cell.cell_seed).fit(data.train.X)
        logp = est.score_tokens(data.test.X)
        nll = -sum(float(lp.sum()) for lp in logp) / sum(len(x) for x in data.test.X)
        assert row["metrics"]["nll_per_token"] == pytest.approx(nll, rel=1e-12)
    assert rows[0]["metrics"] != rows[1]["metrics"]  # two seeds, two different EM starts


def test_bad_params_give_a_failed_row_with_traceback():
    cells = suite_cells([{"id": "bad", "model": "ngram", "params": {"order": 0}, "tasks": ["lm"]}])
    row = execute_cell(only(cells, "bad", "lm"))
    assert row["status"] == "failed"
    assert row["error_type"] == "ConfigError" and "order" in row["error_message"]
    assert row["traceback"].startswith("Traceback") and "ConfigError" in row["traceback"]
    assert row["metrics"] == {} and set(row) == ROW_FIELDS


def test_missing_dataset_gives_unavailable(tmp_path):
    cells = suite_cells([{"id": "kn2", "model": "ngram", "params": {"order": 2}, "tasks": ["lm"]}],
                        datasets=[{"name": "ptb", "options": {"root": str(tmp_path)}}])
    row = execute_cell(only(cells, "kn2", "lm"))
    assert row["status"] == "unavailable"
    assert row["error_type"] == "DatasetUnavailableError" and "fetch" in row["error_message"]


def test_dataset_is_loaded_once_per_process(monkeypatch):
    calls = []
    real = cell_module.load_dataset
    monkeypatch.setattr(cell_module, "load_dataset", lambda name, **kw: calls.append(name) or real(name, **kw))
    cell_module.clear_dataset_cache()
    cells = suite_cells([{"id": "kn2", "model": "ngram", "params": {"order": 2}}], seeds=(0, 1, 2))
    assert all(execute_cell(c)["status"] == "ok" for c in cells)
    assert calls == ["synthetic-hmm"]


def test_time_budget_is_passed_to_a_model_that_takes_one(slow_key):
    cells = suite_cells([{"id": "s", "model": slow_key, "time_budget_s": 7.5}], seeds=(0,))
    row = execute_cell(only(cells, "s", "lm"))
    assert row["status"] == "ok", row["traceback"]
    assert row["metrics"]["nll_per_token"] == 7.5  # the model scored with the budget it received


def test_timeout_in_main_thread_interrupts_the_cell(slow_key):
    cells = suite_cells([{"id": "s", "model": slow_key, "params": {"delay": 30.0}, "time_budget_s": 0.2}])
    row = execute_cell(only(cells, "s", "lm"))
    assert row["status"] == "failed" and row["error_type"] == "CellTimeout"
    assert row["fit_seconds"] is None  # interrupted inside fit, not slept out
    assert "0.2" in row["error_message"] and "CellTimeout" in row["traceback"]


def test_timeout_outside_main_thread_is_checked_after_the_cell(slow_key):
    cells = suite_cells([{"id": "s", "model": slow_key, "params": {"delay": 0.4}, "time_budget_s": 0.1}])
    out = []
    worker = threading.Thread(target=lambda: out.append(execute_cell(only(cells, "s", "lm"))))
    worker.start()
    worker.join()
    assert out[0]["status"] == "failed" and out[0]["error_type"] == "CellTimeout"
    assert "after it finished" in out[0]["error_message"]


def test_timeout_in_a_loky_worker_interrupts_the_cell(slow_key):
    cells = suite_cells([{"id": "s", "model": slow_key, "params": {"delay": 60.0}, "time_budget_s": 0.3}])
    task = delayed(execute_in_worker)(only(cells, "s", "lm"))  # registers the fake model in the worker first
    ((row, in_main_thread),) = Parallel(n_jobs=2, backend="loky")([task])
    assert in_main_thread and row["status"] == "failed" and row["error_type"] == "CellTimeout"
    assert row["fit_seconds"] is None  # interrupted inside fit


def test_failed_row_of_an_exception_raised_outside_the_cell():
    cell = only(suite_cells([GRID[0]]), "kn2", "lm")
    try:
        raise RuntimeError("worker died")
    except RuntimeError as exc:
        row = failed_row(cell, exc)
    assert set(row) == ROW_FIELDS and row["status"] == "failed" and row["key"] == cell.key
    assert (row["error_type"], row["error_message"]) == ("RuntimeError", "worker died")
    assert "Traceback" in row["traceback"] and "worker died" in row["traceback"]


# ---------------------------------------------------------------------------- run_cells
GRID = [{"id": "kn2", "model": "ngram", "params": {"order": 2}},
        {"id": "hmm", "model": "hmm", "params": {"n_states": 3, "n_iter": 3}},
        {"id": "bad", "model": "ngram", "params": {"order": 0}, "tasks": ["lm"]},
        {"id": "kf", "model": "kalman", "params": {"state_dim": 1}}]  # continuous: n/a on both tasks


def metrics_by_key(store):
    return {r["key"]: (r["status"], r["metrics"]) for r in store.rows()}


def expected_counts(cells):
    """(ok, failed, n/a) of a first run: the "bad" model fails, every other pending cell is ok."""
    na = sum(c.status == "n/a" for c in cells)
    failed = sum(c.model_id == "bad" for c in cells)
    return len(cells) - na - failed, failed, na


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_backends_agree_and_reruns_skip_done_cells(tmp_path):
    cells = suite_cells(GRID, seeds=(0, 1))
    n_ok, n_failed, n_na = expected_counts(cells)
    assert n_ok >= 8 and n_failed == 2 and n_na == 4  # kf x (lm, tagging) is n/a for both seeds
    results = {}
    for backend, n_jobs in (("sequential", 1), ("loky", 2), ("dask", 2)):
        with Store(tmp_path / f"{backend}.sqlite") as store:
            progress = []
            summary = run_cells(cells, store, backend=backend, n_jobs=n_jobs,
                                on_row=lambda row, i, n: progress.append((i, n)))
            assert (summary.n_total, summary.n_skipped_done) == (len(cells), 0)
            assert summary.n_run == len(cells) - n_na  # n/a cells are written, not run
            assert (summary.n_ok, summary.n_failed, summary.n_na, summary.n_unavailable) == (n_ok, n_failed, n_na, 0)
            assert progress == [(i, len(cells)) for i in range(1, len(cells) + 1)]
            results[backend] = metrics_by_key(store)
            again = run_cells(cells, store, backend=backend, n_jobs=n_jobs)
            assert (again.n_run, again.n_skipped_done) == (0, len(cells))
    assert results["sequential"] == results["loky"] == results["dask"]
    assert sorted(results["sequential"]) == sorted(c.key for c in cells)


def test_retry_failed_reruns_only_failed_cells(store):
    cells = suite_cells([GRID[0], GRID[2]], seeds=(0,))
    n_ok, n_failed, n_na = expected_counts(cells)
    first = run_cells(cells, store, backend="sequential")
    assert (first.n_ok, first.n_failed, first.n_na) == (n_ok, n_failed, n_na) == (n_ok, 1, 0)
    assert run_cells(cells, store, backend="sequential").n_run == 0
    retry = run_cells(cells, store, backend="sequential", retry_failed=True)
    assert (retry.n_run, retry.n_failed, retry.n_skipped_done) == (1, 1, len(cells) - 1)


def test_interrupt_keeps_written_rows_and_the_next_run_finishes(store):
    cells = suite_cells([GRID[0]], seeds=(0, 1, 2))

    def stop_after_two(row, i, n):
        if i == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_cells(cells, store, backend="sequential", on_row=stop_after_two)
    assert len(store.rows()) == 2
    rest = run_cells(cells, store, backend="sequential")
    assert (rest.n_run, rest.n_skipped_done) == (len(cells) - 2, 2)
    assert sorted(r["key"] for r in store.rows()) == sorted(c.key for c in cells)


def test_bad_backend_or_n_jobs_is_a_config_error(store):
    cells = suite_cells([GRID[0]])
    with pytest.raises(ConfigError, match="backend"):
        run_cells(cells, store, backend="threads")
    with pytest.raises(ConfigError, match="n_jobs"):
        run_cells(cells, store, backend="sequential", n_jobs=0)


def test_model_warnings_are_kept_with_the_row():
    cells = suite_cells([{"id": "hmm", "model": "hmm", "params": {"n_states": 2, "n_iter": 1}, "tasks": ["lm"]}])
    row = execute_cell(only(cells, "hmm", "lm"))
    assert row["status"] == "ok"
    assert any(w.startswith("ConvergenceWarning: EM did not converge") for w in row["warnings"])


# ------------------------------------------------------------------------- requirements
def test_unmet_requirement_gives_unavailable_without_loading_data(monkeypatch):
    from seqbench.harness import requirements

    monkeypatch.setitem(requirements.REQUIREMENTS, "cuda", (lambda: False, "a CUDA device (none here)"))
    monkeypatch.setattr(cell_module, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    cell_module.clear_dataset_cache()
    cells = suite_cells([{"id": "gpu", "model": "ngram", "params": {"order": 2}, "tasks": ["lm"],
                          "requires": ["cuda"]}])
    row = execute_cell(only(cells, "gpu", "lm"))
    assert row["status"] == "unavailable" and row["error_type"] == "RequirementUnavailable"
    assert "a CUDA device (none here)" in row["error_message"] and set(row) == ROW_FIELDS


def test_met_requirement_runs_the_cell_and_unavailable_cells_are_not_done(monkeypatch, store):
    from seqbench.harness import requirements

    present = {"cuda": False}
    monkeypatch.setitem(requirements.REQUIREMENTS, "cuda", (lambda: present["cuda"], "a CUDA device"))
    cells = suite_cells([{"id": "gpu", "model": "ngram", "params": {"order": 2}, "tasks": ["lm"],
                          "requires": ["cuda"]}])
    first = run_cells(cells, store, backend="sequential")
    assert first.n_unavailable == 1 and first.n_ok == 2  # the oracle cells (lm, tagging) need nothing
    present["cuda"] = True  # the same store on a machine that has it: the pending cell runs now
    second = run_cells(cells, store, backend="sequential")
    assert second.n_run == 1 and second.n_ok == 1
    row = next(r for r in store.rows() if r["model_id"] == "gpu")
    data = tiny_data()
    logp = NGram(order=2).fit(data.train.X).score_tokens(data.test.X)
    total, count = sum(float(lp.sum()) for lp in logp), sum(len(x) for x in data.test.X)
    assert row["status"] == "ok" and row["metrics"]["perplexity"] == pytest.approx(math.exp(-total / count))


def test_unknown_requirement_is_a_config_error():
    with pytest.raises(ConfigError, match=r"models\[0\]\.requires\[0\].*unknown requirement 'tpu'.*cuda"):
        suite_cells([{"id": "m", "model": "ngram", "requires": ["tpu"]}])


# ----------------------------------------------------------------------------- selection
def test_select_cells_by_model_and_dataset():
    from seqbench.harness.suite import select_cells

    models = [{"id": "kn2", "model": "ngram", "params": {"order": 2}, "tasks": ["lm"]},
              {"id": "kn3", "model": "ngram", "params": {"order": 3}, "tasks": ["lm"]}]
    datasets = [{"name": "synthetic-hmm", "options": TINY},
                {"id": "other", "name": "synthetic-hmm", "options": {**TINY, "seed": 5}}]
    cells = suite_cells(models, datasets=datasets)
    assert {(c.model_id, c.dataset) for c in select_cells(cells, models=["kn3"])} == {
        ("kn3", "synthetic-hmm"), ("kn3", "other")}
    assert {(c.model_id, c.dataset) for c in select_cells(cells, models=["kn2"], datasets=["other"])} == {
        ("kn2", "other")}
    assert select_cells(cells) == cells
    with pytest.raises(ConfigError, match="unknown model id 'kn4'; valid: kn2, kn3"):
        select_cells(cells, models=["kn4"])
    with pytest.raises(ConfigError, match="unknown dataset id 'nope'"):
        select_cells(cells, datasets=["nope"])
