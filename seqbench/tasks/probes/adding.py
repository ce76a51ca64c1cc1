"""Adding-problem probe: can a continuous density add two marked values seen ``T`` steps apart?

Data: :func:`seqbench.data.probe_memory.adding_problem`. Each sequence is
``T`` steps ``(value, marker)`` plus an answer step ``(sum of the two marked
values, 0)``; a model answers with ``predict_next_moments(X)``: its
one-step-ahead predicted mean of the answer step's first feature, given
the ``T`` steps before it. It must both remember the marked values and know
that step ``T`` is the answer (all sequences of a condition have ``T + 1``
steps).

Metrics, per condition ``T``
----------------------------
``mse@T=..``
    Mean squared error of the answers over the test sequences.
``baseline_mse``
    ``Var(sum) = 1/6``: the error of the memoryless answer, the constant
    mean 1.
``mse_ratio@T=..``
    ``mse / baseline_mse``: 1 is no memory, 0 a perfect adder.
``mse_ratio_longest``
    ``mse_ratio`` at the longest ``T`` of the sweep (the report's headline).
``linear_mse_ratio@T=..``
    The ratio of the best predictor LINEAR in the values and markers:
    ``1 - (1 / h + 1 / (T - h)) / 2`` with ``h = T // 2`` (``1 - 2 / T``
    for even ``T``): each value is marked with probability ``1 / h`` or
    ``1 / (T - h)``, so a weight on it explains a little of the sum (the
    markers alone are uncorrelated with it). Below this line a model
    gates the values by the markers.

Applies to continuous densities (``Tags.input_kind`` "continuous" or
"both", ``density``); the model needs ``predict_next_moments`` (the Kalman
filter and the neural Gaussian heads have it).
"""
from __future__ import annotations

import numpy as np

from ...data.probe_memory import adding_problem
from ...exceptions import ConfigError
from ._sweep import Sweep, condition_key, fit_unsupervised, with_longest

__all__ = ["NAME", "applies", "fit", "evaluate", "adding_sweep", "BASELINE_MSE", "linear_mse_ratio"]

NAME = "adding"
KIND = "probe-adding"
BASELINE_MSE = 1.0 / 6.0  # Var(U1 + U2) = 2 / 12


def linear_mse_ratio(T):
    """MSE of the best linear predictor of the sum, over ``BASELINE_MSE``, for ``T`` steps."""
    h = T // 2
    return 1.0 - (1.0 / h + 1.0 / (T - h)) / 2.0


def applies(tags, splits) -> str | None:
    """None when the probe applies, else the reason it does not."""
    if splits.info.get("kind") != KIND:
        return f"dataset is not the adding problem (kind {KIND!r})"
    if tags.input_kind not in ("continuous", "both") or not tags.density:
        return "model is not a continuous density"
    return None



def fit(est, splits):
    """One clone of ``est`` fitted per length ``T`` (``fit(X)``): a :class:`Sweep`."""
    return Sweep(est, splits.conditions, fit_unsupervised)


def _answers(est, X):
    """The predicted mean of the last step's first feature: ndarray of shape (n_sequences,)."""
    if not hasattr(est, "predict_next_moments"):
        raise ConfigError(f"{type(est).__name__} has no predict_next_moments; the adding probe reads the "
                          f"one-step-ahead predicted mean of the answer step")
    means, _ = est.predict_next_moments(X)
    return np.array([m[-1, 0] for m in means])


def evaluate(fitted, splits, split="test"):
    """Score every condition's model on its own data; see the module docstring.

    Parameters
    ----------
    fitted : Sweep
        From :func:`fit` (condition ``T`` -> fitted model).
    splits : Splits
        From :func:`~seqbench.data.probe_memory.adding_problem`.
    split : {"train", "valid", "test"}

    Returns
    -------
    dict
        ``mse@T=..``, ``mse_ratio@T=..``, ``linear_mse_ratio@T=..``,
        ``baseline_mse``, ``n_sequences``, ``n_tokens`` (steps read).
    """
    result = {"baseline_mse": BASELINE_MSE}
    n_sequences = n_tokens = 0
    for T, est in fitted.items():
        X = getattr(splits.conditions[T], split).X
        target = np.array([x[-1, 0] for x in X])
        mse = float(np.mean((_answers(est, X) - target) ** 2))
        key = condition_key("T", T)
        result[f"mse@{key}"] = mse
        result[f"mse_ratio@{key}"] = mse / BASELINE_MSE
        result[f"linear_mse_ratio@{key}"] = linear_mse_ratio(T)
        n_sequences += len(X)
        n_tokens += sum(len(x) for x in X)
    with_longest(result, "mse_ratio", "T", [c for c, _ in fitted.items()])
    result.update(n_sequences=n_sequences, n_tokens=n_tokens)
    return result


def adding_sweep(estimator, lengths=(10, 50, 100), n_sequences=1000, n_test=None, random_state=0):
    """Run the adding probe without the harness: generate, fit one clone per ``T``, score.

    Parameters
    ----------
    estimator : estimator
        An unfitted continuous density with ``predict_next_moments``.
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
    >>> from seqbench.models import Kalman
    >>> from seqbench.tasks.probes.adding import adding_sweep
    >>> res = adding_sweep(Kalman(state_dim=2, n_iter=5), lengths=(10, 50), n_sequences=200)
    >>> res["baseline_mse"]
    0.16666666666666666
    >>> sorted(k for k in res if k.startswith("mse_ratio"))
    ['mse_ratio@T=10', 'mse_ratio@T=50']
    """
    splits = adding_problem(lengths=lengths, n_sequences=n_sequences, n_test=n_test, seed=random_state)
    return evaluate(fit(estimator, splits), splits)
