"""HMM score_tokens(max_context=k): exact log p(x_t | x_{t-k..t-1}) against brute-force enumeration of state paths."""
import numpy as np
import pytest
from scipy.stats import norm

from seqbench.base import get_tags
from seqbench.exceptions import ConfigError
from seqbench.models import HMM

from _hmm_brute_force import truncated_log_probs

K, V, T = 2, 3, 6


@pytest.fixture
def params():
    rng = np.random.default_rng(3)
    return rng.dirichlet(np.ones(K)), rng.dirichlet(np.ones(K), size=K), rng.dirichlet(np.ones(V), size=K)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_categorical_matches_enumeration(params, k):
    startprob, transmat, B = params
    model = HMM.from_params(startprob, transmat, B)
    X = [np.array([0, 2, 1, 1, 0, 2]), np.array([2, 2, 0, 1, 0, 1]), np.array([1, 0])]
    for x, got in zip(X, model.score_tokens(X, max_context=k)):
        expected = truncated_log_probs(x, k, startprob, transmat, lambda s, o: B[s, o])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2])
def test_gaussian_matches_enumeration(params, k):
    startprob, transmat, _ = params
    means, covars = np.array([[-0.5], [1.5]]), np.array([[[1.0]], [[0.3]]])
    model = HMM.from_params(startprob, transmat, means=means, covars=covars)
    x = np.random.default_rng(1).normal(size=(T, 1))
    expected = truncated_log_probs(x, k, startprob, transmat,
                            lambda s, o: norm.pdf(o[0], means[s, 0], np.sqrt(covars[s, 0, 0])))
    np.testing.assert_allclose(model.score_tokens([x], max_context=k)[0], expected, rtol=0, atol=1e-12)


def test_far_tokens_under_far_apart_densities_do_not_underflow():
    """Densities of ~exp(-4500) at a window step: the shifted forward pass keeps the score finite and exact."""
    means, covars = np.array([[0.0], [60.0]]), np.array([[[0.1]], [[0.1]]])
    model = HMM.from_params([0.5, 0.5], [[0.9, 0.1], [0.1, 0.9]], means=means, covars=covars)
    x = np.array([[0.0], [30.0], [0.0]])
    got = model.score_tokens([x], max_context=1)[0]
    assert np.isfinite(got).all()
    # p(x_2 | x_1): both states give x_1 the same density, so the state after x_1 keeps its prior 50/50
    pred = np.array([0.5, 0.5]) @ np.array([[0.9, 0.1], [0.1, 0.9]])
    sd = np.sqrt(0.1)
    expected = np.log(pred[0] * norm.pdf(0.0, 0.0, sd) + pred[1] * norm.pdf(0.0, 60.0, sd))
    assert got[2] == pytest.approx(expected, abs=1e-10)


def test_long_context_gives_the_full_scores(params):
    model = HMM.from_params(*params)
    X = [np.array([0, 2, 1, 1, 0, 2, 1]), np.array([1, 0, 0])]
    for a, b in zip(model.score_tokens(X, max_context=len(X[0])), model.score_tokens(X)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.score_tokens(X, max_context=2), model.score_tokens(X)):
        np.testing.assert_array_equal(a[:3], b[:3])  # positions with at most k tokens of history keep their scores


def test_fitted_model_with_unseen_ids_and_tags():
    X = [np.array([0, 1, 2, 1, 0, 1, 2]), np.array([2, 1, 0, 0])]
    model = HMM(n_states=2, n_iter=5, tol=10.0, random_state=0).fit(X)
    assert get_tags(model).max_context
    scores = model.score_tokens([np.array([0, 1, 7, 1, 2])], max_context=1)[0]  # 7 was never seen
    assert np.isfinite(scores).all()
    x = np.array([0, 1, 3, 1, 2])  # id 3 is mapped to the unseen column as 7 is
    np.testing.assert_array_equal(model.score_tokens([x], max_context=1)[0], scores)


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_max_context(params, bad):
    with pytest.raises(ConfigError, match="max_context"):
        HMM.from_params(*params).score_tokens([np.array([0, 1])], max_context=bad)
