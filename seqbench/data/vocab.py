"""A frozen token <-> id mapping built on the training split only.

Ids are deterministic: the specials first (in the order given), then the
training types by descending count, ties broken alphabetically. Everything
models are scored on goes through one ``Vocab``, so every family sees the
same ids.
"""
from __future__ import annotations

from collections import Counter
from itertools import chain
from types import MappingProxyType

import numpy as np

from ..exceptions import ConfigError, UnknownSymbolError

__all__ = ["Vocab", "UNK", "BOS", "EOS", "DEFAULT_SPECIALS"]

UNK, BOS, EOS = "<unk>", "<bos>", "<eos>"
DEFAULT_SPECIALS = (UNK, BOS, EOS)


class Vocab:
    """An immutable vocabulary.

    Build one with :meth:`Vocab.build` (from token sequences) or
    :meth:`Vocab.from_counts`; the constructor takes the finished tables.

    Parameters
    ----------
    itos : sequence of str
        Id -> token, no duplicates.
    counts : array-like of int, shape (len(itos),)
        Training count of each id (0 for specials never seen and for unseen types).
    n_known : int, optional
        Ids ``0 .. n_known - 1`` were built from the training split (specials
        included); later ids are unseen types appended by :meth:`with_unseen`.
        Defaults to ``len(itos)``.
    specials : tuple of str
        The special tokens (``"<unk>"``, ``"<bos>"``, ``"<eos>"``) this vocab has;
        they must be in ``itos``.

    Attributes
    ----------
    itos : tuple of str
    stoi : mapping str -> int (read-only)
    counts : ndarray of int64, shape (len(self),), read-only
    n_known : int
    specials : tuple of str
    unk_id, bos_id, eos_id : int or None
        ``None`` when the special is absent.
    """

    __slots__ = ("_itos", "_stoi", "_counts", "_n_known", "_specials")

    def __init__(self, itos, counts, n_known=None, specials=DEFAULT_SPECIALS):
        itos = tuple(str(t) for t in itos)
        stoi = {t: i for i, t in enumerate(itos)}
        if len(stoi) != len(itos):
            dup = next(t for t, n in Counter(itos).items() if n > 1)
            raise ConfigError(f"vocabulary has the token {dup!r} twice")
        counts = np.array(counts, dtype=np.int64).reshape(-1)
        if counts.shape[0] != len(itos):
            raise ConfigError(f"counts has {counts.shape[0]} entries for {len(itos)} tokens")
        n_known = len(itos) if n_known is None else int(n_known)
        if not 0 <= n_known <= len(itos):
            raise ConfigError(f"n_known = {n_known} is outside [0, {len(itos)}]")
        specials = tuple(specials)
        missing = [s for s in specials if s not in stoi]
        if missing:
            raise ConfigError(f"special tokens {missing} are not in the vocabulary")
        counts.setflags(write=False)
        set_ = object.__setattr__
        set_(self, "_itos", itos)
        set_(self, "_stoi", MappingProxyType(stoi))
        set_(self, "_counts", counts)
        set_(self, "_n_known", n_known)
        set_(self, "_specials", specials)

    # -- construction ---------------------------------------------------------------
    @classmethod
    def build(cls, sequences, min_count=1, specials=DEFAULT_SPECIALS, max_size=None):
        """Build a vocabulary from training token sequences.

        Parameters
        ----------
        sequences : iterable of sequence of str
            Training sentences (or one string of characters per item).
        min_count : int
            Types seen fewer times are left out (they become ``<unk>``).
        specials : tuple of str
            Special tokens, given ids ``0, 1, ...`` in this order. A special
            that occurs in the text (PTB's literal ``<unk>``) is counted at its id.
        max_size : int or None
            Largest number of entries, specials included.

        Returns
        -------
        Vocab
        """
        return cls.from_counts(Counter(chain.from_iterable(sequences)), min_count=min_count,
                               specials=specials, max_size=max_size)

    @classmethod
    def from_counts(cls, counts, min_count=1, specials=DEFAULT_SPECIALS, max_size=None):
        """Build a vocabulary from a ``{token: training count}`` mapping.

        Types left out (below ``min_count`` or beyond ``max_size``) add their
        counts to ``<unk>`` when the vocab has one. See :meth:`build`.
        """
        if not isinstance(min_count, (int, np.integer)) or min_count < 0:
            raise ConfigError(f"min_count must be an integer >= 0, got {min_count!r}")
        specials = tuple(specials)
        if len(set(specials)) != len(specials):
            raise ConfigError(f"specials {specials} contain a duplicate")
        if max_size is not None and (not isinstance(max_size, (int, np.integer)) or max_size < len(specials)):
            raise ConfigError(f"max_size must be an integer >= {len(specials)} (the specials), got {max_size!r}")
        special_set = set(specials)
        types = sorted(((t, int(c)) for t, c in counts.items() if t not in special_set),
                       key=lambda tc: (-tc[1], tc[0]))
        kept = [tc for tc in types if tc[1] >= min_count]
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        dropped = sum(c for _, c in types) - sum(c for _, c in kept)
        special_counts = [int(counts.get(s, 0)) + (dropped if s == UNK else 0) for s in specials]
        itos = specials + tuple(t for t, _ in kept)
        return cls(itos, special_counts + [c for _, c in kept], specials=specials)

    def with_unseen(self, token_sequences):
        """A new vocab that keeps every id and appends the unseen types of ``token_sequences``.

        The appended types (sorted, count 0) have ids ``>= n_known`` and
        ``is_known`` False, so unknown words keep their strings (tagger suffix
        features need them).

        Parameters
        ----------
        token_sequences : iterable of sequence of str

        Returns
        -------
        Vocab
        """
        new = sorted(set(chain.from_iterable(token_sequences)).difference(self._stoi))
        return Vocab(self._itos + tuple(new), np.concatenate([self._counts, np.zeros(len(new), np.int64)]),
                     n_known=self._n_known, specials=self._specials)

    # -- read-only attributes --------------------------------------------------------
    itos = property(lambda self: self._itos, doc="tuple of str: id -> token")
    stoi = property(lambda self: self._stoi, doc="read-only mapping: token -> id")
    counts = property(lambda self: self._counts, doc="ndarray of int64: training count per id")
    n_known = property(lambda self: self._n_known, doc="int: number of ids built from the training split")
    specials = property(lambda self: self._specials, doc="tuple of str: the special tokens")

    def _special_id(self, token):
        return self._stoi[token] if token in self._specials else None

    unk_id = property(lambda self: self._special_id(UNK), doc="int or None: id of <unk>")
    bos_id = property(lambda self: self._special_id(BOS), doc="int or None: id of <bos>")
    eos_id = property(lambda self: self._special_id(EOS), doc="int or None: id of <eos>")

    def __setattr__(self, name, value):
        raise AttributeError(f"Vocab is frozen; cannot set {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"Vocab is frozen; cannot delete {name!r}")

    # -- mapping ----------------------------------------------------------------------
    def __len__(self):
        return len(self._itos)

    def __contains__(self, token):
        return token in self._stoi

    def encode(self, tokens, name="tokens"):
        """Map tokens to ids.

        Parameters
        ----------
        tokens : sequence of str, shape (n_steps,)
        name : str
            How the sequence is named in error messages.

        Returns
        -------
        ids : ndarray of int64, shape (n_steps,)
            Unknown tokens map to ``unk_id``.

        Raises
        ------
        UnknownSymbolError
            For an unknown token when the vocab has no ``<unk>``.
        """
        get, unk = self._stoi.get, self.unk_id
        ids = np.fromiter((get(t, -1) for t in tokens), dtype=np.int64, count=len(tokens))
        missing = ids < 0
        if missing.any():
            if unk is None:
                t = int(np.flatnonzero(missing)[0])
                raise UnknownSymbolError(
                    f"{name}[{t}] = {tokens[t]!r} is not in the vocabulary, which has no <unk> "
                    f"({len(self)} types, e.g. {list(self._itos[:5])})")
            ids[missing] = unk
        return ids

    def encode_all(self, sequences, name="X"):
        """Encode many sequences at once.

        Parameters
        ----------
        sequences : list of sequence of str

        Returns
        -------
        list of ndarray of int64, shape (n_steps_i,)
        """
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        flat = list(chain.from_iterable(sequences))
        try:
            ids = self.encode(flat, name="_flat")
        except UnknownSymbolError:
            for i, s in enumerate(sequences):  # only on error: find the sequence for the message
                self.encode(s, name=f"{name}[{i}]")
            raise
        return np.split(ids, np.cumsum(lengths)[:-1]) if len(sequences) else []

    def decode(self, ids):
        """Map ids back to tokens.

        Parameters
        ----------
        ids : array-like of int, shape (n_steps,)

        Returns
        -------
        list of str
        """
        arr = np.asarray(ids)
        if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
            raise UnknownSymbolError(f"ids must be a 1-D integer array, got shape {arr.shape} dtype {arr.dtype}")
        bad = (arr < 0) | (arr >= len(self._itos))
        if bad.any():
            t = int(np.flatnonzero(bad)[0])
            raise UnknownSymbolError(f"ids[{t}] = {arr[t]} is out of range; expected ids in [0, {len(self)})")
        itos = self._itos
        return [itos[i] for i in arr.tolist()]

    def is_known(self, ids):
        """Whether each id is a training type (not ``<unk>``, not an appended unseen type).

        Parameters
        ----------
        ids : array-like of int, shape (...)

        Returns
        -------
        ndarray of bool, same shape
        """
        arr = np.asarray(ids)
        known = (arr >= 0) & (arr < self._n_known)
        if self.unk_id is not None:
            known &= arr != self.unk_id
        return known

    # -- value semantics --------------------------------------------------------------
    def __eq__(self, other):
        if not isinstance(other, Vocab):
            return NotImplemented
        return (self._itos == other._itos and self._n_known == other._n_known
                and self._specials == other._specials and np.array_equal(self._counts, other._counts))

    def __hash__(self):
        return hash((self._itos, self._n_known, self._specials))

    def __reduce__(self):
        return (Vocab, (self._itos, self._counts.copy(), self._n_known, self._specials))

    def __repr__(self):
        head = ", ".join(repr(t) for t in self._itos[:6])
        more = ", ..." if len(self) > 6 else ""
        unseen = f", unseen={len(self) - self._n_known}" if len(self) > self._n_known else ""
        return f"Vocab(size={len(self)}, n_known={self._n_known}{unseen}, itos=({head}{more}))"
