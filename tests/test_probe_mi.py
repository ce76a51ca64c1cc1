"""The mutual-information decay probe: estimator, curve fits, critical grammars, the task.

Known answers: brute-force pair counting, the plug-in bias formula, the
closed form of a binary Markov chain, the exact MI of an HMM
(``_hmm_analysis``), exact power laws and exponentials, the first-return law
of a critical random walk.
"""
from collections import Counter

import numpy as np
import pytest
from scipy.special import digamma

from seqbench.base import Tags
from seqbench.data.pcfg import bracket_sequences, pcfg_brackets, pcfg_substitution
from seqbench.data.splits import Split, Splits
from seqbench.data.synthetic import synthetic_hmm
from seqbench.exceptions import ConfigError, InvalidSequenceError, NumericalError
from seqbench.models import HMM, NGram
from seqbench.models._hmm_analysis import mutual_information, stationary_distribution
from seqbench.tasks.probes import mi
from seqbench.tasks.probes._curvefit import fit_decay
from seqbench.tasks.probes._mi_estimate import log_distances, mutual_information_curve


# ------------------------------------------------------------------ helpers
def binary_chain(n_sequences, length, flip, rng):
    """A fair bit that flips with probability ``flip`` each step (stationary start)."""
    start = rng.integers(0, 2, size=(n_sequences, 1))
    return list((start + np.cumsum(rng.random((n_sequences, length)) < flip, axis=1)) % 2)


def binary_chain_mi(flip, d):
    """Closed form: the bits agree with probability q = (1 + (1 - 2 flip)^d) / 2; I = log 2 - H(q)."""
    q = (1.0 + (1.0 - 2.0 * flip) ** np.asarray(d, dtype=float)) / 2.0
    return np.log(2.0) + q * np.log(q) + (1.0 - q) * np.log1p(-q)


def brute_force_counts(X, d):
    """Counter of (x_t, x_{t+d}) over pairs inside each sequence, by plain Python loops."""
    pairs = Counter()
    for x in X:
        for t in range(len(x) - d):
            pairs[(int(x[t]), int(x[t + d]))] += 1
    return pairs


def entropy_from(counts, kind):
    n = np.array(list(counts), dtype=float)
    N = n.sum()
    if kind == "grassberger":  # Grassberger (2003), eq. (35), written out from the paper
        G = digamma(n) + 0.5 * (-1.0) ** n * (digamma((n + 1) / 2) - digamma(n / 2))
        return np.log(N) - (n * G).sum() / N
    h = -(n / N * np.log(n / N)).sum()
    return h + (len(n) - 1) / (2 * N) if kind == "miller-madow" else h


def brute_force_mi(X, d, kind):
    pairs = brute_force_counts(X, d)
    first, second = Counter(), Counter()
    for (a, b), c in pairs.items():
        first[a] += c
        second[b] += c
    return (entropy_from(first.values(), kind) + entropy_from(second.values(), kind)
            - entropy_from(pairs.values(), kind))


# ---------------------------------------------------------------- estimator
@pytest.mark.parametrize("correction", [None, "miller-madow", "grassberger"])
def test_estimate_equals_brute_force_pair_counting(correction):
    rng = np.random.default_rng(1)
    X = [rng.integers(0, 4, n) for n in (7, 30, 2, 55, 12)]  # ragged: pairs never cross sequences
    curve = mutual_information_curve(X, [1, 3, 6, 20], correction=correction, n_bootstrap=0,
                                     shuffle_baseline=False)
    expected = [brute_force_mi(X, d, correction) for d in (1, 3, 6, 20)]
    np.testing.assert_allclose(curve.mi, expected, rtol=1e-10, atol=1e-12)
    assert curve.n_pairs.tolist() == [sum(brute_force_counts(X, d).values()) for d in (1, 3, 6, 20)]
    assert curve.lo is None and curve.hi is None and curve.shuffled is None


def test_iid_tokens_give_zero_after_correction_and_stay_under_the_shuffled_floor():
    rng = np.random.default_rng(0)
    X = [rng.integers(0, 6, 500) for _ in range(80)]
    d = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    plug = mutual_information_curve(X, d, correction=None, n_bootstrap=0, shuffle_baseline=False)
    # the plug-in bias of a 6 x 6 table: (m_xy - m_x - m_y + 1) / (2N) = 25 / (2N)
    np.testing.assert_allclose(plug.mi.mean(), (25 / (2 * plug.n_pairs)).mean(), rtol=0.25)
    for correction in ("miller-madow", "grassberger"):
        curve = mutual_information_curve(X, d, correction=correction, random_state=0)
        assert np.abs(curve.mi).max() < 5e-4 and abs(curve.mi.mean()) < 1e-4  # the bias (3.3e-4) is gone
        assert np.abs(curve.shuffled).max() < 5e-4
        assert np.all((curve.lo <= 0) & (curve.hi >= 0))
        assert not np.any(curve.mi > curve.noise_floor)  # nothing counts as signal
        with pytest.raises(NumericalError, match="above the noise floor"):
            fit_decay(curve.d, curve.mi, curve.noise_floor)


def test_markov_chain_matches_closed_form_within_interval():
    rng = np.random.default_rng(2)
    flip, d = 0.2, np.array([1, 2, 3, 5, 8])
    curve = mutual_information_curve(binary_chain(100, 500, flip, rng), d, n_bootstrap=300, level=0.99,
                                     random_state=3)
    exact = binary_chain_mi(flip, d)  # 0.193, 0.066, 0.024, 0.003, 1.4e-4
    assert curve.unit == "sequence"
    assert np.all((curve.lo <= exact) & (exact <= curve.hi)), (curve.lo, exact, curve.hi)
    np.testing.assert_allclose(curve.mi[:3], exact[:3], rtol=0.1)
    assert np.all(np.abs(curve.shuffled) < 1e-4)


def test_one_long_stream_uses_the_block_bootstrap():
    rng = np.random.default_rng(4)
    flip, d = 0.1, np.array([1, 4, 10])
    curve = mutual_information_curve(binary_chain(1, 40_000, flip, rng), d, level=0.99, random_state=5)
    assert curve.unit == "block of 800 tokens"  # max(2 * 10, 40000 / 50)
    exact = binary_chain_mi(flip, d)
    assert np.all((curve.lo <= exact) & (exact <= curve.hi))


def test_hmm_exact_mi_lies_in_the_interval_of_a_long_oracle_sample():
    ds = synthetic_hmm(n_states=3, n_symbols=4, n_sequences=2, length=5, seed=7, concentration=0.3)
    A, B = ds.oracle.transmat_, ds.oracle.emissionprob_
    stationary = HMM.from_params(stationary_distribution(A), A, B)  # every position has the stationary law
    d = np.array([1, 2, 4, 8])
    exact = mutual_information(A, B, d)
    assert exact[0] > 0.02 and exact[2] > 1e-3  # a test with signal in it
    X = stationary.sample(150, 400, random_state=6)
    curve = mutual_information_curve(X, d, n_bootstrap=300, level=0.99, random_state=7)
    assert np.all((curve.lo <= exact) & (exact <= curve.hi)), (curve.lo, exact, curve.hi)


def test_same_seed_same_curve():
    rng = np.random.default_rng(8)
    X = binary_chain(30, 100, 0.3, rng)
    a = mutual_information_curve(X, [1, 2], n_bootstrap=20, random_state=9)
    b = mutual_information_curve(X, [1, 2], n_bootstrap=20, random_state=9)
    np.testing.assert_array_equal(a.lo, b.lo)
    np.testing.assert_array_equal(a.shuffled, b.shuffled)


def test_log_distances():
    assert log_distances(100, 8).tolist() == [1, 2, 4, 7, 14, 27, 52, 100]
    d = log_distances(1000, 30)
    assert d[0] == 1 and d[-1] == 1000 and np.all(np.diff(d) > 0) and len(d) <= 30
    assert log_distances(1, 5).tolist() == [1]


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize("distances, match", [
    ([0, 1], r"distances\[0\] = 0"),
    ([3, -2], r"distances\[1\] = -2"),
    ([1.5], "integers"),
    ([], "non-empty"),
    ([True], "integers"),
    ([50], "distance 50 has no pairs: the longest sequence has 20 tokens"),
])
def test_bad_distances_raise(distances, match):
    with pytest.raises(ConfigError, match=match):
        mutual_information_curve([np.arange(20) % 3], distances)


@pytest.mark.parametrize("X, match", [
    ([], "empty"),
    ([np.array([0.5, 1.0, 2.0])], r"X\[0\]\[0\] = 0.5 is not an integer token id"),
    ([np.zeros(4, int), np.random.default_rng(0).normal(size=(5, 2))], r"X\[1\] has shape \(5, 2\)"),
    ([np.array([1, 2]), np.array([], dtype=int)], r"X\[1\] is empty"),
    ([np.array([1, -1, 2])], r"X\[0\]\[1\] = -1 is negative"),
])
def test_bad_sequences_raise(X, match):
    with pytest.raises(InvalidSequenceError, match=match):
        mutual_information_curve(X, [1])


def test_bad_options_raise():
    X = [np.arange(10) % 2]
    with pytest.raises(ConfigError, match="correction"):
        mutual_information_curve(X, [1], correction="jackknife")
    with pytest.raises(ConfigError, match="n_bootstrap"):
        mutual_information_curve(X, [1], n_bootstrap=-1)
    with pytest.raises(ConfigError, match="level"):
        mutual_information_curve(X, [1], level=1.5)
    with pytest.raises(InvalidSequenceError, match=r"X\[0\]\[9\] = 5 is out of range"):
        mutual_information_curve([np.array([0] * 9 + [5])], [1], n_symbols=4)
    with pytest.raises(ConfigError, match="max_d"):
        log_distances(0)


# ------------------------------------------------------------ curve fitting
def test_fit_recovers_a_power_law():
    d = log_distances(1000, 30).astype(float)
    fit = fit_decay(d, 0.3 * d ** -0.7)
    assert fit.best == "power_law" and fit.power_law_better
    assert abs(fit.power_exponent - 0.7) < 1e-6 and abs(fit.amplitude_power - 0.3) < 1e-6
    assert abs(fit.r2_power - 1.0) < 1e-12 and fit.r2_exponential < 0.9 and fit.n_points == len(d)
    noisy = 0.3 * d ** -0.7 * np.exp(np.random.default_rng(0).normal(0, 0.1, d.size))
    fit = fit_decay(d, noisy)
    assert fit.best == "power_law" and abs(fit.power_exponent - 0.7) < 0.05


def test_fit_recovers_an_exponential():
    d = np.arange(1, 40, dtype=float)
    fit = fit_decay(d, 0.5 * np.exp(-d / 6.0))
    assert fit.best == "exponential" and not fit.power_law_better
    assert abs(fit.decay_length - 6.0) < 1e-9 and abs(fit.amplitude_exponential - 0.5) < 1e-9
    noisy = 0.5 * np.exp(-d / 6.0) * np.exp(np.random.default_rng(1).normal(0, 0.1, d.size))
    fit = fit_decay(d, noisy)
    assert fit.best == "exponential" and abs(fit.decay_length - 6.0) < 0.3


def test_fit_uses_only_points_above_the_floor():
    d = np.arange(1, 21, dtype=float)
    mi = 0.2 * d ** -1.5
    garbage = mi.copy()
    garbage[10:] = [1e-3, -2e-4, 5e-4, 0.0, 3e-4, 1e-3, -1e-3, 2e-4, 9e-4, 1e-4]  # noise past d = 10
    fit = fit_decay(d, garbage, floor=np.where(d > 10, 1.1e-3, 0.0))
    assert fit.n_points == 10 and abs(fit.power_exponent - 1.5) < 1e-9
    with pytest.raises(NumericalError, match="only 2 of 20 points"):
        fit_decay(d, mi, floor=mi[1] * 0.999)
    with pytest.raises(ConfigError, match="shapes"):
        fit_decay(d, mi[:5])
    with pytest.raises(ConfigError, match=r"d\[0\] = 0.0"):
        fit_decay(np.arange(5.0), np.ones(5))


def test_a_non_decaying_curve_has_infinite_decay_length():
    fit = fit_decay(np.arange(1, 6), np.full(5, 0.1))
    assert fit.decay_length > 1e12 and abs(fit.power_exponent) < 1e-12


# --------------------------------------------------------- critical grammars
def test_brackets_match_like_a_stack():
    X = bracket_sequences(40, 300, np.random.default_rng(5), n_types=3, n_fillers=2)
    assert X.shape == (40, 300) and X.min() >= 0 and X.max() < 8
    for x in X:
        stack = []
        for t in x.tolist():
            if t < 3:
                stack.append(t)
            elif t < 6:
                assert stack and stack.pop() == t - 3  # every close closes the last open bracket, same type


def _open_durations(X, n_types):
    """How long each bracket stays open (to the end when it never closes) and how long it could be seen."""
    duration, window = [], []
    for x in X:
        stack = []
        for t, s in enumerate(x.tolist()):
            if s < n_types:
                stack.append(len(duration))
                duration.append(len(x) - t)
                window.append(len(x) - t)
            elif s < 2 * n_types:
                i = stack.pop()
                duration[i] -= len(x) - t
    return np.array(duration), np.array(window)


def test_critical_brackets_close_by_the_first_return_law():
    """At branching 1/2 a bracket stays open d steps or more with probability ~ d^(-1/2); below, less."""
    rng = np.random.default_rng(6)
    grid = np.array([16, 32, 64, 128, 256])
    slopes = {}
    for b in (0.5, 0.3):
        duration, window = _open_durations(bracket_sequences(100, 2000, rng, filler_prob=0.0, branching=b), 4)
        survival = np.array([(duration[window >= g] >= g).mean() for g in grid])  # opened >= g before the end
        slopes[b] = np.polyfit(np.log(grid), np.log(np.maximum(survival, 1e-9)), 1)[0]
    assert -0.6 < slopes[0.5] < -0.4, slopes
    assert slopes[0.3] < -1.5, slopes


def test_substitution_grammar_mi_follows_a_power_law_and_a_markov_chain_does_not():
    ds = pcfg_substitution(n_sequences=100, length=1024, seed=0)
    assert ds.info["kind"] == "probe-mi" and ds.info["input_kind"] == "discrete" and ds.oracle is None
    curve = mutual_information_curve(ds.test.X, log_distances(512, 25), n_bootstrap=100, random_state=0)
    fit = fit_decay(curve.d, curve.mi, curve.noise_floor)
    assert fit.best == "power_law" and fit.r2_power > 0.9 and fit.n_points >= 15
    # the asymptotic exponent -4 log2(0.9) = 0.61; shorter distances decay a little more slowly
    assert 0.35 < fit.power_exponent < 0.75 and abs(ds.info["expected_exponent"] - 0.608) < 1e-3
    markov = binary_chain(100, 1024, 0.05, np.random.default_rng(1))
    curve = mutual_information_curve(markov, log_distances(512, 25), n_bootstrap=100, random_state=0)
    assert fit_decay(curve.d, curve.mi, curve.noise_floor).best == "exponential"


def test_critical_bracket_mi_prefers_a_power_law():
    """Over the decade where it stands above the noise (the first-return test above is the sharper check)."""
    ds = pcfg_brackets(n_sequences=100, length=1000, seed=0)
    curve = mutual_information_curve(ds.test.X, log_distances(500, 25), n_bootstrap=100, random_state=0)
    fit = fit_decay(curve.d, curve.mi, curve.noise_floor)
    assert fit.best == "power_law" and fit.n_points >= 4 and fit.power_exponent > 2


def test_pcfg_datasets_shapes_vocab_and_determinism():
    ds = pcfg_brackets(n_sequences=8, length=50, seed=3, n_types=2, n_fillers=3)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (8, 2, 2)
    assert ds.vocab.itos == ("(0", "(1", ")0", ")1", "w0", "w1", "w2") and ds.vocab.specials == ()
    assert all(x.shape == (50,) and x.dtype == np.int64 for x in ds.train.X)
    assert ds.info["name"] == "pcfg-brackets" and ds.info["kind"] == "probe-mi"
    again = pcfg_brackets(n_sequences=8, length=50, seed=3, n_types=2, n_fillers=3)
    assert all(np.array_equal(a, b) for a, b in zip(ds.train.X, again.train.X))
    sub = pcfg_substitution(n_sequences=4, length=100, n_symbols=3, seed=1)
    assert sub.vocab.itos == ("a0", "a1", "a2") and all(x.shape == (100,) for x in sub.test.X)
    with pytest.raises(ConfigError, match="branching"):
        pcfg_brackets(branching=1.0)
    with pytest.raises(ConfigError, match="persistence"):
        pcfg_substitution(persistence=1.5)
    with pytest.raises(ConfigError, match="n_children"):
        pcfg_substitution(n_children=1)


# ------------------------------------------------------------------- the task
def _splits(kind, X, input_kind="discrete", oracle=None):
    return Splits(Split(X), Split(X), Split(X), info={"kind": kind, "input_kind": input_kind}, oracle=oracle)


def test_applies():
    X = [np.arange(5)]
    lm_like = Tags(input_kind="discrete", density=True, sampler=True)
    for kind in ("lm", "synthetic", "probe-mi"):
        assert mi.applies(lm_like, _splits(kind, X)) is None
    assert mi.applies(Tags(input_kind="both", density=True, sampler=True), _splits("lm", X)) is None
    assert "kind 'tagging'" in mi.applies(lm_like, _splits("tagging", X))
    assert "kind 'probe-lag'" in mi.applies(lm_like, _splits("probe-lag", X))
    assert "continuous" in mi.applies(lm_like, _splits("synthetic", X, input_kind="continuous"))
    assert "cannot sample" in mi.applies(Tags(sampler=False), _splits("lm", X))
    assert "not a discrete density" in mi.applies(Tags(input_kind="continuous"), _splits("lm", X))
    assert "not a discrete density" in mi.applies(Tags(density=False, tagger=True), _splits("lm", X))


@pytest.fixture
def small_budget(monkeypatch):
    monkeypatch.setattr(mi, "SAMPLE_TOKENS", 20_000)
    monkeypatch.setattr(mi, "N_BOOTSTRAP", 50)
    monkeypatch.setattr(mi, "N_DISTANCES", 12)


def test_task_on_an_hmm_dataset_reports_model_data_and_exact_oracle_curves(small_budget):
    ds = synthetic_hmm(n_states=3, n_symbols=5, n_sequences=40, length=60, seed=1, concentration=0.5)
    est = mi.fit(NGram(order=2), ds)
    metrics = mi.evaluate(est, ds)
    d = log_distances(30, 12)
    for key in ("mi", "mi_lo", "mi_hi", "data_mi", "data_mi_lo", "data_mi_hi", "oracle_mi"):
        assert all(f"{key}@d={int(x)}" in metrics for x in d), key
    exact = mutual_information(ds.oracle.transmat_, ds.oracle.emissionprob_, d)
    np.testing.assert_array_equal([metrics[f"oracle_mi@d={int(x)}"] for x in d], exact)
    assert metrics["n_tokens"] == (20_000 // 60) * 60 and metrics["n_data_tokens"] == 10 * 60
    for key, value in metrics.items():  # flat: floats, None (left out by the harness) or integer counts
        assert value is None or isinstance(value, int if key.startswith("n_") else float), key
    # the bigram model's samples carry the bigram dependence the data has at d = 1
    assert abs(metrics["mi@d=1"] - metrics["data_mi@d=1"]) < 0.05


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 30 EM steps are enough here
def test_task_finds_the_finite_state_cutoff_of_an_hmm_fitted_to_a_critical_grammar(small_budget):
    ds = pcfg_substitution(n_sequences=40, length=512, seed=2)
    est = mi.fit(HMM(n_states=8, n_iter=30, random_state=0), ds)
    metrics = mi.evaluate(est, ds)
    assert "oracle_mi@d=1" not in metrics
    assert metrics["data_power_law_better"] == 1.0  # the grammar: power law
    assert metrics["power_law_better"] == 0.0 and metrics["decay_length"] < 50  # the HMM: exponential
    assert metrics["data_mi@d=93"] > 10 * max(metrics["mi@d=93"], 1e-3)


def test_lm_sentences_are_joined_into_running_text():
    X = [np.array([3, 4, 0]), np.array([5, 0]), np.array([6, 7, 8, 0])]
    joined = mi._data_sequences(_splits("lm", X), "test")
    assert len(joined) == 1 and joined[0].tolist() == [3, 4, 0, 5, 0, 6, 7, 8, 0]
    assert len(mi._data_sequences(_splits("probe-mi", X), "test")) == 3


def test_mi_decay_entry_point_budget_and_errors():
    rng = np.random.default_rng(3)
    X = binary_chain(50, 200, 0.1, rng)
    lm = NGram(order=2).fit(X)
    out = mi.mi_decay(lm, distances=[1, 2, 4], sample_tokens=1000, sample_length=100, n_bootstrap=0,
                      random_state=0)
    assert out["n_tokens"] == 1000 and "mi_lo@d=1" not in out
    np.testing.assert_allclose(out["mi@d=1"], binary_chain_mi(0.1, 1), atol=0.05)
    data = mi.mi_decay(X, n_bootstrap=0, random_state=0, prefix="data_")
    assert "data_mi@d=100" in data and "data_mi@d=101" not in data and data["n_data_tokens"] == 10_000
    with pytest.raises(ConfigError, match="exceeds the budget"):
        mi.mi_decay(lm, distances=[1], sample_tokens=50, sample_length=100)
    with pytest.raises(ConfigError, match="must exceed the largest distance"):
        mi.mi_decay(lm, distances=[10], sample_length=10)
    with pytest.raises(ConfigError, match="sample_tokens must be an integer"):
        mi.mi_decay(lm, distances=[1], sample_tokens=None)
    with pytest.raises(InvalidSequenceError, match="empty"):
        mi.mi_decay([])
