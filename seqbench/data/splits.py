"""The containers every dataset returns: ``Split`` (one part) and ``Splits`` (all three)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Split", "Splits", "cut_points", "oov_rate"]


@dataclass
class Split:
    """One part of a dataset.

    Attributes
    ----------
    X : list of ndarray
        Token ids, each of shape ``(n_steps_i,)`` (int64), or continuous
        observations of shape ``(n_steps_i, n_features)`` (float64).
    y : list of ndarray of shape (n_steps_i,) or None
        Tag ids (tagging sets; the true hidden states of a synthetic HMM).
    states : list of ndarray of shape (n_steps_i, n_states) or None
        True continuous hidden states (synthetic state-space data).
    extra : dict
        Any further per-split fields a generator wants to keep.
    """

    X: list
    y: list | None = None
    states: list | None = None
    extra: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.X)

    @property
    def n_sequences(self):
        """int: number of sequences."""
        return len(self.X)

    @property
    def n_tokens(self):
        """int: total number of steps over all sequences."""
        return int(sum(len(x) for x in self.X))


@dataclass
class Splits:
    """A dataset: train / valid / test parts, the vocabularies and a description.

    Attributes
    ----------
    train, valid, test : Split
    vocab : Vocab or None
        Token vocabulary, built on ``train`` (``None`` for continuous data).
    tagset : Vocab or None
        Closed label set of a tagging dataset.
    info : dict
        ``name``, ``kind`` ("lm", "tagging", "continuous", "synthetic-..."),
        ``source``, ``licence``, ``split``, ``preprocessing``; per-split
        ``n_sequences`` and ``n_tokens`` and, when there is a vocab, the
        ``oov_rate`` of valid and test are filled in when absent.
    oracle : object or None
        The true generating model of a synthetic dataset.
    conditions : dict or None
        Probe datasets (``seqbench.tasks.probes``): one ``Splits`` per
        condition of the sweep (e.g. lag ``k`` -> its data); ``train`` /
        ``valid`` / ``test`` are then those of the first condition.
    """

    train: Split
    valid: Split
    test: Split
    vocab: Any = None
    tagset: Any = None
    info: dict = field(default_factory=dict)
    oracle: Any = None
    conditions: Any = None

    def __post_init__(self):
        info = dict(self.info)
        parts = {"train": self.train, "valid": self.valid, "test": self.test}
        info.setdefault("n_sequences", {k: s.n_sequences for k, s in parts.items()})
        info.setdefault("n_tokens", {k: s.n_tokens for k, s in parts.items()})
        if self.vocab is not None and "oov_rate" not in info:
            info["oov_rate"] = {k: oov_rate(parts[k].X, self.vocab) for k in ("valid", "test")}
        self.info = info

    def __iter__(self):
        """Iterate over ``(name, split)`` for train, valid, test."""
        return iter((("train", self.train), ("valid", self.valid), ("test", self.test)))


def oov_rate(X, vocab):
    """Fraction of tokens that are ``<unk>`` or not known to ``vocab`` (0.0 when empty)."""
    total = sum(len(x) for x in X)
    if total == 0:
        return 0.0
    return float(sum(int((~vocab.is_known(x)).sum()) for x in X) / total)


def cut_points(n, percents):
    """Integer boundaries that cut ``n`` items into consecutive parts.

    Parameters
    ----------
    n : int
    percents : sequence of int
        Cumulative percentages of the cut points, e.g. ``(90, 95)`` for 90/5/5.

    Returns
    -------
    list of int
        ``n * p // 100`` for each ``p`` (exact integer arithmetic).
    """
    return [int(n) * int(p) // 100 for p in percents]

