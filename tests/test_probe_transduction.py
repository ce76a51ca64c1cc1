"""Transduction probe: the copy / reverse data, the accuracies, which models it applies to, a Seq2Seq that learns."""
from types import SimpleNamespace

import numpy as np
import pytest

from seqbench.base import get_tags
from seqbench.data.probe_transduction import transduction_data
from seqbench.exceptions import ConfigError, InvalidSequenceError
from seqbench.models import HMM, LSTM, GenerativeClassifier, NGram, Seq2Seq
from seqbench.tasks.probes import Sweep, transduction
from seqbench.tasks.probes.transduction import transduction_accuracy, transduction_sweep


class _Fake:
    """A transducer stand-in: ``rule`` maps a source to its prediction; ``fit`` only records the pairs."""

    def __init__(self, rule="copy"):
        self.rule = rule

    def get_params(self, deep=True):
        return {"rule": self.rule}

    def set_params(self, **params):
        self.rule = params.get("rule", self.rule)
        return self

    def fit(self, X, y):
        self.n_pairs_ = len(X)
        self.fit_mode_ = "transduction"
        return self

    def predict(self, X):
        rules = {"copy": lambda x: x.copy(), "reverse": lambda x: x[::-1].copy(),
                 "zeros": lambda x: np.zeros(len(x), dtype=np.int64)}
        return [rules[self.rule](x) for x in X]


# ----------------------------------------------------------------------------- data
def test_generator_lengths_symbols_and_targets():
    data = transduction_data("reverse", lengths=(7, 3), n_symbols=5, n_train=20, n_valid=4, n_test=6, seed=1)
    assert list(data.conditions) == [3, 7] and data.info["kind"] == "probe-transduction"
    assert data.info["chance_token_accuracy"] == 0.2 and len(data.vocab) == 5
    assert data.train is data.conditions[3].train
    for L, part in data.conditions.items():
        assert (len(part.train), len(part.valid), len(part.test)) == (20, 4, 6)
        for split in (part.train, part.valid, part.test):
            for x, y in zip(split.X, split.y):
                assert x.shape == (L,) and x.dtype == np.int64 and 0 <= x.min() and x.max() < 5
                np.testing.assert_array_equal(y, x[::-1])
    copy = transduction_data("copy", lengths=(3,), n_symbols=5, n_train=20, seed=1)
    for x, y in zip(copy.train.X, copy.train.y):
        np.testing.assert_array_equal(x, y)
    # a length's data does not depend on the other lengths of the sweep
    np.testing.assert_array_equal(np.stack(copy.train.X), np.stack(data.conditions[3].train.X))


@pytest.mark.parametrize("options, match", [({"task": "sort"}, "task"), ({"lengths": ()}, "lengths"),
                                            ({"lengths": (3, 3)}, "repeated"), ({"lengths": (0,)}, "lengths"),
                                            ({"n_symbols": 1}, "n_symbols")])
def test_generator_refuses_bad_options(options, match):
    with pytest.raises(ConfigError, match=match):
        transduction_data(**options)


# ----------------------------------------------------------------------------- accuracy
def test_accuracy_counts_missing_and_extra_tokens_as_wrong():
    Y = [np.array([1, 2, 3, 4]), np.array([5, 6]), np.array([7, 8, 9])]
    P = [np.array([1, 2, 3, 4]), np.array([5, 6, 6]), np.array([7, 0])]
    tokens, sequences = transduction_accuracy(Y, P)
    assert tokens == pytest.approx((4 + 2 + 1) / (4 + 3 + 3))
    assert sequences == pytest.approx(1 / 3)
    with pytest.raises(InvalidSequenceError, match="2 sequences for 3 targets"):
        transduction_accuracy(Y, P[:2])


def test_perfect_predictor_scores_one():
    data = transduction_data("reverse", lengths=(4, 9), n_train=10, n_test=30)
    m = transduction.evaluate(transduction.fit(_Fake("reverse"), data), data)
    for L in (4, 9):
        assert m[f"token_accuracy@L={L}"] == 1.0 and m[f"sequence_accuracy@L={L}"] == 1.0
    assert m["n_sequences"] == 60 and m["n_tokens"] == 30 * 13


def test_constant_predictor_scores_the_frequency_of_its_symbol():
    data = transduction_data("copy", lengths=(6,), n_symbols=4, n_train=10, n_test=200, seed=3)
    m = transduction.evaluate(transduction.fit(_Fake("zeros"), data), data)
    targets = np.concatenate(data.test.y)
    assert m["token_accuracy@L=6"] == pytest.approx(np.mean(targets == 0), abs=1e-12)
    assert m["token_accuracy@L=6"] == pytest.approx(0.25, abs=0.05)  # about chance, 1 / n_symbols
    assert m["sequence_accuracy@L=6"] == np.mean([np.all(y == 0) for y in data.test.y])


def test_fit_trains_one_clone_per_length():
    data = transduction_data("copy", lengths=(2, 5), n_train=12, n_test=3)
    template = _Fake("copy")
    sweep = transduction.fit(template, data)
    assert isinstance(sweep, Sweep) and list(sweep.models) == [2, 5]
    assert all(m is not template and m.n_pairs_ == 12 for m in sweep.models.values())
    assert not hasattr(template, "fit_mode_")


def test_fit_refuses_a_model_that_is_not_a_transducer():
    class Tagger(_Fake):
        def fit(self, X, y):
            self.fit_mode_ = "tagger"
            return self

    data = transduction_data("copy", lengths=(3,), n_train=5, n_test=2)
    with pytest.raises(ConfigError, match="not as a transducer"):
        transduction.fit(Tagger(), data)


# ----------------------------------------------------------------------------- applies
def test_applies_to_transducers_on_transduction_data():
    data = SimpleNamespace(info={"kind": "probe-transduction", "input_kind": "discrete"})
    assert transduction.applies(get_tags(Seq2Seq()), data) is None
    for est in (NGram(), HMM(), LSTM(), GenerativeClassifier()):
        assert "not a transducer" in transduction.applies(get_tags(est), data)
    assert "probe-transduction" in transduction.applies(get_tags(Seq2Seq()), SimpleNamespace(info={"kind": "lm"}))


# ----------------------------------------------------------------------------- a real transducer
def test_seq2seq_with_attention_learns_to_copy():
    params = dict(attention="bahdanau", hidden_size=32, embedding_dim=16, batch_size=32, max_epochs=15, lr=0.01,
                  valid_fraction=0.0, n_threads=1, random_state=0)
    m = transduction_sweep(Seq2Seq(**params), lengths=(5,), task="copy", n_train=500, n_test=100)
    assert m["token_accuracy@L=5"] >= 0.9  # chance is 0.1
    assert m["sequence_accuracy@L=5"] >= 0.6
