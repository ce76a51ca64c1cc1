"""Saving and loading neural estimators: state_dict + JSON, torch.load(weights_only=True), pickling."""
import json
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from seqbench.data import Vocab
from seqbench.exceptions import ConfigError, NotFittedError
from seqbench.models import GRU, LSTM, RNN
from seqbench.models._neural_base import NeuralSequenceEstimator

TINY = {"hidden_size": 8, "embedding_dim": 4, "batch_size": 4, "lr": 0.05, "valid_fraction": 0.0, "max_epochs": 3}
X = [np.array([1, 2, 3, 4]), np.array([2, 3]), np.array([4, 1, 1, 2, 3]), np.array([0])]
Y = [x % 2 for x in X]
WORDS = ["<unk>", "walking", "walked", "talks", "sing", "singing"]


def _fitted():
    """One model per mode (LM, tagger, classifier, Gaussian, char-encoder tagger)."""
    cont = [np.random.default_rng(i).normal(size=(n, 2)) for i, n in enumerate((4, 6, 1))]
    vocab = Vocab(WORDS, [0, 3, 2, 1, 1, 1], n_known=4, specials=("<unk>",))
    return {
        "lm": (LSTM(**TINY, random_state=0).fit(X), lambda m: m.score_tokens(X)),
        "tagger": (GRU(**TINY, bidirectional=True, random_state=0).fit(X, Y), lambda m: m.predict_proba(X)),
        "classifier": (RNN(**TINY, random_state=0).fit(X, np.array([0, 1, 1, 0])), lambda m: m.predict_proba(X)),
        "gaussian": (GRU(**TINY, random_state=0).fit(cont), lambda m: m.predict_next_moments(cont)[1]),
        "chars": (LSTM(**TINY, char_encoder="lstm", vocab=vocab, random_state=0).fit(X, Y),
                  lambda m: m.predict_proba([np.array([1, 4, 5])])),
    }


@pytest.fixture(scope="module")
def fitted():
    return _fitted()


def _same(a, b):
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("mode", ["lm", "tagger", "classifier", "gaussian", "chars"])
def test_save_load_round_trip_gives_identical_outputs(fitted, mode, tmp_path):
    est, out = fitted[mode]
    path = tmp_path / "model.pt"
    est.save(path)
    back = type(est).load(path)
    assert type(back) is type(est) and back.get_params().keys() == est.get_params().keys()
    assert back.fit_mode_ == est.fit_mode_ and back.history_ == est.history_
    assert back.n_parameters_ == est.n_parameters_
    _same(out(est), out(back))
    _same(out(est), out(NeuralSequenceEstimator.load(path)))  # the file names its class


def test_saved_file_is_plain_tensors_and_json(fitted, tmp_path):
    est, _ = fitted["lm"]
    path = tmp_path / "lm.pt"
    est.save(path)
    blob = torch.load(path, weights_only=True)  # no pickled module or class
    assert blob["format"] == "seqbench-neural/1" and blob["class"] == "lstm"
    assert json.loads(blob["params"])["hidden_size"] == 8
    assert json.loads(blob["fitted"])["fit_mode_"] == "density"
    assert all(isinstance(v, torch.Tensor) for v in blob["state_dict"].values())
    torch.testing.assert_close(blob["state_dict"]["head.proj.weight"], est.module_.head.proj.weight.detach())


def test_load_checks_the_class_and_the_format(fitted, tmp_path):
    est, _ = fitted["lm"]
    path = tmp_path / "lm.pt"
    est.save(path)
    with pytest.raises(ConfigError, match="holds a LSTM, not a GRU"):
        GRU.load(path)
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="not a seqbench neural model"):
        LSTM.load(tmp_path / "other.pt")
    with pytest.raises(NotFittedError):
        LSTM().save(tmp_path / "unfitted.pt")


@pytest.mark.parametrize("mode", ["lm", "chars", "gaussian"])
def test_pickle_round_trip_keeps_the_model_and_leaves_the_original_intact(fitted, mode):
    est, out = fitted[mode]
    before = out(est)
    back = pickle.loads(pickle.dumps(est))
    _same(out(back), before)
    _same(out(est), before)  # pickling did not replace the original's network
    assert clone(est).get_params() == est.get_params()


def test_a_loaded_model_can_be_refitted_and_sampled(fitted, tmp_path):
    est, _ = fitted["lm"]
    est.save(tmp_path / "lm.pt")
    back = LSTM.load(tmp_path / "lm.pt")
    _same(back.sample(2, 6, random_state=1), est.sample(2, 6, random_state=1))
    back.fit(X)
    assert [h["loss"] for h in back.history_] == [h["loss"] for h in est.history_]  # same random_state: same fit
