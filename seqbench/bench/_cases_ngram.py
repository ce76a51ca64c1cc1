"""N-gram peer cases: seqbench ``NGram`` against NLTK's ``KneserNeyInterpolated`` and KenLM.

Data: Penn Treebank (Mikolov), the dataset ``ptb`` (needs the corpus
under ``$SEQBENCH_DATA``): the first 300k training tokens (whole
sentences), order 3, scored on the test split (``quick``: 20k training
tokens, the first 300 test sentences).

- ``ngram-fit``: ``NGram(order=3)`` (interpolated modified Kneser-Ney)
  against ``nltk.lm.KneserNeyInterpolated(3)`` fed by
  ``padded_everygram_pipeline`` (the pipeline counted in its time);
- ``ngram-score``: ``score_tokens`` over the test sentences against KenLM
  (``kenlm.Model`` on the ARPA file written by ``NGram.to_arpa``,
  ``full_scores`` per sentence: the same model, so the per-token log10
  probabilities must agree to 1e-4, KenLM storing float32) and against
  NLTK's ``logscore`` of a sample of test trigrams (100; 30 with
  ``quick``). NLTK pads with ``<s>``/``</s>`` and treats the lowest order
  differently: its rate is compared, its numbers are not.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from .peers import Contender, Prepared, Unavailable, case

FULL = {"n_train_tokens": 300_000, "n_test_sentences": None, "nltk_sample": 100}
QUICK = {"n_train_tokens": 20_000, "n_test_sentences": 300, "nltk_sample": 30}
ORDER = 3


@lru_cache(maxsize=2)
def ptb(quick):
    """``(X_train, X_test, words, train_sentences, test_sentences, description)`` of the PTB subset."""
    from ..data import load_dataset
    from ..exceptions import DatasetUnavailableError

    size = QUICK if quick else FULL
    try:
        ds = load_dataset("ptb")
    except DatasetUnavailableError as exc:
        raise Unavailable(f"ptb is not available: {exc}") from None
    n_sent = int(np.searchsorted(np.cumsum([len(x) for x in ds.train.X]), size["n_train_tokens"])) + 1
    X_train, X_test = ds.train.X[:n_sent], ds.test.X[: size["n_test_sentences"]]
    words = list(ds.vocab.itos)
    to_words = lambda X: [[words[i] for i in x] for x in X]  # noqa: E731
    description = (f"PTB (Mikolov): {sum(map(len, X_train)):,} training tokens, "
                   f"{sum(map(len, X_test)):,} test tokens, vocabulary {len(words):,}, order {ORDER}")
    return X_train, X_test, words, to_words(X_train), to_words(X_test), description


def nltk_fit(sentences, order=ORDER):
    """``nltk.lm.KneserNeyInterpolated(order)`` fitted on lists of word strings."""
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    text, vocab = padded_everygram_pipeline(order, sentences)
    lm = KneserNeyInterpolated(order)
    lm.fit(text, vocab)
    return lm


def seqbench_fit(X_train, words):
    from ..models import NGram

    return NGram(order=ORDER, vocab=words).fit(X_train)


@case("ngram-fit", "ngram", "fit", "token", "modified Kneser-Ney trigram model from training sentences")
def _fit(seed, quick):
    X_train, _, words, train, _, description = ptb(quick)
    n = sum(map(len, X_train))
    return Prepared(description, [
        Contender("seqbench NGram(order=3).fit", "seqbench", lambda: seqbench_fit(X_train, words), n),
        Contender("NLTK KneserNeyInterpolated(3).fit", "nltk", lambda: nltk_fit(train), n, requires=("nltk",),
                  note="interpolated Kneser-Ney, one discount 0.1"),
    ])


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 to /dev/null (output written by compiled code) for the block."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _kenlm(model, words, X_test):
    """KenLM contender over the ARPA file of ``model`` (written in ``prepare``, kept in a temporary folder)."""
    state = {}
    lines = [" ".join(words[i] for i in x) for x in X_test]

    def prepare():
        import kenlm

        state["dir"] = tempfile.TemporaryDirectory(prefix="seqbench-peers-")
        path = Path(state["dir"].name) / "model.arpa"
        model.to_arpa(path)
        with _quiet_stderr():  # KenLM's loader prints a progress bar from C++
            state["model"] = kenlm.Model(str(path))

    def run():
        m = state["model"]
        return sum(p for line in lines for p, _, _ in m.full_scores(line, bos=True, eos=False))

    def agree():
        ours = np.concatenate(model.score_tokens(X_test)) / np.log(10)
        m = state["model"]
        return ours, np.array([p for line in lines for p, _, _ in m.full_scores(line, bos=True, eos=False)])

    return Contender("KenLM full_scores (ARPA from NGram.to_arpa)", "kenlm", run, sum(map(len, X_test)),
                     requires=("kenlm",), prepare=prepare, agree=agree, rtol=0.0, atol=1e-4,
                     what="per-token log10 probability of the test tokens (KenLM stores float32)")


def _nltk_score(train, test, n_sample, seed):
    """NLTK ``logscore`` of ``n_sample`` random test positions (word and its two-word history)."""
    rng = np.random.default_rng(seed)
    padded = [["<s>"] * (ORDER - 1) + s for s in test]
    picks = rng.integers(0, len(padded), size=n_sample)
    queries = []
    for i in picks:
        t = int(rng.integers(ORDER - 1, len(padded[i])))
        queries.append((padded[i][t], padded[i][t - ORDER + 1: t]))
    state = {}

    def run():
        lm = state["lm"]
        return [lm.logscore(word, context) for word, context in queries]

    return Contender(f"NLTK KneserNeyInterpolated.logscore ({n_sample} trigrams)", "nltk", run, n_sample,
                     requires=("nltk",), prepare=lambda: state.setdefault("lm", nltk_fit(train)),
                     note="a sample of test positions; padding and lowest order differ from seqbench")


@case("ngram-score", "ngram", "score", "token", "log-probability of every test token under a trigram model")
def _score(seed, quick):
    size = QUICK if quick else FULL
    X_train, X_test, words, train, test, description = ptb(quick)
    model = seqbench_fit(X_train, words)
    return Prepared(description, [
        Contender("seqbench NGram.score_tokens", "seqbench", lambda: model.score_tokens(X_test),
                  sum(map(len, X_test)),
                  metrics=lambda: {"perplexity": float(np.exp(-np.concatenate(model.score_tokens(X_test)).mean()))}),
        _kenlm(model, words, X_test),
        _nltk_score(train, test, size["nltk_sample"], seed),
    ])
