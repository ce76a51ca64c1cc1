"""``seqbench bench peers``: interleaving, medians and ratios on fake cases, unavailable peers,
agreement, the store round trip, and one real case (hmmlearn scoring) end to end."""
import numpy as np
import pytest
from typer.testing import CliRunner

from seqbench.bench import format_table, read_results, write_results
from seqbench.bench.peers import (Case, Contender, Measured, Prepared, Unavailable, agreement, all_cases,
                                  run_case, run_cases, select_cases)
from seqbench.cli import app
from seqbench.exceptions import ConfigError


class FakeClock:
    """A clock that only moves when a fake contender says how long it took."""

    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _timed(clock, log, name, durations):
    """A run callable that logs its call and advances the clock by the next duration."""
    it = iter(durations)

    def run():
        log.append(name)
        clock.t += next(it)
    return run


def _case(contenders, name="fake", data="fake data"):
    return Case(name, "fake", "op", "token", lambda seed, quick: Prepared(data, contenders))


def test_interleaved_median_and_ratio_with_a_fake_clock():
    clock, log = FakeClock(), []
    ours = Contender("ours", "seqbench", _timed(clock, log, "ours", [3.0, 1.0, 2.0]), n_items=100)
    peer = Contender("peer", "peerlib", _timed(clock, log, "peer", [8.0, 9.0, 7.0]), n_items=200)
    rows = run_case(_case([ours, peer]), repeats=3, clock=clock)
    assert log == ["ours", "peer"] * 3                     # one call each per round, in turn
    by = {r["contender"]: r for r in rows}
    assert by["ours"]["seconds"] == [3.0, 1.0, 2.0]
    assert by["ours"]["seconds_median"] == 2.0 and by["ours"]["seconds_min"] == 1.0
    assert by["peer"]["seconds_median"] == 8.0
    # seconds per item: ours 2/100 = 0.02, peer 8/200 = 0.04 -> ratio 0.5, seqbench twice as fast
    assert by["peer"]["time_ratio"] == pytest.approx(0.5)
    assert by["peer"]["speedup"] == pytest.approx(2.0)
    assert by["peer"]["items_per_s"] == pytest.approx(25.0)
    assert by["ours"]["time_ratio"] == pytest.approx(1.0)
    assert [r["role"] for r in rows] == ["seqbench", "peer"]


def test_measured_replaces_the_wall_clock_and_untimed_steps_run_first():
    clock, log = FakeClock(), []

    def ours():
        log.append("run")
        clock.t += 50.0                                    # set-up the contender leaves out of its time
        return Measured(4.0)

    c = Contender("ours", "seqbench", ours, n_items=8, prepare=lambda: log.append("prepare"),
                  metrics=lambda: log.append("metrics") or {"accuracy": 0.75}, flops=lambda: 16e9)
    row, = run_case(_case([c]), repeats=2, clock=clock)
    assert log == ["prepare", "metrics", "run", "run"]
    assert row["seconds"] == [4.0, 4.0] and row["items_per_s"] == 2.0
    assert row["metrics"] == {"accuracy": 0.75} and row["flops"] == 16e9


def test_peak_fraction_from_the_machine_limits_case():
    clock = FakeClock()
    matmul = Contender("matmul", "machine", _timed(clock, [], "m", [2.0, 1.0]), n_items=int(10e9), unit="FLOP")
    limits = Case("machine-limits", "machine", "limit", "FLOP", lambda s, q: Prepared("machine", [matmul]))
    net = Contender("net", "seqbench", lambda: Measured(4.0), n_items=10, flops=8e9)
    rows = run_cases([limits, _case([net])], repeats=2, clock=clock, threads=False)
    row = rows[-1]
    assert row["gflops"] == pytest.approx(2.0)             # 8e9 FLOPs in 4 s
    assert row["fraction_of_peak"] == pytest.approx(0.2)   # peak: 10e9 FLOPs in the fastest 1 s


def test_unavailable_peer_gives_a_row_with_the_install_hint():
    called = []
    ours = Contender("ours", "seqbench", lambda: None, n_items=1)
    peer = Contender("ghost peer", "ghostlib", lambda: called.append(1), n_items=1,
                     requires=("seqbench_no_such_module_xyz",), install="pip install ghostlib",
                     agree=lambda: called.append(2))
    rows = run_case(_case([ours, peer]), repeats=2)
    row = rows[1]
    assert row["status"] == "unavailable" and not called
    assert "seqbench_no_such_module_xyz" in row["error"] and "pip install ghostlib" in row["error"]
    assert row["time_ratio"] is None and rows[0]["status"] == "ok"
    assert "pip install ghostlib" in format_table(rows)


def test_an_unavailable_case_and_a_failing_peer_are_rows_not_errors():
    def setup(seed, quick):
        raise Unavailable("corpus X is not under SEQBENCH_DATA")

    row, = run_case(Case("needs-corpus", "fake", "op", "token", setup))
    assert row["status"] == "unavailable" and "SEQBENCH_DATA" in row["error"]

    def broken(seed, quick):
        raise ValueError("bad setup")

    row, = run_case(Case("broken", "fake", "op", "token", broken))
    assert row["status"] == "failed" and "ValueError: bad setup" in row["error"]

    def boom():
        raise RuntimeError("peer crashed")

    rows = run_case(_case([Contender("ours", "seqbench", lambda: None, 1), Contender("bad", "lib", boom, 1)]),
                    repeats=3)
    assert rows[0]["status"] == "ok" and len(rows[0]["seconds"]) == 3
    assert rows[1]["status"] == "failed" and "RuntimeError: peer crashed" in rows[1]["error"]


def test_agreement_arithmetic_and_a_disagreeing_peer():
    a = agreement([1.0, -200.0], [1.0 + 1e-12, -200.0 - 4e-8], rtol=1e-9, atol=0.0)
    assert a["max_abs"] == pytest.approx(4e-8) and a["max_rel"] == pytest.approx(2e-10)
    assert a["ok"] is True
    assert agreement([-200.0], [-200.002], rtol=1e-9, atol=0.0)["ok"] is False
    assert agreement([0.9], [0.7], rtol=None, atol=0.0)["ok"] is None          # recorded, not judged
    assert agreement([1.0, 2.0], [1.0], rtol=1e-9, atol=0.0)["ok"] is False   # shapes differ
    assert agreement([-np.inf], [-np.inf], rtol=1e-9, atol=0.0)["ok"] is True
    assert agreement([-np.inf], [0.0], rtol=1e-9, atol=0.0)["ok"] is False

    ours = Contender("ours", "seqbench", lambda: None, 1)
    liar = Contender("liar", "lib", lambda: None, 1, agree=lambda: (-1234.5, -1234.0), rtol=1e-10,
                     what="log-likelihood")
    row = run_case(_case([ours, liar]), repeats=1)[1]
    assert row["agreement"]["ok"] is False and row["agreement"]["max_abs"] == pytest.approx(0.5)
    assert "DIFFERS" in format_table([row])


def test_store_round_trip_keeps_the_latest_run(tmp_path):
    clock, log = FakeClock(), []
    ours = Contender("ours", "seqbench", _timed(clock, log, "o", [1.0, 3.0]), n_items=10,
                     metrics=lambda: {"accuracy": 0.5})
    peer = Contender("peer", "lib", _timed(clock, log, "p", [4.0, 4.0]), n_items=10,
                     agree=lambda: (2.0, 2.0), what="x")
    ghost = Contender("ghost", "ghostlib", lambda: None, 1, requires=("seqbench_no_such_module_xyz",))
    rows = run_case(_case([ours, peer, ghost]), repeats=2, clock=clock)
    path = tmp_path / "peers" / "peers.sqlite"
    info = {"size": "quick", "seed": 0}
    first = write_results(rows, path, info=info, started="2025-01-01T00:00:00+00:00",
                          finished="2025-01-01T00:00:01+00:00")
    back, run = read_results(path)
    assert run["id"] == first and run["info"]["kind"] == "peers" and run["summary"]["unavailable"] == 1
    assert [r["contender"] for r in back] == ["ours", "peer", "ghost"]
    for got, want in zip(back, rows):
        for k in ("case", "data", "library", "role", "status", "n_items", "seconds", "seconds_median",
                  "time_ratio", "agreement", "metrics", "unit"):
            assert got[k] == want[k], k
    assert back[1]["time_ratio"] == pytest.approx(0.5) and back[2]["error"] == rows[2]["error"]

    rows2 = run_case(_case([Contender("ours", "seqbench", lambda: None, 1)], name="other"), repeats=1)
    second = write_results(rows2, path, info=info, started="2025-01-02T00:00:00+00:00",
                           finished="2025-01-02T00:00:01+00:00")
    latest, run = read_results(path)
    assert run["id"] == second and [r["case"] for r in latest] == ["other"]
    everything, _ = read_results(path, run_id=None)
    assert len(everything) == 4


def test_select_cases_by_name_or_family():
    cases = all_cases()
    names = {c.name for c in cases}
    assert {"machine-limits", "hmm-score", "hmm-em", "tagger-tnt-tag", "ngram-score", "kalman-filter",
            "kalman-em", "neural-lstm", "neural-transformer"} <= names
    assert [c.name for c in select_cases(cases, ["kalman"])] == ["kalman-filter", "kalman-em"]
    assert [c.name for c in select_cases(cases, ["hmm-score,kalman-em"])] == ["hmm-score", "kalman-em"]
    with pytest.raises(ConfigError, match="no-such-case"):
        select_cases(cases, ["no-such-case"])


def test_hmm_score_case_end_to_end_through_the_cli(tmp_path):
    """Real data and libraries: seqbench and hmmlearn agree on the total log-likelihood; stored and printed."""
    store = tmp_path / "peers.sqlite"
    result = CliRunner().invoke(app, ["bench", "peers", "--quick", "--repeats", "1", "--only", "hmm-score",
                                      "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "hmmlearn score (scaling)" in result.output and "seqbench/peer" in result.output
    rows, run = read_results(store)
    by = {r["contender"]: r for r in rows}
    for name in ("hmmlearn score (scaling)", "hmmlearn score (log)"):
        assert by[name]["status"] == "ok" and by[name]["agreement"]["ok"] is True
        assert by[name]["agreement"]["max_rel"] < 1e-10 and by[name]["time_ratio"] > 0
    assert by["pomegranate DenseHMM.log_probability"]["status"] in ("ok", "unavailable")
    assert run["info"]["size"] == "quick" and run["info"]["repeats"] == 1


def test_tiny_hmm_total_log_likelihood_matches_brute_force():
    """The quantity hmm-score compares, on a 2-state HMM small enough to enumerate every path."""
    from itertools import product

    from seqbench.bench._cases_hmm import hmmlearn_model, path_log_prob

    start = np.array([0.6, 0.4])
    trans = np.array([[0.7, 0.3], [0.2, 0.8]])
    emit = np.array([[0.5, 0.4, 0.1], [0.1, 0.3, 0.6]])
    X = [np.array([0, 2, 1]), np.array([2, 2])]
    brute = 0.0
    for x in X:
        brute += np.log(sum(np.exp(path_log_prob([np.array(s)], [x], (start, trans, emit)))
                            for s in product(range(2), repeat=len(x))))
    lengths = np.array([3, 2])
    theirs = hmmlearn_model((start, trans, emit)).score(np.concatenate(X)[:, None], lengths)
    assert theirs == pytest.approx(brute, rel=1e-12)


def test_pomegranate_em_iteration_matches_brute_force_expected_counts():
    """pomegranate's EM step as the hmm-em case runs it (rows renormalised without its end
    probability) equals one EM step computed by enumerating every state path of a tiny HMM."""
    pytest.importorskip("pomegranate.hmm")
    from itertools import product
    from types import SimpleNamespace

    from seqbench.bench._cases_hmm import _pomegranate_em, path_log_prob

    start = np.array([0.6, 0.4])
    trans = np.array([[0.7, 0.3], [0.2, 0.8]])
    emit = np.array([[0.5, 0.4, 0.1], [0.1, 0.3, 0.6]])
    X = [np.array([0, 2, 1]), np.array([2, 2, 0]), np.array([1, 0])]
    n_start, n_trans, n_emit = np.zeros(2), np.zeros((2, 2)), np.zeros((2, 3))
    for x in X:
        paths = [np.array(s) for s in product(range(2), repeat=len(x))]
        weights = np.exp([path_log_prob([s], [x], (start, trans, emit)) for s in paths])
        weights /= weights.sum()
        for s, w in zip(paths, weights):
            n_start[s[0]] += w
            np.add.at(n_trans, (s[:-1], s[1:]), w)
            np.add.at(n_emit, (s, x), w)
    data = SimpleNamespace(params=(start, trans, emit), X=X)
    got = _pomegranate_em(data)()
    for theirs, counts in zip(got, (n_start, n_trans, n_emit)):
        expected = counts / counts.sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(theirs, expected, rtol=1e-10, atol=1e-12)
