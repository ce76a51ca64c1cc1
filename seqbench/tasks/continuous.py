"""Continuous density and forecasting: NLL per step, one-step MSE, interval coverage, state recovery.

Metrics (natural logs; values in the dataset's units, i.e. standardised for
the real series; NaN entries are missing and never scored):

``nll_per_step``
    ``-sum_t log p(y_t | y_<t) / n_tokens`` from ``score_tokens``: the
    negative log-density of a whole time step (summed over its features,
    observed entries only), averaged over the steps that have at least one
    observed entry (``n_tokens``). A density: it can be negative.
``mse``
    One-step-ahead squared error per observed scalar, from
    ``predict_next_moments(X) -> (means, variances)``:
    ``sum (y_tj - E[y_tj | y_<t])^2 / n_values``.
``coverage``
    Fraction of observed scalars inside the central 90% predictive interval
    ``mean +- z_0.95 sqrt(variance)`` of the same moments (Gaussian).
``state_mse``
    Synthetic data with true hidden states (``Split.states``) and a model
    with ``smooth(X) -> (means, covariances)``: squared error per state
    coordinate of the smoothed state means. A fitted model's latent space
    is identified only up to an invertible linear map, so its smoothed
    means are first mapped to the true states by the least-squares linear
    map (no intercept) fitted on the TRAIN split, then applied to the
    evaluated split. The generating model (``splits.oracle``) shares the
    true state coordinates and is scored without a map.

A metric the model cannot give (no ``predict_next_moments``, no ``smooth``,
no true states) is left out.

Real series (``nile``, ``sunspots``, ``co2``: one sequence cut by time, see
``seqbench.data.continuous``) are standardised with the mean and standard
deviation of their first 72% (the train part). The model is fitted on the
first 80% (train + valid as one sequence) and the evaluated part is scored
as the continuation of everything before it: ``score_tokens`` and the
moments run over the whole series up to the part's end, and only the
part's steps count. Independent sequences (synthetic data) are fitted on
train and scored on their own.
"""
from __future__ import annotations

import time

import numpy as np
from .probes import probe_data
from scipy.stats import norm

NAME = "continuous"
COVERAGE = 0.9
PARTS = ("train", "valid", "test")


def applies(tags, splits) -> str | None:
    """None when the task applies, else the reason it does not."""
    if probe_data(splits):
        return probe_data(splits)
    if tags.input_kind not in ("continuous", "both") or not tags.density:
        return "model is not a continuous density"
    info = splits.info
    if info.get("input_kind", info.get("kind")) != "continuous":
        return "dataset is not continuous"
    return None


def _is_time_split(splits):
    """One series cut by time into consecutive parts (``info["cut_points"]``), one sequence each."""
    return "cut_points" in splits.info and all(len(getattr(splits, p).X) == 1 for p in PARTS)


def _context_and_part(splits, split):
    """The sequences to run and, per sequence, the number of leading context steps not scored."""
    part = getattr(splits, split)
    if not _is_time_split(splits):
        return part.X, [0] * len(part.X)
    before = [getattr(splits, p).X[0] for p in PARTS[: PARTS.index(split)]]
    return [np.concatenate(before + [part.X[0]])], [sum(len(b) for b in before)]


def fit(est, splits):
    """Fit on train (independent sequences) or on train + valid as one series (time split)."""
    if _is_time_split(splits):
        return est.fit([np.concatenate([splits.train.X[0], splits.valid.X[0]])])
    return est.fit(splits.train.X)


def _cut(arrays, skip):
    return [a[k:] for a, k in zip(arrays, skip)]


def _moment_metrics(est, X, skip, Y):
    """One-step MSE and 90% interval coverage per observed scalar."""
    means, variances = est.predict_next_moments(X)
    means, variances = _cut(means, skip), _cut(variances, skip)
    y = np.concatenate([np.asarray(a, dtype=np.float64).reshape(len(a), -1) for a in Y])
    mu = np.concatenate([np.asarray(a).reshape(len(a), -1) for a in means])
    var = np.concatenate([np.asarray(a).reshape(len(a), -1) for a in variances])
    seen = ~np.isnan(y)
    err = (y - mu)[seen]
    z = norm.ppf(0.5 + COVERAGE / 2)
    return {"mse": float(np.mean(err**2)), "coverage": float(np.mean(np.abs(err) <= z * np.sqrt(var[seen])))}


def _state_mse(est, splits, split):
    """Squared error per state coordinate of the smoothed means (linear map fitted on train unless oracle)."""
    truth = np.concatenate(getattr(splits, split).states)
    smoothed = np.concatenate(est.smooth(getattr(splits, split).X)[0])
    if est is not splits.oracle:
        train_means = np.concatenate(est.smooth(splits.train.X)[0])
        W = np.linalg.lstsq(train_means, np.concatenate(splits.train.states), rcond=None)[0]
        smoothed = smoothed @ W
    return float(np.mean((smoothed - truth) ** 2))


def evaluate(est, splits, split="test"):
    """Score one split; see the module docstring for the metric definitions.

    Returns
    -------
    dict
        ``nll_per_step`` and, where available, ``mse``, ``coverage``,
        ``state_mse``; ``n_tokens`` (steps with an observed entry),
        ``n_values`` (observed scalars), ``eval_seconds``, ``tokens_per_s``.
    """
    part = getattr(splits, split)
    X, skip = _context_and_part(splits, split)
    t0 = time.perf_counter()
    logdens = _cut(est.score_tokens(X), skip)
    score_seconds = time.perf_counter() - t0
    Y = [np.asarray(x, dtype=np.float64).reshape(len(x), -1) for x in part.X]
    n_steps = int(sum((~np.isnan(y)).any(axis=1).sum() for y in Y))
    n_values = int(sum((~np.isnan(y)).sum() for y in Y))
    result = {"nll_per_step": -float(sum(a.sum() for a in logdens)) / n_steps}
    if hasattr(est, "predict_next_moments"):
        result.update(_moment_metrics(est, X, skip, Y))
    if part.states is not None and splits.train.states is not None and hasattr(est, "smooth"):
        result["state_mse"] = _state_mse(est, splits, split)
    result.update(n_tokens=n_steps, n_values=n_values, eval_seconds=time.perf_counter() - t0,
                  tokens_per_s=n_steps / score_seconds if score_seconds > 0 else float("inf"))
    return result
