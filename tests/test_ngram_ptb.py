"""Modified Kneser-Ney on Penn Treebank (Mikolov) against the published perplexities."""
import gzip

import numpy as np
import pytest

from seqbench.models import NGram

from conftest import require_corpus


def _read(path):
    """Whitespace tokens of each line, plus <eos>."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [line.split() + ["<eos>"] for line in fh]


@pytest.fixture(scope="module")
def ptb():
    train_path, test_path = require_corpus("ptb_mikolov/ptb.train.txt.gz", "ptb_mikolov/ptb.test.txt.gz")
    train, test = _read(train_path), _read(test_path)
    vocab = sorted({w for s in train for w in s})
    stoi = {w: i for i, w in enumerate(vocab)}
    encode = lambda sentences: [np.array([stoi[w] for w in s], dtype=np.int64) for s in sentences]  # noqa: E731
    return vocab, encode(train), encode(test)


@pytest.mark.corpus
@pytest.mark.parametrize("order,bound", [(3, 150.0), (5, 143.0)])
def test_ptb_test_perplexity(ptb, order, bound):
    # Mikolov (2012), Table 4.1: KN3 148.3, KN5 141.2 on the same split and vocabulary.
    vocab, X_train, X_test = ptb
    assert len(vocab) == 10_000
    model = NGram(order=order, vocab=vocab).fit(X_train)
    scores = np.concatenate(model.score_tokens(X_test))
    assert scores.size == 82_430
    perplexity = float(np.exp(-scores.sum() / scores.size))
    assert 130.0 < perplexity <= bound
