"""Context truncation: a language model's perplexity when it may read only the last ``k`` tokens.

For each ``k`` of a sweep (1, 2, 4, ..., 512) the model scores the same test
tokens with ``score_tokens(X, max_context=k)``: position ``t`` is predicted
from ``x_{t-k} .. x_{t-1}`` alone when ``t > k`` and from its whole history
otherwise. Where the NLL stops falling with ``k`` is how far back the model
uses information.

Metrics (``K`` each value of ``ks``)
------------------------------------
``nll@k=K``, ``perplexity@k=K``
    Mean NLL per token (nats) with context ``K``, and its exponential.
``nll_full``
    The same positions scored with the whole history.
``effective_context``
    The smallest ``K`` whose NLL is within ``rel_tol`` (1 %) of the full
    NLL, relative: ``|nll@k=K - nll_full| <= rel_tol * |nll_full|``;
    ``inf`` when no ``K`` of the sweep is (the model uses more context than
    the largest ``K``).
``oracle_nll@k=K``, ``oracle_nll_full``, ``oracle_effective_context``
    When the dataset has a generating model (``splits.oracle``, synthetic
    HMM data): its exact truncated scores on the same positions, the best
    any model can do with ``K`` tokens of context.
``n_tokens``, ``n_sequences``, ``n_positions``
    Tokens and sequences of the scored subset; positions the NLLs average over.

What is scored
--------------
A bounded, deterministic subset: the test sequences in order from the
first, until ``max_tokens`` tokens (the last one cut to fit; a prefix of a
sequence keeps every causal score). Neural models rerun the network for
every truncated position, so for them at most ``max_positions`` positions
are drawn (without replacement, ``numpy.random.default_rng(random_state)``,
the same positions for every ``k`` and for the full and oracle NLLs), and
each is scored on its window: the sequence ``x_{t-k} .. x_t`` read from the
start, which is what ``max_context=k`` means for a neural model (see
``score_tokens`` of the neural families); its cost is ``max_positions * (k + 1)``
network steps per ``k``. Other models score every position of the subset.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..._validation import check_sequences
from ...base import get_tags
from ...exceptions import ConfigError
from ._sweep import condition_key

NAME = "context"
KS = tuple(2**i for i in range(10))  # 1, 2, 4, ..., 512
MAX_TOKENS = 20_000
MAX_POSITIONS = 2_000
REL_TOL = 0.01

__all__ = ["NAME", "applies", "fit", "evaluate", "context_truncation", "effective_context", "leading_tokens"]


def applies(tags, splits) -> str | None:
    """None when the probe applies: a discrete density that can truncate its context, on a token corpus."""
    kind = splits.info.get("kind")
    if kind not in ("lm", "synthetic"):
        return f"dataset kind {kind!r} is not a token corpus (lm or synthetic)"
    if splits.info.get("input_kind", "discrete") != "discrete":
        return "dataset is not discrete"
    if tags.input_kind not in ("discrete", "both") or not tags.density:
        return "model is not a discrete density"
    if not tags.max_context:
        return "model cannot truncate its context (score_tokens has no max_context)"
    return None


def fit(est, splits):
    return est.fit(splits.train.X)


def evaluate(est, splits, split="test"):
    """The probe's metrics on one split (see the module docstring), with the oracle's when there is one."""
    oracle = splits.oracle
    if oracle is not None and not get_tags(oracle).max_context:
        oracle = None
    return context_truncation(est, getattr(splits, split).X, oracle=oracle)


# ------------------------------------------------------------------------------ options
def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_ks(ks):
    if isinstance(ks, (numbers.Integral, str)) or not hasattr(ks, "__iter__"):
        raise ConfigError(f"ks must be a sequence of context sizes (integers >= 0), got {ks!r}")
    ks = [_check_int(f"ks[{i}]", k, 0) for i, k in enumerate(ks)]
    if not ks:
        raise ConfigError("ks must hold at least one context size")
    if len(set(ks)) != len(ks):
        raise ConfigError(f"ks has a repeated value: {ks}")
    return sorted(ks)


# ------------------------------------------------------------------------------ pieces
def leading_tokens(X, max_tokens):
    """The first ``max_tokens`` tokens of ``X``: whole sequences in order, the last one cut to fit.

    Parameters
    ----------
    X : list of ndarray of shape (n_steps_i,)
    max_tokens : int

    Returns
    -------
    list of ndarray
        Views of the leading sequences; ``min(max_tokens, total)`` tokens in all.
    """
    out, left = [], max_tokens
    for x in X:
        if left <= 0:
            break
        out.append(x[:left])
        left -= len(out[-1])
    return out


def effective_context(ks, nlls, nll_full, rel_tol=REL_TOL):
    """The smallest context whose NLL is within ``rel_tol`` of the full-context NLL (relative).

    Parameters
    ----------
    ks : sequence of int
        Context sizes, ascending.
    nlls : sequence of float
        NLL per token at each size.
    nll_full : float
    rel_tol : float

    Returns
    -------
    float
        The first ``k`` with ``|nll - nll_full| <= rel_tol * |nll_full|``;
        ``inf`` when there is none.
    """
    for k, nll in zip(ks, nlls):
        if abs(nll - nll_full) <= rel_tol * abs(nll_full):
            return float(k)
    return float("inf")


def _sample_positions(lengths, max_positions, random_state):
    """Sequence and step of the scored positions: all, or ``max_positions`` drawn without replacement, sorted."""
    offsets = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    flat = np.arange(total)
    if max_positions is not None and total > max_positions:
        flat = np.sort(np.random.default_rng(random_state).choice(total, size=max_positions, replace=False))
    seq = np.searchsorted(offsets, flat, side="right") - 1
    return seq, flat - offsets[seq]


def _flat(scores, seq, steps):
    lengths = np.fromiter((len(s) for s in scores), dtype=np.int64, count=len(scores))
    return np.concatenate(scores)[(np.cumsum(lengths) - lengths)[seq] + steps]


def _window_scores(est, X, seq, steps, k, full):
    """Scores at the given positions with context ``k``, each from its own window ``x_{t-k} .. x_t``."""
    out = full.copy()
    far = np.flatnonzero(steps > k)
    if far.size:
        windows = [X[i][t - k: t + 1] for i, t in zip(seq[far], steps[far])]
        out[far] = [s[-1] for s in est.score_tokens(windows, max_context=k)]
    return out


def _curve(est, X, ks, seq, steps, windows):
    """Scores at the positions with the whole history, then with each ``k``: (full, {k: scores})."""
    full = _flat(est.score_tokens(X), seq, steps)
    if windows:
        return full, {k: _window_scores(est, X, seq, steps, k, full) for k in ks}
    return full, {k: _flat(est.score_tokens(X, max_context=k), seq, steps) for k in ks}


def _metrics(prefix, ks, full, truncated, rel_tol, perplexity):
    nlls = [-float(truncated[k].mean()) for k in ks]
    out = {}
    for k, nll in zip(ks, nlls):
        out[f"{prefix}nll@{condition_key('k', k)}"] = nll
        if perplexity:
            out[f"perplexity@{condition_key('k', k)}"] = float(np.exp(nll))
    nll_full = -float(full.mean())
    out[f"{prefix}nll_full"] = nll_full
    out[f"{prefix}effective_context"] = effective_context(ks, nlls, nll_full, rel_tol)
    return out


# ------------------------------------------------------------------------------ entry point
def context_truncation(estimator, X, ks=KS, *, max_tokens=MAX_TOKENS, max_positions=MAX_POSITIONS,
                       rel_tol=REL_TOL, oracle=None, random_state=0):
    """NLL of a fitted language model as a function of the context it may read.

    Parameters
    ----------
    estimator : fitted discrete density with ``Tags.max_context``
    X : list of ndarray of shape (n_steps_i,)
        Token ids (e.g. the test split).
    ks : sequence of int
        Context sizes (``>= 0``).
    max_tokens : int
        Score only the first ``max_tokens`` tokens of ``X`` (see :func:`leading_tokens`).
    max_positions : int or None
        Neural models: positions drawn for scoring (None: all).
    rel_tol : float
        Tolerance of ``effective_context`` (relative to the full NLL).
    oracle : fitted density or None
        The true model (``max_context`` exact): its ``oracle_*`` metrics on the same positions.
    random_state : int
        Seeds the draw of positions.

    Returns
    -------
    dict
        Flat metrics, see the module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> from seqbench.models import NGram
    >>> X = [np.array([0, 1, 2, 0, 1, 2, 0, 1])] * 5
    >>> lm = NGram(order=3).fit(X)
    >>> m = context_truncation(lm, X, ks=(1, 2, 4))
    >>> m["nll@k=2"] == m["nll_full"] == m["nll@k=4"], m["effective_context"] <= 2, m["n_positions"]
    (True, True, 40)
    """
    ks = _check_ks(ks)
    max_tokens = _check_int("max_tokens", max_tokens, 1)
    if max_positions is not None:
        max_positions = _check_int("max_positions", max_positions, 1)
    if not (isinstance(rel_tol, numbers.Real) and rel_tol >= 0):
        raise ConfigError(f"rel_tol must be a number >= 0, got {rel_tol!r}")
    X = leading_tokens(check_sequences(X, kind="discrete"), max_tokens)
    neural = get_tags(estimator).neural
    lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
    seq, steps = _sample_positions(lengths, max_positions if neural else None, random_state)
    full, truncated = _curve(estimator, X, ks, seq, steps, windows=neural)
    out = _metrics("", ks, full, truncated, rel_tol, perplexity=True)
    if oracle is not None:
        o_full, o_truncated = _curve(oracle, X, ks, seq, steps, windows=get_tags(oracle).neural)
        out.update(_metrics("oracle_", ks, o_full, o_truncated, rel_tol, perplexity=False))
    out.update(n_tokens=int(lengths.sum()), n_sequences=len(X), n_positions=int(seq.size))
    return out
