"""The one training loop (seqbench.models._torch) and the neural runtime: history, budgets, schedules,
early stopping, seeding, threads, gradients."""
import math

import numpy as np
import pytest
import torch

from seqbench.exceptions import ConfigError
from seqbench.models import GRU, LSTM
from seqbench.models._char_encoder import CharEncoder
from seqbench.models._neural_base import TRAIN_DEFAULTS, NeuralSequenceEstimator
from seqbench.models._neural_batches import Window, bucket_batches, split_valid, stream_chunk
from seqbench.models._neural_heads import GaussianHead, SequenceHead, SequenceNet, TokenHead
from seqbench.models._neural_inputs import ContinuousEncoder, TokenEncoder
from seqbench.models._torch import HISTORY_KEYS, TrainConfig, evaluate_loss, train
from seqbench.models.rnn import RecurrentBody
from seqbench.registry import get_model_class

TINY = {"hidden_size": 8, "embedding_dim": 4, "batch_size": 4, "lr": 0.05, "valid_fraction": 0.0}


def _corpus(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 5, size=rng.integers(2, 9)) for _ in range(n)]


# ----------------------------------------------------------------------------- history and budgets
def test_history_has_the_documented_keys_and_counts_tokens():
    X = _corpus()
    est = LSTM(**TINY, max_epochs=3, random_state=0).fit(X)
    assert len(est.history_) == 3 and est.stop_reason_ == "max_epochs"
    n_tokens = sum(len(x) for x in X)  # every token is predicted (the first from START)
    for e, h in enumerate(est.history_, start=1):
        assert tuple(h) == HISTORY_KEYS
        assert h["epoch"] == e and h["tokens_seen"] == e * n_tokens
        assert h["val_loss"] is None and h["lr"] == 0.05
        assert math.isfinite(h["loss"]) and h["loss"] > 0 and h["grad_norm"] > 0
    seconds = [h["seconds"] for h in est.history_]
    assert seconds == sorted(seconds)


def test_loss_is_nats_per_token():
    """Epoch 1's loss (before much learning) is near log(V + 1): the unseen-word class is in the softmax."""
    X = _corpus()
    est = LSTM(**{**TINY, "lr": 1e-6}, max_epochs=1, random_state=0).fit(X)
    assert est.history_[0]["loss"] == pytest.approx(math.log(5 + 1), abs=0.15)


def test_max_tokens_stops_mid_epoch():
    X = _corpus()
    est = GRU(**TINY, max_epochs=None, max_tokens=30, random_state=0).fit(X)
    last = est.history_[-1]
    assert est.stop_reason_ == "max_tokens" and len(est.history_) == 1
    assert 30 <= last["tokens_seen"] < 30 + 4 * 8  # at most one batch of 4 sequences of <= 8 tokens past


def test_time_budget_stops_training():
    est = GRU(**TINY, max_epochs=None, time_budget_s=0.3, random_state=0).fit(_corpus())
    assert est.stop_reason_ == "time_budget" and len(est.history_) >= 1


def test_at_least_one_budget_is_required():
    with pytest.raises(ConfigError, match="budget"):
        GRU(**TINY, max_epochs=None).fit(_corpus())


def test_validation_loss_is_recorded_and_best_weights_kept():
    X = _corpus(n=30)
    est = LSTM(**{**TINY, "valid_fraction": 0.2}, max_epochs=4, patience=None, random_state=0).fit(X)
    assert all(h["val_loss"] is not None and h["val_loss"] > 0 for h in est.history_)


# ----------------------------------------------------------------------------- the loop on a controlled net
def _net(seed=0, n_words=3):
    torch.manual_seed(seed)
    net = SequenceNet(TokenEncoder(n_words, 4), RecurrentBody("gru", 4, 8), TokenHead(8, n_words + 1))
    return net.double()


def _chunks(inp, tgt):
    inp_t, tgt_t = torch.tensor(inp), torch.tensor(tgt)
    win = Window(inp_t, tgt_t, torch.full((len(inp),), inp_t.shape[1]), int(tgt_t.ge(0).sum()), np.arange(len(inp)))
    return lambda *a: [[win]]


def test_plateau_schedule_and_early_stopping_restore_the_best_epoch():
    """Training teaches 0 -> 1, validation wants 0 -> 2: the validation loss rises after the first epoch,
    so the lr halves after every later epoch, training stops after `patience` bad epochs and the
    weights of epoch 1 come back."""
    train_chunks = _chunks([[-1, 0], [-1, 0]], [[0, 1], [0, 1]])
    valid_chunks = _chunks([[-1, 0]], [[0, 2]])
    config = TrainConfig(lr=0.05, lr_schedule="plateau", lr_decay=0.5, max_epochs=20, patience=3, weight_decay=0.0)
    net = _net()
    history, stop = train(net, train_chunks, valid_chunks, config, steps_per_epoch=1, tokens_per_epoch=4,
                          generator=torch.Generator())
    val = [h["val_loss"] for h in history]
    assert stop == "early_stopping" and len(history) == 4
    assert val[0] < val[1] < val[2] < val[3]
    assert [h["lr"] for h in history] == [0.05, 0.05, 0.025, 0.0125]
    assert evaluate_loss(net, valid_chunks()) == pytest.approx(val[0], rel=1e-9)


def test_cosine_schedule_with_warmup_follows_its_formula():
    chunks = _chunks([[-1, 0]], [[0, 1]])
    config = TrainConfig(lr=0.1, lr_schedule="cosine", warmup_steps=2, max_epochs=6)
    history, stop = train(_net(), chunks, None, config, steps_per_epoch=1, tokens_per_epoch=2,
                          generator=torch.Generator())
    expected = []
    for step in range(6):
        lr = 0.1 * 0.5 * (1 + math.cos(math.pi * step / 6))
        expected.append(lr * min(1.0, (step + 1) / 2))
    assert [h["lr"] for h in history] == pytest.approx(expected, rel=1e-12)
    assert stop == "max_epochs"


def test_step_schedule_holds_then_halves_every_epoch():
    """Zaremba et al.'s schedule: full lr for lr_decay_start epochs, then times lr_decay after each epoch."""
    chunks = _chunks([[-1, 0]], [[0, 1]])
    config = TrainConfig(lr=1.0, optimizer="sgd", lr_schedule="step", lr_decay=0.5, lr_decay_start=2,
                         max_epochs=5, weight_decay=0.0)
    history, _ = train(_net(), chunks, None, config, steps_per_epoch=1, tokens_per_epoch=2,
                       generator=torch.Generator())
    assert [h["lr"] for h in history] == [1.0, 1.0, 0.5, 0.25, 0.125]


def test_init_range_draws_every_parameter_from_the_uniform():
    est = LSTM(**TINY, n_layers=2, max_epochs=1, init_range=0.1, random_state=0)
    est.set_params(lr=1e-12, optimizer="sgd", weight_decay=0.0, clip_norm=None)  # training moves nothing
    est.fit(_corpus())
    values = torch.cat([p.detach().flatten() for p in est.module_.parameters()])
    assert float(values.abs().max()) <= 0.1
    assert float(values.abs().max()) > 0.09 and abs(float(values.mean())) < 0.01  # spread over the range
    bias = est.module_.body.layers[0].bias_ih_l0.detach()
    assert float(bias[8:16].abs().max()) <= 0.1  # no forget-gate bias of 1 on top (hidden 8: f is [8:16])
    with pytest.raises(ConfigError, match="init_range"):
        LSTM(**TINY, init_range=0.0).fit(_corpus())
    with pytest.raises(ConfigError, match="lr_decay_start"):
        LSTM(**TINY, lr_schedule="step", lr_decay_start=-1).fit(_corpus())


def test_cosine_needs_a_planned_length():
    with pytest.raises(ConfigError, match="cosine"):
        GRU(**TINY, lr_schedule="cosine", max_epochs=None, time_budget_s=5).fit(_corpus())


def test_sgd_with_zaremba_decay_trains():
    X = [np.tile([0, 1, 2], 4)] * 4
    est = LSTM(**{**TINY, "lr": None}, optimizer="sgd", lr_schedule="plateau", max_epochs=30,
               random_state=0).fit(X)
    assert est.history_[0]["lr"] == 1.0  # plain SGD, lr = 1 (Zaremba et al.)
    assert est.history_[-1]["loss"] < 0.5 * est.history_[0]["loss"]


def test_clipping_bounds_the_update():
    """With clip_norm the recorded norm is the norm before clipping; training stays finite at a huge lr."""
    X = _corpus()
    est = LSTM(**{**TINY, "lr": 1.0}, optimizer="sgd", clip_norm=1e-3, max_epochs=2, random_state=0).fit(X)
    assert all(math.isfinite(h["loss"]) for h in est.history_)
    assert est.history_[0]["grad_norm"] > 1e-3


# ----------------------------------------------------------------------------- batches
def test_bucket_batches_group_similar_lengths_and_cover_everything():
    lengths = np.array([5, 1, 9, 3, 7, 2, 8, 4, 6])
    rng = np.random.default_rng(0)
    batches = bucket_batches(lengths, 3, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(9))
    spans = sorted((lengths[b].min(), lengths[b].max()) for b in batches)
    assert spans == [(1, 3), (4, 6), (7, 9)]
    assert [lengths[b].tolist() for b in bucket_batches(lengths, 4)] == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]


def test_stream_chunk_rows_continue_across_windows():
    inp, tgt = np.arange(23), np.arange(23) + 100
    windows = stream_chunk(inp, tgt, batch_size=3, bptt=3, device=torch.device("cpu"))
    rows = torch.cat([w.inp for w in windows], dim=1)
    assert rows.tolist() == np.arange(21).reshape(3, 7).tolist()  # 23 // 3 = 7 steps per row
    assert [w.inp.shape[1] for w in windows] == [3, 3, 1]
    assert torch.equal(torch.cat([w.tgt for w in windows], dim=1), rows + 100)


def test_split_valid_holds_out_a_fraction():
    tr, va = split_valid(10, 0.2, np.random.default_rng(0))
    assert len(va) == 2 and sorted(np.concatenate([tr, va]).tolist()) == list(range(10))
    assert len(split_valid(1, 0.5, np.random.default_rng(0))[1]) == 0


# ----------------------------------------------------------------------------- seeding and runtime
def test_global_torch_generator_is_neither_seeded_nor_used():
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    est = LSTM(**{**TINY, "dropout": 0.3}, char_encoder=None, max_epochs=2, random_state=0).fit(_corpus())
    est.sample(2, 5)
    assert torch.equal(torch.get_rng_state(), before)


def test_threads_and_onednn_are_set_for_the_fit_and_restored():
    torch.set_num_threads(1)
    try:
        est = GRU(**TINY, max_epochs=1, n_threads=2, random_state=0).fit(_corpus())
        assert est.n_threads_ == 2
        assert torch.get_num_threads() == 1 and torch.backends.mkldnn.enabled
    finally:
        torch.set_num_threads(1)


def test_lstm_fits_fixed_shape_batches_with_onednn_only(monkeypatch):
    """oneDNN plans its LSTM kernel per input shape: on for equal lengths or stateful windows, off for ragged."""
    from seqbench.models import _neural_base

    seen = []
    real = _neural_base.torch_runtime
    monkeypatch.setattr(_neural_base, "torch_runtime", lambda n, onednn=False: seen.append(onednn) or real(n, onednn))
    rng = np.random.default_rng(0)
    equal = [rng.integers(0, 6, size=12) for _ in range(20)]
    ragged = [rng.integers(0, 6, size=n) for n in rng.integers(5, 15, size=20)]
    LSTM(**TINY, max_epochs=1, random_state=0).fit(equal)
    LSTM(**TINY, max_epochs=1, random_state=0).fit(ragged)
    LSTM(**TINY, max_epochs=1, stateful=True, bptt=8, random_state=0).fit(ragged)
    GRU(**TINY, max_epochs=1, random_state=0).fit(equal)  # a family that did not turn it on
    assert seen == [True, False, True, False]


def test_every_neural_family_declares_the_training_parameters():
    for key in ("rnn", "lstm", "gru"):
        cls = get_model_class(key)
        assert issubclass(cls, NeuralSequenceEstimator)
        params = cls().get_params()
        assert {k: params[k] for k in TRAIN_DEFAULTS} == TRAIN_DEFAULTS


@pytest.mark.parametrize("bad,match", [
    ({"hidden_size": 0}, "hidden_size"), ({"optimizer": "adam"}, "optimizer"), ({"lr_schedule": "linear"}, "lr_schedule"),
    ({"device": "tpu"}, "device"), ({"lr": -1.0}, "lr"), ({"valid_fraction": 1.0}, "valid_fraction"),
    ({"dropout": 1.0}, "dropout"), ({"char_encoder": "rnn"}, "char_encoder"), ({"char_encoder": "cnn"}, "vocab"),
    ({"word_dropout": 2}, "word_dropout"), ({"n_threads": 0}, "n_threads"), ({"bidirectional": 1}, "bidirectional"),
])
def test_bad_parameters_raise_config_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        LSTM(**{**TINY, **bad}, max_epochs=1).fit(_corpus())


# ----------------------------------------------------------------------------- gradients
def test_gradcheck_float64_recurrent_gaussian_and_classifier_heads():
    torch.manual_seed(0)
    lengths = torch.tensor([4, 2])
    for bidirectional in (False, True):
        body = RecurrentBody("lstm", 3, 3, n_layers=2, bidirectional=bidirectional)
        gauss = SequenceNet(ContinuousEncoder(2), body, GaussianHead(body.n_outputs, 2)).double()
        clf = SequenceNet(ContinuousEncoder(2), body, SequenceHead(body.n_outputs, 3, bidirectional)).double()
        x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
        targets = torch.randn(2, 4, 2, dtype=torch.float64)
        targets[1, 2:] = float("nan")  # padding of the shorter sequence
        assert torch.autograd.gradcheck(lambda x: gauss(x, targets, lengths)[1], (x,))
        labels = torch.tensor([2, 0])
        assert torch.autograd.gradcheck(lambda x: clf(x, labels, lengths)[1], (x,))


@pytest.mark.parametrize("kind", ["lstm", "cnn"])
def test_gradcheck_float64_char_encoder(kind):
    torch.manual_seed(0)
    enc = CharEncoder(kind, n_words=3, max_chars=4, n_chars=5, out_dim=4).double()
    enc.set_table([[2, 3, 4, 0], [4, 0, 0, 0], [2, 2, 3, 3]], [3, 1, 4])
    ids = torch.tensor([[0, 1, 2, -1]])
    rows = enc.embed.weight[1:].detach().clone().requires_grad_(True)  # row 0 (padding) stays zero

    def f(rows):
        weight = torch.cat([torch.zeros_like(rows[:1]), rows])
        return torch.func.functional_call(enc, {"embed.weight": weight}, (ids,)).sum(dim=-1)

    assert torch.autograd.gradcheck(f, (rows,))


def test_gradcheck_float64_token_loss_matches_hand_computation():
    logits = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([[1, -1, 3]])
    loss = TokenHead.loss(logits, targets)
    by_hand = -(torch.log_softmax(logits[0, 0], -1)[1] + torch.log_softmax(logits[0, 2], -1)[3]) / 2
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-12)
    assert torch.autograd.gradcheck(lambda z: TokenHead.loss(z, targets), (logits,))
