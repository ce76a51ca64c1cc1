"""EM (Baum-Welch) for the HMM: seqbench's own batched categorical EM, hmmlearn for continuous emissions.

Categorical EM runs on length buckets of padded sequences (one array
operation per time step for a whole bucket, see :mod:`._hmm_inference`).
Its iterations are hmmlearn's maximum-likelihood updates exactly (same
initial parameters give the same parameters after ``k`` iterations and the
same log-likelihoods): iteration ``k`` computes the expected counts under
``theta_k``, records ``log p(X | theta_k)`` in the history and sets
``theta_{k+1}`` to the normalised counts (an all-zero row stays zero, as
in hmmlearn). EM stops after ``n_iter`` iterations or when the
log-likelihood gains less than ``tol``; every EM step is a maximum
likelihood step, so the history never decreases.

Pseudocounts are applied once, at the end: one more E-step under the final
maximum-likelihood parameters gives their log-likelihood (the value
restarts are compared on) and the expected counts ``n``, and the fitted
parameters are ``(n + a) / (sum n + size a)`` row by row -- so that a
symbol never seen in a state, a state never left (only seen at sequence
ends) or never visited keeps finite, non-NaN probabilities.

Engine: the batched E-step pays a fixed Python cost per time step of a
bucket, which the sequences of the bucket share. When they are few (the
buckets average fewer than :data:`NARROW` sequences side by side -- e.g. one
long character stream), hmmlearn's compiled per-sequence "scaling" E-step
is faster and computes the same counts, so ``engine="auto"`` uses it there
(the choice never changes the result beyond rounding: a test holds the two
engines equal to 1e-8).

Semi-supervised EM is the same algorithm with the emission of every state
but ``k`` set to 0 at a position whose tag ``k`` is known: it maximises
``p(X, known tags)`` and starts from the counts of the labelled positions.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .._validation import to_concat
from ..exceptions import ConvergenceWarning, DegenerateSolutionWarning
from . import _hmm_inference as inf
from ._hmm_emissions import TableSource, bucket_sources, categorical_tables, from_hmmlearn, make_hmmlearn

NARROW = 32  # below this many sequences per bucket step on average, hmmlearn's E-step is faster

__all__ = ["CategoricalData", "Stats", "estep", "normalise", "smooth", "categorical_em", "random_init",
           "labelled_counts", "labelled_init", "fit_continuous", "continuous_stats", "best_of_restarts", "warn_fit_quality"]


@dataclass
class Stats:
    """Expected counts of one E-step.

    Attributes
    ----------
    start : ndarray of shape (K,)
    trans : ndarray of shape (K, K)
    obs : ndarray of shape (K, V) or None
        Expected (state, symbol) counts (categorical only).
    occupancy : ndarray of shape (K,)
        Expected visits of each state over all positions.
    log_likelihood : float
    """

    start: np.ndarray
    trans: np.ndarray
    obs: np.ndarray | None
    occupancy: np.ndarray
    log_likelihood: float


class CategoricalData:
    """Training sequences in length buckets, time-major, with the one-hot maps that count emissions.

    Parameters
    ----------
    X : list of ndarray of int64, shape (n_steps_i,)
    vocab_size : int
    n_states : int
    known : list of ndarray of int64, shape (n_steps_i,) or None
        Known states, -1 where unknown.
    engine : {"auto", "batched", "hmmlearn"}
        Who runs the E-step (see the module docstring); semi-supervised
        data (``known``) always use the batched one.
    """

    def __init__(self, X, vocab_size, n_states, known=None, engine="auto"):
        self.vocab_size = vocab_size
        pad_id = vocab_size + 1  # the column layout of categorical_tables
        lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
        self.buckets = []
        for idx in inf.length_buckets(lengths, n_states):
            layout = inf.Layout(lengths[idx])
            tokens = layout.pad(np.concatenate([X[i] for i in idx]), pad_id)
            tags = None if known is None else layout.pad(np.concatenate([known[i] for i in idx]), -1)
            n_cells = tokens.size
            onehot = sparse.csr_matrix((np.ones(n_cells), (tokens.ravel(), np.arange(n_cells))),
                                       shape=(vocab_size + 2, n_cells))
            self.buckets.append((layout, tokens, tags, onehot))
        steps = sum(tokens.shape[0] for _, tokens, _, _ in self.buckets)  # Python loop iterations per pass
        if engine not in ("auto", "batched", "hmmlearn"):
            raise ValueError(f"engine must be 'auto', 'batched' or 'hmmlearn', got {engine!r}")
        narrow = engine == "hmmlearn" or (engine == "auto" and lengths.sum() < NARROW * steps)
        self.hmmlearn = None
        if narrow and known is None:
            X_cat, lens = to_concat(X)
            from hmmlearn.hmm import CategoricalHMM

            model = CategoricalHMM(n_components=n_states, n_features=vocab_size, implementation="scaling",
                                   init_params="", params="ste")
            self.hmmlearn = (model, X_cat.reshape(-1, 1), lens)


def _hmmlearn_estep(data, startprob, transmat, emissionprob):
    """hmmlearn's compiled E-step ("scaling") under the given parameters, as :class:`Stats`."""
    model, X_cat, lengths = data.hmmlearn
    model.startprob_, model.transmat_, model.emissionprob_ = startprob, transmat, emissionprob
    stats, log_lik = model._do_estep(X_cat, lengths)  # the counts hmmlearn's own fit accumulates
    return Stats(stats["start"], stats["trans"], stats["obs"], stats["obs"].sum(axis=1), float(log_lik))


def _expected_counts(pieces, startprob, transmat, n_ids=None):
    """Forward-backward over buckets ``(layout, source, onehot)``; the summed expected counts.

    ``onehot`` (``(n_ids, T B)`` sparse, categorical) maps the posteriors to
    (id, state) counts; None skips them.
    """
    n_states = len(startprob)
    start, trans, occupancy = np.zeros(n_states), np.zeros((n_states, n_states)), np.zeros(n_states)
    obs = None if n_ids is None else np.zeros((n_ids, n_states))
    log_lik = 0.0
    for layout, source, onehot in pieces:
        scale, alpha, impossible = inf.forward(startprob, transmat, source, store=True)
        gamma, xi = inf.backward(transmat, source, scale, alpha, layout.valid, impossible, counts=True)
        flat = gamma.reshape(-1, n_states)
        start += gamma[0].sum(axis=0)
        trans += xi
        occupancy += flat.sum(axis=0)
        if onehot is not None:
            obs += onehot @ flat
        log_c = np.log(scale) if source.shift is None else np.log(scale) + source.shift
        log_lik += -np.inf if impossible else float(log_c.sum())
    return start, trans, obs, occupancy, log_lik


def estep(data, startprob, transmat, emissionprob):
    """Expected counts and log-likelihood of categorical data under the given parameters.

    Returns
    -------
    Stats
    """
    if data.hmmlearn is not None:
        return _hmmlearn_estep(data, startprob, transmat, emissionprob)
    table, log_table = categorical_tables(emissionprob)
    pieces = ((layout, TableSource(table, log_table, tokens, known=tags), onehot)
              for layout, tokens, tags, onehot in data.buckets)
    start, trans, obs, occupancy, log_lik = _expected_counts(pieces, startprob, transmat, data.vocab_size + 2)
    return Stats(start, trans, obs[: data.vocab_size].T, occupancy, log_lik)


def normalise(counts, pseudocount=0.0):
    """Rows of ``(counts + pseudocount) / row total``; a zero row stays zero (hmmlearn's ``normalize``)."""
    counts = counts + pseudocount
    total = counts.sum(axis=-1, keepdims=True)
    return counts / np.where(total == 0, 1.0, total)


def smooth(stats, transition_pseudocount, emission_pseudocount=None):
    """Final parameters from expected counts with pseudocounts (see the module docstring).

    Returns
    -------
    dict
        ``startprob``, ``transmat`` and, with emission counts,
        ``emissionprob`` and ``unseen`` (the probability of a symbol with
        zero count, per state: ``a / (n_k + V a)``).
    """
    out = {"startprob": normalise(stats.start, transition_pseudocount),
           "transmat": normalise(stats.trans, transition_pseudocount)}
    if stats.obs is not None:
        a, n_symbols = emission_pseudocount, stats.obs.shape[1]
        out["emissionprob"] = normalise(stats.obs, a)
        out["unseen"] = a / (stats.obs.sum(axis=1) + n_symbols * a)
    return out


@dataclass
class EMResult:
    """Outcome of one EM run: final maximum-likelihood parameters, their counts, the history."""

    params: dict
    stats: Stats
    history: list
    n_iter: int
    converged: bool


def categorical_em(data, params, n_iter, tol):
    """Maximum-likelihood EM from the given parameters (hmmlearn's iterations, see the module docstring).

    Parameters
    ----------
    data : CategoricalData
    params : dict
        ``startprob`` (K,), ``transmat`` (K, K), ``emissionprob`` (K, V).
    n_iter : int
    tol : float

    Returns
    -------
    EMResult
        ``stats`` are the expected counts under the final parameters.
    """
    start, trans, emit = params["startprob"], params["transmat"], params["emissionprob"]
    history, converged = [], False
    for _ in range(n_iter):
        stats = estep(data, start, trans, emit)
        start, trans, emit = normalise(stats.start), normalise(stats.trans), normalise(stats.obs)
        history.append(stats.log_likelihood)
        if len(history) >= 2 and history[-1] - history[-2] < tol:
            converged = True
            break
    final = estep(data, start, trans, emit)
    return EMResult({"startprob": start, "transmat": trans, "emissionprob": emit}, final, history,
                    len(history), converged)


def random_init(rng, n_states, unigram):
    """Random starting parameters: Dirichlet(1) start and transition rows, perturbed unigram emissions.

    Each state's emission row is the training unigram distribution (add-one
    smoothed) times independent Uniform(0.5, 1.5) factors, renormalised:
    every symbol starts with a probability close to its frequency, and the
    states differ.
    """
    startprob = rng.dirichlet(np.ones(n_states))
    transmat = rng.dirichlet(np.ones(n_states), size=n_states)
    emit = (unigram + 1.0) * rng.uniform(0.5, 1.5, size=(n_states, len(unigram)))
    return {"startprob": startprob, "transmat": transmat, "emissionprob": normalise(emit)}


def labelled_counts(X, known, n_states, vocab_size):
    """Start, transition and emission counts at the labelled positions (``known`` -1: unlabelled).

    Returns
    -------
    start : ndarray of shape (K,)
        First tags of the sequences.
    trans : ndarray of shape (K, K)
        Pairs of consecutive positions inside a sequence, both labelled.
    obs : ndarray of shape (K, V)
        (tag, symbol) pairs.
    """
    x, k = np.concatenate(X).astype(np.int64), np.concatenate(known).astype(np.int64)
    first = np.zeros(len(k), dtype=bool)
    first[np.cumsum([0] + [len(y) for y in known[:-1]])] = True
    inner = ~first[1:] & (k[:-1] >= 0) & (k[1:] >= 0)  # (t-1, t) inside a sequence, both labelled
    lab = k >= 0

    def counts(ids, size):
        return np.bincount(ids, minlength=size).astype(float)
    start = counts(k[first & lab], n_states)
    trans = counts(k[:-1][inner] * n_states + k[1:][inner], n_states * n_states).reshape(n_states, n_states)
    obs = counts(k[lab] * vocab_size + x[lab], n_states * vocab_size).reshape(n_states, vocab_size)
    return start, trans, obs


def labelled_init(X, known, n_states, vocab_size, rng, pseudocount=1.0):
    """Starting parameters from the counts at labelled positions, add-``pseudocount`` smoothed.

    A state with no labelled position starts from ``random_init``'s rows
    (its counts are all pseudocount).
    """
    start, trans, obs = labelled_counts(X, known, n_states, vocab_size)
    x = np.concatenate(X)
    rand = random_init(rng, n_states, np.bincount(x, minlength=vocab_size).astype(float))
    unlabelled = obs.sum(axis=1) == 0
    emit = normalise(obs + pseudocount)
    emit[unlabelled] = rand["emissionprob"][unlabelled]
    return {"startprob": normalise(start + pseudocount), "transmat": normalise(trans + pseudocount),
            "emissionprob": emit}


# ----------------------------------------------------------------------------- continuous
def continuous_stats(family, params, X, n_states):
    """Start and transition counts and log-likelihood under continuous emissions (own forward-backward)."""
    pieces = ((layout, source, None) for _, layout, source in bucket_sources(family, params, n_states, X))
    start, trans, _, occupancy, log_lik = _expected_counts(pieces, params["startprob"], params["transmat"])
    return Stats(start, trans, None, occupancy, log_lik)


def fit_continuous(family, X, X_concat, lengths, n_states, covariance_type, n_mix, n_iter, tol, seed):
    """One hmmlearn EM run for Gaussian or mixture emissions.

    Returns
    -------
    EMResult
        ``params`` hold hmmlearn's final parameters (covariances in full form).
    """
    model = make_hmmlearn(family, n_states, covariance_type, n_mix, n_iter, tol, seed)
    model.fit(X_concat, lengths)
    params = {"startprob": model.startprob_.copy(), "transmat": model.transmat_.copy(),
              **from_hmmlearn(family, model)}
    history = [float(v) for v in model.monitor_.history]
    stats = continuous_stats(family, params, X, n_states)
    converged = len(history) >= 2 and history[-1] - history[-2] < tol  # hmmlearn's test, without "ran out"
    return EMResult(params, stats, history, len(history), converged)


# ----------------------------------------------------------------------------- restarts
def best_of_restarts(family, X, width, n_states, seeds, n_iter, tol, covariance_type="diag", n_mix=1):
    """One EM run per seed; the run of the highest final log-likelihood (the first of equals).

    Parameters
    ----------
    family : {"categorical", "gaussian", "gmm"}
    X : list of ndarray
        Validated sequences.
    width : int
        Vocabulary size (categorical) or dimension.
    seeds : list of int
        Seed of each restart's initialisation.

    Returns
    -------
    EMResult
    """
    runs = []
    if family == "categorical":
        data = CategoricalData(X, width, n_states)
        unigram = np.bincount(np.concatenate(X), minlength=width).astype(float)
        for seed in seeds:
            runs.append(categorical_em(data, random_init(np.random.default_rng(seed), n_states, unigram), n_iter, tol))
    else:
        X_cat, lengths = to_concat(X)
        for seed in seeds:
            runs.append(fit_continuous(family, X, X_cat, lengths, n_states, covariance_type, n_mix, n_iter, tol, seed))
    return max(runs, key=lambda r: r.stats.log_likelihood)


def warn_fit_quality(run, n_iter, tol, stacklevel=5):
    """ConvergenceWarning when EM stopped at ``n_iter``; DegenerateSolutionWarning for unused states."""
    if not run.converged:
        warnings.warn(f"EM did not converge in n_iter={n_iter} iterations (tol={tol}); raise n_iter or tol",
                      ConvergenceWarning, stacklevel=stacklevel)
    stats = run.stats
    tiny = 1e-8 * max(1.0, stats.occupancy.sum())
    unused = np.flatnonzero((stats.occupancy <= tiny) | (stats.trans.sum(axis=1) <= tiny))
    if unused.size:
        warnings.warn(f"states {unused.tolist()} were never visited or never left in training; their start, "
                      f"transition (and emission) probabilities come from the pseudocounts alone",
                      DegenerateSolutionWarning, stacklevel=stacklevel)
