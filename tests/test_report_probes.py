"""Probe sections of the report: curves read back from "metric@cond=value" names, figures, and a real probe run."""
import re
import textwrap

import numpy as np
import pytest

from seqbench.harness.runner import run_cells
from seqbench.harness.store import Store
from seqbench.harness.suite import expand_cells, load_suite
from seqbench.report import write_report
from seqbench.report.sweep_figures import condition_curves, sweep_figure

from _html import parse


def test_condition_curves_reads_one_metric_sorted_by_condition():
    metrics = {"accuracy@k=4": (0.5, 0.1), "accuracy@k=1": (1.0, 0.0), "accuracy@k=16": 0.49,
               "dependent_nll@k=1": (0.0, 0.0), "memory_horizon": (1.0, 0.0), "accuracy@k=8": (float("nan"), 0)}
    name, x, y = condition_curves(metrics, "accuracy")
    assert name == "k"
    np.testing.assert_array_equal(x, [1, 4, 16])  # sorted numerically; the NaN point left out
    np.testing.assert_array_equal(y, [1.0, 0.5, 0.49])
    assert condition_curves(metrics, "nope")[1].size == 0


def test_sweep_figure_draws_series_references_and_marks():
    panels = [{"dataset": "probe-lag", "xlabel": "lag", "ylabel": "accuracy", "logx": True,
               "series": [{"label": "kn3", "x": [1, 2, 4], "y": [1.0, 1.0, 0.5], "mark": 2}],
               "references": [{"label": "chance", "y": 0.5},
                              {"label": "oracle", "x": [1, 2, 4], "y": [1.0, 1.0, 1.0]}]}]
    fig = sweep_figure(panels, fig_id="t-sweep", title="accuracy vs lag")
    assert fig.svg.startswith("<svg") and 'id="t-sweep-title"' in fig.svg
    assert "kn3 1 at 1 to 0.5 at 4 (mark at 2)" in fig.desc and "chance 0.5" in fig.desc
    assert "oracle 1 at 1 to 1 at 4" in fig.desc
    assert "mathdefault" not in fig.svg  # log ticks written as plain text, not mathtext
    with pytest.raises(ValueError, match="at least one panel"):
        sweep_figure([], fig_id="x", title="t")


SUITE = """
name = "probes"
seeds = [0]
tasks = ["lag"]
[defaults]
backend = "sequential"
[[datasets]]
name = "probe-lag"
options = { ks = [1, 2, 3, 4], n_symbols = 4, n_sequences = 200, seed = 0 }
[[models]]
id = "kn2"
model = "ngram"
params = { order = 2 }
[[models]]
id = "kn4"
model = "ngram"
params = { order = 4 }
"""


def test_a_lag_probe_run_reports_each_memory_horizon(tmp_path):
    """An n-gram of order n reaches back n - 1 tokens: horizons 1 and 3, shown in the board and the figure."""
    path = tmp_path / "probes.toml"
    path.write_text(textwrap.dedent(SUITE), encoding="utf-8")
    store_path = tmp_path / "reports" / "probes" / "results.sqlite"
    with Store(store_path) as store:
        run_cells(expand_cells(load_suite(path)), store, backend="sequential")
    html = write_report(store_path).read_text(encoding="utf-8")
    root, _ = parse(html)
    board = next(t for t in root.iter("table") if t.find("caption") is not None
                 and t.find("caption").text == "Probe: lag sweep (memory horizon) on probe-lag")
    rows = {tr.find("td").text: [td.text for td in tr.iter("td")] for tr in board.find("tbody").iter("tr")}
    assert list(rows) == ["kn4", "kn2"]  # best first: the longer memory horizon
    assert rows["kn4"][3] == "3" and rows["kn2"][3] == "1"
    desc = re.search(r'<desc id="[^"]*accuracy-desc">([^<]*)</desc>', html).group(1)
    assert "kn4 1 at 1 to" in desc and "(mark at 3)" in desc and "(mark at 1)" in desc
