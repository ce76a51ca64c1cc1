"""Known-answer tests of the discrete HMM: brute-force enumeration, hmmlearn agreement, EM, validation."""
import itertools
import warnings

import numpy as np
import pytest
from hmmlearn.hmm import CategoricalHMM

from seqbench.exceptions import (
    ConfigError,
    ConvergenceWarning,
    DegenerateSolutionWarning,
    ImpossibleSequenceWarning,
    NotFittedError,
    UnknownSymbolError,
)
from seqbench.models import HMM
from seqbench.registry import make_model


def random_params(rng, n_states, n_symbols, concentration=1.0):
    start = rng.dirichlet(np.full(n_states, concentration))
    trans = rng.dirichlet(np.full(n_states, concentration), size=n_states)
    emit = rng.dirichlet(np.full(n_symbols, concentration), size=n_states)
    return start, trans, emit


def reference(start, trans, emit):
    ref = CategoricalHMM(n_components=len(start), n_features=emit.shape[1], implementation="scaling")
    ref.startprob_, ref.transmat_, ref.emissionprob_ = start, trans, emit
    return ref


def concat(X):
    return np.concatenate(X)[:, None], np.array([len(x) for x in X])


# ------------------------------------------------------------------ brute force
def joint(path, x, start, trans, emit):
    """p(states = path, observations = x), by the chain rule."""
    p = start[path[0]] * emit[path[0], x[0]]
    for t in range(1, len(x)):
        p *= trans[path[t - 1], path[t]] * emit[path[t], x[t]]
    return p


def log_joint(path, x, start, trans, emit):
    return (np.log(start[path[0]]) + np.log(trans[path[:-1], path[1:]]).sum()
            + np.log(emit[path, x]).sum())


def all_paths(n_states, n_steps):
    return list(itertools.product(range(n_states), repeat=n_steps))


def brute_prefix_prob(x, params):
    return sum(joint(p, x, *params) for p in all_paths(len(params[0]), len(x)))


def brute_conditionals(x, params):
    """log p(x_t | x_<t) = log p(x_1..t) - log p(x_1..t-1)."""
    prefix = [brute_prefix_prob(x[: t + 1], params) for t in range(len(x))]
    return np.log(prefix) - np.log([1.0] + prefix[:-1])


def brute_posteriors(x, params):
    K = len(params[0])
    post = np.zeros((len(x), K))
    for path in all_paths(K, len(x)):
        post[np.arange(len(x)), path] += joint(path, x, *params)
    return post / post.sum(axis=1, keepdims=True)


def brute_viterbi(x, params):
    return np.array(max(all_paths(len(params[0]), len(x)), key=lambda p: joint(p, x, *params)))


@pytest.mark.parametrize("n_states", [2, 3])
def test_against_brute_force_enumeration(n_states):
    rng = np.random.default_rng(n_states)
    params = random_params(rng, n_states, 3)
    model = HMM.from_params(*params)
    X = [rng.integers(0, 3, size=n) for n in (5, 1, 3, 4, 2, 5)]  # ragged: one padded batch
    scores, post, paths = model.score_tokens(X), model.predict_proba(X), model.predict(X)
    for i, x in enumerate(X):
        np.testing.assert_allclose(scores[i], brute_conditionals(x, params), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(post[i], brute_posteriors(x, params), rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(paths[i], brute_viterbi(x, params))


# --------------------------------------------------------------- hmmlearn agreement
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_hmmlearn_on_ragged_sequences(seed):
    rng = np.random.default_rng(seed)
    params = random_params(rng, 4, 6)
    model, ref = HMM.from_params(*params), reference(*params)
    lengths = np.concatenate([[1, 1, 2], rng.integers(1, 120, size=40)])  # several length buckets
    X = [rng.integers(0, 6, size=n) for n in lengths]
    scores = model.score_tokens(X)
    for x, s in zip(X, scores):
        assert s.shape == x.shape
        assert s.sum() == pytest.approx(ref.score(x[:, None]), rel=1e-10, abs=1e-8)
    X_cat, L = concat(X)
    assert model.score(X) * L.sum() == pytest.approx(ref.score(X_cat, L), rel=1e-10)
    np.testing.assert_allclose(np.concatenate(model.predict_proba(X)), ref.predict_proba(X_cat, L), atol=1e-8)
    # Viterbi: equal-probability paths exist (products of the same factors in another order),
    # so compare the joint log-probability of the decoded paths, not the states themselves
    for x, path in zip(X, model.predict(X)):
        ref_logprob, _ = ref.decode(x[:, None], algorithm="viterbi")
        assert log_joint(path, x, *params) == pytest.approx(ref_logprob, rel=1e-10)


def test_viterbi_on_a_large_bucket_agrees_with_hmmlearn():
    # a bucket of (8 states x 1200 sequences): the sweep adds rows with torch rather than numpy
    rng = np.random.default_rng(7)
    params = random_params(rng, 8, 20)
    X = [rng.integers(0, 20, size=n) for n in rng.integers(5, 8, size=1200)]
    paths = HMM.from_params(*params).predict(X)
    X_cat, L = concat(X)
    ref_logprob, ref_states = reference(*params).decode(X_cat, L, algorithm="viterbi")
    np.testing.assert_array_equal(np.concatenate(paths), ref_states)
    assert sum(log_joint(p, x, *params) for p, x in zip(paths, X)) == pytest.approx(ref_logprob, rel=1e-12)


def test_long_sequence_stays_finite():
    rng = np.random.default_rng(5)
    params = random_params(rng, 3, 5)
    x = rng.integers(0, 5, size=100_000)
    scores = HMM.from_params(*params).score_tokens([x])[0]
    assert np.isfinite(scores).all()
    assert scores.sum() == pytest.approx(reference(*params).score(x[:, None]), rel=1e-10)


# ------------------------------------------------------------------------ EM fit
@pytest.fixture(scope="module")
def sampled():
    rng = np.random.default_rng(11)
    oracle = HMM.from_params(*random_params(rng, 3, 6, concentration=0.5))
    return oracle, oracle.sample(60, 40, random_state=3)


def test_em_history_non_decreasing_and_fitted_attributes(sampled):
    _, X = sampled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = HMM(n_states=3, n_iter=40, tol=1e-6, random_state=0).fit(X)
    h = np.array(model.history_)
    assert len(h) == model.n_iter_ >= 2
    assert np.all(np.diff(h) >= -1e-8 * np.abs(h[1:]))
    assert model.fit_mode_ == "density" and model.n_states_ == 3 and model.vocab_size_ == 6
    assert model.emissionprob_.shape == (3, 6)
    for p in (model.startprob_, *model.transmat_, *model.emissionprob_):
        assert p.sum() == pytest.approx(1.0, abs=1e-10) and (p >= 0).all()
    assert (model.emissionprob_ > 0).all()


def test_more_restarts_never_worse(sampled):
    _, X = sampled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = HMM(n_states=3, n_iter=15, random_state=4).fit(X)
        three = HMM(n_states=3, n_iter=15, n_init=3, random_state=4).fit(X)
    assert three.log_likelihood_ >= one.log_likelihood_ - 1e-9


def test_fit_is_deterministic_given_random_state(sampled):
    _, X = sampled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = HMM(n_states=2, n_iter=5, random_state=7).fit(X)
        b = HMM(n_states=2, n_iter=5, random_state=7).fit(X)
    np.testing.assert_array_equal(a.emissionprob_, b.emissionprob_)
    np.testing.assert_array_equal(a.transmat_, b.transmat_)


def test_unseen_and_out_of_range_symbols_are_finite():
    rng = np.random.default_rng(2)
    X = [rng.choice([0, 1, 2, 3, 5], size=30) for _ in range(20)]  # symbol 4 never seen
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = HMM(n_states=2, n_iter=10, random_state=0).fit(X)
    assert model.vocab_size_ == 6
    # a symbol never seen in training gets exactly the pseudocount floor a / (n_k + V a) ...
    np.testing.assert_allclose(model.emissionprob_[:, 4], model.unseen_emissionprob_, rtol=1e-12)
    # ... and an id beyond the vocabulary scores like that unseen symbol
    s_unseen, s_oov = model.score_tokens([np.array([1, 4, 2]), np.array([1, 99, 2])])
    assert np.isfinite(s_unseen).all()
    np.testing.assert_allclose(s_oov, s_unseen, rtol=1e-12)
    expected_first = np.log(model.startprob_ @ model.unseen_emissionprob_)
    assert model.score_tokens([np.array([42])])[0][0] == pytest.approx(expected_first, rel=1e-12)


def test_pseudocounts_keep_never_left_states_finite():
    # every sequence is one token: no transition is ever observed, so every state is never left
    X = [np.array([v]) for v in (0, 1, 2, 0, 1, 2)]
    with pytest.warns(DegenerateSolutionWarning, match="never visited or never left"):
        model = HMM(n_states=2, n_iter=5, tol=0.0, random_state=0).fit(X)
    np.testing.assert_allclose(model.transmat_, 0.5)  # only the pseudocounts: uniform rows
    scores = model.score_tokens([np.array([0, 0, 5])])[0]
    assert np.isfinite(scores).all()
    assert np.isfinite(model.predict_proba([np.array([0, 0])])[0]).all()


# ----------------------------------------------------------------- from_params
def test_from_params_is_fitted_with_exact_parameters():
    params = random_params(np.random.default_rng(0), 2, 4)
    model = HMM.from_params(*params)
    assert model.fit_mode_ == "density" and model.vocab_size_ == 4 and model.n_states_ == 2
    for got, want in zip((model.startprob_, model.transmat_, model.emissionprob_), params):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(UnknownSymbolError, match=r"X\[1\]\[2\] = 4"):
        model.score_tokens([np.array([0, 1]), np.array([0, 1, 4])])


@pytest.mark.parametrize(
    "start, trans, emit, match",
    [
        ([0.5, 0.5], [[1.0, 0.0], [0.5, 0.5]], [[0.5, 0.5]], "emissionprob has shape"),
        ([0.5, 0.5], [[1.0, 0.0]], [[1.0], [1.0]], "transmat has shape"),
        ([[0.5, 0.5]], [[1.0]], [[1.0]], "startprob has shape"),
        ([0.6, 0.6], [[1.0, 0.0], [0.5, 0.5]], [[1.0], [1.0]], "startprob sums to"),
        ([0.5, 0.5], [[1.0, 0.0], [0.7, 0.5]], [[1.0], [1.0]], r"transmat\[1\] sums to"),
        ([0.5, 0.5], [[1.0, 0.0], [0.5, 0.5]], [[1.5, -0.5], [1.0, 0.0]], r"emissionprob\[0, 1\]"),
        ([np.nan, 1.0], [[1.0, 0.0], [0.5, 0.5]], [[1.0], [1.0]], r"startprob\[0\]"),
    ],
)
def test_from_params_validation(start, trans, emit, match):
    with pytest.raises(ConfigError, match=match):
        HMM.from_params(start, trans, emit)


def test_impossible_token_gives_minus_inf_and_no_nan():
    # state 0 emits only symbol 0, state 1 only symbol 1; state 0 never leaves
    model = HMM.from_params([1.0, 0.0], [[1.0, 0.0], [0.5, 0.5]], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.warns(ImpossibleSequenceWarning, match=r"X\[0\]\[1\]"):
        s = model.score_tokens([np.array([0, 1, 0])])[0]
    np.testing.assert_array_equal(s, [0.0, -np.inf, 0.0])
    with pytest.warns(ImpossibleSequenceWarning):
        assert model.score([np.array([0, 0]), np.array([0, 1, 0])]) == -np.inf


# --------------------------------------------------------------------- sampling
def test_sample_frequencies_match_stationary_distribution():
    rng = np.random.default_rng(8)
    _, trans, emit = random_params(rng, 3, 4, concentration=2.0)
    w, v = np.linalg.eig(trans.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1))])
    pi /= pi.sum()
    model = HMM.from_params(pi, trans, emit)
    X, S = model.sample(n_sequences=400, length=50, random_state=0, return_states=True)
    assert len(X) == 400 and all(x.shape == (50,) and x.dtype == np.int64 for x in X)
    states, symbols = np.concatenate(S), np.concatenate(X)
    np.testing.assert_allclose(np.bincount(states, minlength=3) / states.size, pi, atol=0.02)
    np.testing.assert_allclose(np.bincount(symbols, minlength=4) / symbols.size, pi @ emit, atol=0.02)
    S = np.stack(S)
    pairs = np.zeros((3, 3))
    np.add.at(pairs, (S[:, :-1].ravel(), S[:, 1:].ravel()), 1)
    np.testing.assert_allclose(pairs / pairs.sum(axis=1, keepdims=True), trans, atol=0.03)


def test_sample_is_reproducible_and_respects_zeros():
    model = HMM.from_params([0.0, 1.0], [[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    a = model.sample(5, 7, random_state=1)
    b = model.sample(5, 7, random_state=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # deterministic alternating chain starting in state 1: symbols 2, 1, 2, 1, ...
    assert all(np.array_equal(x, [2, 1, 2, 1, 2, 1, 2]) for x in a)
    with pytest.raises(ConfigError, match="length"):
        model.sample(2, 0)


# --------------------------------------------------------------------- contract
def test_config_and_fitting_errors():
    X = [np.array([0, 1, 2])]
    with pytest.raises(ConfigError, match="emission='poisson' is not supported"):
        HMM(emission="poisson").fit(X)
    with pytest.raises(ConfigError, match="n_states"):
        HMM(n_states=0).fit(X)
    with pytest.raises(ConfigError, match="decoder"):
        HMM(decoder="beam").fit(X)
    with pytest.raises(NotFittedError):
        HMM().score_tokens(X)
    with pytest.raises(ConfigError, match="emission='categorical'"):
        HMM(emission="gaussian").fit([np.zeros((3, 2))], [np.array([0, 0, 1])])


def test_registered_and_tagged():
    model = make_model("hmm", n_states=2)
    assert isinstance(model, HMM) and model.n_states == 2
    tags = model.__seqbench_tags__()
    assert tags.hidden_states and tags.density and tags.sampler and tags.tagger and tags.semi_supervised
    assert tags.input_kind == "discrete" and tags.uses_vocab
    continuous = HMM(emission="gmm").__seqbench_tags__()
    assert continuous.input_kind == "continuous" and continuous.density and not continuous.tagger
