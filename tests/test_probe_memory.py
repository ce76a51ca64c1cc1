"""Classic memory probes: adding problem, copy memory, temporal order.

Known answers: the generators' structure checked position by position; the
memoryless baselines in closed form (Var(U1 + U2) = 1/6, 10 ln 8 / (T + 20)),
reached by hand-written memoryless predictors; the best linear predictor of
the sum by least squares; n-gram classifiers at chance exactly when their
order cannot span the marker distance.
"""
import math
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from seqbench import get_tags
from seqbench.data.probe_memory import BLANK, DELIMITER, adding_problem, copy_memory, temporal_order
from seqbench.exceptions import ConfigError
from seqbench.models import HMM, LSTM, GenerativeClassifier, Kalman, NGram
from seqbench.tasks.probes import Sweep
from seqbench.tasks.probes import adding, copy_memory as copy_task, order


# ----------------------------------------------------------------------- fakes
class ConstantMean(BaseEstimator):
    """Predicts the same mean for every step (no memory at all)."""

    def __init__(self, value=1.0):
        self.value = value

    def fit(self, X, y=None):
        return self

    def predict_next_moments(self, X):
        return [np.full(np.shape(x), self.value) for x in X], [np.ones(np.shape(x)) for x in X]


class MemorylessCopy(BaseEstimator):
    """Blank with certainty for the first T + 10 positions, uniform over the 8 symbols after."""

    def fit(self, X, y=None):
        return self

    def predict_proba(self, X):
        out = []
        for x in X:
            p = np.zeros((len(x), BLANK + 1))
            p[: len(x) - 10, BLANK] = 1.0
            p[len(x) - 10:, :BLANK] = 1.0 / 8
            out.append(p)
        return out


class PerfectCopy(MemorylessCopy):
    """Reads the answer from the input (a perfect memory): one-hot on the true tags."""

    def predict_proba(self, X):
        out = []
        for x in X:
            tags = np.full(len(x), BLANK)
            tags[len(x) - 10:] = x[:10]
            out.append(np.eye(BLANK + 1)[tags])
        return out


def _run(task, est, splits):
    return task.evaluate(task.fit(est, splits), splits)


# ================================================================ adding problem
def test_adding_generator_structure():
    splits = adding_problem(lengths=(10, 25), n_sequences=300, n_test=50, seed=3)
    assert list(splits.conditions) == [10, 25]
    assert splits.info["kind"] == "probe-adding" and splits.info["input_kind"] == "continuous"
    assert splits.train is splits.conditions[10].train
    for T, cond in splits.conditions.items():
        assert cond.info["condition"] == {"T": T}
        assert [len(getattr(cond, p)) for p in ("train", "valid", "test")] == [300, 75, 50]
        for part in (cond.train, cond.test):
            X = np.stack(part.X)
            assert X.shape[1:] == (T + 1, 2) and X.dtype == np.float64
            values, marks = X[:, :T, 0], X[:, :T, 1]
            assert set(np.unique(marks)) == {0.0, 1.0}
            assert (marks.sum(axis=1) == 2).all()
            assert (marks[:, : T // 2].sum(axis=1) == 1).all()          # one marker in each half
            assert ((values >= 0) & (values < 1)).all()
            assert (X[:, T, 1] == 0).all()
            np.testing.assert_array_equal(X[:, T, 0], (values * marks).sum(axis=1))  # the answer is the sum
            pos = part.extra["markers"]
            np.testing.assert_array_equal(marks[np.arange(len(X))[:, None], pos], 1.0)


def test_adding_generator_is_seeded_and_checks_options():
    a, b = adding_problem(lengths=(10,), n_sequences=20, seed=1), adding_problem(lengths=(10,), n_sequences=20, seed=1)
    np.testing.assert_array_equal(np.stack(a.test.X), np.stack(b.test.X))
    c = adding_problem(lengths=(10,), n_sequences=20, seed=2)
    assert not np.array_equal(np.stack(a.test.X), np.stack(c.test.X))
    with pytest.raises(ConfigError, match=r"lengths\[1\]"):
        adding_problem(lengths=(10, 1))
    with pytest.raises(ConfigError, match="repeated"):
        adding_problem(lengths=(10, 10))
    with pytest.raises(ConfigError, match="empty"):
        adding_problem(lengths=())


def test_constant_mean_scores_the_closed_form_baseline():
    """Predicting E[sum] = 1 gives MSE Var(sum) = 1/6; predicting 0.5 gives 1/6 + 1/4."""
    splits = adding_problem(lengths=(10, 40), n_sequences=1, n_test=20000, seed=0)
    res = _run(adding, ConstantMean(1.0), splits)
    assert res["baseline_mse"] == pytest.approx(1 / 6, rel=1e-15)
    # sd of (S - 1)^2 is sqrt(1/15 - 1/36) ~ 0.197: the mean of 20000 is within 0.006 (4 sd)
    for T in (10, 40):
        assert res[f"mse@T={T}"] == pytest.approx(1 / 6, abs=0.006)
        assert res[f"mse_ratio@T={T}"] == pytest.approx(res[f"mse@T={T}"] * 6, rel=1e-12)
    assert res["n_sequences"] == 40000 and res["n_tokens"] == 20000 * (11 + 41)
    half = _run(adding, ConstantMean(0.5), splits)
    assert half["mse@T=10"] == pytest.approx(1 / 6 + 1 / 4, abs=0.01)


@pytest.mark.parametrize("T", [10, 11])
def test_linear_ratio_matches_least_squares(T):
    """The best linear predictor of the sum (fitted by least squares) reaches linear_mse_ratio."""
    splits = adding_problem(lengths=(T,), n_sequences=30000, n_test=30000, seed=4)

    def design(part):
        X = np.stack(part.X)
        return np.column_stack([np.ones(len(X)), X[:, :T, 0], X[:, :T, 1]]), X[:, T, 0]

    A, b = design(splits.train)
    w = np.linalg.lstsq(A, b, rcond=None)[0]
    A, b = design(splits.test)
    ratio = np.mean((A @ w - b) ** 2) / (1 / 6)
    h = T // 2
    assert adding.linear_mse_ratio(T) == pytest.approx(1 - (1 / h + 1 / (T - h)) / 2, rel=1e-15)
    assert ratio == pytest.approx(adding.linear_mse_ratio(T), abs=0.025)


def test_adding_with_real_models():
    """A Kalman filter's predicted mean is linear in the past: it cannot beat the best linear predictor
    (up to sampling noise); a neural Gaussian head runs end to end."""
    splits = adding_problem(lengths=(6,), n_sequences=60, n_test=400, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kal = _run(adding, Kalman(state_dim=2, n_iter=3), splits)
    assert kal["mse_ratio@T=6"] > adding.linear_mse_ratio(6) - 0.1
    net = _run(adding, LSTM(hidden_size=8, max_epochs=2, random_state=0, n_threads=1), splits)
    assert np.isfinite(net["mse@T=6"]) and net["n_sequences"] == 400


# =================================================================== copy memory
def test_copy_generator_structure():
    splits = copy_memory(lengths=(1, 7), n_sequences=40, n_test=10, seed=0)
    assert splits.info["kind"] == "probe-copy"
    assert len(splits.vocab) == 10 and len(splits.tagset) == 9
    assert splits.vocab.itos[BLANK] == "_" and splits.vocab.itos[DELIMITER] == ":"
    for T, cond in splits.conditions.items():
        X, Y = np.stack(cond.train.X), np.stack(cond.train.y)
        assert X.shape == Y.shape == (40, T + 20)
        assert ((X[:, :10] >= 0) & (X[:, :10] < 8)).all()
        assert (X[:, 10: T + 9] == BLANK).all() and (X[:, T + 9] == DELIMITER).all()
        assert (X[:, T + 10:] == BLANK).all()
        assert (Y[:, : T + 10] == BLANK).all()
        np.testing.assert_array_equal(Y[:, T + 10:], X[:, :10])


@pytest.mark.parametrize("T", [10, 50])
def test_memoryless_copy_scores_the_baseline_exactly(T):
    splits = copy_memory(lengths=(T,), n_sequences=1, n_test=200, seed=1)
    res = _run(copy_task, MemorylessCopy(), splits)
    assert res[f"baseline_xent@T={T}"] == 10 * math.log(8) / (T + 20)
    assert res[f"xent@T={T}"] == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-12)
    assert res[f"xent_ratio@T={T}"] == pytest.approx(1.0, rel=1e-12)
    perfect = _run(copy_task, PerfectCopy(), splits)
    assert perfect[f"xent@T={T}"] == 0.0 and perfect[f"copy_accuracy@T={T}"] == 1.0
    assert res["n_tokens"] == 200 * (T + 20)


def test_memoryless_hmm_tagger_does_not_beat_the_baseline():
    splits = copy_memory(lengths=(5,), n_sequences=200, n_test=100, seed=0)
    res = _run(copy_task, HMM(), splits)
    assert res["xent_ratio@T=5"] > 0.95
    assert res["copy_accuracy@T=5"] < 0.3   # chance 1/8


def test_copy_refuses_too_few_tag_columns():
    class Narrow(MemorylessCopy):
        def predict_proba(self, X):
            return [np.full((len(x), 5), 0.2) for x in X]

    splits = copy_memory(lengths=(3,), n_sequences=1, n_test=2)
    with pytest.raises(ConfigError, match="5 tag columns; the copy task has 9 tags"):
        _run(copy_task, Narrow(), splits)


# ================================================================ temporal order
@pytest.mark.parametrize("n_classes", [2, 4])
def test_order_generator_puts_markers_at_distance_d(n_classes):
    splits = temporal_order(distances=(3, 12), n_classes=n_classes, n_noise=4, jitter=6, n_sequences=200, seed=2)
    assert splits.info["n_classes"] == n_classes and len(splits.tagset) == n_classes
    for d, cond in splits.conditions.items():
        X, y, pos = np.stack(cond.train.X), cond.train.y, cond.train.extra["markers"]
        assert X.shape == (200, d + 10 + 6) and y.shape == (200,)
        assert np.bincount(y).tolist() == [200 // n_classes] * n_classes
        is_marker = X >= 4
        assert (is_marker.sum(axis=1) == 2).all()
        where = np.array([np.flatnonzero(row) for row in is_marker])
        np.testing.assert_array_equal(where, pos)
        assert (where[:, 1] - where[:, 0] == d).all()
        assert (where[:, 0] >= 5).all() and (where[:, 1] <= X.shape[1] - 6).all()
        first, second = X[np.arange(200), where[:, 0]] - 4, X[np.arange(200), where[:, 1]] - 4  # 0 = X, 1 = Y
        if n_classes == 2:
            assert (first != second).all()
            np.testing.assert_array_equal(y, first)                 # 0: X first, 1: Y first
        else:
            np.testing.assert_array_equal(y, 2 * first + second)    # XX, XY, YX, YY


def test_ngram_classifier_beats_chance_exactly_when_its_order_spans_the_distance():
    """A trigram sees 2 symbols back: it relates markers 2 apart, not 3; a bigram neither."""
    splits = temporal_order(distances=(2, 3), n_sequences=2000, n_test=1000, seed=0)
    tri = _run(order, GenerativeClassifier("ngram", estimator_params={"order": 3}), splits)
    bi = _run(order, GenerativeClassifier(NGram(order=2)), splits)
    assert tri["chance"] == 0.5 and tri["bag_of_symbols_accuracy"] == 0.5
    assert tri["accuracy@d=2"] > 0.95
    # at chance: sd of an accuracy over 1000 balanced test sequences is 0.016
    assert abs(tri["accuracy@d=3"] - 0.5) < 0.06
    assert abs(bi["accuracy@d=2"] - 0.5) < 0.06 and abs(bi["accuracy@d=3"] - 0.5) < 0.06
    assert tri["n_sequences"] == 2000


def test_unigram_classifier_reaches_the_bag_of_symbols_accuracy_on_four_classes():
    splits = temporal_order(distances=(4,), n_classes=4, n_sequences=2000, n_test=1000, seed=1)
    res = _run(order, GenerativeClassifier("ngram", estimator_params={"order": 1}), splits)
    assert res["chance"] == 0.25 and res["bag_of_symbols_accuracy"] == 0.75
    assert abs(res["accuracy@d=4"] - 0.75) < 0.06


def test_neural_classifier_runs_on_order():
    splits = temporal_order(distances=(2,), n_sequences=64, n_test=16, seed=0)
    res = _run(order, LSTM(hidden_size=8, embedding_dim=8, max_epochs=1, random_state=0, n_threads=1), splits)
    assert 0.0 <= res["accuracy@d=2"] <= 1.0 and res["n_sequences"] == 16


def test_order_options_are_checked():
    with pytest.raises(ConfigError, match="n_classes"):
        temporal_order(n_classes=3)
    with pytest.raises(ConfigError, match=r"distances\[0\]"):
        temporal_order(distances=(0,))


# ======================================================================= applies
def test_applies_reads_kind_and_tags():
    add = adding_problem(lengths=(4,), n_sequences=4)
    cop = copy_memory(lengths=(2,), n_sequences=4)
    ordr = temporal_order(distances=(2,), n_sequences=4)
    lstm, gen = get_tags(LSTM()), get_tags(GenerativeClassifier())
    assert adding.applies(get_tags(Kalman()), add) is None
    assert adding.applies(lstm, add) is None
    assert adding.applies(get_tags(NGram()), add) == "model is not a continuous density"
    assert adding.applies(get_tags(Kalman()), cop).startswith("dataset is not")
    assert copy_task.applies(get_tags(HMM()), cop) is None and copy_task.applies(lstm, cop) is None
    assert copy_task.applies(get_tags(Kalman()), cop) == "model is not a tagger"
    assert copy_task.applies(gen, cop) == "model is not a tagger"
    assert order.applies(gen, ordr) is None and order.applies(lstm, ordr) is None
    assert order.applies(get_tags(NGram()), ordr) == "model is not a sequence classifier"
    assert order.applies(gen, cop).startswith("dataset is not")
    assert order.applies(get_tags(GenerativeClassifier("kalman")), ordr) == "model does not read token ids"


def test_fit_returns_a_sweep_of_clones():
    splits = temporal_order(distances=(2, 5), n_sequences=40, seed=0)
    template = GenerativeClassifier("ngram", estimator_params={"order": 2})
    sweep = order.fit(template, splits)
    assert isinstance(sweep, Sweep) and list(sweep.models) == [2, 5]
    assert all(m is not template and hasattr(m, "classes_") for m in sweep.models.values())
    assert not hasattr(template, "classes_")
