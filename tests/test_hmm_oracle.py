"""The synthetic-HMM oracle (posterior decoding) and the exact mutual information of a categorical HMM."""
import itertools

import numpy as np
import pytest

from seqbench.data.synthetic import synthetic_hmm
from seqbench.exceptions import ConfigError
from seqbench.models import HMM


def small_model(seed=0, n_states=2, n_symbols=3):
    rng = np.random.default_rng(seed)
    trans = rng.dirichlet(np.ones(n_states), size=n_states)
    emit = rng.dirichlet(np.ones(n_symbols) * 0.5, size=n_states)
    return trans, emit


def stationary(trans):
    w, v = np.linalg.eig(trans.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1))])
    return pi / pi.sum()


def mi_from_joint(joint):
    p, q = joint.sum(axis=1), joint.sum(axis=0)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / np.outer(p, q)[nz])).sum())


def brute_force_mi(trans, emit, d):
    """Enumerate every state path s_0 .. s_d from the stationary start."""
    pi, (K, V) = stationary(trans), emit.shape
    joint = np.zeros((V, V))
    for path in itertools.product(range(K), repeat=d + 1):
        p = pi[path[0]] * np.prod([trans[a, b] for a, b in zip(path[:-1], path[1:])])
        joint += p * np.outer(emit[path[0]], emit[path[-1]])
    return mi_from_joint(joint)


@pytest.mark.parametrize("seed", [0, 1])
def test_mutual_information_against_enumeration(seed):
    trans, emit = small_model(seed, n_states=3)
    model = HMM.from_params(stationary(trans), trans, emit)
    d = np.array([[1, 2], [5, 3]])
    got = model.mutual_information(d)
    assert got.shape == (2, 2)
    for dist, value in zip(d.ravel(), got.ravel()):
        assert value == pytest.approx(brute_force_mi(trans, emit, int(dist)), rel=1e-10, abs=1e-14)
    assert isinstance(model.mutual_information(1), float)


def test_mutual_information_against_a_long_sample_and_decay():
    trans = np.array([[0.9, 0.1], [0.05, 0.95]])
    emit = np.array([[0.8, 0.15, 0.05], [0.1, 0.2, 0.7]])
    model = HMM.from_params(stationary(trans), trans, emit)
    x = np.stack(model.sample(5000, 80, random_state=0))  # stationary start: every step has the same law
    for d in (1, 4):
        joint = np.zeros((3, 3))
        np.add.at(joint, (x[:, :-d].ravel(), x[:, d:].ravel()), 1.0)
        assert model.mutual_information(d) == pytest.approx(mi_from_joint(joint / joint.sum()), abs=3e-3)
    values = model.mutual_information(np.arange(1, 400, 7))
    assert np.all(np.diff(values) <= 1e-15) and values[0] > 0.1 and values[-1] < 1e-12


def test_mutual_information_errors():
    model = HMM.from_params([0.5, 0.5], *small_model())
    for bad in (0, -1, 1.5, [], [1, 0]):
        with pytest.raises(ConfigError, match="distances must be integers >= 1"):
            model.mutual_information(bad)
    gaussian = HMM.from_params([1.0], [[1.0]], means=[[0.0]], covars=[[[1.0]]])
    with pytest.raises(NotImplementedError, match="continuous"):
        gaussian.mutual_information(1)


def test_synthetic_oracle_decodes_posterior_states():
    ds = synthetic_hmm(n_states=4, n_symbols=6, n_sequences=300, length=40, seed=3)
    oracle = ds.oracle
    assert oracle.decoder == "posterior" and oracle.fit_mode_ == "density"
    X, S = ds.test.X, np.concatenate(ds.test.y)
    post = oracle.predict_proba(X)
    np.testing.assert_array_equal(np.concatenate(oracle.predict(X)), np.concatenate(post).argmax(axis=1))
    viterbi = HMM.from_params(oracle.startprob_, oracle.transmat_, oracle.emissionprob_)
    acc_post = np.mean(np.concatenate(oracle.predict(X)) == S)
    acc_viterbi = np.mean(np.concatenate(viterbi.predict(X)) == S)
    assert acc_post >= acc_viterbi  # posterior decoding maximises the expected number of correct states
    # and its accuracy is what the posteriors promise: the mean of the max posterior
    assert acc_post == pytest.approx(np.concatenate(post).max(axis=1).mean(), abs=0.03)
