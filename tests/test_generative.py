"""GenerativeClassifier: Bayes' rule over one density per class.

Known answers: on two classes drawn from two known first-order Markov
chains, a bigram per class (trained on plenty of data) takes the decisions
of the true posterior computed by hand from the chains; the prior shifts
the log-odds by exactly log(n1 / n0); the joint likelihood is the sum of
the class models' own ``score_tokens``.
"""
import pickle
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.base import clone

from seqbench import get_tags, list_models, make_model
from seqbench.exceptions import ConfigError, InvalidSequenceError, NotFittedError
from seqbench.models import HMM, LSTM, GenerativeClassifier, Kalman, NGram

PI = np.array([[0.6, 0.3, 0.1], [0.2, 0.4, 0.4]])
P = np.array([[[0.7, 0.2, 0.1], [0.1, 0.7, 0.2], [0.2, 0.1, 0.7]],
              [[0.3, 0.4, 0.3], [0.4, 0.2, 0.4], [0.5, 0.3, 0.2]]])


def _markov(rng, c, n, length):
    """``n`` sequences of chain ``c``, shape (n, length)."""
    X = np.empty((n, length), dtype=np.int64)
    X[:, 0] = (rng.random(n)[:, None] > PI[c].cumsum()).sum(axis=1)
    for t in range(1, length):
        X[:, t] = (rng.random(n)[:, None] > P[c].cumsum(axis=1)[X[:, t - 1]]).sum(axis=1)
    return np.minimum(X, 2)


def _true_log_likelihood(X, c):
    return np.log(PI[c][X[:, 0]]) + np.log(P[c][X[:, :-1], X[:, 1:]]).sum(axis=1)


def _two_chains(seed, n_per_class, length=10):
    rng = np.random.default_rng(seed)
    X = np.concatenate([_markov(rng, 0, n_per_class, length), _markov(rng, 1, n_per_class, length)])
    y = np.repeat([0, 1], n_per_class)
    return list(X), y


# ================================================================== known answers
def test_bigram_per_class_takes_the_bayes_optimal_decisions():
    X, y = _two_chains(0, 3000)
    X_test, y_test = _two_chains(1, 1000)
    clf = GenerativeClassifier(NGram(order=2), priors="uniform").fit(X, y)
    A = np.stack(X_test)
    ll = np.column_stack([_true_log_likelihood(A, 0), _true_log_likelihood(A, 1)])
    true_post = np.exp(ll - logsumexp(ll, axis=1, keepdims=True))
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert proba.shape == (2000, 2)
    assert np.mean(clf.predict(X_test) == ll.argmax(axis=1)) >= 0.95
    assert np.mean(np.abs(proba - true_post)) < 0.03
    bayes_accuracy = np.mean(ll.argmax(axis=1) == y_test)
    assert clf.score(X_test, y_test) == pytest.approx(bayes_accuracy, abs=0.02)


def test_joint_likelihood_is_the_class_models_scores_plus_log_prior():
    X, y = _two_chains(2, 60)
    y = np.where(np.arange(len(y)) < 40, 5, 9)             # unbalanced, arbitrary labels: 40 vs 80
    clf = GenerativeClassifier("ngram", estimator_params={"order": 2}).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [5, 9])
    np.testing.assert_allclose(clf.class_log_prior_, np.log([40 / 120, 80 / 120]), rtol=1e-15)
    by_hand = []
    for label, prior in zip((5, 9), (40 / 120, 80 / 120)):
        model = NGram(order=2).fit([x for x, c in zip(X, y) if c == label])
        by_hand.append(np.array([s.sum() for s in model.score_tokens(X)]) + np.log(prior))
    by_hand = np.column_stack(by_hand)
    np.testing.assert_allclose(clf.predict_log_proba(X), by_hand - logsumexp(by_hand, axis=1, keepdims=True),
                               rtol=1e-12, atol=1e-12)
    # uniform priors move every log-odds by exactly log(80 / 40)
    flat = GenerativeClassifier("ngram", estimator_params={"order": 2}, priors="uniform").fit(X, y)
    odds = np.diff(clf.predict_log_proba(X), axis=1)[:, 0] - np.diff(flat.predict_log_proba(X), axis=1)[:, 0]
    np.testing.assert_allclose(odds, np.log(2.0), rtol=1e-12)


def test_continuous_densities_classify_too():
    """White noise against a random walk: a Kalman filter per class tells them apart."""
    rng = np.random.default_rng(0)
    noise = [rng.normal(size=(30, 1)) for _ in range(40)]
    walks = [np.cumsum(rng.normal(size=(30, 1)), axis=0) for _ in range(40)]
    X, y = noise + walks, np.repeat([0, 1], 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = GenerativeClassifier(Kalman(state_dim=1, n_iter=10)).fit(X[::2], y[::2])
    assert get_tags(clf).input_kind == "continuous" and clf.n_features_ == 1
    assert clf.score(X[1::2], y[1::2]) >= 0.9


def test_lstm_language_models_classify():
    X, y = _two_chains(3, 30, length=8)
    clf = GenerativeClassifier(LSTM(hidden_size=8, embedding_dim=8, max_epochs=2, n_threads=1),
                               random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert get_tags(clf).neural and clf.n_parameters_ == sum(e.n_parameters_ for e in clf.estimators_)
    again = GenerativeClassifier(LSTM(hidden_size=8, embedding_dim=8, max_epochs=2, n_threads=1),
                                 random_state=0).fit(X, y)
    np.testing.assert_array_equal(proba, again.predict_proba(X))  # random_state seeds each class's copy
    seeds = {e.random_state for e in clf.estimators_}
    assert len(seeds) == 2


# ====================================================================== contract
def test_registered_with_classifier_tags():
    assert "generative" in list_models(classifier=True)
    assert "generative" not in list_models(density=True) and "generative" not in list_models(tagger=True)
    tags = get_tags(make_model("generative"))
    assert tags.classifier and not tags.density and not tags.tagger and not tags.sampler
    assert tags.input_kind == "discrete"


def test_params_clone_and_pickle():
    X, y = _two_chains(4, 30)
    est = GenerativeClassifier(NGram(order=3), priors="uniform")
    assert est.get_params()["estimator__order"] == 3
    est.set_params(estimator__order=2)
    assert est.estimator.order == 2
    twin = clone(est)
    assert twin.estimator is not est.estimator and twin.estimator.order == 2
    est.fit(X, y)
    assert not hasattr(est.estimator, "vocab_size_")              # the template stays unfitted
    assert all(e is not est.estimator for e in est.estimators_)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    keyed = GenerativeClassifier("ngram", estimator_params={"order": 2}, priors="uniform").fit(X, y)
    np.testing.assert_array_equal(keyed.predict_proba(X), est.predict_proba(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_hmm_classes_are_seeded_by_random_state():
    X, y = _two_chains(5, 20)
    a = GenerativeClassifier(HMM(n_states=2, n_iter=5), random_state=7).fit(X, y)
    b = GenerativeClassifier(HMM(n_states=2, n_iter=5), random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


# ===================================================================== bad input
def test_per_token_tags_are_refused():
    X, _ = _two_chains(6, 5)
    with pytest.raises(InvalidSequenceError, match=r"y\[0\] is an array of 10 values \(per-token tags\?\)"):
        GenerativeClassifier().fit(X, [x % 2 for x in X])
    with pytest.raises(InvalidSequenceError, match=r"y has shape \(10, 10\)"):
        GenerativeClassifier().fit(X, np.stack(X) % 2)


@pytest.mark.parametrize("y,msg", [
    (None, "needs y"),
    ([0, 1, 0], r"y has 3 labels for 10 sequences in X"),
    ([0.0, 1.5] * 5, r"y\[0\] = 0\.0 is not an integer class label"),
    (np.array([0.0, 1.0] * 5), "dtype float64; class labels must be integers"),
    ([1] * 10, r"y has only one class \(1\)"),
    (["a", "b"] * 5, r"y\[0\] = 'a' is not an integer"),
])
def test_bad_labels_are_named(y, msg):
    X, _ = _two_chains(6, 5)
    with pytest.raises(InvalidSequenceError, match=msg):
        GenerativeClassifier().fit(X, y)


def test_bad_sequences_name_their_index_in_the_whole_X():
    X, y = _two_chains(7, 5)
    X[7] = np.array([], dtype=np.int64)                   # class 1, the third of its class
    with pytest.raises(InvalidSequenceError, match=r"X\[7\] is empty"):
        GenerativeClassifier().fit(X, y)
    X[7] = np.array([1, -3])
    with pytest.raises(InvalidSequenceError, match=r"X\[7\]\[1\] = -3"):
        GenerativeClassifier().fit(X, y)
    X[7] = np.array([1, 2])
    clf = GenerativeClassifier().fit(X, y)
    with pytest.raises(InvalidSequenceError, match=r"X\[1\]\[0\] = 0\.5"):
        clf.predict([np.array([1]), np.array([0.5])])


def test_bad_configuration():
    X, y = _two_chains(8, 5)
    with pytest.raises(ConfigError, match="priors"):
        GenerativeClassifier(priors="equal").fit(X, y)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        GenerativeClassifier("nope").fit(X, y)
    with pytest.raises(ConfigError, match="bad parameters for model 'ngram'"):
        GenerativeClassifier("ngram", estimator_params={"colour": 1}).fit(X, y)
    with pytest.raises(ConfigError, match="bad estimator_params for NGram"):
        GenerativeClassifier(NGram(), estimator_params={"colour": 1}).fit(X, y)
    with pytest.raises(ConfigError, match="estimator_params must be a dict"):
        GenerativeClassifier(estimator_params=[("order", 2)]).fit(X, y)
    with pytest.raises(ConfigError, match="not a density"):
        GenerativeClassifier(LSTM(bidirectional=True)).fit(X, y)
    with pytest.raises(ConfigError, match="seqbench density model or a registry key"):
        GenerativeClassifier(3).fit(X, y)


def test_unfitted_raises():
    X, y = _two_chains(9, 5)
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(NotFittedError):
            getattr(GenerativeClassifier(), method)(X)
    with pytest.raises(NotFittedError):
        GenerativeClassifier().score(X, y)
    with pytest.raises(NotImplementedError, match="score_tokens"):
        GenerativeClassifier().fit(X, y).score_tokens(X)
