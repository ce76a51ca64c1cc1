"""AttentionLSTM and Transformer: every mode, the causal mask, the context window, padding, carried state,
weight tying, pooling, saving, gradients."""
import math
import pickle

import numpy as np
import pytest
import torch

from seqbench import get_tags, list_models
from seqbench.exceptions import ConfigError
from seqbench.models import AttentionLSTM, Transformer
from seqbench.models._neural_base import NeuralSequenceEstimator
from seqbench.models.attention import AttentionLSTMBody, PastAttention, PoolingHead, SelfAttention, TransformerBody

TINY = {"batch_size": 8, "valid_fraction": 0.0}
TINY_A = {**TINY, "hidden_size": 16, "embedding_dim": 8, "lr": 0.03}
TINY_T = {**TINY, "d_model": 16, "n_heads": 2, "n_layers": 1, "embedding_dim": 16, "lr": 0.01}
PATTERN = np.array([1, 2, 3, 4, 1, 3, 2, 4, 0])


def _lm_data():
    """Prefixes of one deterministic sentence: every next token is a function of the history."""
    return [PATTERN[:n] for n in range(1, len(PATTERN) + 1)] * 2


def _make(key, **params):
    if key == "attention_lstm":
        return AttentionLSTM(**{**TINY_A, **params})
    return Transformer(**{**TINY_T, "context": 16, **params})


@pytest.fixture(scope="module", params=["attention_lstm", "transformer"])
def lm(request):
    return _make(request.param, max_epochs=80, random_state=0).fit(_lm_data())


@pytest.fixture(scope="module", params=[1, 3], ids=["stride1", "stride3"])
def windowed(request):
    """A Transformer whose context (4) is shorter than the test sequences."""
    return Transformer(**{**TINY_T, "n_layers": 2}, context=4, stride=request.param, max_epochs=3,
                       random_state=0).fit(_lm_data())


# ----------------------------------------------------------------------------- language models
def test_registered_with_neural_tags():
    assert {"attention_lstm", "transformer"} <= set(list_models(neural=True, density=True))
    for est in (AttentionLSTM(), Transformer()):
        tags = get_tags(est)
        assert tags.density and tags.tagger and tags.sampler and tags.max_context and tags.input_kind == "both"
    tags = get_tags(Transformer(causal=False))
    assert tags.tagger and not (tags.density or tags.sampler or tags.max_context)


def test_language_model_overfits_a_tiny_corpus(lm):
    scores = lm.score_tokens([PATTERN])[0]
    assert scores.shape == PATTERN.shape and np.all(scores <= 0)
    assert -scores.mean() < 0.05
    assert lm.history_[-1]["loss"] < 0.1 * lm.history_[0]["loss"]
    for s in lm.sample(2, len(PATTERN), random_state=1, temperature=1e-3):
        np.testing.assert_array_equal(s, PATTERN)  # the memorised sentence, from START


def _check_causal(est, x, n_symbols=5):
    rng = np.random.default_rng(0)
    for t in range(len(x)):
        other = x.copy()
        other[t + 1:] = rng.integers(0, n_symbols, size=len(x) - t - 1)
        a, b = est.score_tokens([x, other])
        np.testing.assert_allclose(a[: t + 1], b[: t + 1], rtol=0, atol=1e-6)


def test_causal_mask_future_tokens_never_change_past_scores(lm):
    _check_causal(lm, PATTERN)


def test_causal_mask_holds_beyond_the_context_and_in_a_window(windowed):
    _check_causal(windowed, np.array([1, 2, 3, 4, 1, 3, 2, 4, 0, 2, 1, 3]))
    _check_causal(_make("attention_lstm", window=3, max_epochs=1, random_state=0).fit(_lm_data()), PATTERN)


def _check_padding(est):
    rng = np.random.default_rng(1)
    X = [rng.integers(0, 5, size=n) for n in (1, 7, 3, 12, 2, 30)]
    together = est.score_tokens(X)
    for x, s in zip(X, together):
        np.testing.assert_allclose(est.score_tokens([x])[0], s, rtol=0, atol=1e-5)
    reordered = est.score_tokens(X[::-1] + X[:2])
    for s, r in zip(together[::-1], reordered):
        np.testing.assert_allclose(r, s, rtol=0, atol=1e-5)


def test_padding_and_batch_composition_do_not_change_scores(lm):
    _check_padding(lm)


def test_padding_and_batch_composition_do_not_change_windowed_scores(windowed):
    _check_padding(windowed)


def test_scores_beyond_the_context_follow_the_documented_window(windowed):
    """x_t (t >= context) is scored by running the network on the inputs of its window alone:
    those from ceil((t - c + 1) / s) * s to t (the input at i is x_{i-1}, START at 0)."""
    est, c, s = windowed, 4, windowed.stride
    x = np.array([1, 2, 3, 4, 1, 3, 2, 4, 0, 2, 1, 3, 3])
    inputs = np.concatenate([[-1], x[:-1]])
    scores = est.score_tokens([x])[0]
    for t in range(len(x)):
        start = 0 if t < c else math.ceil((t - c + 1) / s) * s
        assert 0 <= t - start < c
        with torch.no_grad():
            h, _ = est.module_.features(torch.from_numpy(inputs[start: t + 1])[None])
            logp = torch.log_softmax(est.module_.head(h)[0, -1].double(), -1)[x[t]]
        assert scores[t] == pytest.approx(float(logp), abs=1e-5)


def test_max_context_is_exact(lm):
    x = np.array([1, 2, 3, 4, 1, 3, 2, 4, 0, 2, 1])
    full = lm.score_tokens([x])[0]
    for k in (0, 2):
        truncated = lm.score_tokens([x], max_context=k)[0]
        np.testing.assert_allclose(truncated[: k + 1], full[: k + 1], rtol=0, atol=1e-6)
        for t in range(k + 1, len(x)):
            assert truncated[t] == pytest.approx(lm.score_tokens([x[t - k: t + 1]])[0][-1], abs=1e-5)


def test_length_one_sequences(lm):
    s = lm.score_tokens([np.array([1]), np.array([3])])
    assert [a.shape for a in s] == [(1,), (1,)] and np.isfinite(np.concatenate(s)).all()
    for key in ("attention_lstm", "transformer"):
        fitted = _make(key, max_epochs=2, random_state=0).fit([np.array([1]), np.array([2]), np.array([1])])
        assert np.isfinite(fitted.score_tokens([np.array([2])])[0]).all()


def test_a_non_causal_transformer_language_model_is_refused():
    with pytest.raises(ConfigError, match="sees the future"):
        Transformer(**TINY_T, causal=False, max_epochs=1).fit(_lm_data())


@pytest.mark.parametrize("key", ["attention_lstm", "transformer"])
def test_determinism_under_random_state(key):
    X = _lm_data()
    a, b, c = (_make(key, dropout=0.2, max_epochs=3, random_state=r).fit(X) for r in (7, 7, 8))
    for u, v in zip(a.score_tokens(X), b.score_tokens(X)):
        np.testing.assert_array_equal(u, v)
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    assert not np.array_equal(a.score_tokens(X)[0], c.score_tokens(X)[0])


# ----------------------------------------------------------------------------- carried state
def _pieces(body, x, sizes):
    state, outs = None, []
    for lo, hi in zip(np.cumsum([0] + sizes[:-1]), np.cumsum(sizes)):
        h, state = body(x[:, lo:hi], None, state)
        outs.append(h)
    return torch.cat(outs, dim=1)


@pytest.mark.parametrize("body", [
    TransformerBody(3, 8, 2, 2, context=5, stride=2, mlp_size=16),
    TransformerBody(3, 8, 2, 1, context=4, stride=1, mlp_size=8),
    AttentionLSTMBody(3, 6, n_layers=2, window=None),
    AttentionLSTMBody(3, 6, window=4),
], ids=["transformer-s2", "transformer-s1", "attention-lstm", "attention-lstm-window"])
def test_windows_with_carried_state_and_steps_equal_one_pass(body):
    torch.manual_seed(0)
    body.eval()
    x = torch.randn(2, 23, 3)
    with torch.no_grad():
        once, _ = body(x)
        torch.testing.assert_close(_pieces(body, x, [1, 4, 7, 2, 9]), once, rtol=0, atol=1e-5)
        state, steps = None, []
        for t in range(x.shape[1]):
            h, state = body.step(x[:, t], state)
            steps.append(h)
        torch.testing.assert_close(torch.stack(steps, dim=1), once, rtol=0, atol=1e-5)


def test_attention_lstm_window_attends_to_the_last_states_only():
    """With window w, output t equals the attention computed by hand over h_{t-w+1} .. h_t."""
    torch.manual_seed(0)
    body = AttentionLSTMBody(3, 5, window=3).eval()
    x = torch.randn(1, 9, 3)
    with torch.no_grad():
        out, _ = body(x)
        h, _ = body.lstm(x)
        att = body.attend
        for t in range(9):
            keys = h[0, max(0, t - 2): t + 1]                                   # (<= 3, H)
            a = torch.softmax(keys @ att.query(h[0, t]) / math.sqrt(5), dim=0)
            ctx = a @ keys
            want = torch.tanh(att.combine(torch.cat([h[0, t], ctx])))
            torch.testing.assert_close(out[0, t], want, rtol=0, atol=1e-6)


def test_non_causal_windows_read_each_position_in_its_middle_window_and_ignore_padding():
    torch.manual_seed(0)
    c, s = 4, 2
    body = TransformerBody(3, 8, 2, 1, context=c, stride=s, mlp_size=8, causal=False).eval()
    x = torch.randn(2, 11, 3)
    lengths = torch.tensor([11, 7])
    with torch.no_grad():
        out, state = body(x, lengths)
        assert state is None
        for b, n in enumerate(lengths.tolist()):
            last = max(0, math.ceil((n - c) / s)) * s
            for t in range(n):
                start = min(max(0, (t - (c - s) // 2) // s * s), last)
                alone, _ = body(x[b: b + 1, start: min(start + c, n)])
                torch.testing.assert_close(out[b, t], alone[0, t - start], rtol=0, atol=1e-5)


@pytest.mark.parametrize("key,params", [("transformer", {"context": 4}), ("attention_lstm", {"window": 4})])
def test_stateful_tbptt_carries_the_state_across_windows(key, params):
    """0 0 1 1 0 0 1 1 ...: the next token depends on the last two; windows of two steps need the carried state."""
    stream = [np.tile([0, 0, 1, 1], 100)]
    est = _make(key, **params, batch_size=4, lr=0.03, stateful=True, bptt=2, max_epochs=15, random_state=0)
    assert est.fit(stream).history_[-1]["loss"] < 0.05
    with pytest.raises(ConfigError, match="window"):
        _make("attention_lstm", stateful=True, max_epochs=1).fit(stream)


# ----------------------------------------------------------------------------- tagger and classifier
@pytest.mark.parametrize("key,params", [("attention_lstm", {}), ("transformer", {"causal": True}),
                                        ("transformer", {"causal": False}),
                                        ("transformer", {"causal": False, "context": 4, "stride": 2})])
def test_tagger_overfits_and_is_invariant_to_padding(key, params):
    rng = np.random.default_rng(0)
    X = [rng.integers(0, 6, size=rng.integers(1, 9)) for _ in range(16)]
    y = [(x + np.roll(x, 1)) % 3 for x in X]  # depends on the previous word too (and wraps around)
    lstm = key == "attention_lstm"
    est = _make(key, **params, lr=0.02 if lstm else 0.01, word_dropout=0.0, max_epochs=80 if lstm else 150,
                random_state=0).fit(X, y)
    assert est.fit_mode_ == "tagger" and est.n_tags_ == 3
    pred = est.predict(X)
    assert all(np.array_equal(p[1:], t[1:]) for p, t in zip(pred, y))
    if params.get("causal") is False and "context" not in params:  # position 0's tag needs the last word
        assert est.score(X, y) == 1.0
    together = est.predict_proba(X)
    for x, p in zip(X, together):
        np.testing.assert_allclose(est.predict_proba([x])[0], p, rtol=0, atol=1e-5)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("key,params", [("attention_lstm", {}), ("transformer", {"pooling": "mean"}),
                                        ("transformer", {"pooling": "attention", "causal": False})])
def test_classifier_pools_over_all_positions(key, params):
    rng = np.random.default_rng(0)
    X = [rng.integers(0, 5, size=rng.integers(1, 7)) for _ in range(160)]
    labels = np.array([10 if 3 in x else 20 for x in X])
    est = _make(key, **params, lr=0.03 if key == "attention_lstm" else 0.01, max_epochs=30, random_state=0)
    est.fit(X[:120], labels[:120])
    assert est.fit_mode_ == "classifier" and isinstance(est.module_.head, PoolingHead)
    assert est.score(X[120:], labels[120:]) >= 0.9
    proba = est.predict_proba(X[120:])
    for i in (0, 7, 33):
        np.testing.assert_allclose(est.predict_proba([X[120 + i]])[0], proba[i], atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_pooling_head_weights_and_padding(pooling):
    torch.manual_seed(0)
    head = PoolingHead(4, 3, pooling).double()
    h = torch.randn(2, 5, 4, dtype=torch.float64)
    lengths = torch.tensor([5, 2])
    out = head(h, lengths)
    for b, n in enumerate(lengths.tolist()):
        if pooling == "mean":
            w = torch.full((n,), 1.0 / n, dtype=torch.float64)
        else:
            w = torch.softmax(h[b, :n] @ head.score.weight[0] + head.score.bias, dim=0)
        torch.testing.assert_close(out[b], head.proj(w @ h[b, :n]), rtol=0, atol=1e-12)
        torch.testing.assert_close(out[b], head(h[b: b + 1, :n])[0], rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- Gaussian head
@pytest.mark.parametrize("key", ["attention_lstm", "transformer"])
def test_gaussian_density_is_causal(key):
    rng = np.random.default_rng(0)
    X = [np.cumsum(rng.normal(size=(12, 2)), axis=0) for _ in range(8)]
    est = _make(key, max_epochs=2, random_state=0).fit(X)
    a, b = X[0], X[0].copy()
    b[6:] += 5.0
    sa, sb = est.score_tokens([a, b])
    np.testing.assert_allclose(sa[:6], sb[:6], atol=1e-6)
    assert not np.allclose(sa[6:], sb[6:])
    means, variances = est.predict_next_moments([a])
    assert means[0].shape == (12, 2) and (variances[0] > 0).all()


# ----------------------------------------------------------------------------- weight tying
def test_weight_tying_shares_the_embedding_and_checks_its_conditions():
    X = _lm_data()
    tied = Transformer(**TINY_T, tie_weights=True, max_epochs=2, random_state=0).fit(X)
    untied = Transformer(**TINY_T, max_epochs=2, random_state=0).fit(X)
    assert tied.module_.head.proj.embed.weight is tied.module_.encoder.embed.weight
    V = tied.vocab_size_
    assert untied.n_parameters_ - tied.n_parameters_ == (V + 1) * 16  # the output matrix is the embedding's
    with torch.no_grad():  # the logits are h . e_v for the embedding rows v of the words (+ UNK)
        h, _ = tied.module_.features(torch.tensor([[-1, 1, 2]]))
        logits = tied.module_.head(h)
        by_hand = h @ tied.module_.encoder.embed.weight[: V + 1].T + tied.module_.head.proj.bias
        torch.testing.assert_close(logits, by_hand)
    with pytest.raises(ConfigError, match="embedding_dim == d_model"):
        Transformer(**{**TINY_T, "embedding_dim": 8}, tie_weights=True, max_epochs=1).fit(X)
    with pytest.raises(ConfigError, match="language model"):
        Transformer(**TINY_T, tie_weights=True, max_epochs=1).fit(X, [x % 2 for x in X])


# ----------------------------------------------------------------------------- saving
@pytest.mark.parametrize("key,params,mode", [("transformer", {"tie_weights": True}, "lm"),
                                             ("transformer", {"context": 4}, "lm"),
                                             ("attention_lstm", {"window": 3}, "lm"),
                                             ("attention_lstm", {}, "classifier"),
                                             ("transformer", {"causal": False}, "tagger")])
def test_save_load_and_pickle_round_trip(key, params, mode, tmp_path):
    X = _lm_data()
    est = _make(key, **params, max_epochs=2, random_state=0)
    if mode == "lm":
        est.fit(X)
        out = lambda m: m.score_tokens(X + [np.tile(PATTERN, 3)])  # noqa: E731
    elif mode == "classifier":
        est.fit(X, np.arange(len(X)) % 2)
        out = lambda m: [m.predict_proba(X)]  # noqa: E731
    else:
        est.fit(X, [x % 2 for x in X])
        out = lambda m: m.predict_proba(X)  # noqa: E731
    est.save(tmp_path / "m.pt")
    for back in (type(est).load(tmp_path / "m.pt"), NeuralSequenceEstimator.load(tmp_path / "m.pt"),
                 pickle.loads(pickle.dumps(est))):
        assert type(back) is type(est) and back.fit_mode_ == est.fit_mode_
        for u, v in zip(out(est), out(back)):
            np.testing.assert_array_equal(u, v)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("cls,bad,match", [
    (Transformer, {"n_heads": 3}, "n_heads=3 must divide d_model=16"), (Transformer, {"stride": 0}, "stride"),
    (Transformer, {"context": 4, "stride": 5}, "stride"), (Transformer, {"context": 0}, "context"),
    (Transformer, {"pooling": "max"}, "pooling"), (Transformer, {"causal": "yes"}, "causal"),
    (Transformer, {"tie_weights": 1}, "tie_weights"), (AttentionLSTM, {"window": 0}, "window"),
    (AttentionLSTM, {"hidden_size": 0}, "hidden_size"),
])
def test_bad_parameters_raise_config_error(cls, bad, match):
    base = TINY_T if cls is Transformer else TINY_A
    with pytest.raises(ConfigError, match=match):
        cls(**{**base, **bad}, max_epochs=1).fit(_lm_data())


# ----------------------------------------------------------------------------- gradients
def test_gradcheck_float64_causal_self_attention():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    causal = SelfAttention(4, 2, causal=True).double()
    assert torch.autograd.gradcheck(causal, (x,))
    full = SelfAttention(4, 2, causal=False).double()
    assert torch.autograd.gradcheck(lambda z: full(z, torch.tensor([5, 3]))[1, :3], (x,))
    # causality: output t has no gradient from inputs after t
    jac = torch.autograd.functional.jacobian(lambda z: causal(z[None])[0], x[0].detach())   # (5, 4, 5, 4)
    for t in range(4):
        assert jac[t, :, t + 1:].abs().max() == 0


@pytest.mark.parametrize("window", [None, 2])
def test_gradcheck_float64_past_attention(window):
    torch.manual_seed(0)
    att = PastAttention(3, window).double()
    past = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, q: att(q, torch.cat([p, q], dim=1)), (past, h))
