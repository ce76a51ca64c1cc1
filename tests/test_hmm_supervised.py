"""HMM(order=1|2).fit(X, y): the estimator delegates to the supervised tagging core; modes do not leak."""
import warnings

import numpy as np
import pytest

from seqbench.data.synthetic import synthetic_hmm
from seqbench.exceptions import ConvergenceWarning, InvalidSequenceError
from seqbench.models import HMM
from seqbench.models._hmm_tagger import HMMTaggerCore
from seqbench.tasks import tagging


@pytest.fixture(scope="module")
def ds():
    return synthetic_hmm(n_states=3, n_symbols=8, n_sequences=120, length=25, seed=5)


@pytest.mark.parametrize("order,decoder", [(1, "viterbi"), (2, "posterior")])
def test_fit_with_tags_delegates_to_the_core(ds, order, decoder):
    X, y = ds.train.X, ds.train.y
    model = HMM(order=order, decoder=decoder, max_suffix=3, rare_threshold=2).fit(X, y)
    core = HMMTaggerCore(order, 3, 8, max_suffix=3, rare_threshold=2, decoder=decoder).fit(X, y)
    assert model.fit_mode_ == "tagger" and model.n_tags_ == 3 and model.vocab_size_ == 8
    test = ds.test.X
    for a, b in zip(model.predict(test), core.predict(test)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.predict_proba(test), core.predict_proba(test)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.score_tokens(test), core.score_tokens(test)):
        np.testing.assert_array_equal(a, b)
    truth = np.concatenate(ds.test.y)
    assert model.score(test, ds.test.y) == pytest.approx(np.mean(np.concatenate(core.predict(test)) == truth))
    # a word id beyond the training vocabulary is an unknown word for the core, not an error
    assert np.isfinite(model.score_tokens([np.array([1, 50, 2])])[0]).all()


def test_tagging_task_hands_over_the_vocabulary(ds):
    model = HMM()
    tagging.fit(model, ds)
    assert model.vocab is ds.vocab and model.tagger_.words == list(ds.vocab.itos)
    row = tagging.evaluate(model, ds)
    assert 0.0 <= row["accuracy"] <= 1.0 and row["n_tokens"] == sum(len(x) for x in ds.test.X)


def test_refit_switches_modes_without_leftovers(ds):
    X, y = ds.train.X, ds.train.y
    model = HMM(n_states=3, n_iter=3, random_state=0).fit(X, y)
    assert model.tagger_ is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    assert model.fit_mode_ == "density" and model.tagger_ is None and not hasattr(model, "n_tags_")
    with pytest.raises(InvalidSequenceError, match="fitted without tags"):
        model.score(X, y)
    model.fit(X, y)
    assert model.fit_mode_ == "tagger" and not hasattr(model, "emissionprob_") and not hasattr(model, "history_")


# ------------------------------------------------------------- tagger_smoothing="additive"
def test_additive_tagger_is_lidstone_relative_frequencies_and_brute_force_viterbi():
    """Counts of a 3-sentence corpus by hand; Lidstone (c + a) / (n + B a); predict = best path by enumeration."""
    from itertools import product

    X = [np.array([0, 1, 2]), np.array([1, 1]), np.array([2, 0, 0, 1])]
    y = [np.array([0, 1, 1]), np.array([1, 1]), np.array([1, 1, 0, 1])]
    a, b = 0.1, 0.5
    model = HMM(order=1, tagger_smoothing="additive", transition_pseudocount=a, emission_pseudocount=b).fit(X, y)
    # starts: tag 0 once, tag 1 twice; transitions 0->1 twice; 1->1 three times, 1->0 once
    np.testing.assert_allclose(model.startprob_, [(1 + a) / (3 + 2 * a), (2 + a) / (3 + 2 * a)])
    np.testing.assert_allclose(model.transmat_, [[a / (2 + 2 * a), (2 + a) / (2 + 2 * a)],
                                                [(1 + a) / (4 + 2 * a), (3 + a) / (4 + 2 * a)]])
    # emissions over V = 3 words: tag 0 saw word 0 twice; tag 1 saw word 1 four times, word 2 twice, word 0 once
    np.testing.assert_allclose(model.emissionprob_, [[(2 + b) / (2 + 3 * b), b / (2 + 3 * b), b / (2 + 3 * b)],
                                                     [(1 + b) / (7 + 3 * b), (4 + b) / (7 + 3 * b),
                                                      (2 + b) / (7 + 3 * b)]])
    sentence = np.array([2, 0, 1, 1, 0])
    best = max(product(range(2), repeat=len(sentence)), key=lambda path: (
        np.log(model.startprob_[path[0]]) + sum(np.log(model.transmat_[i, j]) for i, j in zip(path, path[1:]))
        + sum(np.log(model.emissionprob_[s, w]) for s, w in zip(path, sentence))))
    np.testing.assert_array_equal(model.predict([sentence])[0], best)
    assert model.fit_mode_ == "tagger" and model.n_tags_ == 2


def test_additive_tagger_checks_its_settings(ds):
    from seqbench.exceptions import ConfigError

    with pytest.raises(ConfigError, match="tagger_smoothing='additive' needs order=1"):
        HMM(order=2, tagger_smoothing="additive").fit(ds.train.X, ds.train.y)
    with pytest.raises(ConfigError, match="tagger_smoothing"):
        HMM(tagger_smoothing="lidstone").fit(ds.train.X, ds.train.y)
