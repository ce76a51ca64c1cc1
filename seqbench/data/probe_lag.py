"""Data of the lag-sweep probe: sequences whose tokens depend on the token exactly ``k`` steps back.

Design (one condition per lag ``k``)
------------------------------------
Symbols are ``0 .. n_symbols - 1`` (``n = n_symbols``); every sequence has
``length`` tokens and is built as::

    x_0 .. x_{k-1}  i.i.d. uniform over the n symbols         (the noise)
    x_t = perm[x_{t-k}]                for every t >= k        (the dependent positions)

with ``perm`` one fixed random permutation of the symbols (drawn from the
seed, shared by every ``k``, stored in ``info["perm"]``). So each residue
class ``t mod k`` is its own chain started by an independent uniform symbol:

- ``x_t`` (``t >= k``) is a function of ``x_{t-k}`` (and of ``x_{t-2k}``,
  ... further back), and independent of every token at a lag that is not a
  multiple of ``k``; in particular of ``x_{t-1} .. x_{t-k+1}``. The
  dependency sits at lag ``k`` and nowhere closer.
- Every token is marginally uniform (a permutation of a uniform symbol is
  uniform).

No marker symbol is needed: every position ``t >= k`` is dependent, and a
model reading the last ``k`` tokens can always apply ``perm``. (A reserved
query marker at ``t - 1`` cannot work for ``k = 1``, where ``t - 1`` is the
source itself, and it would take probability mass from the data symbols, so
that a memoryless model scores worse than the memoryless bound below.)

Memoryless baseline
-------------------
Given everything but ``x_{t-k}`` (and the rest of its residue class, which
lies further back), ``x_t = perm[x_{t-k}]`` is uniform over ``n`` symbols:
a model that does not reach back ``k`` tokens can do no better at a dependent
position than ``log n`` nats, and a model with no memory at all (a unigram
model of the uniform marginal) reaches exactly that. A model that uses lag
``k`` can reach 0 (the dependency is deterministic).

Minimal pairs
-------------
Each sequence also carries ``n_queries`` distinct dependent positions
(``t >= k``, uniform without replacement) and, for each, a replacement
symbol drawn uniformly from the ``n - 1`` symbols other than ``x_t``:
``Split.extra["positions"]`` and ``Split.extra["replacements"]``, int64
arrays of shape ``(n_sequences, n_queries)``. The probe corrupts one position
per copy, so the pairs of a sequence do not interfere. For a model that reads
fewer than ``k`` previous tokens the true and the corrupted token are
exchangeable given everything it reads, so such a model ranks a pair
correctly with probability 1/2 (chance).

Determinism
-----------
``perm`` comes from ``numpy.random.default_rng(seed)``; the data of lag
``k`` from ``numpy.random.default_rng([seed, k])``: the same options give
the same data, and a condition does not depend on which other lags are in
the sweep.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..exceptions import ConfigError
from .splits import Split, Splits
from .synthetic import PARTS, _check_int, _cut, _part_sizes
from .vocab import Vocab

__all__ = ["lag_sweep_data", "lag_sequences", "DEFAULT_EXTRA_LENGTH"]

DEFAULT_EXTRA_LENGTH = 32  # length=None: each lag k gets sequences of k + 32 tokens (32 dependent positions)


def _check_ks(ks):
    """The lags as a sorted tuple of distinct ints >= 1."""
    if isinstance(ks, (numbers.Integral, str)) or not hasattr(ks, "__iter__"):
        raise ConfigError(f"ks must be a sequence of lags (integers >= 1), got {ks!r}")
    ks = list(ks)
    if not ks:
        raise ConfigError("ks must hold at least one lag, got an empty sequence")
    for i, k in enumerate(ks):
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ConfigError(f"ks[{i}] = {k!r}: every lag k must be an integer >= 1")
    if len(set(ks)) != len(ks):
        raise ConfigError(f"ks has a repeated lag: {ks}")
    return tuple(sorted(int(k) for k in ks))


def lag_sequences(perm, k, n_sequences, length, rng):
    """Draw sequences with ``x_t = perm[x_{t-k}]`` for ``t >= k`` (the first ``k`` tokens uniform).

    Parameters
    ----------
    perm : ndarray of int64, shape (n_symbols,)
        A permutation of ``0 .. n_symbols - 1``.
    k : int
        The lag (>= 1).
    n_sequences, length : int
        ``length > k``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (n_sequences, length)
    """
    X = np.empty((n_sequences, length), dtype=np.int64)
    X[:, :k] = rng.integers(0, len(perm), size=(n_sequences, k))
    for start in range(k, length, k):  # one block of k columns at a time
        stop = min(start + k, length)
        X[:, start:stop] = perm[X[:, start - k: stop - k]]
    return X


def _queries(X, k, n_symbols, n_queries, rng):
    """Distinct dependent positions per sequence and a different symbol for each.

    Parameters
    ----------
    X : ndarray of int64, shape (n_sequences, length)
    k, n_symbols, n_queries : int
    rng : numpy.random.Generator

    Returns
    -------
    positions, replacements : ndarray of int64, shape (n_sequences, n_queries)
        Positions in ``[k, length)``, sorted per row; each replacement is
        uniform over the ``n_symbols - 1`` symbols other than the true one.
    """
    n_seq, length = X.shape
    chosen = np.argsort(rng.random((n_seq, length - k)), axis=1)[:, :n_queries]
    positions = np.sort(chosen, axis=1).astype(np.int64) + k
    true = np.take_along_axis(X, positions, axis=1)
    replacements = (true + rng.integers(1, n_symbols, size=true.shape)) % n_symbols
    return positions, replacements


def _condition(perm, k, length, n_queries, sizes, seed, base_info):
    """The ``Splits`` of one lag."""
    rng = np.random.default_rng([seed, k])
    n_symbols = len(perm)
    X = lag_sequences(perm, k, sum(sizes.values()), length, rng)
    positions, replacements = _queries(X, k, n_symbols, n_queries, rng)
    X, P, R = (_cut(a, sizes) for a in (X, positions, replacements))
    parts = {p: Split(list(X[p]), extra={"positions": P[p], "replacements": R[p]}) for p in PARTS}
    vocab = Vocab([f"s{i}" for i in range(n_symbols)],
                  np.bincount(X["train"].ravel(), minlength=n_symbols), specials=())
    info = {**base_info, "k": k, "length": length,
            "split": "independent draws: " + ", ".join(f"{p} = {sizes[p]} sequences" for p in PARTS)}
    return Splits(parts["train"], parts["valid"], parts["test"], vocab=vocab, info=info)


def lag_sweep_data(ks=(1, 2, 4, 8), n_symbols=8, n_sequences=200, length=None, n_queries=8, n_valid=None,
                   n_test=None, seed=0):
    """Sequences whose tokens depend on the token exactly ``k`` steps back, one dataset per lag.

    See the module docstring for the design, the memoryless baseline
    ``log(n_symbols)`` and the minimal pairs.

    Parameters
    ----------
    ks : sequence of int, default=(1, 2, 4, 8)
        The lags (distinct, >= 1); the conditions are in increasing ``k``.
    n_symbols : int, default=8
        Alphabet size (>= 2).
    n_sequences : int, default=200
        Training sequences per lag.
    length : int or None, default=None
        Tokens per sequence, the same for every lag (must exceed every
        ``k``); None: ``k + 32`` for lag ``k``.
    n_queries : int, default=8
        Minimal-pair positions per sequence (at most ``length - k``).
    n_valid, n_test : int or None
        Sequences in valid and test; default ``max(1, n_sequences // 4)``.
    seed : int, default=0

    Returns
    -------
    Splits
        ``conditions``: ``{k: Splits}``; ``train`` / ``valid`` / ``test``,
        ``vocab`` are those of the smallest ``k``. Per condition: ``X``,
        int64 arrays of shape ``(length,)``; ``Split.extra["positions"]``
        and ``["replacements"]``, int64 ``(n_sequences, n_queries)``;
        ``vocab``: ``"s0" ..`` with ids equal to the symbols (no specials);
        ``info``: name and kind ``"probe-lag"``, ``k``, ``length``,
        ``perm``, ``baseline_nll`` (``log n_symbols``), options, source,
        licence, split, preprocessing.

    Raises
    ------
    ConfigError
        Naming the option: a lag below 1, ``length <= k``, ``n_symbols < 2``,
        ``n_queries`` larger than ``length - k``, a bad count or seed.

    Examples
    --------
    >>> data = lag_sweep_data(ks=(1, 3), n_symbols=4, n_sequences=10, seed=0)
    >>> sorted(data.conditions)
    [1, 3]
    >>> lag3 = data.conditions[3]
    >>> x = lag3.train.X[0]
    >>> perm = np.array(lag3.info["perm"])
    >>> bool(np.all(x[3:] == perm[x[:-3]]))
    True
    """
    ks = _check_ks(ks)
    _check_int("n_symbols", n_symbols, minimum=2)
    _check_int("n_queries", n_queries)
    _check_int("seed", seed, minimum=0)
    _check_int("length", length, minimum=2, allow_none=True)
    sizes = _part_sizes(n_sequences, n_valid, n_test)
    if length is not None and length <= ks[-1]:
        raise ConfigError(f"length = {length} must exceed every lag k (the largest is {ks[-1]})")
    lengths = {k: k + DEFAULT_EXTRA_LENGTH if length is None else length for k in ks}
    short = [k for k in ks if lengths[k] - k < n_queries]
    if short:
        k = short[-1]
        raise ConfigError(f"n_queries = {n_queries} exceeds the {lengths[k] - k} dependent positions "
                          f"per sequence of lag k = {k} (length {lengths[k]})")

    perm = np.random.default_rng(seed).permutation(n_symbols).astype(np.int64)
    options = {"ks": list(ks), "n_symbols": n_symbols, "n_sequences": n_sequences, "length": length,
               "n_queries": n_queries, "n_valid": n_valid, "n_test": n_test, "seed": seed}
    base_info = {
        "name": "probe-lag",
        "kind": "probe-lag",
        "synthetic": True,
        "input_kind": "discrete",
        "source": "generated by seqbench.data.probe_lag.lag_sweep_data",
        "licence": "generated data (no licence needed)",
        "preprocessing": "none; x_t = perm[x_(t-k)] for t >= k, the first k tokens i.i.d. uniform; "
                         "Split.extra holds the minimal-pair positions and replacement symbols",
        "options": options,
        "seed": seed,
        "perm": perm.tolist(),
        "baseline_nll": float(np.log(n_symbols)),
    }
    conditions = {k: _condition(perm, k, lengths[k], n_queries, sizes, seed, base_info) for k in ks}
    first = conditions[ks[0]]
    info = {**base_info, "ks": list(ks), "lengths": {k: lengths[k] for k in ks},
            "split": first.info["split"] + " per lag"}
    return Splits(first.train, first.valid, first.test, vocab=first.vocab, info=info, conditions=conditions)
