"""Evaluation metrics: perplexity and NLL from per-token log-probabilities, tagging accuracy, calibration.

All log-probabilities are natural logs, one value per predicted token, as
``score_tokens`` returns them. Every average here is token-weighted: totals
are summed over all tokens of all sequences and divided once (never a mean of
per-sequence or per-batch means).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ._validation import check_sequences, check_tags, n_tokens
from .exceptions import ConfigError, ImpossibleSequenceWarning, InvalidSequenceError, NumericalError

__all__ = [
    "nll_per_token",
    "perplexity",
    "bits_per_char",
    "token_accuracy",
    "token_accuracy_by_known",
    "reliability_bins",
    "expected_calibration_error",
]


# --------------------------------------------------------------- log-probs
def _check_logprobs(logprobs):
    """Validate log-probabilities; return them as a list of 1-D float64 arrays.

    NaN and ``+inf`` raise :class:`NumericalError`; ``-inf`` (an impossible
    token) is kept and reported by the caller.
    """
    if isinstance(logprobs, np.ndarray) and logprobs.dtype != object:
        if logprobs.ndim != 1:
            raise InvalidSequenceError(
                f"logprobs has shape {logprobs.shape}; expected one 1-D array or a list of 1-D arrays"
            )
        logprobs = [logprobs]
    if isinstance(logprobs, (str, bytes)) or not hasattr(logprobs, "__len__"):
        raise InvalidSequenceError(f"logprobs must be a list of 1-D arrays, got {type(logprobs).__name__}")
    out = []
    for i, lp in enumerate(logprobs):
        arr = np.asarray(lp, dtype=np.float64) if not np.isscalar(lp) else None
        if arr is None or arr.ndim != 1:
            raise InvalidSequenceError(
                f"logprobs[{i}] is not a 1-D array (got {type(lp).__name__}); expected per-token log-probabilities"
            )
        bad = np.isnan(arr) | (arr == np.inf)
        if bad.any():
            t = int(np.flatnonzero(bad)[0])
            raise NumericalError(f"logprobs[{i}][{t}] = {arr[t]}; expected a finite log-probability (or -inf)")
        out.append(arr)
    if n_tokens(out) == 0:
        raise InvalidSequenceError("logprobs holds no tokens; perplexity needs at least one scored token")
    return out


def _warn_impossible(logprobs):
    """Warn, naming sequence and position, where a log-probability is ``-inf``."""
    hits = [(i, int(np.flatnonzero(lp == -np.inf)[0])) for i, lp in enumerate(logprobs) if np.isneginf(lp).any()]
    if hits:
        where = ", ".join(f"logprobs[{i}][{t}]" for i, t in hits[:5])
        more = f" and {len(hits) - 5} more sequences" if len(hits) > 5 else ""
        warnings.warn(
            f"{len(hits)} sequence(s) have probability zero under the model (log-probability -inf at "
            f"{where}{more}); the NLL and perplexity are infinite",
            ImpossibleSequenceWarning,
            stacklevel=3,
        )


def nll_per_token(logprobs):
    """Mean negative log-likelihood per token in nats, token-weighted.

    Parameters
    ----------
    logprobs : ndarray of shape (n_steps,) or list of ndarray of shape (n_steps_i,)
        Per-token log-probabilities (nats), e.g. from ``score_tokens``.

    Returns
    -------
    float
        ``-sum(all log-probs) / total tokens``; ``inf`` (with an
        :class:`ImpossibleSequenceWarning`) when a token has probability zero.
    """
    lps = _check_logprobs(logprobs)
    _warn_impossible(lps)
    total = sum(float(lp.sum()) for lp in lps)
    return -total / n_tokens(lps)


def perplexity(logprobs):
    """Perplexity ``exp(total NLL / total tokens)``.

    Parameters
    ----------
    logprobs : ndarray of shape (n_steps,) or list of ndarray of shape (n_steps_i,)
        Per-token log-probabilities (nats).

    Returns
    -------
    float
        ``inf`` when the NLL overflows or a token is impossible.
    """
    nll = nll_per_token(logprobs)
    try:
        return math.exp(nll)
    except OverflowError:
        return math.inf


def bits_per_char(logprobs):
    """NLL per token in bits (``nll_per_token / ln 2``); per character for character-level models.

    Parameters
    ----------
    logprobs : ndarray of shape (n_steps,) or list of ndarray of shape (n_steps_i,)
        Per-token log-probabilities (nats).
    """
    return nll_per_token(logprobs) / math.log(2.0)


# ---------------------------------------------------------------- accuracy
def _check_pair(y_true, y_pred):
    y_true = check_sequences(y_true, kind="discrete", name="y_true")
    y_pred = check_tags(y_pred, y_true, name="y_pred")
    return y_true, y_pred


def token_accuracy(y_true, y_pred):
    """Fraction of tokens whose predicted tag equals the true tag, over all tokens.

    Parameters
    ----------
    y_true, y_pred : list of ndarray of shape (n_steps_i,)
        Integer tag ids; ``y_pred[i]`` must have ``len(y_true[i])`` tags.

    Returns
    -------
    float
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    correct = sum(int((a == b).sum()) for a, b in zip(y_true, y_pred))
    return correct / n_tokens(y_true)


def _check_known(known, y_true):
    if isinstance(known, (str, bytes)) or not hasattr(known, "__len__") or len(known) != len(y_true):
        got = len(known) if hasattr(known, "__len__") else type(known).__name__
        raise InvalidSequenceError(f"known has {got} sequences for {len(y_true)} sequences in y_true")
    out = []
    for i, (k, y) in enumerate(zip(known, y_true)):
        arr = np.asarray(k)
        if arr.ndim != 1 or arr.shape[0] != len(y):
            raise InvalidSequenceError(f"known[{i}] has shape {arr.shape} for {len(y)} tokens; expected ({len(y)},)")
        if arr.dtype != bool:
            if not np.issubdtype(arr.dtype, np.integer) or not np.isin(arr, (0, 1)).all():
                raise InvalidSequenceError(f"known[{i}] has dtype {arr.dtype}; expected booleans (True = known word)")
            arr = arr.astype(bool)
        out.append(arr)
    return out


def token_accuracy_by_known(y_true, y_pred, known):
    """Token accuracy overall and split by known (seen in training) and unknown words.

    Parameters
    ----------
    y_true, y_pred : list of ndarray of shape (n_steps_i,)
        Integer tag ids.
    known : list of ndarray of bool, shape (n_steps_i,)
        True where the word was seen in training.

    Returns
    -------
    dict
        ``{"overall", "known", "unknown", "n_known", "n_unknown"}``; an
        accuracy is ``None`` when its group holds no token.
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    known = _check_known(known, y_true)
    hit = np.concatenate([a == b for a, b in zip(y_true, y_pred)])
    mask = np.concatenate(known)
    n_known, n_unknown = int(mask.sum()), int((~mask).sum())
    return {
        "overall": float(hit.mean()),
        "known": float(hit[mask].mean()) if n_known else None,
        "unknown": float(hit[~mask].mean()) if n_unknown else None,
        "n_known": n_known,
        "n_unknown": n_unknown,
    }


# ------------------------------------------------------------- calibration
def _check_proba(proba, y_true):
    y_true = check_sequences(y_true, kind="discrete", name="y_true")
    if isinstance(proba, (str, bytes)) or not hasattr(proba, "__len__") or len(proba) != len(y_true):
        got = len(proba) if hasattr(proba, "__len__") else type(proba).__name__
        raise InvalidSequenceError(f"proba has {got} sequences for {len(y_true)} sequences in y_true")
    n_classes = None
    out = []
    for i, (p, y) in enumerate(zip(proba, y_true)):
        arr = np.asarray(p, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != len(y):
            raise InvalidSequenceError(f"proba[{i}] has shape {arr.shape}; expected ({len(y)}, n_classes)")
        n_classes = arr.shape[1] if n_classes is None else n_classes
        if arr.shape[1] != n_classes:
            raise InvalidSequenceError(f"proba[{i}] has {arr.shape[1]} classes; proba[0] has {n_classes}")
        bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
        if bad.any():
            t, k = np.argwhere(bad)[0]
            raise InvalidSequenceError(f"proba[{i}][{t}, {k}] = {arr[t, k]}; expected a probability in [0, 1]")
        sums = arr.sum(axis=1)
        off = np.abs(sums - 1.0) > 1e-6
        if off.any():
            t = int(np.flatnonzero(off)[0])
            raise InvalidSequenceError(f"proba[{i}][{t}] sums to {sums[t]!r}; expected a distribution summing to 1")
        if y.size and y.max() >= n_classes:
            t = int(np.flatnonzero(y >= n_classes)[0])
            raise InvalidSequenceError(f"y_true[{i}][{t}] = {y[t]} is out of range; expected tags in [0, {n_classes})")
        out.append(arr)
    return out, y_true


def reliability_bins(proba, y_true, n_bins=15):
    """Confidence and accuracy per equal-width confidence bin (a reliability diagram).

    The confidence of a token is its largest class probability; the
    prediction is that class. Bin ``b`` holds confidences in
    ``(b / n_bins, (b + 1) / n_bins]`` (the first bin also holds 0).

    Parameters
    ----------
    proba : list of ndarray of shape (n_steps_i, n_classes)
        Per-token class posteriors.
    y_true : list of ndarray of shape (n_steps_i,)
        True class ids.
    n_bins : int

    Returns
    -------
    dict of ndarray of shape (n_bins,)
        ``"count"``, ``"confidence"`` (mean per bin) and ``"accuracy"``;
        means are NaN for empty bins.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer, got {n_bins!r}")
    proba, y_true = _check_proba(proba, y_true)
    p = np.concatenate(proba)
    y = np.concatenate(y_true)
    conf = p.max(axis=1)
    hit = (p.argmax(axis=1) == y).astype(np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(bins, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=hit, minlength=n_bins) / count
    return {"count": count, "confidence": confidence, "accuracy": accuracy}


def expected_calibration_error(proba, y_true, n_bins=15):
    """Expected calibration error: ``sum_b (n_b / N) * |accuracy_b - confidence_b|``.

    Parameters
    ----------
    proba : list of ndarray of shape (n_steps_i, n_classes)
        Per-token class posteriors (rows sum to 1).
    y_true : list of ndarray of shape (n_steps_i,)
        True class ids.
    n_bins : int
        Number of equal-width confidence bins on [0, 1].

    Returns
    -------
    float
        In [0, 1]; 0 for a perfectly calibrated model.
    """
    bins = reliability_bins(proba, y_true, n_bins)
    used = bins["count"] > 0
    weights = bins["count"][used] / bins["count"].sum()
    return float(np.sum(weights * np.abs(bins["accuracy"][used] - bins["confidence"][used])))
