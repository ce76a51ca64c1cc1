"""ARPA export of NGram, read back by KenLM (a separate implementation of backoff scoring)."""
import numpy as np
import pytest

from seqbench.exceptions import ConfigError
from seqbench.models import NGram

kenlm = pytest.importorskip("kenlm")

WORDS = ["<unk>", "<eos>", "the", "cat", "sat", "on", "a", "mat", "dog"]


def _corpus(seed, n=60):
    """Zipf-like sentences over the ids 0 and 2..8, each ending with <eos> (id 1)."""
    rng = np.random.default_rng(seed)
    ids = np.array([0, 2, 3, 4, 5, 6, 7, 8])
    p = 1.0 / np.arange(1, len(ids) + 1)
    return [np.append(rng.choice(ids, size=rng.integers(0, 7), p=p / p.sum()), 1) for _ in range(n)]


def _kenlm_log10(path, X, words):
    model = kenlm.Model(str(path))
    return [np.array([p for p, _, _ in model.full_scores(" ".join(words[i] for i in x), bos=True, eos=False)])
            for x in X]


@pytest.mark.parametrize("smoothing", ["kneser_ney", "witten_bell"])
@pytest.mark.parametrize("order", [2, 3, 5])
def test_kenlm_reads_the_same_model(tmp_path, smoothing, order):
    # KenLM needs at least a bigram model; its ARPA reader stores probabilities as float32.
    X = _corpus(order)
    model = NGram(order=order, smoothing=smoothing, vocab=WORDS).fit(X)
    path = tmp_path / "model.arpa"
    model.to_arpa(path)
    Q = X[:20] + _corpus(100 + order, n=20)
    ours = model.score_tokens(Q)
    theirs = _kenlm_log10(path, Q, WORDS)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a / np.log(10), b, rtol=0, atol=1e-4)


def test_kenlm_without_vocab_and_with_unknown_ids(tmp_path):
    rng = np.random.default_rng(0)
    X = [rng.integers(0, 6, size=rng.integers(1, 9)) for _ in range(40)]
    model = NGram(order=3, discount=0.7).fit(X)
    path = tmp_path / "model.arpa"
    model.to_arpa(path)
    text = path.read_text()
    for marker in ("\t<s>\t", "\t</s>\t", "\t<unk>\t", "\tw5\t"):
        assert marker in text
    Q = [rng.integers(0, 9, size=rng.integers(1, 9)) for _ in range(20)]  # ids 6..8 are unknown
    names = [f"w{i}" for i in range(9)]  # w6..w8 are not in the ARPA file: KenLM maps them to <unk>
    for a, b in zip(model.score_tokens(Q), _kenlm_log10(path, Q, names)):
        np.testing.assert_allclose(a / np.log(10), b, rtol=0, atol=1e-4)


def test_arpa_header_counts_and_bad_words(tmp_path):
    X = _corpus(1)
    model = NGram(order=3, vocab=WORDS).fit(X)
    path = tmp_path / "m.arpa"
    model.to_arpa(path)
    lines = path.read_text().splitlines()
    declared = [int(line.split("=")[1]) for line in lines if line.startswith("ngram ")]
    assert declared[1:] == list(model.n_ngrams_[1:])
    assert declared[0] == len(WORDS) + 2  # every word, <s> and </s> (<unk> is a vocabulary word here)
    with pytest.raises(ConfigError, match="whitespace"):
        model.to_arpa(tmp_path / "x.arpa", words=["a b"] + WORDS[1:])
    with pytest.raises(ConfigError, match="<s>"):
        model.to_arpa(tmp_path / "x.arpa", words=["<s>"] + WORDS[1:])
    with pytest.raises(ConfigError, match="entries"):
        model.to_arpa(tmp_path / "x.arpa", words=WORDS[:-1])
