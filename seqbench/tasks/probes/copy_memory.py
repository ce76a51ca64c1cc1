"""Copy-memory probe: can a tagger reproduce 10 symbols after a delay of ``T`` steps?

Data: :func:`seqbench.data.probe_memory.copy_memory` (Arjovsky et al.
2016). The model is a tagger (``fit(X, y)``, one tag per token) and is
scored from ``predict_proba`` at every one of the ``T + 20`` positions.
The answer lies in the past of each position, so a unidirectional tagger
can solve it; a bidirectional one is scored the same way.

Metrics, per condition ``T`` (natural logs)
-------------------------------------------
``xent@T=..``
    Mean cross-entropy per position, ``-log p(true tag)``, over all
    positions of all test sequences (``inf`` where a true tag gets
    probability 0).
``baseline_xent@T=..``
    ``10 ln 8 / (T + 20)``: the memoryless strategy (blank with certainty
    for the first ``T + 10`` positions, uniform over the 8 symbols after).
``xent_ratio@T=..``
    ``xent / baseline_xent``: 1 is no memory, 0 a perfect copy.
``copy_accuracy@T=..``
    Fraction of the last 10 positions whose most probable tag is right
    (chance 1/8).
``xent_ratio_longest``, ``copy_accuracy_longest``
    Those at the longest ``T`` of the sweep (the report's headline).

Applies to taggers on discrete input (``Tags.tagger``) with ``predict_proba``.
"""
from __future__ import annotations

import math

import numpy as np

from ...data.probe_memory import BLANK, COPY_LENGTH, COPY_SYMBOLS, copy_memory
from ...exceptions import ConfigError
from ._sweep import Sweep, condition_key, fit_supervised, with_longest

__all__ = ["NAME", "applies", "fit", "evaluate", "copy_sweep", "baseline_xent"]

NAME = "copy"
KIND = "probe-copy"


def baseline_xent(T):
    """Cross-entropy per position (nats) of the memoryless strategy at delay ``T``."""
    return COPY_LENGTH * math.log(COPY_SYMBOLS) / (T + 2 * COPY_LENGTH)


def applies(tags, splits) -> str | None:
    """None when the probe applies, else the reason it does not."""
    if splits.info.get("kind") != KIND:
        return f"dataset is not the copy-memory task (kind {KIND!r})"
    if not tags.tagger:
        return "model is not a tagger"
    if tags.input_kind not in ("discrete", "both"):
        return "model does not read token ids"
    return None



def fit(est, splits):
    """One clone of ``est`` fitted per delay ``T`` (``fit(X, y)``): a :class:`Sweep`."""
    return Sweep(est, splits.conditions, fit_supervised)


def _tag_probabilities(est, X):
    """``predict_proba`` stacked: ndarray of shape (n_sequences, T + 20, n_tags)."""
    P = np.stack([np.asarray(p, dtype=np.float64) for p in est.predict_proba(X)])
    if P.ndim != 3 or P.shape[2] <= BLANK:
        raise ConfigError(f"{type(est).__name__}.predict_proba gives {P.shape[-1]} tag columns; the copy task "
                          f"has {BLANK + 1} tags (ids 0-{BLANK})")
    return P


def evaluate(fitted, splits, split="test"):
    """Score every condition's model on its own data; see the module docstring.

    Parameters
    ----------
    fitted : Sweep
        From :func:`fit` (condition ``T`` -> fitted tagger).
    splits : Splits
        From :func:`~seqbench.data.probe_memory.copy_memory`.
    split : {"train", "valid", "test"}

    Returns
    -------
    dict
        ``xent@T=..``, ``baseline_xent@T=..``, ``xent_ratio@T=..``,
        ``copy_accuracy@T=..``, ``n_sequences``, ``n_tokens``.
    """
    result = {}
    n_sequences = n_tokens = 0
    for T, est in fitted.items():
        part = getattr(splits.conditions[T], split)
        P, Y = _tag_probabilities(est, part.X), np.stack(part.y)
        p_true = np.take_along_axis(P, Y[..., None], axis=2)[..., 0]
        with np.errstate(divide="ignore"):
            xent = float(-np.log(p_true).mean())
        key = condition_key("T", T)
        result[f"xent@{key}"] = xent
        result[f"baseline_xent@{key}"] = baseline_xent(T)
        result[f"xent_ratio@{key}"] = xent / baseline_xent(T)
        result[f"copy_accuracy@{key}"] = float(
            (P[:, -COPY_LENGTH:].argmax(axis=2) == Y[:, -COPY_LENGTH:]).mean())
        n_sequences += Y.shape[0]
        n_tokens += Y.size
    with_longest(result, "xent_ratio", "T", [c for c, _ in fitted.items()])
    with_longest(result, "copy_accuracy", "T", [c for c, _ in fitted.items()])
    result.update(n_sequences=n_sequences, n_tokens=n_tokens)
    return result


def copy_sweep(estimator, lengths=(10, 50, 100), n_sequences=1000, n_test=None, random_state=0):
    """Run the copy-memory probe without the harness: generate, fit one clone per ``T``, score.

    Parameters
    ----------
    estimator : estimator
        An unfitted tagger with ``predict_proba``.
    lengths : sequence of int
        The conditions ``T``.
    n_sequences : int
        Training sequences per condition.
    n_test : int or None
        Test sequences per condition (default ``n_sequences // 4``).
    random_state : int
        Seed of the data.

    Returns
    -------
    dict
        As :func:`evaluate`.

    Examples
    --------
    >>> from seqbench.models import HMM
    >>> from seqbench.tasks.probes.copy_memory import copy_sweep
    >>> res = copy_sweep(HMM(), lengths=(10,), n_sequences=200)
    >>> round(res["baseline_xent@T=10"], 4)  # 10 ln 8 / 30
    0.6931
    >>> res["xent_ratio@T=10"] > 0.95  # a first-order HMM tagger has no memory of the symbols
    True
    """
    splits = copy_memory(lengths=lengths, n_sequences=n_sequences, n_test=n_test, seed=random_state)
    return evaluate(fit(estimator, splits), splits)
