"""End to end: a suite through the CLI (run, validate, export, report) into a results store and HTML."""
import sqlite3

import pandas as pd
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.harness.store import Store

SUITE = """
name = "tiny"
seeds = [0]
[defaults]
backend = "sequential"
[[datasets]]
name = "synthetic-hmm"
options = { n_states = 3, n_symbols = 6, n_sequences = 40, length = 20, seed = 1 }
[[datasets]]
name = "ptb"
[[models]]
id = "kn2"
model = "ngram"
params = { order = {ORDER} }
tasks = ["lm"]
[[models]]
id = "tagger2"
model = "ngram"
params = { order = 2 }
tasks = ["tagging"]
[[models]]
id = "bad"
model = "ngram"
params = { order = 2, smoothing = "witten_bell", discount = 0.5 }
tasks = ["lm"]
"""


def _suite(tmp_path, order=2):
    path = tmp_path / "tiny.toml"
    path.write_text(SUITE.replace("{ORDER}", str(order)))
    return str(path)


def test_run_resume_report_export(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQBENCH_DATA", str(tmp_path / "no-data-here"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["run", _suite(tmp_path)])
    assert res.exit_code == 1, res.output  # the bad model failed: exit 1, the rest ran
    assert "[1/" in res.output and "done kn2 x synthetic-hmm x lm seed=0 perplexity=" in res.output
    with Store(tmp_path / "reports/tiny/results.sqlite") as store:
        rows = {(r["dataset"], r["task"], r["model_id"]): r for r in store.rows()}
    oracle = rows[("synthetic-hmm", "lm", "oracle")]["metrics"]["perplexity"]
    kn2 = rows[("synthetic-hmm", "lm", "kn2")]["metrics"]["perplexity"]
    assert 1 < oracle < kn2 < 6  # no model beats the generating HMM; both beat uniform over 6 symbols
    assert rows[("synthetic-hmm", "lm", "bad")]["error_type"] == "ConfigError"
    assert rows[("ptb", "lm", "kn2")]["status"] == "unavailable"
    assert rows[("synthetic-hmm", "tagging", "oracle")]["metrics"]["accuracy"] > 0.4

    # a second call runs nothing new but the cells that could not run (bad model, missing data)
    res = runner.invoke(app, ["run", _suite(tmp_path)])
    assert "already done" in res.output and "0 ok" in res.output, res.output
    # changing one hyperparameter re-runs only that model's cells; --retry-failed adds the failed one
    res = runner.invoke(app, ["run", _suite(tmp_path, order=3), "--retry-failed"])
    assert "4 already done, 4 run (1 ok, 1 failed, 2 unavailable: data or device)" in res.output, res.output

    res = runner.invoke(app, ["report"])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "reports/tiny/index.html").read_text()
    assert "tagger2" in html and "oracle" in html
    assert "Content-Security-Policy" in html and "unavailable" in html
    assert "tiny/index.html" in (tmp_path / "reports/index.html").read_text()

    res = runner.invoke(app, ["export", "tiny", "--format", "csv"])
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(tmp_path / "reports/tiny/results.csv", keep_default_na=False, na_values=[""])
    assert {"perplexity", "accuracy"} <= set(frame["metric"].dropna())
    con = sqlite3.connect(tmp_path / "reports/tiny/results.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_validate_and_list():
    runner = CliRunner()
    res = runner.invoke(app, ["validate", "quick"])
    assert res.exit_code == 0 and "quick: ok;" in res.output
    res = runner.invoke(app, ["list", "models"])
    assert res.exit_code == 0 and "ngram" in res.output.split()
    res = runner.invoke(app, ["list", "tasks"])
    assert res.output.split() == ["lm", "tagging", "continuous", "lag", "mi", "context", "transduction", "order",
                                  "adding", "copy"]


def test_user_errors_are_one_message(tmp_path):
    res = CliRunner().invoke(app, ["fetch", "no-such-set"])
    assert res.exit_code == 2
    assert "unknown dataset 'no-such-set'" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["run", "no-such-suite"])
    assert res.exit_code == 2 and "no suite 'no-such-suite'" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text(SUITE.replace("{ORDER}", "2").replace('id = "kn2"', 'id = "kn2"\nordr = 3'))
    res = CliRunner().invoke(app, ["validate", str(bad)])
    assert res.exit_code == 2 and "models[0]" in res.output and "ordr" in res.output


def test_run_part_of_a_suite_then_the_rest(tmp_path, monkeypatch):
    """--models runs only that model's cells; the report of the partial run still shows every stored cell."""
    monkeypatch.setenv("SEQBENCH_DATA", str(tmp_path / "no-data-here"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["run", _suite(tmp_path), "--models", "tagger2", "--datasets", "synthetic-hmm"])
    assert res.exit_code == 0, res.output
    with Store(tmp_path / "reports/tiny/results.sqlite") as store:
        assert {(r["model_id"], r["dataset"]) for r in store.rows()} == {("tagger2", "synthetic-hmm")}
    res = runner.invoke(app, ["run", _suite(tmp_path), "--models", "kn2,oracle", "--datasets", "synthetic-hmm"])
    assert res.exit_code == 0 and "0 already done" in res.output, res.output
    res = runner.invoke(app, ["report"])
    html = (tmp_path / "reports/tiny/index.html").read_text()
    assert "tagger2" in html and "kn2" in html  # the first partial run's cell is kept
    res = runner.invoke(app, ["run", _suite(tmp_path), "--models", "kn9"])
    assert res.exit_code == 2 and "unknown model id 'kn9'" in res.output


def test_merge_copies_cells_and_never_replaces_an_ok_cell_by_a_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQBENCH_DATA", str(tmp_path / "no-data-here"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    a, b, c = (tmp_path / f"{n}.sqlite" for n in "abc")
    for models, path in (("kn2", a), ("tagger2", b)):
        res = runner.invoke(app, ["run", _suite(tmp_path), "--models", models, "--datasets", "synthetic-hmm",
                                  "--store", str(path)])
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["merge", str(b), "--store", str(a)])
    assert res.exit_code == 0 and "1 cells copied, 0 kept" in res.output, res.output
    with Store(a) as store:
        rows = {r["model_id"]: r for r in store.rows()}
    assert set(rows) == {"kn2", "tagger2"} and rows["tagger2"]["status"] == "ok"
    # another machine's failed run of kn2 and a later ok run of tagger2
    failed = {**rows["kn2"], "status": "failed", "metrics": {}, "error_type": "RuntimeError", "error_message": "x",
              "finished": "2999-01-01T00:00:00+00:00"}
    later = {**rows["tagger2"], "metrics": {"accuracy": 0.5}, "finished": "2999-01-01T00:00:00+00:00"}
    with Store(c) as store:
        store.put(failed)
        store.put(later)
    res = runner.invoke(app, ["merge", str(c), "--store", str(a)])
    assert "1 cells copied, 1 kept" in res.output, res.output
    with Store(a) as store:
        rows = {r["model_id"]: r for r in store.rows()}
    assert rows["kn2"]["status"] == "ok" and rows["tagger2"]["metrics"] == {"accuracy": 0.5}
    res = runner.invoke(app, ["merge", str(tmp_path / "none.sqlite"), "--store", str(a)])
    assert res.exit_code == 2 and "no results store" in res.output


def test_progress_line_shows_the_task_headline_metric():
    from seqbench.cli import _headline

    tagging = {"task": "tagging", "metrics": {"perplexity": 309.6, "accuracy": 0.9613}}
    assert _headline(tagging) == "accuracy=0.9613"  # an HMM tagger also stores perplexity
    assert _headline({"task": "lm", "metrics": {"nll_per_token": 1.8, "perplexity": 6.03}}) == "perplexity=6.03"
