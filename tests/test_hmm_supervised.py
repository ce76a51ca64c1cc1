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
