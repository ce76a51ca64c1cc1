"""The mutual-information decay probe: how fast does ``I(X_t; X_{t+d})`` fall in the model's own samples?

A model that keeps information for ``k`` steps generates text whose symbols
``d > k`` apart are (nearly) independent. Finite-state models (n-grams,
HMMs) give an exponential decay whatever the data; a critical source (a
grammar with nesting, natural text) has a power law. The probe fits the model,
draws long samples from it (budgeted by total tokens), estimates their MI
curve (:mod:`._mi_estimate`: bias-corrected, bootstrap intervals, shuffled
baseline) and fits both laws (:mod:`._curvefit`); it does the same for the
test split itself (the target curve, whatever the model) and, when the
dataset's oracle is a categorical HMM, gives its exact curve.

Metrics (flat; ``D`` the distances, log-spaced from 1)
--------------------------------------------------------
``mi@d=D``, ``mi_lo@d=D``, ``mi_hi@d=D``
    The model samples' MI (nats) and its bootstrap interval.
``power_law_better``
    1.0 when the power law fits better than the exponential, else 0.0.
``decay_length``, ``power_exponent``, ``r2_exponential``, ``r2_power``
    ``xi`` of ``a exp(-d/xi)``, ``alpha`` of ``a d^-alpha`` and the R^2 of
    each fit in log space (left out when fewer than 3 points stand above the
    noise floor).
``data_...``
    The same for the test split.
``oracle_mi@d=D``
    The exact stationary MI of an HMM oracle (synthetic data).
``n_tokens``, ``n_data_tokens``, ``n_fit_points``, ``n_data_fit_points``
    Tokens analysed and points fitted.

Distances and sample sizes follow the data: the largest distance is
``min(MAX_DISTANCE, longest test sequence // 2)`` (so that at least half of
each longest sequence's tokens start a pair at every distance; a handful of
pairs would give a wild estimate); the model draws sequences of
``min(longest, 2 * max distance)`` tokens, ``SAMPLE_TOKENS`` in all. On a
language-modelling set (kind "lm") the test sentences are joined in corpus
order into one stream (each ends in ``<eos>``), the running text the models'
samples continue past ``<eos>`` like.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..._validation import check_sequences
from ...exceptions import ConfigError, NumericalError
from ...models._hmm_analysis import mutual_information
from ._curvefit import fit_decay
from ._mi_estimate import check_distances, log_distances, mutual_information_curve
from ._sweep import condition_key

__all__ = ["NAME", "applies", "fit", "evaluate", "mi_decay"]

NAME = "mi"
KINDS = ("lm", "synthetic", "probe-mi")
MAX_DISTANCE = 1000
N_DISTANCES = 30
SAMPLE_TOKENS = 200_000
N_BOOTSTRAP = 200
CORRECTION = "miller-madow"
RANDOM_STATE = 0  # evaluation randomness is fixed: the metrics vary only with the fitted model
_FIT_KEYS = ("decay_length", "power_exponent", "r2_exponential", "r2_power")


def applies(tags, splits) -> str | None:
    """None when the probe applies, else the reason it does not."""
    kind = splits.info.get("kind")
    if kind not in KINDS:
        return f"dataset kind {kind!r} is not a set of discrete sequences (the mi probe needs one of {KINDS})"
    if splits.info.get("input_kind") == "continuous":
        return "dataset is continuous"
    if tags.input_kind not in ("discrete", "both") or not tags.density:
        return "model is not a discrete density"
    if not tags.sampler:
        return "model cannot sample (the mi probe measures its samples)"
    return None


def fit(est, splits):
    return est.fit(splits.train.X)


# ------------------------------------------------------------------ entry point
def _sample(est, distances, sample_tokens, sample_length, rng):
    """Draw the model's sequences: ``sample_tokens // sample_length`` of ``sample_length`` tokens."""
    for name, value in (("sample_tokens", sample_tokens), ("sample_length", sample_length)):
        if (value is not None or name == "sample_tokens") and (
                isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 2):
            raise ConfigError(f"{name} must be an integer >= 2, got {value!r}")
    length = 2 * int(distances.max()) if sample_length is None else int(sample_length)
    if length <= distances.max():
        raise ConfigError(f"sample_length = {length} leaves no pairs at distance {int(distances.max())}; "
                          f"it must exceed the largest distance")
    if length > sample_tokens:
        raise ConfigError(f"one sequence of {length} tokens exceeds the budget sample_tokens = {sample_tokens}")
    return est.sample(sample_tokens // length, length, random_state=int(rng.integers(2**31 - 1)))


def mi_decay(X_or_estimator, distances=None, *, sample_tokens=SAMPLE_TOKENS, sample_length=None, n_symbols=None,
             correction=CORRECTION, n_bootstrap=N_BOOTSTRAP, shuffle_baseline=True, random_state=None, prefix=""):
    """MI curve of sequences, or of a fitted model's samples, and which decay law it follows.

    Parameters
    ----------
    X_or_estimator : list of ndarray of shape (n_steps_i,), or a fitted estimator
        Token-id sequences, or a model with ``sample(n_sequences, length,
        random_state=)`` whose samples are analysed.
    distances : array-like of int or None
        Distances ``d >= 1``; default ``log_distances(1000, 30)`` for a
        model, and up to ``min(1000, longest // 2)`` for sequences.
    sample_tokens : int
        Model only: total tokens drawn (the cost budget).
    sample_length : int or None
        Model only: tokens per drawn sequence; default twice the largest distance.
    n_symbols, correction, n_bootstrap, shuffle_baseline
        As in :func:`~seqbench.tasks.probes._mi_estimate.mutual_information_curve`.
    random_state : None, int or numpy Generator
        Seeds the sampling, the bootstrap and the shuffle.
    prefix : str
        Put before every metric name (``"data_"`` in the task).

    Returns
    -------
    dict
        ``mi@d=D``, ``mi_lo@d=D``, ``mi_hi@d=D`` (intervals only with
        bootstrap), ``power_law_better`` (1.0 / 0.0), ``decay_length``,
        ``power_exponent``, ``r2_exponential``, ``r2_power`` (None when fewer
        than 3 points stand above the noise floor), and the counts
        ``n_tokens``, ``n_fit_points``; every name with ``prefix`` (counts as
        ``n_<prefix>...``).

    Examples
    --------
    A Markov chain that flips a bit with probability 0.1 forgets
    exponentially: its correlation is ``0.8^d`` and ``I(d)`` tends to
    ``0.8^(2d) / 2``, a decay length ``-1 / (2 log 0.8) = 2.24`` far out:

    >>> rng = np.random.default_rng(0)
    >>> X = [np.cumsum(rng.random(400) < 0.1) % 2 for _ in range(100)]
    >>> out = mi_decay(X, distances=[1, 2, 3, 4, 6, 8], n_bootstrap=50, random_state=0)
    >>> out["power_law_better"], round(out["decay_length"], 1)
    (0.0, 2.1)

    With a fitted model, its samples are analysed:

    >>> from seqbench.models import NGram
    >>> lm = NGram(order=2).fit(X)
    >>> sorted(mi_decay(lm, distances=[1, 4], sample_tokens=4000, n_bootstrap=0, random_state=0))[:2]
    ['decay_length', 'mi@d=1']
    """
    rng = np.random.default_rng(random_state)
    if callable(getattr(X_or_estimator, "sample", None)):
        d = check_distances(log_distances(MAX_DISTANCE, N_DISTANCES) if distances is None else distances)
        X = _sample(X_or_estimator, d, sample_tokens, sample_length, rng)
    else:
        X = check_sequences(X_or_estimator, kind="discrete", vocab_size=n_symbols)
        if distances is None:
            distances = log_distances(max(1, min(MAX_DISTANCE, max(len(x) for x in X) // 2)), N_DISTANCES)
        d = check_distances(distances)
    curve = mutual_information_curve(X, d, n_symbols=n_symbols, correction=correction, n_bootstrap=n_bootstrap,
                                     shuffle_baseline=shuffle_baseline, random_state=rng)
    out = {}
    for i, di in enumerate(curve.d):
        key = condition_key("d", int(di))
        out[f"{prefix}mi@{key}"] = float(curve.mi[i])
        if curve.lo is not None:
            out[f"{prefix}mi_lo@{key}"], out[f"{prefix}mi_hi@{key}"] = float(curve.lo[i]), float(curve.hi[i])
    try:
        law = fit_decay(curve.d, curve.mi, curve.noise_floor)
    except NumericalError:  # too few points above the noise floor: the law is undefined
        law = None
    out[f"{prefix}power_law_better"] = None if law is None else float(law.power_law_better)
    out.update({f"{prefix}{k}": None if law is None else float(getattr(law, k)) for k in _FIT_KEYS})
    out[f"n_{prefix}tokens"] = int(sum(len(x) for x in X))
    out[f"n_{prefix}fit_points"] = 0 if law is None else law.n_points
    return out


# --------------------------------------------------------------------- the task
def _data_sequences(splits, split):
    """The split's sequences; a language-modelling set's sentences joined into one stream."""
    X = getattr(splits, split).X
    if splits.info.get("kind") == "lm" and len(X) > 1:
        return [np.concatenate(X)]
    return list(X)


def _oracle_curve(oracle, distances):
    """Exact stationary MI of a categorical-HMM oracle at ``distances``; None for other oracles
    (or a chain without a unique stationary distribution)."""
    transmat, emissionprob = getattr(oracle, "transmat_", None), getattr(oracle, "emissionprob_", None)
    if transmat is None or emissionprob is None:
        return None
    try:
        return mutual_information(np.asarray(transmat), np.asarray(emissionprob), distances)
    except NumericalError:  # several closed classes: no unique stationary curve, the metric is undefined
        return None


def evaluate(est, splits, split="test"):
    """MI curves of the model's samples, of the split and (HMM oracle) the exact one; flat metrics."""
    X = _data_sequences(splits, split)
    longest = max(len(x) for x in X)
    if longest < 2:
        raise ConfigError(f"the {split} split's longest sequence has {longest} token(s); the mi probe needs pairs")
    max_d = max(1, min(MAX_DISTANCE, longest // 2))  # every distance keeps half of each sequence as pairs
    distances = log_distances(max_d, N_DISTANCES)
    rng = np.random.default_rng(RANDOM_STATE)
    result = mi_decay(est, distances, sample_tokens=SAMPLE_TOKENS, sample_length=min(longest, 2 * max_d),
                      random_state=rng)
    result.update(mi_decay(X, distances, random_state=rng, prefix="data_"))
    exact = _oracle_curve(splits.oracle, distances)
    if exact is not None:
        result.update({f"oracle_mi@{condition_key('d', int(d))}": float(v) for d, v in zip(distances, exact)})
    return result
