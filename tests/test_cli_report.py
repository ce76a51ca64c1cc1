"""End to end: a tiny suite through the runner, the CLI and the HTML report."""
import json

from typer.testing import CliRunner

from seqbench.cli import app

SUITE = """
name = "tiny"
[[datasets]]
name = "synthetic-hmm"
options = { n_states = 3, n_symbols = 6, n_sequences = 40, length = 20, seed = 1 }
[[datasets]]
name = "ptb"
[[models]]
id = "kn2<b>"
model = "ngram"
params = { order = 2 }
[[models]]
id = "bad"
model = "ngram"
params = { order = 0 }
"""


def test_run_and_report(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQBENCH_DATA", str(tmp_path / "no-data-here"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(SUITE)
    runner = CliRunner()
    res = runner.invoke(app, ["run", str(tmp_path / "tiny.toml")])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "reports/tiny/results.json").read_text())
    by = {(r.get("dataset"), r.get("task"), r.get("model")): r for r in doc["rows"]}
    oracle = by[("synthetic-hmm", "lm", "oracle")]["perplexity"]
    kn2 = by[("synthetic-hmm", "lm", "kn2<b>")]["perplexity"]
    assert 1 < oracle < kn2 < 6  # no model beats the generating HMM; both beat uniform over 6 symbols
    assert by[("synthetic-hmm", "lm", "bad")]["status"] == "failed"  # a bad cell is recorded, the run goes on
    assert by[("ptb", None, None)]["status"] == "unavailable"
    res = runner.invoke(app, ["report"])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "reports/tiny/index.html").read_text()
    assert "kn2&lt;b&gt;" in html and "kn2<b>" not in html  # model ids are escaped
    assert "Content-Security-Policy" in html
    assert "tiny/index.html" in (tmp_path / "reports/index.html").read_text()


def test_list_models():
    res = CliRunner().invoke(app, ["list", "models"])
    assert res.exit_code == 0 and "ngram" in res.output.split()


def test_user_errors_are_one_message():
    res = CliRunner().invoke(app, ["fetch", "no-such-set"])
    assert res.exit_code == 2
    assert "unknown dataset 'no-such-set'" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["run", "no-such-suite"])
    assert res.exit_code == 2 and "no suite 'no-such-suite'" in res.output
