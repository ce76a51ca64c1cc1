"""RNN, LSTM and GRU: every head by mode, the causal mask, padding, max_context, TBPTT, sampling."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from seqbench import get_tags, list_models
from seqbench.exceptions import ConfigError, InvalidSequenceError, NotFittedError, UnknownSymbolError
from seqbench.models import GRU, LSTM, RNN
from seqbench.models.rnn import RecurrentBody

FAMILIES = [RNN, LSTM, GRU]
TINY = {"hidden_size": 16, "embedding_dim": 8, "batch_size": 8, "lr": 0.03, "valid_fraction": 0.0}
PATTERN = np.array([1, 2, 3, 4, 1, 3, 2, 4, 0])


def _lm_data():
    """Prefixes of one deterministic sentence: every next token is a function of the history."""
    return [PATTERN[:n] for n in range(1, len(PATTERN) + 1)] * 2


@pytest.fixture(scope="module", params=FAMILIES, ids=lambda c: c.__name__)
def lm(request):
    return request.param(**TINY, max_epochs=80, random_state=0).fit(_lm_data())


# ----------------------------------------------------------------------------- language model
def test_registered_with_neural_tags():
    assert {"rnn", "lstm", "gru"} <= set(list_models(neural=True))
    tags = get_tags(LSTM())
    assert tags.density and tags.tagger and tags.sampler and tags.max_context and tags.neural
    assert not tags.uses_vocab and get_tags(LSTM(char_encoder="cnn")).uses_vocab
    assert not get_tags(LSTM(bidirectional=True)).density


def test_language_model_overfits_a_tiny_corpus(lm):
    scores = lm.score_tokens([PATTERN])[0]
    assert scores.shape == PATTERN.shape and np.all(scores <= 0)
    assert -scores.mean() < 0.05  # near-zero loss: p(x_t | x_<t) close to 1 everywhere
    assert lm.history_[-1]["loss"] < 0.1 * lm.history_[0]["loss"]
    assert lm.fit_mode_ == "density" and lm.n_parameters_ == sum(p.numel() for p in lm.module_.parameters())


def test_causal_mask_future_tokens_never_change_past_scores(lm):
    rng = np.random.default_rng(0)
    for t in range(len(PATTERN)):
        other = PATTERN.copy()
        other[t + 1:] = rng.integers(0, 5, size=len(PATTERN) - t - 1)
        a, b = lm.score_tokens([PATTERN, other])
        np.testing.assert_allclose(a[: t + 1], b[: t + 1], rtol=0, atol=1e-6)


def test_padding_and_batch_composition_do_not_change_scores(lm):
    rng = np.random.default_rng(1)
    X = [rng.integers(0, 5, size=n) for n in (1, 7, 3, 12, 2, 30)]
    together = lm.score_tokens(X)
    for x, s in zip(X, together):
        np.testing.assert_allclose(lm.score_tokens([x])[0], s, rtol=0, atol=1e-5)
    reordered = lm.score_tokens(X[::-1] + X[:2])
    for s, r in zip(together[::-1], reordered):
        np.testing.assert_allclose(r, s, rtol=0, atol=1e-5)


def test_scores_are_a_normalised_next_token_distribution(lm):
    """Summing p(v | prefix) over every v in [0, V) gives 1 minus the unseen-word class's share."""
    prefix = PATTERN[:4]
    probs = [math.exp(lm.score_tokens([np.append(prefix, v)])[0][-1]) for v in range(lm.vocab_size_)]
    unseen = math.exp(lm.score_tokens([np.append(prefix, lm.vocab_size_ + 3)])[0][-1])
    assert sum(probs) + unseen == pytest.approx(1.0, abs=1e-5)
    assert unseen < 0.01


def test_max_context_is_exact(lm):
    """Position t > k is scored as the last position of the sequence x_{t-k} .. x_t read afresh."""
    x = np.array([1, 2, 3, 4, 1, 3, 2, 4, 0, 2, 1])
    for k in (0, 1, 3):
        truncated = lm.score_tokens([x], max_context=k)[0]
        full = lm.score_tokens([x])[0]
        np.testing.assert_allclose(truncated[: k + 1], full[: k + 1], rtol=0, atol=1e-6)
        for t in range(k + 1, len(x)):
            alone = lm.score_tokens([x[t - k: t + 1]])[0][-1]
            assert truncated[t] == pytest.approx(alone, abs=1e-5)
    np.testing.assert_allclose(lm.score_tokens([x], max_context=len(x))[0], full, rtol=0, atol=1e-6)
    with pytest.raises(ConfigError, match="max_context"):
        lm.score_tokens([x], max_context=-1)


def test_length_one_sequences(lm):
    s = lm.score_tokens([np.array([1]), np.array([3])])
    assert [a.shape for a in s] == [(1,), (1,)] and np.isfinite(np.concatenate(s)).all()
    fitted = LSTM(**TINY, max_epochs=2, random_state=0).fit([np.array([1]), np.array([2]), np.array([1])])
    assert np.isfinite(fitted.score_tokens([np.array([2])])[0]).all()


def test_sampler_draws_from_the_model_distribution(lm):
    """First-token frequencies of many samples match p(x_0 | START) computed by score_tokens."""
    p = np.exp([lm.score_tokens([np.array([v])])[0][0] for v in range(lm.vocab_size_)])
    draws = np.concatenate(lm.sample(4000, 1, random_state=0))
    freq = np.bincount(draws, minlength=lm.vocab_size_) / 4000
    np.testing.assert_allclose(freq, p / p.sum(), atol=4 * np.sqrt(0.25 / 4000))
    greedy = lm.sample(2, len(PATTERN), random_state=1, temperature=1e-3)
    for s in greedy:
        np.testing.assert_array_equal(s, PATTERN)  # the memorised sentence, from START


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stepping_cells_equals_running_the_layers(cell):
    torch.manual_seed(0)
    body = RecurrentBody(cell, 3, 5, n_layers=2).eval()
    x = torch.randn(2, 6, 3)
    full, final = body(x)
    state, steps = None, []
    for t in range(6):
        h, state = body.step(x[:, t], state)
        steps.append(h)
    torch.testing.assert_close(torch.stack(steps, dim=1), full, rtol=0, atol=1e-6)
    torch.testing.assert_close(state, final, rtol=0, atol=1e-6)
    names = [n for n, _ in body.named_parameters()]
    assert len(names) == len(set(names)) == 2 * 4  # the cells add no parameters of their own


def test_lstm_forget_gate_bias_starts_at_one():
    est = LSTM(hidden_size=4, embedding_dim=2, max_epochs=1, lr=1e-9, valid_fraction=0.0, random_state=0)
    est.fit([np.array([0, 1])])
    layer = est.module_.body.layers[0]
    total = (layer.bias_ih_l0 + layer.bias_hh_l0).detach()
    np.testing.assert_allclose(total[4:8].numpy(), 1.0, atol=1e-6)   # gates i, f, g, o: f is the second block


def test_bidirectional_language_model_is_refused():
    with pytest.raises(ConfigError, match="sees the future"):
        LSTM(**TINY, bidirectional=True, max_epochs=1).fit(_lm_data())


def test_determinism_under_random_state():
    X = _lm_data()
    a = GRU(**TINY, dropout=0.2, max_epochs=3, random_state=7).fit(X)
    b = GRU(**TINY, dropout=0.2, max_epochs=3, random_state=7).fit(X)
    c = GRU(**TINY, dropout=0.2, max_epochs=3, random_state=8).fit(X)
    for u, v in zip(a.score_tokens(X), b.score_tokens(X)):
        np.testing.assert_array_equal(u, v)
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    assert not np.array_equal(a.score_tokens(X)[0], c.score_tokens(X)[0])


# ----------------------------------------------------------------------------- stateful TBPTT
def test_stateful_tbptt_carries_the_state_across_windows():
    """In the stream 0 0 1 1 0 0 1 1 ... the next token depends on the last two; with windows of
    two steps, half of the predictions need the token from the previous window: the training
    loss reaches ~0 only if the state is carried from window to window."""
    stream = [np.tile([0, 0, 1, 1], 100)]
    est = LSTM(**{**TINY, "batch_size": 4}, stateful=True, bptt=2, max_epochs=25, random_state=0).fit(stream)
    assert est.history_[-1]["loss"] < 0.05
    assert est.history_[0]["tokens_seen"] == 400 - 400 % 4


def test_windowed_scoring_equals_one_pass_over_the_stream(lm):
    """A long sequence is scored in windows with the state carried; one forward pass over all of it agrees."""
    x = np.random.default_rng(0).integers(0, 5, size=3000)
    windowed = lm.score_tokens([x])[0]
    with torch.no_grad():
        inp = torch.from_numpy(np.concatenate([[-1], x[:-1]]))[None]
        logits, _, _ = lm.module_(inp)
        once = torch.log_softmax(logits[0], -1)[torch.arange(len(x)), torch.from_numpy(x)].numpy()
    np.testing.assert_allclose(windowed, once, rtol=0, atol=1e-5)


def test_stateful_applies_to_densities_only():
    X, y = _lm_data(), [x % 2 for x in _lm_data()]
    with pytest.raises(ConfigError, match="stateful"):
        LSTM(**TINY, stateful=True, max_epochs=1).fit(X, y)
    with pytest.raises(ConfigError, match="bidirectional"):
        LSTM(**TINY, bidirectional=True, bptt=3, max_epochs=1).fit(X, y)


def test_an_overlong_training_window_is_refused_with_its_size():
    from seqbench.exceptions import ResourceLimitError

    with pytest.raises(ResourceLimitError, match="GiB.*stateful=True"):
        LSTM(**{**TINY, "hidden_size": 1024}, max_epochs=1).fit([np.zeros(200_000, dtype=np.int64)])


# ----------------------------------------------------------------------------- tagger
@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_tagger_overfits_and_is_invariant_to_padding(cls, bidirectional):
    rng = np.random.default_rng(0)
    X = [rng.integers(0, 6, size=rng.integers(1, 9)) for _ in range(16)]
    y = [(x + np.roll(x, 1)) % 3 for x in X]  # depends on the previous word too (and wraps around)
    est = cls(**{**TINY, "lr": 0.02}, bidirectional=bidirectional, n_layers=2, word_dropout=0.0, max_epochs=60,
              random_state=0).fit(X, y)
    assert est.fit_mode_ == "tagger" and est.n_tags_ == 3
    pred = est.predict(X)
    assert all(np.array_equal(p[1:], t[1:]) for p, t in zip(pred, y))
    if bidirectional:  # the wrap-around tag of position 0 needs the last word: only a backward pass sees it
        assert est.score(X, y) == 1.0
    together = est.predict_proba(X)
    for x, p in zip(X, together):
        np.testing.assert_allclose(est.predict_proba([x])[0], p, rtol=0, atol=1e-5)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert [p.argmax(1).tolist() for p in together] == [t.tolist() for t in est.predict(X)]


def test_tagger_errors_name_the_problem():
    X = [np.array([1, 2, 3]), np.array([2, 3])]
    est = LSTM(**TINY, max_epochs=1)
    with pytest.raises(InvalidSequenceError, match=r"y\[1\] has 1 tags for 2 tokens"):
        est.fit(X, [np.array([0, 1, 0]), np.array([1])])
    with pytest.raises(UnknownSymbolError, match=r"X\[0\]\[1\] = -4"):
        est.fit([np.array([1, -4, 2])], [np.array([0, 1, 0])])
    est.fit(X, [np.array([0, 1, 0]), np.array([1, 0])])
    with pytest.raises(InvalidSequenceError, match="score_tokens needs"):
        est.score_tokens(X)
    with pytest.raises(UnknownSymbolError, match=r"X\[0\]\[0\] = -1"):
        est.predict([np.array([-1])])
    with pytest.raises(NotFittedError):
        GRU().predict(X)


# ----------------------------------------------------------------------------- classifier
@pytest.mark.parametrize("cls,bidirectional", [(LSTM, False), (GRU, True), (RNN, False)])
def test_classifier_learns_whether_a_token_occurs(cls, bidirectional):
    rng = np.random.default_rng(0)
    X = [rng.integers(0, 5, size=rng.integers(1, 7)) for _ in range(200)]
    labels = np.array([10 if 3 in x else 20 for x in X])  # arbitrary label values
    est = cls(**{**TINY, "lr": 0.03}, bidirectional=bidirectional, max_epochs=40, random_state=0)
    est.fit(X[:150], labels[:150])
    assert est.fit_mode_ == "classifier" and est.classes_.tolist() == [10, 20]
    assert est.score(X[150:], labels[150:]) >= 0.9
    proba = est.predict_proba(X[150:])
    assert proba.shape == (50, 2) and np.allclose(proba.sum(axis=1), 1.0)
    for i in (0, 7, 33):  # batch composition does not matter
        np.testing.assert_allclose(est.predict_proba([X[150 + i]])[0], proba[i], atol=1e-5)
    np.testing.assert_array_equal(est.predict(X[150:]), est.classes_[proba.argmax(axis=1)])


def test_classifier_label_count_is_checked():
    with pytest.raises(InvalidSequenceError, match="y has 1 labels for 2 sequences"):
        LSTM(**TINY, max_epochs=1).fit([np.array([1, 2]), np.array([3])], np.array([0]))
    with pytest.raises(ConfigError, match="bptt"):
        LSTM(**TINY, bptt=2, max_epochs=1).fit([np.array([1, 2]), np.array([3])], np.array([0, 1]))


# ----------------------------------------------------------------------------- Gaussian head
def _ar1(n, length, phi=0.8, sigma=0.5, seed=0):
    """Two independent AR(1) series per sequence, started at their stationary law."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = np.empty((length, 2))
        x[0] = rng.normal(0, sigma / np.sqrt(1 - phi ** 2), size=2)
        for t in range(1, length):
            x[t] = phi * x[t - 1] + rng.normal(0, sigma, size=2)
        out.append(x + np.array([3.0, -1.0]))
    return out


def test_gaussian_head_learns_an_autoregression():
    X = _ar1(300, 25)
    est = GRU(hidden_size=16, batch_size=16, lr=0.01, max_epochs=10, valid_fraction=0.0, random_state=0).fit(X)
    assert est.input_kind_ == "continuous" and get_tags(est).input_kind == "continuous"
    test = _ar1(20, 25, seed=1)
    means, variances = est.predict_next_moments(test)
    oracle = [0.8 * (x[:-1] - [3.0, -1.0]) + [3.0, -1.0] for x in test]   # E[x_t | x_<t], t >= 1
    err = np.concatenate([m[1:] - o for m, o in zip(means, oracle)])
    assert np.mean(err ** 2) < 0.01     # persistence (x_t = x_{t-1}) is off by 0.04 * 0.69 = 0.028
    assert np.median(np.concatenate([v[1:] for v in variances])) == pytest.approx(0.25, rel=0.2)
    # score_tokens is the log density of the predicted Gaussians, summed over the two features
    scores = est.score_tokens(test)
    for x, m, v, s in zip(test, means, variances, scores):
        np.testing.assert_allclose(s, norm.logpdf(x, m, np.sqrt(v)).sum(axis=1), rtol=1e-6, atol=1e-6)
    oracle_ll = np.concatenate([norm.logpdf(x[1:], o, 0.5).sum(axis=1) for x, o in zip(test, oracle)])
    assert np.concatenate([s[1:] for s in scores]).mean() == pytest.approx(oracle_ll.mean(), abs=0.05)
    np.testing.assert_allclose(est.predict(test)[0], means[0])


def test_gaussian_head_causal_padding_truncation_and_sampling():
    X = _ar1(10, 12)
    est = LSTM(hidden_size=8, batch_size=4, lr=0.02, max_epochs=3, valid_fraction=0.0, random_state=0).fit(X)
    a, b = X[0], X[0].copy()
    b[6:] += 5.0
    sa, sb = est.score_tokens([a, b])
    np.testing.assert_allclose(sa[:6], sb[:6], atol=1e-6)
    assert not np.allclose(sa[6:], sb[6:])
    ragged = [X[1][:1], X[2], X[3][:5]]
    for x, s in zip(ragged, est.score_tokens(ragged)):
        np.testing.assert_allclose(est.score_tokens([x])[0], s, atol=1e-5)
    t = est.score_tokens([a], max_context=2)[0]
    assert t[5] == pytest.approx(est.score_tokens([a[3:6]])[0][-1], abs=1e-5)
    draws = est.sample(3, 7, random_state=0)
    assert [d.shape for d in draws] == [(7, 2)] * 3
    for u, v in zip(draws, est.sample(3, 7, random_state=0)):
        np.testing.assert_array_equal(u, v)


def test_continuous_input_errors():
    X = _ar1(3, 5)
    est = LSTM(**TINY, max_epochs=1).fit(X)
    with pytest.raises(InvalidSequenceError, match="features; expected 2"):
        est.score_tokens([np.ones((4, 3))])
    with pytest.raises(InvalidSequenceError, match="NaN"):
        LSTM(**TINY, max_epochs=1).fit([np.array([[0.0, np.nan], [1.0, 2.0]])])
