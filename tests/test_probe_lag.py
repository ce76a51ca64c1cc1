"""Lag-sweep probe: the generator's dependency sits exactly at lag k, and the probe's known answers.

Known answers: an n-gram of order m reads m - 1 tokens back, so on lag-k data
order k + 1 solves the minimal pairs (accuracy 1, dependent NLL ~ 0) and
order k is at chance (accuracy 1/2, dependent NLL = log n, the memoryless
bound). Tolerances: every sequence holds only k * log(n) nats of randomness
(the rest follows from it), so estimates vary from sequence to sequence
rather than from token to token: over ten seeds of the data used here the
chance-level accuracies spread over 0.43 .. 0.56 and the memoryless NLLs
over log 4 - 0.01 .. log 4 + 0.06.
"""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from seqbench.base import Tags, get_tags
from seqbench.data.probe_lag import lag_sweep_data
from seqbench.exceptions import ConfigError
from seqbench.models import NGram
from seqbench.tasks.probes import Sweep
from seqbench.tasks.probes import lag

N_SYMBOLS = 4
KS = (1, 2, 3)


@pytest.fixture(scope="module")
def data():
    return lag_sweep_data(ks=KS, n_symbols=N_SYMBOLS, n_sequences=200, n_test=100, seed=0)


@pytest.fixture(scope="module")
def results(data):
    """Metrics of n-gram orders 1 .. 4 on the sweep k = 1, 2, 3."""
    return {order: lag.evaluate(lag.fit(NGram(order=order), data), data) for order in (1, 2, 3, 4)}


# ------------------------------------------------------------------------------- generator
def _all_sequences(splits):
    return [x for _, part in splits for x in part.X]


def test_dependency_is_exactly_perm_at_lag_k(data):
    for k, cond in data.conditions.items():
        perm = cond.info["perm"]
        assert sorted(perm) == list(range(N_SYMBOLS))
        for x in _all_sequences(cond):
            assert len(x) == k + 32
            for t in range(k, len(x)):  # brute force, position by position
                assert x[t] == perm[x[t - k]]


def _conditional(X, j, k, n):
    """Empirical p(x_t = b | x_{t-j} = a) over every dependent position t >= k, shape (n, n)."""
    table = np.zeros((n, n))
    for x in X:
        np.add.at(table, (x[k - j: len(x) - j], x[k:]), 1)
    return table / table.sum(axis=1, keepdims=True)


def test_nothing_closer_than_k_predicts_the_token():
    k, n = 4, 3
    X = lag_sweep_data(ks=(k,), n_symbols=n, n_sequences=3000, seed=1).conditions[k].train.X
    perm = lag_sweep_data(ks=(k,), n_symbols=n, n_sequences=1, seed=1).info["perm"]
    exact = _conditional(X, k, k, n)
    np.testing.assert_array_equal(exact, np.eye(n)[perm])  # lag k: deterministic, x_t = perm[x_{t-k}]
    for j in range(1, k):  # every closer lag: uniform (about 1000 independent chains per row, SE ~0.015)
        np.testing.assert_allclose(_conditional(X, j, k, n), 1 / n, atol=0.07)


def test_every_token_is_marginally_uniform():
    X = np.concatenate(lag_sweep_data(ks=(2,), n_symbols=5, n_sequences=2000, seed=3).train.X)
    np.testing.assert_allclose(np.bincount(X, minlength=5) / X.size, 0.2, atol=0.02)


def test_minimal_pair_fields(data):
    for k, cond in data.conditions.items():
        for _, part in cond:
            P, R = part.extra["positions"], part.extra["replacements"]
            assert P.shape == R.shape == (len(part.X), 8)
            for x, p, r in zip(part.X, P, R):
                assert len(set(p.tolist())) == len(p)
                assert all(k <= t < len(x) for t in p)
                assert all(0 <= s < N_SYMBOLS and s != x[t] for t, s in zip(p, r))


def test_info_vocab_and_conditions(data):
    assert list(data.conditions) == list(KS)
    assert data.train is data.conditions[1].train
    assert data.info["kind"] == "probe-lag" and data.info["input_kind"] == "discrete"
    assert data.info["baseline_nll"] == pytest.approx(math.log(N_SYMBOLS))
    for key in ("name", "source", "licence", "split", "preprocessing"):
        assert data.info[key]
    cond = data.conditions[2]
    assert cond.info["k"] == 2 and cond.vocab.itos == ("s0", "s1", "s2", "s3")
    assert cond.vocab.counts.sum() == cond.train.n_tokens
    assert data.info["n_sequences"] == {"train": 200, "valid": 50, "test": 100}


def test_deterministic_for_a_seed_and_independent_of_the_other_lags():
    a = lag_sweep_data(ks=(1, 2, 4), n_sequences=20, seed=5)
    b = lag_sweep_data(ks=(4, 2, 1), n_sequences=20, seed=5)
    alone = lag_sweep_data(ks=(2,), n_sequences=20, seed=5)
    other = lag_sweep_data(ks=(2,), n_sequences=20, seed=6)
    for name in ("train", "valid", "test"):
        pa, pb, pc = (getattr(s.conditions[2], name) for s in (a, b, alone))
        for p in (pb, pc):
            np.testing.assert_array_equal(np.stack(pa.X), np.stack(p.X))
            np.testing.assert_array_equal(pa.extra["positions"], p.extra["positions"])
            np.testing.assert_array_equal(pa.extra["replacements"], p.extra["replacements"])
    assert not np.array_equal(np.stack(alone.train.X), np.stack(other.train.X))


def test_fixed_length_for_every_lag():
    d = lag_sweep_data(ks=(1, 5), length=12, n_sequences=4, n_queries=7)
    assert {len(x) for c in d.conditions.values() for x in c.train.X} == {12}


@pytest.mark.parametrize("options, name", [
    ({"ks": (0, 2)}, "ks"), ({"ks": ()}, "ks"), ({"ks": (2, 2)}, "ks"), ({"ks": 3}, "ks"), ({"ks": (1.5,)}, "ks"),
    ({"ks": (2, 8), "length": 8}, "length"), ({"ks": (1,), "length": 1}, "length"),
    ({"n_symbols": 1}, "n_symbols"), ({"n_sequences": 0}, "n_sequences"), ({"seed": -1}, "seed"),
    ({"n_queries": 0}, "n_queries"), ({"ks": (3,), "length": 6, "n_queries": 4}, "n_queries"),
])
def test_bad_options_raise_config_error_naming_them(options, name):
    with pytest.raises(ConfigError, match=name):
        lag_sweep_data(**options)


# ------------------------------------------------------------------------------ known answers
@pytest.mark.parametrize("k", KS)
def test_ngram_of_order_k_plus_1_solves_lag_k(results, k):
    out = results[k + 1]
    assert out[f"accuracy@k={k}"] == 1.0
    assert out[f"dependent_nll@k={k}"] < 0.05  # 0 but for the smoothing's discount (0.013 at k = 3)


@pytest.mark.parametrize("k", KS)
def test_ngram_of_order_k_is_at_chance_on_lag_k(results, k):
    out = results[k]
    assert abs(out[f"accuracy@k={k}"] - 0.5) < 0.1
    assert out[f"dependent_nll@k={k}"] == pytest.approx(math.log(N_SYMBOLS), abs=0.1)


def test_memoryless_model_scores_the_baseline(results):
    out = results[1]
    assert out["baseline_nll"] == pytest.approx(math.log(N_SYMBOLS))
    for k in KS:
        assert out[f"dependent_nll@k={k}"] == pytest.approx(math.log(N_SYMBOLS), abs=0.03)
        assert abs(out[f"accuracy@k={k}"] - 0.5) < 0.1
    assert out["memory_horizon"] == 0


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_memory_horizon_of_an_ngram_is_its_context(results, order):
    assert results[order]["memory_horizon"] == order - 1


def test_metrics_are_flat_numbers(results):
    out = results[2]
    assert out["n_pairs"] == 100 * 8 and isinstance(out["n_pairs"], int)
    assert out["n_tokens"] == sum(9 * 100 * (k + 32) for k in KS)  # true + 8 corrupted copies
    assert all(isinstance(v, (int, float)) for v in out.values())
    expected = {f"{m}@k={k}" for m in ("accuracy", "dependent_nll") for k in KS}
    assert expected <= set(out)


def test_memory_horizon_on_hand_made_accuracies():
    assert lag.memory_horizon({1: 1.0, 2: 0.95, 4: 0.6, 8: 0.5}) == 2
    assert lag.memory_horizon({1: 1.0, 2: 0.5, 4: 0.92}) == 4  # smaller lags need not pass
    assert lag.memory_horizon({1: 0.9, 2: 0.8999}) == 1  # the threshold itself passes
    assert lag.memory_horizon({1: 0.7, 2: 0.5}) == 0


# ----------------------------------------------------------------- minimal pairs by hand
class _Rule:
    """Scores x_t by hand: ``hit`` where x_t = perm[x_{t-k}] (t >= k), ``miss`` elsewhere, -log n before k."""

    def __init__(self, perm, k, hit=0.0, miss=-5.0):
        self.perm, self.k, self.hit, self.miss = np.asarray(perm), k, hit, miss

    def score_tokens(self, X, max_context=None):
        out = []
        for x in X:
            lp = np.full(len(x), -math.log(len(self.perm)))
            ok = x[self.k:] == self.perm[x[:-self.k]]
            lp[self.k:] = np.where(ok, self.hit, self.miss)
            out.append(lp)
        return out


def _sweep_of(data, **rule):
    return SimpleNamespace(models={k: _Rule(c.info["perm"], k, **rule) for k, c in data.conditions.items()})


def test_true_rule_gets_every_pair_and_zero_nll(data):
    out = lag.evaluate(_sweep_of(data), data)
    for k in KS:
        assert out[f"accuracy@k={k}"] == 1.0 and out[f"dependent_nll@k={k}"] == 0.0


def test_inverted_rule_gets_no_pair(data):
    out = lag.evaluate(_sweep_of(data, hit=-5.0, miss=0.0), data)
    assert all(out[f"accuracy@k={k}"] == 0.0 for k in KS)


def test_ties_count_one_half(data):
    out = lag.evaluate(_sweep_of(data, hit=-1.0, miss=-1.0), data)
    assert all(out[f"accuracy@k={k}"] == 0.5 for k in KS)


def test_pairs_compare_whole_sequence_totals(data):
    """The suffix comparison equals the comparison of whole-sequence totals, copy by copy."""
    cond = data.conditions[2]
    model = NGram(order=2).fit(cond.train.X)
    part = cond.test
    X, P, R = part.X[:10], part.extra["positions"][:10], part.extra["replacements"][:10]
    wins, _ = lag.minimal_pairs(model, X, P, R)
    checked = 0
    for i, x in enumerate(X):
        for j, (t, s) in enumerate(zip(P[i], R[i])):
            bad = x.copy()
            bad[t] = s
            true_total, bad_total = (model.score_tokens([seq])[0].sum() for seq in (x, bad))
            if not math.isclose(true_total, bad_total, rel_tol=1e-12, abs_tol=1e-12):
                assert wins[i, j] == float(true_total > bad_total)
                checked += 1
    assert checked > 40


def test_later_positions_count():
    """A model blind at the corrupted position still ranks the pair through the position k later."""
    k, length = 2, 20
    data = lag_sweep_data(ks=(k,), length=length, n_sequences=20, n_queries=6, seed=2)
    part = data.conditions[k].test

    class OddBlocks(_Rule):  # scores only positions s with (s // k) odd; 0 (no information) elsewhere
        def score_tokens(self, X, max_context=None):
            out = super().score_tokens(X)
            for lp in out:
                lp[(np.arange(len(lp)) // self.k) % 2 == 0] = 0.0
            return out

    P = part.extra["positions"]
    blind = ((P // k) % 2 == 0) & (P + k < length)  # the corrupted position is unscored, t + k is scored
    assert blind.sum() > 10
    wins, _ = lag.minimal_pairs(OddBlocks(data.info["perm"], k), part.X, P, part.extra["replacements"])
    assert np.all(wins[blind] == 1.0)


# ----------------------------------------------------------------------------- task protocol
def test_applies():
    data = lag_sweep_data(ks=(1,), n_sequences=2)
    assert lag.applies(get_tags(NGram()), data) is None
    assert lag.applies(Tags(input_kind="both", density=True), data) is None
    assert "discrete density" in lag.applies(Tags(input_kind="continuous"), data)
    assert "discrete density" in lag.applies(Tags(density=False, tagger=True), data)
    other = SimpleNamespace(info={"kind": "lm"})
    assert "lag probe" in lag.applies(get_tags(NGram()), other)


def test_fit_returns_one_clone_per_lag(data):
    template = NGram(order=2)
    sweep = lag.fit(template, data)
    assert isinstance(sweep, Sweep) and list(sweep.models) == list(KS)
    assert not hasattr(template, "fit_mode_")
    assert len({id(m) for m in sweep.models.values()}) == len(KS)
    assert all(m.fit_mode_ == "density" for m in sweep.models.values())


def test_one_condition_splits_is_its_own_sweep(data):
    cond = data.conditions[2]
    out = lag.evaluate(lag.fit(NGram(order=3), cond), cond)
    assert out["accuracy@k=2"] == 1.0 and out["memory_horizon"] == 2


def test_missing_minimal_pairs_is_a_config_error(data):
    cond = data.conditions[1]
    stripped = SimpleNamespace(conditions={1: SimpleNamespace(test=SimpleNamespace(X=cond.test.X, extra={}))},
                               info=cond.info)
    with pytest.raises(ConfigError, match="minimal pairs"):
        lag.evaluate(NGram(order=2).fit(cond.train.X), stripped)


def test_plain_entry_point():
    out = lag.lag_sweep(NGram(order=3), ks=(1, 2, 4), n_symbols=4, n_sequences=100, seed=0)
    assert out["memory_horizon"] == 2
    assert out["accuracy@k=4"] < 0.7


def test_tiny_lstm_uses_lag_one():
    from seqbench.models import LSTM

    est = LSTM(hidden_size=16, embedding_dim=8, batch_size=16, max_epochs=15, lr=0.02, valid_fraction=0.0,
               random_state=0, n_threads=1)
    out = lag.lag_sweep(est, ks=(1,), n_symbols=4, n_sequences=100, seed=0)
    assert out["accuracy@k=1"] >= 0.9
    assert out["dependent_nll@k=1"] < 0.5 * out["baseline_nll"]
