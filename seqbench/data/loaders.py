"""Readers for the corpus formats seqbench uses. Each streams its file.

Every reader opens ``*.gz`` files through gzip (UTF-8 text) and plain files
directly, and yields one sentence at a time as lists of strings. Malformed
input raises :class:`~seqbench.exceptions.InvalidSequenceError` naming the
file and the line (or sentence).
"""
from __future__ import annotations

import gzip
import io
import re
import zipfile
from pathlib import Path

import numpy as np

from ..exceptions import ConfigError, InvalidSequenceError

__all__ = [
    "open_text", "read_text", "read_chars", "read_conllu", "read_tagged",
    "read_columns", "read_treebank_zip", "read_conll2000_zip",
]


def open_text(path):
    """Open a text file for reading (UTF-8), through gzip when the name ends in ``.gz``."""
    path = str(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_text(path):
    """Sentences of a plain text file: one per line, whitespace-separated tokens.

    Blank lines are skipped.

    Yields
    ------
    tokens : list of str
    """
    with open_text(path) as f:
        for line in f:
            tokens = line.split()
            if tokens:
                yield tokens


def read_chars(path):
    """The whole file as one string of characters (newlines kept)."""
    with open_text(path) as f:
        return f.read()


def read_conllu(path, tags="upos"):
    """Words and tags of a CoNLL-U file.

    Multiword-token ranges (ID ``3-4``) and empty nodes (ID ``8.1``) are
    skipped: only the integer-ID syntactic words are kept.

    Parameters
    ----------
    path : str or Path
    tags : {"upos", "xpos"}
        Which tag column to read.

    Yields
    ------
    words, tags : list of str, list of str
        Of equal length ``n_words``.
    """
    import conllu

    if tags not in ("upos", "xpos"):
        raise ConfigError(f"tags must be 'upos' or 'xpos', got {tags!r}")
    with open_text(path) as f:
        for s, sentence in enumerate(conllu.parse_incr(f)):
            words, labels = [], []
            for token in sentence:
                if not isinstance(token["id"], int):
                    continue
                if token[tags] is None:
                    raise InvalidSequenceError(
                        f"{path}: sentence {s + 1} (sent_id {sentence.metadata.get('sent_id', '?')}), "
                        f"word {token['id']} {token['form']!r} has no {tags.upper()} tag ('_')")
                words.append(token["form"])
                labels.append(token[tags])
            if words:
                yield words, labels


def read_columns(lines, n_fields, source, sep=None, layout=None):
    """Sentences of a column file: one token per line, a blank line between sentences.

    Parameters
    ----------
    lines : iterable of str
    n_fields : int
        Fields each token line must have.
    source : str
        File name used in error messages.
    sep : str or None
        Field separator (``None``: any whitespace).
    layout : str, optional
        How a line should look, for error messages (e.g. ``"word<TAB>tag"``).

    Yields
    ------
    columns : tuple of list of str
        ``n_fields`` lists of equal length, one per column.
    """
    rows = []
    for lineno, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            if rows:
                yield tuple(map(list, zip(*rows)))
                rows = []
            continue
        fields = [x.strip() for x in line.split(sep)]
        if len(fields) != n_fields or not all(fields):
            raise InvalidSequenceError(
                f"{source}, line {lineno}: expected {n_fields} non-empty fields "
                f"({layout or 'separated by ' + repr(sep or ' ')}), got {line!r}")
        rows.append(fields)
    if rows:
        yield tuple(map(list, zip(*rows)))


def read_tagged(path, sep="\t"):
    """Words and tags of a ``word<TAB>tag`` file (blank line between sentences).

    Yields
    ------
    words, tags : list of str, list of str
    """
    with open_text(path) as f:
        yield from read_columns(f, 2, str(path), sep=sep, layout="word<TAB>tag" if sep == "\t" else None)


_LEAF = re.compile(rb"\(([^\s()]+)\s+([^\s()]+)\)")
_MRG = re.compile(r"treebank/combined/wsj_\d+\.mrg")


def _trees(data):
    """Split bracketed text into its top-level trees (paren depth, vectorised).

    Parameters
    ----------
    data : bytes

    Returns
    -------
    list of bytes
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    opens, closes = arr == ord("("), arr == ord(")")
    depth = np.cumsum(opens.astype(np.int64) - closes)
    starts = np.flatnonzero(opens & (depth == 1))
    ends = np.flatnonzero(closes & (depth == 0))
    if len(starts) != len(ends) or (depth < 0).any() or (len(depth) and depth[-1] != 0):
        raise InvalidSequenceError("unbalanced brackets in a treebank file")
    return [data[a: b + 1] for a, b in zip(starts, ends)]


def read_treebank_zip(path, drop_none=True):
    """Tagged sentences of NLTK's Penn Treebank sample (``treebank.zip``).

    Reads the bracketed trees ``treebank/combined/wsj_*.mrg`` in sorted file
    order; the leaves ``(TAG word)`` give the tagged words.

    Parameters
    ----------
    path : str or Path
        The zip file.
    drop_none : bool
        Leave out ``-NONE-`` leaves (traces, empty elements).

    Yields
    ------
    words, tags : list of str, list of str
    """
    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if _MRG.fullmatch(n))
        if not names:
            raise InvalidSequenceError(f"{path} holds no treebank/combined/wsj_*.mrg files")
        for name in names:
            try:
                trees = _trees(zf.read(name))
            except InvalidSequenceError as exc:
                raise InvalidSequenceError(f"{path}:{name}: {exc}") from None
            for tree in trees:
                leaves = [(t.decode(), w.decode()) for t, w in _LEAF.findall(tree)
                          if not (drop_none and t == b"-NONE-")]
                if leaves:
                    tags, words = map(list, zip(*leaves))
                    yield words, tags


def read_conll2000_zip(path, part):
    """Sentences of NLTK's CoNLL-2000 package (``conll2000.zip``).

    Parameters
    ----------
    path : str or Path
        The zip file.
    part : {"train", "test"}

    Yields
    ------
    words, pos, chunks : list of str
        Lines ``word POS chunk``.
    """
    if part not in ("train", "test"):
        raise ConfigError(f"part must be 'train' or 'test', got {part!r}")
    member = f"conll2000/{part}.txt"
    with zipfile.ZipFile(path) as zf, zf.open(member) as raw:
        yield from read_columns(io.TextIOWrapper(raw, encoding="utf-8"), 3, f"{Path(path).name}:{member}",
                                layout="word POS chunk")
