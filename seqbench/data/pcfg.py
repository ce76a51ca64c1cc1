"""Critical grammars: synthetic sources whose mutual information decays as a power law.

Finite-state sources (Markov chains, HMMs) have ``I(X_t; X_{t+d})`` falling
exponentially in ``d``; nesting makes it fall as a power law. Two
probabilistic context-free grammars, both of ``info["kind"] = "probe-mi"``:

:func:`pcfg_brackets`
    Nested brackets at the critical branching probability. Their power law
    is steep (about ``d^(-3)``), so it stands above the estimator's noise
    over about one decade of ``d`` at probe sizes.
:func:`pcfg_substitution`
    Lin & Tegmark's recursive substitution grammar (a balanced tree whose
    symbols are copied down with persistence ``lam``): ``I(d)`` falls as
    ``d^(4 log_q lam)`` far out (``d^-0.61`` at the defaults; measured slope
    about 0.45-0.6 for ``d <= 500``) and is measurable over nearly three
    decades of ``d``: the better source for telling a model's exponential
    cut-off from the data's power law.

Brackets
--------
The bracket grammar has ``K`` bracket types ``(_k ... )_k`` and ``F``
filler words ``w_j``; ``S`` is the content of a bracket, ``T`` the top level
(``f = filler_prob``, ``b = branching``)::

    S -> (_k S )_k S     (1 - f) b / K        T -> (_k S )_k T    (1 - f) b / K
    S -> w_j S           f / F                T -> w_j T          f / F + (1 - f)(1 - b) / F
    S -> (empty)         (1 - f)(1 - b)

A sequence is the leftmost derivation of ``T`` cut after ``length`` tokens
(brackets still open there stay open). Read left to right, the bracket depth
is a random walk reflected at 0 that steps up with probability ``b`` and down
with ``1 - b``: at ``b = 1/2`` (the default) the grammar is critical, the walk
null-recurrent, and a bracket closes ``d`` tokens after it opened with a
probability falling as the first-return law ``d^(-3/2)``, so the mutual
information carried by the matching types falls as a power law (about
``d^(-3)`` far out, the square of that probability). Below ``1/2`` the depth
reverts to 0 and the decay is exponential far out (over the few distances
where the curve stands above the noise both look alike; the law of bracket
lifetimes tells them apart).

Generation is vectorised over all sequences and positions: the depth is a
cumulative sum reflected with a running minimum, and every close finds its
open by sorting the brackets by (sequence, level, position), where opens and
closes of one level alternate.

Recursive substitution
----------------------
Nonterminals ``A_0 .. A_{K-1}``, one rule per symbol and ``q`` children
drawn independently (``lam = persistence``)::

    A_a -> A_b1 A_b2 ... A_bq     with P(b_i = c) = lam [c = a] + (1 - lam) / K

applied ``ceil(log_q length)`` times from a uniform root; the leaves, cut to
``length``, are the sequence. Two leaves whose lowest common ancestor is
``h`` levels up are ``2h`` copy steps apart, their symbols correlated by
``lam^(2h)`` and their mutual information about ``(K - 1) lam^(4h) / 2``;
``h`` grows as ``log_q d`` (Lin & Tegmark, "Critical behavior in physics and
probabilistic formal languages", Entropy 2017).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..exceptions import ConfigError
from .splits import Split, Splits
from .synthetic import PARTS, _check_int, _cut, _part_sizes
from .vocab import Vocab

__all__ = ["pcfg_brackets", "bracket_sequences", "pcfg_substitution", "substitution_sequences"]

OPEN, CLOSE, FILLER = 0, 1, 2


def _check_prob(name, value, low_open=False, high_open=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > 0 if low_open else value >= 0) and (value < 1 if high_open else value <= 1)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ConfigError(f"{name} must be a number in {lo}0, 1{hi}, got {value!r}")


def _kinds(rng, n_sequences, length, filler_prob, branching):
    """Token kinds (OPEN/CLOSE/FILLER) and bracket levels, both of shape (n_sequences, length).

    The level of an open is the depth before it, of a close the depth after it.
    """
    u = rng.random((n_sequences, length))
    step = np.where(u < filler_prob, 0, np.where(rng.random((n_sequences, length)) < branching, 1, -1))
    walk = np.concatenate([np.zeros((n_sequences, 1), np.int64), np.cumsum(step, axis=1)], axis=1)
    depth = walk - np.minimum.accumulate(np.minimum(walk, 0), axis=1)  # a down step at depth 0 stays at 0
    change = np.diff(depth, axis=1)
    kind = np.where(change > 0, OPEN, np.where(change < 0, CLOSE, FILLER))
    level = np.where(kind == OPEN, depth[:, :-1], depth[:, 1:])
    return kind, level


def _match_types(kind, level, types):
    """Give every close the type of the open it matches (``types`` modified in place)."""
    seq, pos = np.nonzero(kind != FILLER)
    order = np.lexsort((pos, level[seq, pos], seq))  # by sequence, then level, then position
    seq, pos = seq[order], pos[order]
    lev, kd = level[seq, pos], kind[seq, pos]
    # within one (sequence, level) opens and closes alternate, starting with an open
    pair = (kd[:-1] == OPEN) & (kd[1:] == CLOSE) & (lev[:-1] == lev[1:]) & (seq[:-1] == seq[1:])
    types[seq[1:][pair], pos[1:][pair]] = types[seq[:-1][pair], pos[:-1][pair]]


def bracket_sequences(n_sequences, length, rng, n_types=4, n_fillers=4, filler_prob=0.2, branching=0.5):
    """Draw sequences of the bracket grammar (see the module docstring).

    Parameters
    ----------
    n_sequences, length : int
    rng : numpy.random.Generator
    n_types : int
        Bracket types ``K``.
    n_fillers : int
        Filler words ``F``.
    filler_prob : float in [0, 1)
        Probability ``f`` that a step emits a filler word.
    branching : float in (0, 1)
        Probability ``b`` that a bracket step opens; 1/2 is critical.

    Returns
    -------
    ndarray of int64, shape (n_sequences, length)
        Ids: opens ``0 .. K-1``, closes ``K .. 2K-1`` (close ``K + k`` matches
        open ``k``), fillers ``2K .. 2K+F-1``.
    """
    kind, level = _kinds(rng, n_sequences, length, filler_prob, branching)
    types = rng.integers(0, n_types, size=(n_sequences, length))
    _match_types(kind, level, types)
    fillers = 2 * n_types + rng.integers(0, n_fillers, size=(n_sequences, length))
    return np.where(kind == OPEN, types, np.where(kind == CLOSE, n_types + types, fillers))


def substitution_sequences(n_sequences, length, rng, n_symbols=4, persistence=0.9, n_children=2):
    """Draw sequences of the recursive substitution grammar (see the module docstring).

    Parameters
    ----------
    n_sequences, length : int
    rng : numpy.random.Generator
    n_symbols : int
        Symbols ``K`` (the nonterminals are the terminals).
    persistence : float in [0, 1]
        ``lam``: probability that a child copies its parent (else uniform).
    n_children : int
        Children per rule ``q`` (>= 2).

    Returns
    -------
    ndarray of int64, shape (n_sequences, length)
    """
    x = rng.integers(0, n_symbols, size=(n_sequences, 1))
    while x.shape[1] < length:  # one level of the tree per pass: ceil(log_q length) passes
        parent = np.repeat(x, n_children, axis=1)
        copy = rng.random(parent.shape) < persistence
        x = np.where(copy, parent, rng.integers(0, n_symbols, size=parent.shape))
    return x[:, :length]


def _probe_splits(sequences, sizes, itos, info):
    """Cut the drawn sequences into the parts; the vocab (ids as given, no specials) counts train."""
    X = _cut(list(sequences), sizes)
    vocab = Vocab(itos, np.bincount(np.concatenate(X["train"]), minlength=len(itos)), specials=())
    info = {"kind": "probe-mi", "synthetic": True, "input_kind": "discrete",
            "source": f"generated by seqbench.data.pcfg.{info['name'].replace('-', '_')}",
            "licence": "generated data (no licence needed)",
            "split": "independent draws from the same grammar: "
                     + ", ".join(f"{p} = {sizes[p]} sequences" for p in PARTS),
            "preprocessing": "none; each sequence is one derivation of the grammar cut to `length` tokens",
            "oracle": "none: the exact mutual-information curve has no closed form", **info}
    return Splits(Split(X["train"]), Split(X["valid"]), Split(X["test"]), vocab=vocab, info=info)


def pcfg_brackets(n_sequences=200, length=1000, n_valid=None, n_test=None, seed=0, n_types=4, n_fillers=4,
                  filler_prob=0.2, branching=0.5):
    """Sequences of a critical bracket grammar, for the mutual-information probe.

    Parameters
    ----------
    n_sequences : int
        Training sequences.
    length : int
        Tokens per sequence.
    n_valid, n_test : int or None
        Sequences in valid and test; default ``max(1, n_sequences // 4)``.
    seed : int
        Seeds one ``numpy.random.Generator`` for all parts.
    n_types, n_fillers : int
        Bracket types and filler words.
    filler_prob : float in [0, 1)
        Probability that a step emits a filler word.
    branching : float in (0, 1)
        Probability that a bracket step opens (1/2: critical, power-law
        mutual information; below: exponential).

    Returns
    -------
    Splits
        ``X``: ``(length,)`` int64 arrays; ``vocab``: ``"(0" .. "(K-1"``,
        ``")0" ..``, ``"w0" ..`` with ids as in :func:`bracket_sequences`
        (no specials); ``info["kind"] = "probe-mi"``, ``input_kind``
        "discrete"; no oracle (the exact curve has no closed form).

    Examples
    --------
    >>> ds = pcfg_brackets(n_sequences=4, length=12, seed=1)
    >>> ds.vocab.decode(ds.train.X[0])[:6]
    ['w2', '(2', 'w3', '(3', ')3', ')2']
    """
    for name, value in (("length", length), ("n_types", n_types), ("n_fillers", n_fillers)):
        _check_int(name, value)
    _check_int("seed", seed, minimum=0)
    _check_prob("filler_prob", filler_prob, high_open=True)
    _check_prob("branching", branching, low_open=True, high_open=True)
    sizes = _part_sizes(n_sequences, n_valid, n_test)
    rng = np.random.default_rng(seed)
    X = bracket_sequences(sum(sizes.values()), length, rng, n_types, n_fillers, float(filler_prob), float(branching))
    itos = [f"({k}" for k in range(n_types)] + [f"){k}" for k in range(n_types)] + [f"w{j}" for j in range(n_fillers)]
    options = {"n_sequences": n_sequences, "length": length, "n_valid": n_valid, "n_test": n_test, "seed": seed,
               "n_types": n_types, "n_fillers": n_fillers, "filler_prob": filler_prob, "branching": branching}
    return _probe_splits(X, sizes, itos, {
        "name": "pcfg-brackets", "options": options, "seed": seed,
        "grammar": "S -> (_k S )_k S | w_j S | empty; T -> (_k S )_k T | w_j T; "
                   f"bracket steps open with probability {branching} (critical at 0.5), "
                   f"fillers with probability {filler_prob}",
        "expected_decay": "power law (about d^-3 far out) at branching 0.5; exponential below"})


def pcfg_substitution(n_sequences=200, length=1024, n_valid=None, n_test=None, seed=0, n_symbols=4,
                      persistence=0.9, n_children=2):
    """Sequences of Lin & Tegmark's recursive substitution grammar, for the mutual-information probe.

    Parameters
    ----------
    n_sequences : int
        Training sequences.
    length : int
        Tokens per sequence (the leaves of a tree of ``ceil(log_q length)``
        levels, cut to ``length``).
    n_valid, n_test : int or None
        Sequences in valid and test; default ``max(1, n_sequences // 4)``.
    seed : int
        Seeds one ``numpy.random.Generator`` for all parts.
    n_symbols : int
        Symbols ``K``.
    persistence : float in [0, 1]
        Probability ``lam`` that a child copies its parent's symbol.
    n_children : int
        Children per rule ``q`` (>= 2).

    Returns
    -------
    Splits
        ``X``: ``(length,)`` int64 arrays; ``vocab``: ``"a0" .. "a{K-1}"``
        with ids equal to the symbols (no specials); ``info["kind"] =
        "probe-mi"``, ``info["expected_exponent"] = -4 log_q(lam)`` (the
        asymptotic power; shorter distances decay somewhat more slowly).

    Examples
    --------
    >>> ds = pcfg_substitution(n_sequences=4, length=16, seed=0)
    >>> ds.train.X[0].shape, round(ds.info["expected_exponent"], 3)
    ((16,), 0.608)
    """
    for name, value in (("length", length), ("n_symbols", n_symbols)):
        _check_int(name, value)
    _check_int("n_children", n_children, minimum=2)
    _check_int("seed", seed, minimum=0)
    _check_prob("persistence", persistence)
    sizes = _part_sizes(n_sequences, n_valid, n_test)
    rng = np.random.default_rng(seed)
    X = substitution_sequences(sum(sizes.values()), length, rng, n_symbols, float(persistence), n_children)
    options = {"n_sequences": n_sequences, "length": length, "n_valid": n_valid, "n_test": n_test, "seed": seed,
               "n_symbols": n_symbols, "persistence": persistence, "n_children": n_children}
    exponent = -4.0 * np.log(persistence) / np.log(n_children) if persistence > 0 else float("inf")
    return _probe_splits(X, sizes, [f"a{k}" for k in range(n_symbols)], {
        "name": "pcfg-substitution", "options": options, "seed": seed,
        "grammar": f"A_a -> A_b1 .. A_b{n_children}, each b_i = a with probability {persistence} "
                   f"else uniform over {n_symbols} symbols; leaves of a balanced tree",
        "expected_decay": f"power law, I(d) ~ d^-{exponent:.3g} asymptotically",
        "expected_exponent": float(exponent)})
