"""Synthetic datasets: shapes, determinism, sample statistics against closed forms, the oracle."""
import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov

from seqbench.data import load_dataset
from seqbench.data.synthetic import lgssm_oracle, synthetic_hmm, synthetic_lgssm
from seqbench.exceptions import ConfigError
from seqbench.models import HMM


@pytest.fixture(scope="module")
def hmm_data():
    return synthetic_hmm(n_states=4, n_symbols=12, n_sequences=80, length=30, seed=3)


# ----------------------------------------------------------------------- HMM
def test_hmm_shapes_vocab_and_info(hmm_data):
    ds = hmm_data
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (80, 20, 20)
    for part in (ds.train, ds.valid, ds.test):
        for x, y in zip(part.X, part.y):
            assert x.shape == y.shape == (30,) and x.dtype == y.dtype == np.int64
            assert 0 <= x.min() and x.max() < 12 and 0 <= y.min() and y.max() < 4
    assert len(ds.vocab) == 12 and ds.vocab.specials == ()
    assert [ds.vocab.stoi[f"s{i}"] for i in range(12)] == list(range(12))  # ids are the symbols
    assert ds.tagset.itos == ("h0", "h1", "h2", "h3")
    assert ds.info["name"] == "synthetic-hmm" and ds.info["kind"] == "synthetic" and ds.info["seed"] == 3
    assert ds.info["options"]["n_symbols"] == 12 and ds.info["n_sequences"] == {"train": 80, "valid": 20, "test": 20}
    assert isinstance(ds.oracle, HMM) and ds.oracle.fit_mode_ == "density"
    np.testing.assert_array_equal(ds.oracle.transmat_, ds.info["true_params"]["transmat"])


def test_hmm_part_sizes():
    ds = synthetic_hmm(n_sequences=3, length=4, n_test=5)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (3, 1, 5)


def test_hmm_deterministic_and_seed_dependent():
    a = synthetic_hmm(n_sequences=20, length=15, seed=1)
    b = synthetic_hmm(n_sequences=20, length=15, seed=1)
    c = synthetic_hmm(n_sequences=20, length=15, seed=2)
    for part in ("train", "valid", "test"):
        for xa, xb in zip(getattr(a, part).X, getattr(b, part).X):
            np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(a.oracle.emissionprob_, b.oracle.emissionprob_)
    assert not np.array_equal(np.concatenate(a.train.X), np.concatenate(c.train.X))
    assert not np.array_equal(a.oracle.transmat_, c.oracle.transmat_)


def _within_sampling_error(counts, true_rows):
    """Empirical row frequencies lie within 5 binomial standard errors of the true probabilities."""
    n = counts.sum(axis=1, keepdims=True)
    seen = n[:, 0] > 0
    freq = counts[seen] / n[seen]
    p = true_rows[seen]
    tol = 5 * np.sqrt(p * (1 - p) / n[seen]) + 1e-3
    assert np.all(np.abs(freq - p) <= tol), np.max(np.abs(freq - p) - tol)


def test_hmm_empirical_frequencies_approach_true_parameters():
    ds = synthetic_hmm(n_states=3, n_symbols=5, n_sequences=1500, length=40, seed=7, concentration=1.0)
    S, X = np.stack(ds.train.y), np.stack(ds.train.X)
    o = ds.oracle
    trans = np.zeros((3, 3))
    np.add.at(trans, (S[:, :-1].ravel(), S[:, 1:].ravel()), 1)
    emit = np.zeros((3, 5))
    np.add.at(emit, (S.ravel(), X.ravel()), 1)
    start = np.bincount(S[:, 0], minlength=3)[None]
    _within_sampling_error(trans, o.transmat_)
    _within_sampling_error(emit, o.emissionprob_)
    _within_sampling_error(start, o.startprob_[None])
    assert trans.sum(axis=1).min() > 1000  # every state visited: the check had data


def test_oracle_scores_finite_and_beat_unigram(hmm_data):
    ds = hmm_data
    for part in (ds.train, ds.valid, ds.test):
        assert all(np.isfinite(s).all() for s in ds.oracle.score_tokens(part.X))
    counts = np.bincount(np.concatenate(ds.train.X), minlength=12) + 1.0  # add-one unigram on train
    unigram = np.log(counts / counts.sum())[np.concatenate(ds.test.X)].mean()
    assert ds.oracle.score(ds.test.X) > unigram + 0.05


def test_oracle_decodes_true_states_better_than_majority(hmm_data):
    ds = hmm_data
    truth, decoded = np.concatenate(ds.test.y), np.concatenate(ds.oracle.predict(ds.test.X))
    majority = np.bincount(truth).max() / truth.size
    assert (decoded == truth).mean() > majority


def test_hmm_bad_options():
    with pytest.raises(ConfigError, match="concentration"):
        synthetic_hmm(concentration=0)
    with pytest.raises(ConfigError, match="n_states"):
        synthetic_hmm(n_states=0)
    with pytest.raises(ConfigError, match="n_valid"):
        synthetic_hmm(n_valid=0)


def test_named_dataset_dispatch():
    ds = load_dataset("synthetic-hmm", n_sequences=8, length=5, seed=4)
    direct = synthetic_hmm(n_sequences=8, length=5, seed=4)
    np.testing.assert_array_equal(np.concatenate(ds.test.X), np.concatenate(direct.test.X))


# --------------------------------------------------------------------- LGSSM
def _params(ds):
    return {k: np.asarray(v) for k, v in ds.info["true_params"].items()}


def test_lgssm_shapes_stability_and_info():
    ds = synthetic_lgssm(state_dim=3, obs_dim=2, n_sequences=12, length=20, seed=1)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (12, 3, 3)
    for part in (ds.train, ds.valid, ds.test):
        assert part.y is None
        for x, s in zip(part.X, part.states):
            assert x.shape == (20, 2) and s.shape == (20, 3) and x.dtype == np.float64
            assert np.isfinite(x).all()
    p = _params(ds)
    assert p["A"].shape == (3, 3) and p["C"].shape == (2, 3) and p["x0"].shape == (3,)
    assert np.max(np.abs(np.linalg.eigvals(p["A"]))) < 1
    for name in ("Q", "R", "P0"):
        np.testing.assert_allclose(p[name], p[name].T)
        assert np.linalg.eigvalsh(p[name]).min() > 0
    assert ds.info["name"] == "synthetic-lgssm" and ds.info["kind"] == "continuous"


def test_lgssm_deterministic_and_seed_dependent():
    a, b, c = (synthetic_lgssm(n_sequences=5, length=10, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(np.stack(a.train.X), np.stack(b.train.X))
    np.testing.assert_array_equal(np.stack(a.test.states), np.stack(b.test.states))
    assert not np.allclose(np.stack(a.train.X), np.stack(c.train.X))


def test_lgssm_state_covariance_matches_lyapunov_solution():
    ds = synthetic_lgssm(state_dim=2, obs_dim=1, n_sequences=200, length=400, seed=5)
    p = _params(ds)
    sigma = solve_discrete_lyapunov(p["A"], p["Q"])  # stationary covariance: S = A S A^T + Q
    S = np.stack(ds.train.states)  # (N, T, d)
    flat = S.reshape(-1, 2)
    scale = np.abs(sigma).max()
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=0.1 * np.sqrt(scale))
    np.testing.assert_allclose(flat.T @ flat / len(flat), sigma, atol=0.1 * scale)
    lag1 = np.einsum("ntj,ntk->jk", S[:, 1:], S[:, :-1]) / (S.shape[0] * (S.shape[1] - 1))
    np.testing.assert_allclose(lag1, p["A"] @ sigma, atol=0.1 * scale)  # E[x_t x_{t-1}^T] = A S
    Y = np.concatenate(ds.train.X)
    obs_cov = p["C"] @ sigma @ p["C"].T + p["R"]
    np.testing.assert_allclose(Y.T @ Y / len(Y), obs_cov, atol=0.1 * np.abs(obs_cov).max())


def test_lgssm_oracle_hook():
    ds = synthetic_lgssm(n_sequences=4, length=10)
    try:
        oracle = lgssm_oracle(ds.info["true_params"])
    except NotImplementedError:
        assert ds.oracle is None and "Kalman" in ds.info["oracle"]
    else:
        assert ds.oracle is not None and oracle.fit_mode_ == "density"


def test_lgssm_bad_options():
    with pytest.raises(ConfigError, match="state_dim"):
        synthetic_lgssm(state_dim=0)
    with pytest.raises(ConfigError, match="seed"):
        synthetic_lgssm(seed=-1)
