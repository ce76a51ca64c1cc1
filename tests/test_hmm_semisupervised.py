"""Semi-supervised HMM: EM constrained by the known tags (-1 = unknown); states are the tags."""
import itertools
import warnings

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from seqbench.exceptions import ConfigError, ConvergenceWarning, InvalidSequenceError
from seqbench.models import HMM
from seqbench.models import _hmm_em as em


def quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args)


@pytest.fixture(scope="module")
def tagged():
    rng = np.random.default_rng(0)
    K, V = 4, 12
    trans = rng.dirichlet(np.full(K, 0.5), size=K) * 0.6 + 0.4 * np.eye(K)
    emit = rng.dirichlet(np.full(V, 0.3), size=K)
    truth = HMM.from_params(np.full(K, 1 / K), trans, emit)
    X, S = truth.sample(150, 30, random_state=1, return_states=True)
    hidden = [rng.random(len(s)) > 0.1 for s in S]  # 90% of the tags hidden
    hidden[:20] = [np.ones(len(s), bool) for s in S[:20]]  # and 20 sequences wholly unlabelled
    y = [np.where(h, -1, s) for h, s in zip(hidden, S)]
    return X, S, y, hidden


def test_beats_unsupervised_em_with_the_best_state_to_tag_mapping(tagged):
    X, S, y, hidden = tagged
    semi = quiet(HMM(n_states=4, n_iter=100, random_state=0).fit, X, y)
    unsup = quiet(HMM(n_states=4, n_iter=100, random_state=0).fit, X)
    truth, hid = np.concatenate(S), np.concatenate(hidden)
    pred = np.concatenate(unsup.predict(X))
    confusion = np.zeros((4, 4))
    np.add.at(confusion, (pred, truth), 1)
    rows, cols = linear_sum_assignment(-confusion)  # the mapping that suits unsupervised EM best
    mapped = cols[np.argsort(rows)][pred]
    acc_unsup = np.mean(mapped[hid] == truth[hid])
    acc_semi = np.mean(np.concatenate(semi.labels_)[hid] == truth[hid])
    assert acc_semi > acc_unsup + 0.1
    # known tags are always decoded to their label; predict (no clamping) still tags the hidden ones well
    for labels, tags in zip(semi.labels_, y):
        np.testing.assert_array_equal(labels[tags >= 0], tags[tags >= 0])
    assert np.mean(np.concatenate(semi.predict(X))[hid] == truth[hid]) > acc_unsup + 0.1
    assert semi.fit_mode_ == "tagger" and semi.n_tags_ == semi.n_states_ == 4
    assert semi.score(X, S) == pytest.approx(np.mean(np.concatenate(semi.predict(X)) == truth))
    assert np.all(np.diff(semi.history_) >= -1e-9 * np.abs(semi.history_[1:]))


def test_posterior_decoder_clamps_known_tags_too(tagged):
    X, S, y, _ = tagged
    semi = quiet(HMM(n_states=4, n_iter=20, decoder="posterior", random_state=0).fit, X[:40], y[:40])
    for labels, tags in zip(semi.labels_, y[:40]):
        np.testing.assert_array_equal(labels[tags >= 0], tags[tags >= 0])


def test_constrained_e_step_against_brute_force():
    rng = np.random.default_rng(3)
    K, V = 3, 4
    start, trans, emit = rng.dirichlet(np.ones(K)), rng.dirichlet(np.ones(K), K), rng.dirichlet(np.ones(V), K)
    X = [np.array([0, 3, 1, 2]), np.array([2, 2]), np.array([1])]
    known = [np.array([-1, 2, -1, 0]), np.array([-1, -1]), np.array([1])]
    stats = em.estep(em.CategoricalData(X, V, K, known=known), start, trans, emit)
    total, occupancy = 0.0, np.zeros(K)
    for x, k in zip(X, known):
        paths = [np.array(p) for p in itertools.product(range(K), repeat=len(x))
                 if all(kk < 0 or kk == s for kk, s in zip(k, p))]  # the paths through the known tags
        joint = np.array([start[p[0]] * np.prod(trans[p[:-1], p[1:]]) * np.prod(emit[p, x]) for p in paths])
        total += np.log(joint.sum())
        for p, j in zip(paths, joint):
            np.add.at(occupancy, list(p), j / joint.sum())
    assert stats.log_likelihood == pytest.approx(total, rel=1e-12)  # log p(X, known tags)
    np.testing.assert_allclose(stats.occupancy, occupancy, rtol=1e-10)


def test_states_are_at_least_the_tags_and_errors():
    X = [np.array([0, 1, 2, 1]), np.array([2, 0])]
    y = [np.array([0, -1, 3, -1]), np.array([-1, -1])]
    model = quiet(HMM(n_states=2, n_iter=5, random_state=0).fit, X, y)
    assert model.n_states_ == 4 and model.transmat_.shape == (4, 4)
    with pytest.raises(ConfigError, match="order=1"):
        HMM(order=2).fit(X, y)
    with pytest.raises(InvalidSequenceError, match=r"y\[1\] has 1 tags for 2 tokens"):
        HMM().fit(X, [y[0], np.array([-1])])
    with pytest.raises(InvalidSequenceError, match=r"y\[0\]\[1\] = -2"):
        HMM().fit(X, [np.array([0, -2, 1, 1]), y[1]])
