"""Gaussian and Gaussian-mixture HMMs: brute-force enumeration, hmmlearn agreement, EM through hmmlearn, bic/aic."""
import itertools
import warnings

import numpy as np
import pytest
from hmmlearn.hmm import CategoricalHMM, GaussianHMM, GMMHMM
from scipy.stats import multivariate_normal
from threadpoolctl import threadpool_limits

from seqbench.exceptions import ConvergenceWarning
from seqbench.models import HMM
from seqbench.models import _hmm_em as em
from seqbench.models._hmm_emissions import from_hmmlearn, n_emission_params


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """hmmlearn's k-means initialisation runs OpenMP threads, which stall on a busy 2-core machine."""
    with threadpool_limits(limits=1):
        yield


def spd(rng, shape, dim):
    M = rng.normal(size=shape + (dim, dim))
    return M @ np.swapaxes(M, -1, -2) / dim + 0.3 * np.eye(dim)


def gaussian_params(rng, n_states=2, dim=2):
    start = rng.dirichlet(np.ones(n_states))
    trans = rng.dirichlet(np.ones(n_states), size=n_states)
    return start, trans, rng.normal(size=(n_states, dim)) * 2, spd(rng, (n_states,), dim)


# ------------------------------------------------------------------ brute force
def brute_force(x, start, trans, means, covars):
    """Joint p(path, x) of every state path, with scipy's Gaussian densities."""
    K, T = len(start), len(x)
    dens = np.array([[multivariate_normal(means[k], covars[k]).pdf(x[t]) for k in range(K)] for t in range(T)])
    joint = {}
    for path in itertools.product(range(K), repeat=T):
        p = start[path[0]] * dens[0, path[0]]
        for t in range(1, T):
            p *= trans[path[t - 1], path[t]] * dens[t, path[t]]
        joint[path] = p
    return joint


def test_gaussian_against_brute_force_enumeration():
    rng = np.random.default_rng(0)
    params = gaussian_params(rng, n_states=3)
    model = HMM.from_params(params[0], params[1], means=params[2], covars=params[3])
    X = [rng.normal(size=(n, 2)) * 2 for n in (4, 1, 3, 5)]
    scores, post, paths = model.score_tokens(X), model.predict_proba(X), model.predict(X)
    for i, x in enumerate(X):
        prefix = [sum(brute_force(x[: t + 1], *params).values()) for t in range(len(x))]
        np.testing.assert_allclose(scores[i], np.log(prefix) - np.log([1.0] + prefix[:-1]), rtol=1e-10)
        joint = brute_force(x, *params)
        marg = np.zeros((len(x), 3))
        for path, p in joint.items():
            marg[np.arange(len(x)), path] += p
        np.testing.assert_allclose(post[i], marg / marg.sum(axis=1, keepdims=True), rtol=1e-9, atol=1e-14)
        np.testing.assert_array_equal(paths[i], max(joint, key=joint.get))


# --------------------------------------------------------------- hmmlearn agreement
def hmmlearn_gaussian(rng, covariance_type, n_states=3, dim=3):
    ref = GaussianHMM(n_components=n_states, covariance_type=covariance_type, init_params="")
    ref.n_features = dim
    ref.startprob_ = rng.dirichlet(np.ones(n_states))
    ref.transmat_ = rng.dirichlet(np.ones(n_states), size=n_states)
    ref.means_ = rng.normal(size=(n_states, dim))
    full = spd(rng, (n_states,), dim)
    ref.covars_ = {"full": full, "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
                   "spherical": full[:, 0, 0].copy(), "tied": full[0]}[covariance_type]
    return ref


def hmmlearn_gmm(rng, covariance_type, n_states=3, n_mix=2, dim=2):
    ref = GMMHMM(n_components=n_states, n_mix=n_mix, covariance_type=covariance_type, init_params="")
    ref.n_features = dim
    ref.startprob_ = rng.dirichlet(np.ones(n_states))
    ref.transmat_ = rng.dirichlet(np.ones(n_states), size=n_states)
    ref.weights_ = rng.dirichlet(np.ones(n_mix), size=n_states)
    ref.means_ = rng.normal(size=(n_states, n_mix, dim)) * 2
    full = spd(rng, (n_states, n_mix), dim)
    ref.covars_ = {"full": full, "diag": np.diagonal(full, axis1=2, axis2=3).copy(),
                   "spherical": full[:, :, 0, 0].copy(), "tied": full[:, 0]}[covariance_type]
    return ref


def ours_from(ref, family):
    return HMM.from_params(ref.startprob_, ref.transmat_, **from_hmmlearn(family, ref))


@pytest.mark.parametrize("family", ["gaussian", "gmm"])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_agrees_with_hmmlearn(family, covariance_type):
    rng = np.random.default_rng(len(covariance_type))
    ref = hmmlearn_gaussian(rng, covariance_type) if family == "gaussian" else hmmlearn_gmm(rng, covariance_type)
    model = ours_from(ref, family)
    X = [ref.sample(n, random_state=i)[0] for i, n in enumerate([1, 7, 30, 31, 60])]
    for x, s in zip(X, model.score_tokens(X)):
        assert s.sum() == pytest.approx(ref.score(x), rel=1e-8)
    X_cat, lengths = np.concatenate(X), [len(x) for x in X]
    np.testing.assert_allclose(np.concatenate(model.predict_proba(X)), ref.predict_proba(X_cat, lengths), atol=1e-8)
    for x, path in zip(X, model.predict(X)):
        ref_logprob, ref_path = ref.decode(x, algorithm="viterbi")
        np.testing.assert_array_equal(path, ref_path)


@pytest.mark.parametrize("family,covariance_type", [("gaussian", "diag"), ("gaussian", "full"), ("gmm", "diag")])
def test_fit_runs_hmmlearn_em_and_scores_its_result(family, covariance_type):
    rng = np.random.default_rng(1)
    truth = ours_from(hmmlearn_gaussian(rng, "full", n_states=3, dim=2), "gaussian")
    X = truth.sample(40, 25, random_state=2)
    X_cat, lengths = np.concatenate(X), np.array([len(x) for x in X])
    run = em.fit_continuous(family, X, X_cat, lengths, 3, covariance_type, 2, 15, 1e-3, seed=7)
    ref_cls = GaussianHMM if family == "gaussian" else GMMHMM
    kw = {} if family == "gaussian" else {"n_mix": 2}
    ref = ref_cls(n_components=3, covariance_type=covariance_type, n_iter=15, tol=1e-3, random_state=7,
                  implementation="log", **kw).fit(X_cat, lengths)
    np.testing.assert_allclose(run.params["means"], ref.means_)
    np.testing.assert_allclose(run.history, list(ref.monitor_.history))
    # the final E-step is seqbench's own forward pass over hmmlearn's final parameters
    assert run.stats.log_likelihood == pytest.approx(ref.score(X_cat, lengths), rel=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = HMM(n_states=3, emission=family, covariance_type=covariance_type, n_mix=2, n_iter=30,
                    random_state=0).fit(X)
    h = np.array(model.history_)
    assert np.all(np.diff(h) >= -1e-6 * np.abs(h[1:]))  # hmmlearn's EM (its covariance prior is tiny)
    np.testing.assert_allclose(model.transmat_.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(model.startprob_.sum(), 1.0, atol=1e-12)
    if family == "gmm":
        np.testing.assert_allclose(model.weights_.sum(axis=1), 1.0, atol=1e-12)
    assert model.n_features_ == 2 and model.fit_mode_ == "density"
    assert model.covars_.shape == ((3, 2, 2) if family == "gaussian" else (3, 2, 2, 2))
    assert np.isfinite(np.concatenate(model.score_tokens(X))).all()


def test_sample_matches_the_emission_moments():
    means = np.array([[1.0, -2.0], [5.0, 5.0]])
    covars = np.array([[[1.0, 0.6], [0.6, 2.0]], [[0.5, 0.0], [0.0, 0.5]]])
    model = HMM.from_params([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], means=means, covars=covars)
    X, states = model.sample(200, 50, random_state=0, return_states=True)
    assert all(x.shape == (50, 2) for x in X) and all((s == 0).all() for s in states)
    flat = np.concatenate(X)
    np.testing.assert_allclose(flat.mean(axis=0), means[0], atol=0.05)
    np.testing.assert_allclose(np.cov(flat.T), covars[0], atol=0.08)
    weights = np.array([[0.3, 0.7]])
    mix = HMM.from_params([1.0], [[1.0]], means=np.array([[[0.0], [10.0]]]), covars=np.full((1, 2, 1, 1), 0.01),
                          weights=weights)
    draws = np.concatenate(mix.sample(100, 100, random_state=1))[:, 0]
    assert np.mean(draws > 5) == pytest.approx(0.7, abs=0.02)


# ------------------------------------------------------------------------ bic/aic
@pytest.mark.parametrize("family,covariance_type,n_mix,count", [
    ("gaussian", "diag", 1, 2 + 6 + 6 + 6),         # K=3, d=2: start 2, trans 6, means 6, variances 6
    ("gaussian", "full", 1, 2 + 6 + 6 + 9),         # full: 3 per state
    ("gaussian", "spherical", 1, 2 + 6 + 6 + 3),
    ("gaussian", "tied", 1, 2 + 6 + 6 + 3),
    ("gmm", "diag", 2, 2 + 6 + 12 + 12 + 1),        # hmmlearn counts n_mix - 1 weights in all
    ("gmm", "tied", 2, 2 + 6 + 12 + 9 + 1),
])
def test_bic_aic_count_parameters_as_hmmlearn(family, covariance_type, n_mix, count):
    K, d = 3, 2
    assert (K - 1) + K * (K - 1) + n_emission_params(family, K, d, covariance_type, n_mix) == count
    rng = np.random.default_rng(3)
    X = [rng.normal(size=(n, d)) for n in (20, 30)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = HMM(n_states=K, emission=family, covariance_type=covariance_type, n_mix=n_mix, n_iter=3,
                    random_state=0).fit(X)
    loglik = sum(s.sum() for s in model.score_tokens(X))
    assert model.bic(X) == pytest.approx(-2 * loglik + count * np.log(50), rel=1e-12)
    assert model.aic(X) == pytest.approx(-2 * loglik + 2 * count, rel=1e-12)


def test_categorical_bic_aic_equal_hmmlearn():
    rng = np.random.default_rng(4)
    start, trans, emit = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(3), 3), rng.dirichlet(np.ones(5), 3)
    model = HMM.from_params(start, trans, emit)
    ref = CategoricalHMM(n_components=3, n_features=5)
    ref.startprob_, ref.transmat_, ref.emissionprob_ = start, trans, emit
    X = [rng.integers(0, 5, size=n) for n in (10, 25, 7)]
    X_cat, lengths = np.concatenate(X)[:, None], [len(x) for x in X]
    assert model.bic(X) == pytest.approx(ref.bic(X_cat, lengths), rel=1e-10)
    assert model.aic(X) == pytest.approx(ref.aic(X_cat, lengths), rel=1e-10)
    assert n_emission_params("categorical", 3, 5) == 12  # 3 x (5 - 1): plus start 2, transitions 6
