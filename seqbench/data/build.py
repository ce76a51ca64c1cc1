"""Turn sentences of strings into ``Splits`` of ids: the one place vocabularies are built.

Three shapes of data: word-level language modelling (``lm_splits``),
character-level language modelling (``char_splits``) and tagging
(``tagging_splits``). Vocabularies are built on the training part only.
"""
from __future__ import annotations

from collections import Counter
from itertools import chain

import numpy as np

from ..exceptions import ConfigError, UnknownSymbolError
from .splits import Split, Splits, cut_points
from .vocab import DEFAULT_SPECIALS, EOS, Vocab

__all__ = ["lm_splits", "char_splits", "tagging_splits", "split_by_order", "split_train_valid"]


def _check_nonempty(parts, what):
    empty = [k for k, v in parts.items() if len(v) == 0]
    if empty:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in parts.items())
        raise ConfigError(f"{what}: the {'/'.join(empty)} part would be empty ({sizes}); "
                          f"give more sentences or separate files")


def split_by_order(items, what="corpus"):
    """Cut a list 90/5/5 by position into train, valid, test.

    Returns
    -------
    dict with keys "train", "valid", "test"
    """
    a, b = cut_points(len(items), (90, 95))
    parts = {"train": items[:a], "valid": items[a:b], "test": items[b:]}
    _check_nonempty(parts, what)
    return parts


def split_train_valid(items, what="corpus"):
    """Cut a training list into its first 90% (train) and last 10% (valid).

    Returns
    -------
    dict with keys "train", "valid"
    """
    a = cut_points(len(items), (90,))[0]
    parts = {"train": items[:a], "valid": items[a:]}
    _check_nonempty(parts, what)
    return parts


def lm_splits(sentences, info, min_count=1, max_size=None, specials=DEFAULT_SPECIALS):
    """Word-level language-modelling splits: each sentence gets ``<eos>`` appended.

    Parameters
    ----------
    sentences : dict with keys "train", "valid", "test"
        Lists of token lists.
    info : dict
        Description; ``kind``, ``vocabulary`` and ``preprocessing`` are filled in.
    min_count, max_size, specials
        See :meth:`Vocab.build`; ``specials`` must hold ``"<eos>"``.

    Returns
    -------
    Splits
        ``X`` are int64 arrays of shape ``(n_words_i + 1,)`` ending in ``eos_id``; ``y`` is None.
    """
    specials = tuple(specials)
    if EOS not in specials:
        raise ConfigError(f"language-modelling data needs '<eos>' among the specials, got {specials}")
    seqs = {k: [s + [EOS] for s in v] for k, v in sentences.items()}
    vocab = Vocab.build(seqs["train"], min_count=min_count, specials=specials, max_size=max_size)
    X = {k: vocab.encode_all(v, name=f"{k}.X") for k, v in seqs.items()}
    info = {"kind": "lm", **info}
    info.setdefault("vocabulary", f"closed: {len(vocab)} entries built on train (min_count={min_count}, "
                                  f"max_size={max_size}, specials={list(specials)}); "
                                  f"unknown words map to <unk>")
    info.setdefault("preprocessing", "whitespace tokens, one sentence per line, '<eos>' appended to every "
                                     "sentence (predicted and counted); '<bos>' is never in X")
    return Splits(Split(X["train"]), Split(X["valid"]), Split(X["test"]), vocab=vocab, info=info)


def _encode_chars(text, vocab, name):
    """Character ids of ``text`` through a vectorised code-point lookup.

    Returns
    -------
    ndarray of int64, shape (len(text),)
    """
    keys = np.array(sorted((ord(t), i) for i, t in enumerate(vocab.itos) if len(t) == 1), dtype=np.int64)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    pos = np.minimum(np.searchsorted(keys[:, 0], codes), len(keys) - 1)
    hit = keys[pos, 0] == codes
    ids = np.where(hit, keys[pos, 1], -1)
    if not hit.all():
        if vocab.unk_id is None:
            t = int(np.flatnonzero(~hit)[0])
            raise UnknownSymbolError(f"{name}[{t}] = {text[t]!r} is not a training character and the "
                                     f"vocabulary has no <unk>")
        ids[~hit] = vocab.unk_id
    return ids


def char_splits(text, info, specials=("<unk>",)):
    """Character-level splits: the text cut 90/5/5 by position, one sequence per split.

    Parameters
    ----------
    text : str
    info : dict
    specials : tuple of str
        Specials of the character vocabulary (built on the train part).

    Returns
    -------
    Splits
        Each split holds one int64 array of character ids.
    """
    a, b = cut_points(len(text), (90, 95))
    parts = {"train": text[:a], "valid": text[a:b], "test": text[b:]}
    _check_nonempty(parts, "character split")
    vocab = Vocab.build([parts["train"]], specials=tuple(specials))
    X = {k: [_encode_chars(v, vocab, f"{k}.X[0]")] for k, v in parts.items()}
    info = {"kind": "lm", **info}
    info.setdefault("split", f"by position: train = characters [0, {a}), valid = [{a}, {b}), "
                             f"test = [{b}, {len(text)}) (90/5/5); one sequence per split")
    info["cut_points"] = [a, b]
    info.setdefault("vocabulary", f"{len(vocab)} entries: the characters of the train part, "
                                  f"specials={list(specials)}")
    info.setdefault("preprocessing", "none: every character (newlines included) is a token; no <eos>")
    return Splits(Split(X["train"]), Split(X["valid"]), Split(X["test"]), vocab=vocab, info=info)


def tagging_splits(words, tags, info, min_count=1, specials=DEFAULT_SPECIALS):
    """Tagging splits: ``X`` word ids, ``y`` tag ids, both of shape ``(n_words_i,)``.

    The word vocab is built on train (``min_count``) and then extended with
    :meth:`Vocab.with_unseen` over the valid and test words, so unknown words
    keep their strings (ids ``>= vocab.n_known``). The tagset is a closed label
    set over the tags of all splits, ids by train frequency.

    Parameters
    ----------
    words, tags : dict with keys "train", "valid", "test"
        Lists of token lists, ``tags[k][i]`` as long as ``words[k][i]``.
    info : dict

    Returns
    -------
    Splits
    """
    base = Vocab.build(words["train"], min_count=min_count, specials=tuple(specials))
    vocab = base.with_unseen(words["valid"] + words["test"])
    train_counts = Counter(chain.from_iterable(tags["train"]))
    all_tags = set(chain.from_iterable(chain.from_iterable(tags.values())))
    tagset = Vocab.from_counts({t: train_counts.get(t, 0) for t in all_tags}, min_count=0, specials=())
    parts = {k: Split(vocab.encode_all(words[k], name=f"{k}.X"), tagset.encode_all(tags[k], name=f"{k}.y"))
             for k in ("train", "valid", "test")}
    info = {"kind": "tagging", **info}
    info.setdefault("vocabulary", (
        f"words: built on train (min_count={min_count}, specials={list(specials)}; {base.n_known} known ids), "
        f"then with_unseen(valid + test words): {len(vocab) - vocab.n_known} unseen words keep their "
        f"strings at ids >= vocab.n_known = {vocab.n_known}; tags: closed set of {len(tagset)} over all "
        f"splits, ids by train frequency"))
    info.setdefault("preprocessing", "words as given (case kept); no <bos>/<eos> in X")
    return Splits(parts["train"], parts["valid"], parts["test"], vocab=vocab, tagset=tagset, info=info)
