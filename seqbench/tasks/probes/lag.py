"""Lag-sweep probe: does a density model use the token exactly ``k`` steps back?

Data: :func:`seqbench.data.probe_lag.lag_sweep_data` (kind ``"probe-lag"``),
one dataset per lag ``k`` where ``x_t = perm[x_{t-k}]`` for every ``t >= k``
and nothing closer than ``k`` tells anything about ``x_t``. One clone of the
model is fitted per ``k`` (``fit(train.X)``).

Metrics (flat; ``K`` is each lag of the sweep)
----------------------------------------------
``accuracy@k=K``
    Minimal pairs: the true sequence against a copy whose token at one
    dependent position is replaced by a different symbol (every other token
    identical). A pair is right when the model gives the true sequence the
    higher total log-probability, summed over the whole sequence so the
    effect of the corrupted token on later positions counts too (the
    positions before it are identical in both and cancel, so only the sum from
    the corrupted position on is compared, which keeps rounding in the shared
    prefix out of the comparison); a tie counts 1/2. Chance is 1/2: a model
    that reads fewer than ``k`` previous tokens cannot tell the two apart
    better than a coin.
``dependent_nll@k=K``
    Mean ``-log p(x_t | x_<t)`` (nats) over every dependent position
    (``t >= k``) of the true sequences: 0 is perfect use of lag ``k``.
``baseline_nll``
    ``log(n_symbols)``: the best any model can do at a dependent position
    without reaching back ``k`` tokens (``x_t`` is then uniform; see
    :mod:`seqbench.data.probe_lag`), which a memoryless model attains.
``memory_horizon``
    The largest ``k`` of the sweep with ``accuracy@k=K >= 0.9``, 0 when there
    is none. Smaller lags are not required to pass as well (see
    :func:`memory_horizon`).
``n_pairs``, ``n_tokens``
    Minimal pairs per lag; tokens scored over the whole sweep (true and
    corrupted sequences).
"""
from __future__ import annotations

import math
import time

import numpy as np

from ...exceptions import ConfigError
from ._sweep import Sweep, condition_key, fit_unsupervised

__all__ = ["NAME", "applies", "fit", "evaluate", "lag_sweep", "memory_horizon", "minimal_pairs", "THRESHOLD"]

NAME = "lag"
KIND = "probe-lag"
THRESHOLD = 0.9  # accuracy that counts a lag as used, for memory_horizon


def applies(tags, splits) -> str | None:
    """None when the probe applies (a discrete density model on lag-probe data), else the reason."""
    if splits.info.get("kind") != KIND:
        return f"dataset is not a lag probe (kind {splits.info.get('kind')!r}, expected {KIND!r})"
    if tags.input_kind not in ("discrete", "both") or not tags.density:
        return "model is not a discrete density"
    return None


def _conditions(splits):
    """``{k: Splits}``: the sweep's conditions, or the dataset itself as its one lag."""
    if splits.conditions:
        return splits.conditions
    if "k" not in splits.info:
        raise ConfigError(f"dataset {splits.info.get('name')!r} has neither conditions nor a lag k in its info")
    return {splits.info["k"]: splits}


def fit(est, splits):
    """Fit one clone of ``est`` per lag (``fit(train.X)``); returns them as a :class:`Sweep`."""
    return Sweep(est, _conditions(splits), fit_unsupervised)


def memory_horizon(accuracies, threshold=THRESHOLD):
    """The largest lag whose minimal-pair accuracy reaches ``threshold``.

    Each lag is judged on its own: a lag that passes counts even when a
    smaller one fails (a model may, e.g., attend to exactly one distance).

    Parameters
    ----------
    accuracies : dict
        Lag ``k`` -> accuracy.
    threshold : float, default=0.9

    Returns
    -------
    int
        0 when no lag reaches the threshold.

    Examples
    --------
    >>> memory_horizon({1: 1.0, 2: 0.97, 4: 0.6, 8: 0.5})
    2
    """
    passed = [k for k, acc in accuracies.items() if acc >= threshold]
    return int(max(passed)) if passed else 0


def _suffix_sums(logprobs, positions):
    """``sum(logprobs[i][p:])`` for each row ``i`` and each ``p`` in ``positions[i]``.

    Parameters
    ----------
    logprobs : list of ndarray of shape (n_steps_i,)
    positions : ndarray of int, shape (n_sequences, n_queries)

    Returns
    -------
    ndarray of float64, shape (n_sequences, n_queries)
    """
    tails = [np.cumsum(lp[::-1], dtype=np.float64)[::-1] for lp in logprobs]  # tails[i][p] = sum lp[p:]
    return np.array([t[p] for t, p in zip(tails, positions)], dtype=np.float64).reshape(positions.shape)


def minimal_pairs(est, X, positions, replacements):
    """Score minimal pairs: each sequence against copies corrupted at one position each.

    Parameters
    ----------
    est : fitted density model
        Has ``score_tokens``.
    X : list of ndarray of shape (n_steps_i,)
        True sequences.
    positions, replacements : ndarray of int, shape (n_sequences, n_queries)
        Position and replacement symbol of each corrupted copy.

    Returns
    -------
    wins : ndarray of float64, shape (n_sequences, n_queries)
        1 where the true sequence scores higher, 0.5 on a tie, 0 otherwise.
    true_logprobs : list of ndarray of shape (n_steps_i,)
        ``score_tokens(X)``.
    """
    positions, replacements = np.asarray(positions), np.asarray(replacements)
    if positions.shape != replacements.shape or positions.shape[0] != len(X):
        raise ConfigError(f"positions {positions.shape} and replacements {replacements.shape} must both "
                          f"have one row per sequence ({len(X)})")
    n_queries = positions.shape[1]
    corrupted = []
    for x, p, r in zip(X, positions, replacements):  # one block of copies per sequence
        copies = np.repeat(np.asarray(x)[None, :], n_queries, axis=0)
        copies[np.arange(n_queries), p] = r
        corrupted.extend(copies)
    true_lp = est.score_tokens(X)
    corrupt_lp = est.score_tokens(corrupted)
    true_tail = _suffix_sums(true_lp, positions)
    corrupt_tail = _suffix_sums(corrupt_lp, positions.reshape(-1, 1)).reshape(positions.shape)
    wins = np.where(true_tail > corrupt_tail, 1.0, np.where(true_tail == corrupt_tail, 0.5, 0.0))
    return wins, true_lp


def _models(fitted, conditions):
    """``{k: fitted model}``: the Sweep's models, or one fitted model used for every lag."""
    models = getattr(fitted, "models", None)
    if models is None:
        return {k: fitted for k in conditions}
    missing = [k for k in conditions if k not in models]
    if missing:
        raise ConfigError(f"no fitted model for lag k = {missing[0]} (the sweep has k in {list(models)})")
    return models


def evaluate(fitted, splits, split="test"):
    """Minimal-pair accuracy and dependent-position NLL per lag, the baseline and the memory horizon.

    Parameters
    ----------
    fitted : Sweep or fitted estimator
        From :func:`fit`; a single fitted model is scored on every lag.
    splits : Splits
        From :func:`seqbench.data.probe_lag.lag_sweep_data`.
    split : {"train", "valid", "test"}

    Returns
    -------
    dict
        See the module docstring; plus ``eval_seconds`` and ``tokens_per_s``.
    """
    conditions = _conditions(splits)
    models = _models(fitted, conditions)
    result, accuracies, n_pairs, n_tokens = {}, {}, None, 0
    t0 = time.perf_counter()
    for k, data in conditions.items():
        part = getattr(data, split)
        if "positions" not in part.extra or "replacements" not in part.extra:
            raise ConfigError(f"the {split} split of lag k = {k} has no minimal pairs (Split.extra['positions'] "
                              f"and ['replacements']); generate the data with lag_sweep_data")
        positions, replacements = part.extra["positions"], part.extra["replacements"]
        wins, true_lp = minimal_pairs(models[k], part.X, positions, replacements)
        dependent = np.concatenate([lp[k:] for lp in true_lp])
        key = condition_key("k", k)
        accuracies[k] = float(wins.mean())
        result[f"accuracy@{key}"] = accuracies[k]
        result[f"dependent_nll@{key}"] = float(-dependent.mean())
        n_pairs = int(wins.size)
        n_tokens += part.n_tokens * (1 + positions.shape[1])
    seconds = time.perf_counter() - t0
    result["baseline_nll"] = float(splits.info.get("baseline_nll", math.log(len(splits.vocab))))
    result["memory_horizon"] = float(memory_horizon(accuracies))
    result.update(n_pairs=n_pairs, n_tokens=n_tokens, eval_seconds=seconds,
                  tokens_per_s=n_tokens / seconds if seconds > 0 else float("inf"))
    return result


def lag_sweep(estimator, ks=(1, 2, 4, 8), split="test", **data_options):
    """Run the lag-sweep probe on one (unfitted) model without the harness.

    Parameters
    ----------
    estimator : SequenceEstimator
        An unfitted discrete density model; it is cloned and fitted once per lag.
    ks : sequence of int, default=(1, 2, 4, 8)
        The lags.
    split : {"train", "valid", "test"}, default="test"
    **data_options
        Passed to :func:`seqbench.data.probe_lag.lag_sweep_data` (``n_symbols``,
        ``n_sequences``, ``length``, ``n_queries``, ``n_valid``, ``n_test``, ``seed``).

    Returns
    -------
    dict
        The metrics of :func:`evaluate`.

    Examples
    --------
    A trigram model reads two tokens back, so its memory horizon is 2:

    >>> from seqbench.models import NGram
    >>> out = lag_sweep(NGram(order=3), ks=(1, 2, 4), n_symbols=4, seed=0)
    >>> out["accuracy@k=2"] > 0.9, out["accuracy@k=4"] < 0.7, out["memory_horizon"]
    (True, True, 2.0)
    """
    from ...data.probe_lag import lag_sweep_data  # the task layer needs the data layer only here

    splits = lag_sweep_data(ks=ks, **data_options)
    return evaluate(fit(estimator, splits), splits, split)
