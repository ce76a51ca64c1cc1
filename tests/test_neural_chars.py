"""Character-level word encoders: unseen words are tagged from their spelling (char-rnn under a word-rnn)."""
import numpy as np
import pytest
import torch

from seqbench.data import Vocab
from seqbench.models import LSTM
from seqbench.models._char_encoder import MAX_WORD_CHARS, char_table

SUFFIXES = {"ing": 1, "ed": 2, "ly": 3}


def _words(rng, n):
    stems = set()
    while len(stems) < n:
        stems.add("".join(rng.choice(list("bcdfghkmnprstvwz"), size=rng.integers(2, 5))))
    return sorted(stems)


def _corpus():
    """Sentences of words whose tag is their suffix (none -> 0); test words never occur in training."""
    rng = np.random.default_rng(0)
    stems = _words(rng, 80)
    suffixes = list(SUFFIXES) + ["", "o"]
    picks = rng.integers(0, len(suffixes), size=len(stems))
    lexicon = {stem + suffixes[k]: SUFFIXES.get(suffixes[k], 0) for stem, k in zip(stems, picks)}
    words = sorted(lexicon)
    train_words, test_words = words[:60], words[60:]

    def sentences(pool, n):
        out = [list(rng.choice(pool, size=rng.integers(3, 8))) for _ in range(n)]
        return out, [[lexicon[w] for w in s] for s in out]

    (tr, tr_tags), (te, te_tags) = sentences(train_words, 150), sentences(test_words, 40)
    vocab = Vocab.build(tr, specials=("<unk>",)).with_unseen(te)
    enc = lambda sents: [vocab.encode(s) for s in sents]  # noqa: E731
    return vocab, enc(tr), [np.array(t) for t in tr_tags], enc(te), [np.array(t) for t in te_tags]


def test_char_table_keeps_prefix_and_suffix_and_marks_unseen_characters():
    words = ["ab", "ba", "a" * 15 + "xyz" + "b" * 10, "q"]
    table, lengths, n_chars = char_table(words, n_known=3)
    assert n_chars == 2 + 5  # pad, unknown, then a b x y z
    assert table[0, :3].tolist() == [2, 3, 0] and lengths[0] == 2
    assert lengths[2] == MAX_WORD_CHARS and table[2, -1] == 3 and table[2, 0] == 2  # ...aaaa bbbb...
    assert table[3, 0] == 1  # "q" occurs only in an unseen word


@pytest.mark.parametrize("kind", ["lstm", "cnn"])
def test_char_encoder_tags_unseen_words_by_their_suffix(kind):
    vocab, X, y, X_test, y_test = _corpus()
    assert all((x >= vocab.n_known).all() for x in X_test)  # every test word is unknown
    params = {"hidden_size": 16, "embedding_dim": 8, "char_dim": 16, "batch_size": 16, "lr": 0.02,
              "max_epochs": 25, "valid_fraction": 0.0, "vocab": vocab, "random_state": 0}
    with_chars = LSTM(**params, char_encoder=kind).fit(X, y)
    without = LSTM(**params).fit(X, y)
    acc_chars, acc_words = with_chars.score(X_test, y_test), without.score(X_test, y_test)
    assert acc_chars >= 0.9
    assert acc_chars >= acc_words + 0.3  # word ids alone see only UNK for these words


def test_char_encoder_encodes_each_distinct_word_once_and_zeroes_the_start_symbol():
    vocab, X, y, _, _ = _corpus()
    est = LSTM(hidden_size=4, embedding_dim=2, char_dim=4, char_encoder="cnn", vocab=vocab, max_epochs=1,
               valid_fraction=0.0, random_state=0).fit(X[:4], y[:4])
    chars = est.module_.encoder.chars
    ids = torch.tensor([[5, 5, -1, 7]])
    out = chars(ids)
    torch.testing.assert_close(out[0, 0], out[0, 1])
    assert torch.all(out[0, 2] == 0)
    torch.testing.assert_close(out[0, 3], chars(torch.tensor([[7]]))[0, 0])


def test_frequency_word_dropout_drops_rare_words_at_alpha_over_alpha_plus_count():
    """word_dropout="frequency": p(w) = 0.25 / (0.25 + count(w)); measured rates match it, UNK/start never drop."""
    from seqbench.models._neural_inputs import TokenEncoder

    enc = TokenEncoder(4, 3, word_dropout="frequency")
    counts = np.array([1, 3, 0, 999])
    enc.set_word_counts(counts)
    expected = [0.25 / 1.25, 0.25 / 3.25, 0.0, 0.25 / 999.25, 0.0, 0.0]
    np.testing.assert_allclose(enc.drop_prob.numpy(), expected, rtol=1e-6)
    enc.train()
    enc.generator = torch.Generator().manual_seed(0)
    n = 200_000
    ids = torch.tensor([[0, 1, 3, -1, 7]]).repeat(n // 5, 1)  # -1 the start symbol, 7 beyond the vocabulary (UNK)
    with torch.no_grad():
        out = enc(ids)                                               # (n/5, 5, 3)
        is_unk = (out == enc.embed.weight[enc.n_words]).all(dim=-1)  # the UNK row's embedding
        is_start = (out == enc.embed.weight[enc.n_words + 1]).all(dim=-1)
    rates = is_unk.float().mean(dim=0).numpy()
    np.testing.assert_allclose(rates[:3], [0.2, 0.25 / 3.25, 0.25 / 999.25], atol=0.006)
    assert rates[4] == 1.0 and bool(is_start[:, 3].all())  # an unknown id is UNK; the start is never dropped
    # the estimator sets the counts from its training data, and they travel with the saved weights
    X = [np.array([0, 1, 1, 2, 2, 2])] * 4
    est = LSTM(hidden_size=4, embedding_dim=2, word_dropout="frequency", max_epochs=1, valid_fraction=0.0,
               random_state=0).fit(X, [x % 2 for x in X])
    np.testing.assert_allclose(est.module_.encoder.drop_prob[:3].numpy(), [0.25 / 4.25, 0.25 / 8.25, 0.25 / 12.25],
                               rtol=1e-6)
