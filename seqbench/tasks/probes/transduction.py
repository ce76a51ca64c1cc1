"""Transduction: how well an encoder-decoder copies or reverses sequences as they grow longer.

One model is trained per length ``L`` of the sweep (``fit(X, y)`` on the
pairs of :func:`seqbench.data.probe_transduction.transduction_data`) and
decodes the test sources greedily (``predict``). A fixed context vector
must squeeze the whole source into one state, so its accuracy falls with
``L``; attention reads the source positions it needs.

Which models
------------
Transducers: models fitted with ``fit(X, y)`` on pairs of sequences of
possibly different lengths, whose ``fit_mode_`` is ``"transduction"``
(:class:`~seqbench.models.Seq2Seq`), recognised by ``Tags.transducer``;
:func:`fit` also checks ``fit_mode_ == "transduction"`` of every fitted
model and raises :class:`~seqbench.exceptions.ConfigError`
otherwise.

Metrics (``N`` each length)
---------------------------
``sequence_accuracy@L=N``
    Fraction of test sources whose decoding equals the target exactly.
``token_accuracy@L=N``
    Position-wise: per pair, the positions where prediction and target
    agree over ``max(len(prediction), len(target))``, summed over pairs
    before dividing; a missing or an extra token counts as a wrong position.
    Chance (ignoring the source) is ``1 / n_symbols``.
``token_accuracy_longest``, ``sequence_accuracy_longest``
    Those at the longest ``L`` of the sweep (the report's headline).
``n_sequences``, ``n_tokens``
    Test pairs and target tokens over all lengths.
"""
from __future__ import annotations

import time

import numpy as np

from ...exceptions import ConfigError, InvalidSequenceError
from ._sweep import Sweep, condition_key, with_longest

NAME = "transduction"
TRANSDUCTION = "transduction"  # the fit_mode_ of a fitted transducer

__all__ = ["NAME", "applies", "fit", "evaluate", "transduction_accuracy", "transduction_sweep"]


def applies(tags, splits) -> str | None:
    """None for a transducer on probe-transduction data, else the reason."""
    kind = splits.info.get("kind")
    if kind != "probe-transduction":
        return f"dataset kind {kind!r} is not probe-transduction"
    if not tags.transducer:
        return "model is not a transducer (fit(X, y) on pairs of sequences, as Seq2Seq)"
    return None


def _fit_one(est, splits):
    est.fit(splits.train.X, splits.train.y)
    mode = getattr(est, "fit_mode_", None)
    if mode != TRANSDUCTION:
        raise ConfigError(f"{type(est).__name__} was fitted as {mode!r}, not as a transducer "
                          f"(fit_mode_ {TRANSDUCTION!r}); the transduction probe needs one, e.g. Seq2Seq")
    return est


def _conditions(splits):
    if not splits.conditions:
        raise ConfigError("the transduction probe needs probe-transduction data (one Splits per length "
                          "in splits.conditions)")
    return splits.conditions


def fit(est, splits):
    """One clone of ``est`` per length, each trained on its pairs: a :class:`Sweep`."""
    return Sweep(est, _conditions(splits), _fit_one)


def transduction_accuracy(Y, predictions):
    """Token and sequence accuracy of predicted target sequences.

    Parameters
    ----------
    Y : list of ndarray of shape (m_i,)
        Targets.
    predictions : list of ndarray of shape (p_i,)
        Predictions, of any lengths.

    Returns
    -------
    token_accuracy : float
        ``sum_i hits_i / sum_i max(m_i, p_i)``, ``hits_i`` the positions
        ``t < min(m_i, p_i)`` where both agree.
    sequence_accuracy : float
        Fraction of pairs predicted exactly.
    """
    if len(predictions) != len(Y):
        raise InvalidSequenceError(f"predictions has {len(predictions)} sequences for {len(Y)} targets")
    hits = total = exact = 0
    for i, (r, p) in enumerate(zip(Y, predictions)):
        p = np.asarray(p)
        if p.ndim != 1:
            raise InvalidSequenceError(f"predictions[{i}] has shape {p.shape}; expected a 1-D sequence of ids")
        n = min(len(r), len(p))
        agree = int((np.asarray(r[:n]) == p[:n]).sum())
        hits += agree
        total += max(len(r), len(p))
        exact += len(r) == len(p) == agree
    return (hits / total if total else 1.0), exact / len(Y)


def evaluate(fitted, splits, split="test"):
    """Greedy decoding of each length's test sources by its model (a :class:`Sweep`, or one model for all)."""
    conditions = _conditions(splits)
    models = fitted.models if isinstance(fitted, Sweep) else dict.fromkeys(conditions, fitted)
    out, n_seq, n_tok = {}, 0, 0
    t0 = time.perf_counter()
    for L, part_splits in conditions.items():
        part = getattr(part_splits, split)
        tokens, sequences = transduction_accuracy(part.y, models[L].predict(part.X))
        out[f"sequence_accuracy@{condition_key('L', L)}"] = sequences
        out[f"token_accuracy@{condition_key('L', L)}"] = tokens
        n_seq += len(part.X)
        n_tok += int(sum(len(y) for y in part.y))
    seconds = time.perf_counter() - t0
    for metric in ("token_accuracy", "sequence_accuracy"):
        with_longest(out, metric, "L", list(conditions))
    out.update(n_sequences=n_seq, n_tokens=n_tok, eval_seconds=seconds,
               tokens_per_s=n_tok / seconds if seconds > 0 else float("inf"))
    return out


def transduction_sweep(estimator, lengths=(5, 10, 20, 50), task="copy", *, n_symbols=10, n_train=2000,
                       n_test=200, seed=0):
    """Train ``estimator`` (unfitted) to copy or reverse sequences of each length; its accuracies.

    Parameters
    ----------
    estimator : unfitted transducer (e.g. Seq2Seq)
        Cloned once per length.
    lengths : sequence of int
    task : {"copy", "reverse"}
    n_symbols, n_train, n_test, seed :
        Passed to :func:`~seqbench.data.probe_transduction.transduction_data`.

    Returns
    -------
    dict
        The metrics of :func:`evaluate` (flat, per length).

    Examples
    --------
    >>> from seqbench.models import Seq2Seq
    >>> model = Seq2Seq(attention="bahdanau", hidden_size=16, max_epochs=1, random_state=0)
    >>> m = transduction_sweep(model, lengths=(3, 6), n_train=64, n_test=16)
    >>> sorted(k for k in m if k.startswith("token_accuracy"))
    ['token_accuracy@L=3', 'token_accuracy@L=6']
    """
    from ...data.probe_transduction import transduction_data

    data = transduction_data(task, lengths, n_symbols=n_symbols, n_train=n_train, n_test=n_test, seed=seed)
    return evaluate(fit(estimator, data), data)
