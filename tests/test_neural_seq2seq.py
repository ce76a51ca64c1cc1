"""Seq2Seq: copy task for every attention variant, attention weights, greedy decoding, scores, saving, errors."""
import pickle

import numpy as np
import pytest
import torch

from seqbench import get_tags, list_models
from seqbench.exceptions import ConfigError, InvalidSequenceError, NotFittedError, UnknownSymbolError
from seqbench.models import Seq2Seq
from seqbench.models._neural_base import NeuralSequenceEstimator
from seqbench.models.seq2seq import BahdanauAttention, LuongAttention

TINY = {"hidden_size": 32, "embedding_dim": 16, "batch_size": 8, "lr": 0.01, "valid_fraction": 0.0}
ATTENTIONS = [None, "mean", "bahdanau", "luong"]


def _copy_data(n=40, length=5, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 6, size=length) for _ in range(n)]


@pytest.fixture(scope="module", params=ATTENTIONS, ids=str)
def copier(request):
    X = _copy_data()
    cell = "gru" if request.param in ("mean", "luong") else "lstm"
    return Seq2Seq(**TINY, cell=cell, attention=request.param, max_epochs=60, random_state=0).fit(X, X), X


def _ragged_pairs(seed=1, n=10):
    rng = np.random.default_rng(seed)
    X = [rng.integers(0, 6, size=rng.integers(1, 9)) for _ in range(n)]
    Y = [rng.integers(0, 4, size=rng.integers(0, 6)) for _ in range(n)]
    return X, Y


# ----------------------------------------------------------------------------- learning
def test_registered_as_a_neural_transducer():
    assert "seq2seq" in list_models(neural=True)
    assert "seq2seq" not in list_models(density=True) + list_models(tagger=True) + list_models(sampler=True)
    tags = get_tags(Seq2Seq())
    assert tags.input_kind == "discrete" and not (tags.density or tags.tagger or tags.sampler)


def test_copy_task_reaches_full_sequence_accuracy(copier):
    est, X = copier
    assert est.fit_mode_ == "transduction" and est.n_target_symbols_ == 6 and est.vocab_size_ == 6
    assert est.sequence_accuracy(X, X) == 1.0 and est.score(X, X) == 1.0
    for p, x in zip(est.predict(X), X):
        np.testing.assert_array_equal(p, x)
    assert est.history_[-1]["tokens_seen"] == 60 * 40 * 6  # five tokens and EOS per pair, every epoch


def test_score_is_token_accuracy_with_the_end_counted(copier):
    """Against a model that copies its training data exactly, targets edited by hand have known scores."""
    est, X = copier
    changed = [np.concatenate([x[:-1], [(x[-1] + 1) % 6]]) for x in X]  # last token wrong: 5 of 6 right
    assert est.score(X, changed) == pytest.approx(5 / 6)
    assert est.score(X, [np.append(x, 0) for x in X]) == pytest.approx(5 / 7)   # prediction stops early
    assert est.score(X, [x[:-1] for x in X]) == pytest.approx(4 / 5)            # prediction runs on
    half = [c if i % 2 else x for i, (c, x) in enumerate(zip(changed, X))]
    assert est.sequence_accuracy(X, half) == 0.5
    assert est.score(X, half) == pytest.approx((20 * 6 + 20 * 5) / (40 * 6))


def test_greedy_decoding_respects_max_length(copier):
    est, X = copier
    full = est.predict(X[:6])
    for p, f in zip(est.predict(X[:6], max_length=2), full):
        np.testing.assert_array_equal(p, f[:2])  # greedy decoding is prefix-consistent
    assert all(len(p) == 0 for p in est.predict(X[:3], max_length=0))
    with pytest.raises(ConfigError, match="max_length"):
        est.predict(X[:1], max_length=-1)
    # an unknown source id reads the unknown-word row
    assert est.predict([np.array([1, 99, 2])])[0].dtype == np.int64


def test_default_max_length_is_twice_the_source_plus_ten():
    X, Y = [np.array([1]), np.array([2, 2])], [np.ones(30, dtype=int), np.ones(30, dtype=int)]
    est = Seq2Seq(**{**TINY, "lr": 0.03}, max_epochs=40, random_state=0).fit(X, Y)
    assert [len(p) for p in est.predict(X)] == [12, 14]
    assert [len(p) for p in est.predict(X, max_length=30)] == [30, 30]


def test_length_one_sources_and_empty_targets():
    X, Y = [np.array([1]), np.array([2]), np.array([3])], [np.array([1]), np.array([], dtype=int), np.array([3, 3])]
    est = Seq2Seq(**{**TINY, "lr": 0.03}, max_epochs=60, random_state=0).fit(X, Y)
    for p, y in zip(est.predict(X), Y):
        np.testing.assert_array_equal(p, y)
    assert est.sequence_accuracy(X, Y) == 1.0


def test_determinism_under_random_state():
    X, Y = _ragged_pairs()
    a, b, c = (Seq2Seq(**TINY, attention="luong", dropout=0.2, max_epochs=3, random_state=r).fit(X, Y)
               for r in (5, 5, 6))
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    assert [h["loss"] for h in a.history_] != [h["loss"] for h in c.history_]
    for u, v in zip(a.attention_weights(X, Y), b.attention_weights(X, Y)):
        np.testing.assert_array_equal(u, v)


# ----------------------------------------------------------------------------- attention weights
@pytest.mark.parametrize("attention", ["mean", "bahdanau", "luong"])
def test_attention_weights_sum_to_one_and_ignore_padding(attention):
    X, Y = _ragged_pairs()
    est = Seq2Seq(**TINY, attention=attention, max_epochs=2, random_state=0).fit(X, Y)
    together = est.attention_weights(X, Y)
    for x, y, w in zip(X, Y, together):
        assert w.shape == (len(y) + 1, len(x)) and (w >= 0).all()
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose(est.attention_weights([x], [y])[0], w, rtol=0, atol=1e-6)  # alone = padded
        if attention == "mean":
            np.testing.assert_allclose(w, 1.0 / len(x), atol=1e-7)
    for p, x in zip(est.predict(X), X):  # decoding in a padded batch = decoding alone
        np.testing.assert_array_equal(est.predict([x])[0], p)


def test_attention_modules_known_answers_and_masks():
    torch.manual_seed(0)
    q, keys = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, 5, dtype=torch.float64)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    bahdanau = BahdanauAttention(3, 5, 6).double()
    luong = LuongAttention(3, 5).double()
    for b, n in enumerate((4, 2)):
        e_add = torch.stack([bahdanau.v.weight[0] @ torch.tanh(bahdanau.W.weight @ q[b] + bahdanau.U(keys[b, i]))
                             for i in range(n)])
        e_mul = torch.stack([q[b] @ (luong.W.weight @ keys[b, i]) for i in range(n)])
        for module, e in ((bahdanau, e_add), (luong, e_mul)):
            context, w = module(q, keys, mask)
            a = torch.softmax(e, dim=0)
            torch.testing.assert_close(w[b, :n], a, rtol=0, atol=1e-12)
            assert (w[b, n:] == 0).all()
            torch.testing.assert_close(context[b], a @ keys[b, :n], rtol=0, atol=1e-12)


@pytest.mark.parametrize("module", [BahdanauAttention(3, 5, 4), LuongAttention(3, 5)],
                         ids=["bahdanau", "luong"])
def test_gradcheck_float64_attention(module):
    torch.manual_seed(0)
    module = module.double()
    q = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(2, 4, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    assert torch.autograd.gradcheck(lambda q, k: module(q, k, mask), (q, keys))


# ----------------------------------------------------------------------------- saving
def test_save_load_and_pickle_round_trip(tmp_path):
    X, Y = _ragged_pairs()
    est = Seq2Seq(**TINY, cell="gru", attention="bahdanau", n_layers=2, dropout=0.1, max_epochs=2,
                  random_state=0).fit(X, Y)
    est.save(tmp_path / "s2s.pt")
    for back in (Seq2Seq.load(tmp_path / "s2s.pt"), NeuralSequenceEstimator.load(tmp_path / "s2s.pt"),
                 pickle.loads(pickle.dumps(est))):
        assert type(back) is Seq2Seq and back.fit_mode_ == "transduction" and back.history_ == est.history_
        for u, v in zip(est.predict(X), back.predict(X)):
            np.testing.assert_array_equal(u, v)
        for u, v in zip(est.attention_weights(X, Y), back.attention_weights(X, Y)):
            np.testing.assert_array_equal(u, v)


# ----------------------------------------------------------------------------- errors
def test_bad_input_errors_name_the_problem():
    X, Y = _ragged_pairs(n=4)
    est = Seq2Seq(**TINY, max_epochs=1)
    with pytest.raises(InvalidSequenceError, match="Y has 3 target sequences for 4 source sequences in X"):
        est.fit(X, Y[:3])
    with pytest.raises(InvalidSequenceError, match="needs target sequences Y"):
        est.fit(X)
    with pytest.raises(UnknownSymbolError, match=r"Y\[1\]\[0\] = -2"):
        est.fit(X, [Y[0], np.array([-2]), Y[2], Y[3]])
    with pytest.raises(InvalidSequenceError, match=r"X\[1\] is empty"):
        est.fit([X[0], np.array([], dtype=int)], Y[:2])
    with pytest.raises(NotFittedError):
        est.predict(X)
    est.fit(X, Y)
    with pytest.raises(InvalidSequenceError, match="Y has 4 target sequences for 2 source sequences"):
        est.score(X[:2], Y)
    for call in (lambda: est.score_tokens(X), lambda: est.sample(2, 3), lambda: est.predict_proba(X),
                 lambda: est.attention_weights(X, Y)):
        with pytest.raises(NotImplementedError, match="Seq2Seq does not support"):
            call()


@pytest.mark.parametrize("bad,match", [({"cell": "rnn"}, "cell"), ({"attention": "dot"}, "attention"),
                                       ({"hidden_size": 0}, "hidden_size"), ({"n_layers": 1.5}, "n_layers"),
                                       ({"dropout": 1.0}, "dropout"), ({"batch_size": 0}, "batch_size")])
def test_bad_parameters_raise_config_error(bad, match):
    X, Y = _ragged_pairs(n=4)
    with pytest.raises(ConfigError, match=match):
        Seq2Seq(**{**TINY, **bad}, max_epochs=1).fit(X, Y)


def test_attention_none_string_is_the_fixed_context_vector():
    """A TOML suite writes attention = "none": the same network and training as attention=None."""
    rng = np.random.default_rng(0)
    X = [rng.integers(0, 5, size=4) for _ in range(20)]
    a = Seq2Seq(attention="none", hidden_size=8, max_epochs=2, random_state=0).fit(X, X)
    b = Seq2Seq(attention=None, hidden_size=8, max_epochs=2, random_state=0).fit(X, X)
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    assert not hasattr(a.module_, "attn") or a.module_.attn is None
