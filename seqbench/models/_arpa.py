"""Write an n-gram model in backoff form as an ARPA file (the format KenLM and SRILM read).

An ARPA file lists, per order, ``log10 p(w | h)`` of every stored n-gram
``h w`` and the ``log10`` backoff weight of every stored n-gram used as a
context; a query takes the longest stored n-gram ending in ``w`` and adds
the backoff weights of the longer contexts it skipped. Interpolated
Kneser-Ney and Witten-Bell models are exactly of this form (backoff weight =
interpolation weight, stored probability = interpolated probability).

KenLM needs ``<s>``, ``</s>`` and ``<unk>`` among the unigrams (it refuses a
file without the sentence markers). Here ``<s>`` is the model's begin symbol
(log10 probability -99 by convention: it is never predicted); ``</s>`` and
``<unk>`` are added when the vocabulary has no word of that name: ``</s>``
with log10 probability -99 (the model predicts its own end-of-sentence
token, an ordinary word), ``<unk>`` with the probability the model gives
an unknown word in an unseen context.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..exceptions import ConfigError
from ._ngram_counts import ngram_tokens

__all__ = ["write_arpa", "check_arpa_words"]

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
NEVER = -99.0  # log10 probability ARPA files give to symbols that are never predicted


def check_arpa_words(words, vocab_size):
    """Validate the word strings of an ARPA file.

    Parameters
    ----------
    words : sequence of str, length vocab_size

    Returns
    -------
    list of str
    """
    words = list(words)
    if len(words) != vocab_size:
        raise ConfigError(f"words has {len(words)} entries; the model has {vocab_size} word ids")
    for i, w in enumerate(words):
        if not isinstance(w, str) or not w or any(c.isspace() for c in w):
            raise ConfigError(f"words[{i}] = {w!r} cannot be an ARPA word (a non-empty string without whitespace)")
        if w == BOS:
            raise ConfigError(f"words[{i}] = {BOS!r} collides with the begin-of-sentence symbol of the ARPA file")
    if len(set(words)) != len(words):
        dup = next(w for w, n in Counter(words).items() if n > 1)
        raise ConfigError(f"words has {dup!r} twice; ARPA words must be unique")
    return words


def _fmt(x):
    return f"{x:.7f}"


def _lines(grams, logprob10, backoff10):
    """ARPA lines ``prob<TAB>gram[<TAB>backoff]``."""
    if backoff10 is None:
        return [f"{_fmt(p)}\t{g}" for p, g in zip(logprob10.tolist(), grams)]
    return [f"{_fmt(p)}\t{g}\t{_fmt(b)}" for p, g, b in zip(logprob10.tolist(), grams, backoff10.tolist())]


def write_arpa(path, tables, words):
    """Write ``tables`` (an ``NGramTables`` of kind "backoff") to ``path``.

    Parameters
    ----------
    path : str or path-like
    tables : NGramTables
        ``logprob[k]`` natural-log interpolated probabilities of the stored
        k-grams, ``logctx[d]`` natural-log backoff weights of depth-d contexts.
    words : list of str, length V
        Checked by :func:`check_arpa_words`.
    """
    V, radix = tables.vocab_size, tables.radix
    ln10 = np.log(10.0)
    top = max([1] + [k for k in range(2, tables.order + 1) if len(tables.keys[k])])
    names = np.array(list(words) + [BOS, UNK], dtype=object)  # index V = begin symbol, V + 1 = unknown

    # unigrams: every word, the begin symbol, and the markers KenLM needs
    uni_ids = np.arange(V + 1)
    uni_p = tables.logprob[1][uni_ids] / ln10
    uni_p[V] = NEVER
    uni_bo = tables.logctx[1][uni_ids] / ln10 if top > 1 else None
    sections = [_lines(names[uni_ids].tolist(), uni_p, uni_bo)]
    extra = []
    if EOS not in words:
        extra.append((EOS, NEVER))
    if UNK not in words:
        extra.append((UNK, tables.logprob[1][V + 1] / ln10))
    sections[0] += _lines([e[0] for e in extra], np.array([e[1] for e in extra]),
                          np.zeros(len(extra)) if top > 1 else None)

    for k in range(2, top + 1):
        tokens = ngram_tokens(tables.keys, radix, k)
        grams = names[tokens[:, 0]]
        for j in range(1, k):
            grams = grams + " " + names[tokens[:, j]]
        backoff = tables.logctx[k] / ln10 if k < top else None
        sections.append(_lines(grams.tolist(), tables.logprob[k] / ln10, backoff))

    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n\\data\\\n")
        for k, sec in enumerate(sections, start=1):
            fh.write(f"ngram {k}={len(sec)}\n")
        for k, sec in enumerate(sections, start=1):
            fh.write(f"\n\\{k}-grams:\n")
            fh.write("\n".join(sec))
            fh.write("\n")
        fh.write("\n\\end\\\n")
