"""Conformance checks run over every registered model (scikit-learn's common tests, for sequences)."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone

from seqbench import get_tags, list_models, make_model
from seqbench.exceptions import InvalidSequenceError, NotFittedError, UnknownSymbolError
from seqbench.registry import get_model_class

V = 7       # vocabulary of the toy data
N_TAGS = 3


def _cases():
    for key in list_models():
        for i, params in enumerate(get_model_class(key).get_test_params()):
            yield pytest.param(key, params, id=f"{key}-{i}")


CASES = list(_cases())


def _toy(seed=0, n=12, vocab=V):
    rng = np.random.default_rng(seed)
    X = [rng.integers(0, vocab, size=rng.integers(3, 15)) for _ in range(n)]
    X[0][:] = np.arange(len(X[0])) % vocab  # every id occurs in training
    X.append(np.arange(vocab))
    # tags are a deterministic function of the word (plus noise-free context) so taggers can learn them
    y = [x % N_TAGS for x in X]
    return X, y


def _fit(est, X, y):
    tags = get_tags(est)
    if tags.density:
        return est.fit(X)
    if tags.classifier and not tags.tagger:  # one label per sequence
        return est.fit(X, None if y is None else np.array([int(t[0]) if len(t) else 0 for t in y]))
    return est.fit(X, y)


def _discrete(key):
    return get_tags(make_model(key)).input_kind in ("discrete", "both")


@pytest.mark.parametrize("key,params", CASES)
def test_params_roundtrip_and_clone(key, params):
    est = make_model(key, **params)
    got = est.get_params()
    for name, value in params.items():
        assert got[name] == value
    twin = clone(est)
    assert twin.get_params() == got and twin is not est
    est.set_params(**params)
    assert est.get_params() == got
    # __init__ stores only parameters: no fitted attribute before fit
    assert not [a for a in vars(est) if a.endswith("_") and not a.startswith("_")]


@pytest.mark.parametrize("key,params", CASES)
def test_unfitted_raises(key, params):
    est = make_model(key, **params)
    X, y = _toy()
    tags = get_tags(est)
    if tags.density:
        with pytest.raises(NotFittedError):
            est.score_tokens(X)
        with pytest.raises(NotFittedError):
            est.score(X)
    if tags.tagger or tags.hidden_states:
        with pytest.raises(NotFittedError):
            est.predict(X)


@pytest.mark.parametrize("key,params", CASES)
def test_fit_returns_self_and_scores_are_log_probs(key, params):
    if not _discrete(key):
        pytest.skip("discrete checks")
    X, y = _toy()
    est = make_model(key, **params)
    assert _fit(est, X, y) is est
    if get_tags(est).density:
        s = est.score_tokens(X)
        assert [len(a) for a in s] == [len(x) for x in X]
        flat = np.concatenate(s)
        assert np.all(np.isfinite(flat)) and np.all(flat <= 1e-12)
        # score() is the token-weighted mean of score_tokens
        assert est.score(X) == pytest.approx(flat.sum() / flat.size, rel=1e-12)


@pytest.mark.parametrize("key,params", CASES)
def test_tagger_mode(key, params):
    est = make_model(key, **params)
    if not get_tags(est).tagger:
        pytest.skip("not a tagger")
    X, y = _toy()
    assert est.fit(X, y) is est
    pred = est.predict(X)
    assert [len(p) for p in pred] == [len(x) for x in X]
    assert all(p.dtype.kind == "i" for p in pred)
    proba = est.predict_proba(X)
    for p, x in zip(proba, X):
        assert p.shape[0] == len(x)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    # the tags are a function of the word: a tagger must learn them
    assert est.score(X, y) == 1.0
    with pytest.raises(InvalidSequenceError, match=r"y\[1\] has \d+ tags for \d+ tokens"):
        est.fit(X, [y[0], y[1][:-1]] + y[2:])


@pytest.mark.parametrize("key,params", CASES)
def test_determinism_under_random_state(key, params):
    if not _discrete(key):
        pytest.skip("discrete checks")
    X, y = _toy()
    a = _fit(make_model(key, **{**params, "random_state": 3}), X, y)
    b = _fit(make_model(key, **{**params, "random_state": 3}), X, y)
    if get_tags(a).density:
        for sa, sb in zip(a.score_tokens(X), b.score_tokens(X)):
            np.testing.assert_array_equal(sa, sb)
    if get_tags(a).sampler and get_tags(a).density:
        sa = a.sample(3, 20, random_state=5)
        sb = b.sample(3, 20, random_state=5)
        assert len(sa) == 3 and all(len(s) == 20 for s in sa)
        for u, v in zip(sa, sb):
            np.testing.assert_array_equal(u, v)
            assert u.min() >= 0 and u.max() < a.vocab_size_


@pytest.mark.parametrize("key,params", CASES)
def test_length_one_long_and_ragged(key, params):
    if not _discrete(key) or not get_tags(make_model(key, **params)).density:
        pytest.skip("discrete density checks")
    X, y = _toy()
    est = _fit(make_model(key, **params), X, y)
    one = est.score_tokens([np.array([2])])
    assert one[0].shape == (1,) and np.isfinite(one[0]).all()
    long = np.random.default_rng(1).integers(0, V, size=100_000)
    s = est.score_tokens([long])[0]
    assert s.shape == (100_000,) and np.isfinite(s).all()
    # scoring sequences together (ragged batch) equals scoring each alone
    # (float32 networks: a different batch changes the summation order, ~1e-7)
    atol = 1e-5 if get_tags(est).neural else 1e-10
    together = est.score_tokens(X)
    for x, t in zip(X, together):
        np.testing.assert_allclose(est.score_tokens([x])[0], t, rtol=0, atol=atol)


@pytest.mark.parametrize("key,params", CASES)
def test_pickle_roundtrip(key, params):
    if not _discrete(key):
        pytest.skip("discrete checks")
    X, y = _toy()
    est = _fit(make_model(key, **params), X, y)
    back = pickle.loads(pickle.dumps(est))
    if get_tags(est).density:
        for a, b in zip(est.score_tokens(X), back.score_tokens(X)):
            np.testing.assert_array_equal(a, b)
    else:
        for a, b in zip(est.predict(X), back.predict(X)):
            np.testing.assert_array_equal(a, b)


BAD_INPUTS = [
    ("empty X", [], InvalidSequenceError, "empty"),
    ("empty sequence", [np.array([1, 2]), np.array([], dtype=int)], InvalidSequenceError, r"X\[1\] is empty"),
    ("flat list", [1, 2, 3], InvalidSequenceError, r"X\[0\] is the number 1"),
    ("flat array", np.array([1, 2, 3]), InvalidSequenceError, "flat"),
    ("float ids", [np.array([1, 2]), np.array([0.0, 1.5])], InvalidSequenceError, r"X\[1\]\[1\] = 1\.5"),
    ("negative id", [np.array([1, -4, 2])], UnknownSymbolError, r"X\[0\]\[1\] = -4"),
    ("NaN", [np.array([1.0, np.nan])], InvalidSequenceError, r"X\[0\]\[1\]"),
    ("string", ["abc"], InvalidSequenceError, r"X\[0\] is str"),
]


@pytest.mark.parametrize("key,params", CASES)
@pytest.mark.parametrize("label,bad,exc,msg", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_named(key, params, label, bad, exc, msg):
    if not _discrete(key):
        pytest.skip("discrete checks")
    X, y = _toy()
    est = make_model(key, **params)
    with pytest.raises(exc, match=msg):
        _fit(est, bad, None if get_tags(est).density else [np.zeros(len(np.atleast_1d(b)), int) for b in bad])
    _fit(est, X, y)
    method = est.score_tokens if get_tags(est).density else est.predict
    with pytest.raises(exc, match=msg):
        method(bad)


@pytest.mark.parametrize("key,params", CASES)
def test_oov_at_predict_is_finite(key, params):
    """An id never seen in training (and beyond the training range) gets a finite score."""
    if not _discrete(key) or not get_tags(make_model(key, **params)).density:
        pytest.skip("discrete density checks")
    X, y = _toy()
    est = _fit(make_model(key, **params), X, y)
    s = est.score_tokens([np.array([1, V + 5, 2])])[0]
    assert np.isfinite(s).all()


# ------------------------------------------------------------------ continuous input (float (T, d) sequences)
D_CONT = 2


def _toy_continuous(seed=0, n=12, d=D_CONT):
    """Ragged float sequences (lengths 3..14) with some cross-step correlation."""
    rng = np.random.default_rng(seed)
    return [np.cumsum(rng.normal(size=(rng.integers(3, 15), d)), axis=0) * 0.3 for _ in range(n)]


def _continuous_cases():
    for case in CASES:
        key, params = case.values
        tags = get_tags(make_model(key, **params))
        if tags.input_kind in ("continuous", "both") and tags.density:
            yield case


CONTINUOUS_CASES = list(_continuous_cases())


@pytest.mark.parametrize("key,params", CONTINUOUS_CASES)
def test_continuous_density_contract(key, params):
    """fit returns self, one finite log-density per step, score() is their mean, ragged == alone, T=1 works."""
    X = _toy_continuous()
    est = make_model(key, **params)
    assert est.fit(X) is est
    s = est.score_tokens(X)
    assert [a.shape for a in s] == [(len(x),) for x in X]
    flat = np.concatenate(s)
    assert np.isfinite(flat).all()
    assert est.score(X) == pytest.approx(flat.mean(), rel=1e-12)
    atol = 1e-5 if get_tags(est).neural else 1e-10  # float32 networks: batch changes summation order
    for x, t in zip(X, s):
        np.testing.assert_allclose(est.score_tokens([x])[0], t, rtol=0, atol=atol)
    one = est.score_tokens([np.ones((1, D_CONT))])[0]
    assert one.shape == (1,) and np.isfinite(one).all()


@pytest.mark.parametrize("key,params", CONTINUOUS_CASES)
def test_continuous_determinism_sampling_and_pickle(key, params):
    X = _toy_continuous()
    a = make_model(key, **{**params, "random_state": 3}).fit(X)
    b = make_model(key, **{**params, "random_state": 3}).fit(X)
    for sa, sb in zip(a.score_tokens(X), b.score_tokens(X)):
        np.testing.assert_array_equal(sa, sb)
    if get_tags(a).sampler:
        ua, ub = a.sample(3, 20, random_state=5), b.sample(3, 20, random_state=5)
        assert [u.shape for u in ua] == [(20, D_CONT)] * 3
        for u, v in zip(ua, ub):
            np.testing.assert_array_equal(u, v)
    back = pickle.loads(pickle.dumps(a))
    for u, v in zip(a.score_tokens(X), back.score_tokens(X)):
        np.testing.assert_array_equal(u, v)


CONTINUOUS_BAD = [
    ("empty X", [], "empty"),
    ("empty sequence", [np.ones((3, D_CONT)), np.ones((0, D_CONT))], r"X\[1\] is empty"),
    ("inf", [np.ones((3, D_CONT)), np.array([[0.0, 1.0], [np.inf, 2.0]])], r"X\[1\]\[1, 0\] = inf"),
    ("features", [np.ones((3, D_CONT)), np.ones((4, D_CONT + 1))], r"X\[1\] has 3 features; expected 2"),
    ("string", ["abc"], r"X\[0\] is str"),
]


@pytest.mark.parametrize("key,params", CONTINUOUS_CASES)
@pytest.mark.parametrize("label,bad,msg", CONTINUOUS_BAD, ids=[b[0] for b in CONTINUOUS_BAD])
def test_continuous_bad_input_is_named(key, params, label, bad, msg):
    est = make_model(key, **params)
    with pytest.raises(InvalidSequenceError, match=msg):
        est.fit(bad)
    est.fit(_toy_continuous())
    with pytest.raises(InvalidSequenceError, match=msg):
        est.score_tokens(bad)
