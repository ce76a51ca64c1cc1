"""Hidden Markov models: hmmlearn for EM training, seqbench's own batched inference.

This first version covers discrete (categorical) emissions and unsupervised
training (``fit(X)``). Emission families plug in through three private
methods -- ``_make_hmmlearn`` (the EM trainer), ``_log_emission_fn`` (per-position
log p(x_t | state)) and ``_draw_emissions`` (sampling) -- and the transition
part (start, transitions, forward-backward, Viterbi) is shared; supervised
and semi-supervised training are later additions to ``fit``.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
from hmmlearn.hmm import CategoricalHMM

from .._validation import pad_batch, to_concat
from ..base import SequenceEstimator, Tags
from ..exceptions import ConfigError, ConvergenceWarning, DegenerateSolutionWarning, ImpossibleSequenceWarning
from ..registry import register
from . import _hmm_inference as inf

__all__ = ["HMM"]

_EMISSIONS = ("categorical",)
_ROW_SUM_TOL = 1e-8


def _as_generator(random_state):
    """A numpy Generator from None, an int, a SeedSequence, a Generator or a legacy RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    return np.random.default_rng(random_state)


def _check_stochastic(name, arr, shape):
    """Validate a probability vector or row-stochastic matrix; return it as float64."""
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} could not be read as a float array: {exc}") from None
    if arr.shape != shape:
        raise ConfigError(f"{name} has shape {arr.shape}; expected {shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ConfigError(f"{name}{list(where)} = {arr[where]!r}; expected a finite probability >= 0")
    sums = np.atleast_1d(arr.sum(axis=-1))
    off = np.abs(sums - 1.0) > _ROW_SUM_TOL
    if off.any():
        r = int(np.flatnonzero(off)[0])
        row = f"{name}[{r}]" if arr.ndim == 2 else name
        raise ConfigError(f"{row} sums to {sums[r]!r}; expected 1 (a probability distribution)")
    return arr


@register("hmm")
class HMM(SequenceEstimator):
    """Hidden Markov model with categorical emissions, trained by EM (Baum-Welch).

    Training runs hmmlearn's ``CategoricalHMM`` (scaled forward-backward);
    scoring, decoding, posteriors and sampling are seqbench's own batched
    float64 algorithms (sequences of similar length share one array
    operation per time step).

    Parameters
    ----------
    n_states : int, default=4
        Number of hidden states.
    emission : {"categorical"}, default="categorical"
        Emission family (only categorical is supported so far).
    n_iter : int, default=100
        Maximum EM iterations per restart.
    tol : float, default=1e-4
        EM stops when the training log-likelihood gains less than this.
    n_init : int, default=1
        EM restarts from random initialisations; the best training
        log-likelihood is kept.
    emission_pseudocount : float, default=1e-3
        Added to every expected (state, symbol) count after EM, so that
        symbols unseen in a state (or in training) keep a finite
        log-probability: ``B[k, v] = (n_k B_ml[k, v] + a) / (n_k + V a)``
        with ``n_k`` the expected occupancy of state ``k``.
    random_state : int, numpy Generator or None
        Seeds the EM initialisations and, by default, :meth:`sample`.

    Attributes
    ----------
    n_states_ : int
    vocab_size_ : int
        Symbols ``0 .. vocab_size_ - 1`` are in the model.
    startprob_ : ndarray of shape (n_states,)
    transmat_ : ndarray of shape (n_states, n_states)
    emissionprob_ : ndarray of shape (n_states, vocab_size_)
    unseen_emissionprob_ : ndarray of shape (n_states,) or None
        Emission probability given to an id ``>= vocab_size_`` at scoring
        time: the pseudocount floor ``a / (n_k + V a)`` of each state. None
        for a model built by :meth:`from_params`, which rejects such ids.
    history_ : list of float
        Training log-likelihood (nats) at each EM iteration of the kept restart.
    log_likelihood_ : float
        Training log-likelihood of the kept restart's final (unsmoothed) parameters.
    n_iter_ : int
    converged_ : bool
    fit_mode_ : "density"

    Notes
    -----
    A state never left or never visited in training (an all-zero row of
    transitions or expected emissions after EM) gets a uniform row, with a
    :class:`DegenerateSolutionWarning`.
    """

    def __init__(
        self,
        n_states=4,
        emission="categorical",
        n_iter=100,
        tol=1e-4,
        n_init=1,
        emission_pseudocount=1e-3,
        random_state=None,
    ):
        self.n_states = n_states
        self.emission = emission
        self.n_iter = n_iter
        self.tol = tol
        self.n_init = n_init
        self.emission_pseudocount = emission_pseudocount
        self.random_state = random_state

    def __seqbench_tags__(self):
        return Tags(input_kind="discrete", density=True, tagger=False, hidden_states=True, sampler=True)

    @classmethod
    def get_test_params(cls):
        return [{"n_states": 2, "n_iter": 5}]

    # ------------------------------------------------------------------ params
    def _check_params(self):
        if self.emission not in _EMISSIONS:
            raise ConfigError(
                f"emission={self.emission!r} is not yet supported; supported: {', '.join(map(repr, _EMISSIONS))}"
            )
        for name in ("n_states", "n_iter", "n_init"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.tol, numbers.Real) or not np.isfinite(self.tol) or self.tol < 0:
            raise ConfigError(f"tol must be a finite number >= 0, got {self.tol!r}")
        a = self.emission_pseudocount
        if not isinstance(a, numbers.Real) or not np.isfinite(a) or a <= 0:
            raise ConfigError(f"emission_pseudocount must be a finite number > 0, got {a!r}")

    # --------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Unsupervised EM on token sequences.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)
            Token ids.
        y : None
            Supervised training is not available yet.

        Returns
        -------
        self
        """
        if y is not None:
            self._unsupported("fit(X, y) (supervised training is not available yet; use fit(X))")
        self._check_params()
        X = self._validate_fit_X(X)
        X_cat, lengths = to_concat(X)
        seeds = _as_generator(self.random_state).integers(0, 2**31 - 1, size=self.n_init)
        best, best_ll = None, -np.inf
        for seed in seeds:
            model = self._make_hmmlearn(int(seed))
            model.fit(X_cat, lengths)
            degenerate = _repair_empty_rows(model)
            ll = model.score(X_cat, lengths)
            if best is None or ll > best_ll:
                best, best_ll, best_degenerate = model, ll, degenerate
        self._set_fitted(best, X_cat, lengths)
        self.log_likelihood_ = float(best_ll)
        self._warn_fit_quality(best_degenerate)
        return self

    def _make_hmmlearn(self, seed):
        return CategoricalHMM(
            n_components=self.n_states,
            n_features=self.vocab_size_,
            n_iter=self.n_iter,
            tol=self.tol,
            implementation="scaling",
            random_state=seed,
        )

    def _set_fitted(self, model, X_cat, lengths):
        """Copy the kept hmmlearn model's parameters; smooth the emissions (see ``emission_pseudocount``)."""
        history = [float(v) for v in model.monitor_.history]
        self.history_ = history
        self.n_iter_ = int(model.monitor_.iter)
        self.converged_ = len(history) >= 2 and history[-1] - history[-2] < self.tol
        self.n_states_ = self.n_states
        self.startprob_ = model.startprob_.copy()
        self.transmat_ = model.transmat_.copy()
        occupancy = model.predict_proba(X_cat, lengths).sum(axis=0)  # (K,) expected visits
        a, V = self.emission_pseudocount, self.vocab_size_
        denom = occupancy + V * a
        self.emissionprob_ = (model.emissionprob_ * occupancy[:, None] + a) / denom[:, None]
        self.unseen_emissionprob_ = a / denom
        self.fit_mode_ = "density"

    def _warn_fit_quality(self, degenerate):
        if not self.converged_:
            warnings.warn(
                f"EM did not converge in n_iter={self.n_iter} iterations (tol={self.tol}); "
                f"raise n_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )
        if degenerate:
            warnings.warn(
                f"states {degenerate} were never left or never visited in training; "
                f"their empty transition or emission rows are set to uniform",
                DegenerateSolutionWarning,
                stacklevel=3,
            )

    @classmethod
    def from_params(cls, startprob, transmat, emissionprob):
        """A fitted HMM with exactly the given parameters (e.g. the true model of synthetic data).

        Parameters
        ----------
        startprob : array-like of shape (n_states,)
        transmat : array-like of shape (n_states, n_states)
            Rows sum to 1.
        emissionprob : array-like of shape (n_states, n_symbols)
            Rows sum to 1.

        Returns
        -------
        HMM
            Fitted (``fit_mode_ == "density"``); ids ``>= n_symbols`` raise
            :class:`UnknownSymbolError` at scoring time.

        Raises
        ------
        ConfigError
            Wrong shapes, negative or non-finite entries, rows not summing to 1.
        """
        start = np.asarray(startprob)
        if start.ndim != 1 or start.shape[0] < 1:
            raise ConfigError(f"startprob has shape {start.shape}; expected (n_states,)")
        K = start.shape[0]
        emit = np.asarray(emissionprob)
        if emit.ndim != 2 or emit.shape[0] != K or emit.shape[1] < 1:
            raise ConfigError(f"emissionprob has shape {emit.shape}; expected ({K}, n_symbols)")
        est = cls(n_states=K)
        est.startprob_ = _check_stochastic("startprob", start, (K,))
        est.transmat_ = _check_stochastic("transmat", transmat, (K, K))
        est.emissionprob_ = _check_stochastic("emissionprob", emit, emit.shape)
        est.n_states_ = K
        est.vocab_size_ = emit.shape[1]
        est.unseen_emissionprob_ = None
        est.history_ = []
        est.fit_mode_ = "density"
        return est

    # ---------------------------------------------------------------- emissions
    def _log_emission_fn(self):
        """A function (padded batch (B, T), mask (B, T)) -> log p(x_t | state) (B, T, K), 0 off the mask.

        Column ``vocab_size_`` of the table holds the unseen-symbol floor
        (the id that ``_validate_X`` gives out-of-range ids).
        """
        table = self.emissionprob_
        if self.unseen_emissionprob_ is not None:
            table = np.hstack([table, self.unseen_emissionprob_[:, None]])
        with np.errstate(divide="ignore"):
            log_table = np.log(table.T)  # (V [+ 1], K)

        def log_emission(batch, mask):
            log_emit = log_table[batch]
            log_emit[~mask] = 0.0
            return log_emit

        return log_emission

    def _validate_scoring_X(self, X):
        oov = self.vocab_size_ if self.unseen_emissionprob_ is not None else None
        return self._validate_X(X, oov_id=oov)

    # ------------------------------------------------------------ batched core
    def _map_buckets(self, X, run):
        """Apply ``run(log_emit, lengths)`` to length buckets; reassemble per-sequence results.

        ``run`` returns ``(values (B, T, ...), impossible [(row, step)])``;
        the result is ``values[row, :length]`` for each input sequence, in input order.
        """
        self._check_fitted()
        X = self._validate_scoring_X(X)
        lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
        out = [None] * len(X)
        impossible = []
        log_emission = self._log_emission_fn()
        for idx in inf.length_buckets(lengths, self.n_states_):
            batch, blens = pad_batch([X[i] for i in idx])
            mask = np.arange(batch.shape[1])[None, :] < blens[:, None]
            values, bad = run(log_emission(batch, mask), blens)
            impossible.extend((int(idx[b]), t) for b, t in bad)
            for b, i in enumerate(idx):
                out[i] = values[b, : blens[b]]
        if impossible:
            _warn_impossible(impossible, X)
        return out

    def score_tokens(self, X, max_context=None):
        """log p(x_t | x_<t) in nats per position (forward algorithm).

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)
        max_context : None
            Context truncation is not supported (the HMM state summarises all history).

        Returns
        -------
        list of ndarray of shape (n_steps_i,)
            ``-inf`` (with an :class:`ImpossibleSequenceWarning`) only at a
            token the model gives probability zero.
        """
        if max_context is not None:
            self._unsupported("max_context (an HMM conditions on its whole history)")

        def run(log_emit, lengths):
            log_cond, state = inf.forward(self.startprob_, self.transmat_, log_emit)
            return log_cond, state["impossible"]

        return self._map_buckets(X, run)

    def predict_proba(self, X):
        """Posterior state marginals p(state_t | x) (forward-backward).

        Returns
        -------
        list of ndarray of shape (n_steps_i, n_states)
        """

        def run(log_emit, lengths):
            _, state = inf.forward(self.startprob_, self.transmat_, log_emit, store=True)
            return inf.posteriors(self.transmat_, state), state["impossible"]

        return self._map_buckets(X, run)

    def predict(self, X):
        """Most likely hidden state path of each sequence (Viterbi).

        Returns
        -------
        list of ndarray of int64, shape (n_steps_i,)
        """
        self._check_fitted()
        with np.errstate(divide="ignore"):
            log_start, log_trans = np.log(self.startprob_), np.log(self.transmat_)

        def run(log_emit, lengths):
            path, _, impossible = inf.viterbi(log_start, log_trans, log_emit, lengths)
            return path, impossible

        return self._map_buckets(X, run)

    # ----------------------------------------------------------------- sampling
    def sample(self, n_sequences=1, length=100, random_state=None, return_states=False):
        """Draw sequences from the model, all sequences at once, one time step at a time.

        Parameters
        ----------
        n_sequences : int
        length : int
        random_state : int, numpy Generator or None
            None uses the estimator's ``random_state``.
        return_states : bool
            Also return the hidden state paths.

        Returns
        -------
        X : list of ndarray of int64, shape (length,)
        states : list of ndarray of int64, shape (length,)
            Only with ``return_states=True``.
        """
        self._check_fitted()
        for name, value in (("n_sequences", n_sequences), ("length", length)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        rng = _as_generator(self.random_state if random_state is None else random_state)
        states = np.empty((n_sequences, length), dtype=np.int64)
        states[:, 0] = inf.CategoricalSampler(self.startprob_[None]).draw(np.zeros(n_sequences), rng)
        step = inf.CategoricalSampler(self.transmat_)
        for t in range(1, length):
            states[:, t] = step.draw(states[:, t - 1], rng)
        X = self._draw_emissions(states, rng)
        X, states = list(X), list(states)
        return (X, states) if return_states else X

    def _draw_emissions(self, states, rng):
        """Symbols for a state array (n, T) -> (n, T)."""
        return inf.CategoricalSampler(self.emissionprob_).draw(states, rng)


def _repair_empty_rows(model):
    """Give all-zero rows of an hmmlearn model's transitions or emissions a uniform distribution.

    EM leaves such rows for a state never left (only seen at sequence ends)
    or never visited. Returns the affected states (sorted list of int).
    """
    states = set()
    for name in ("transmat_", "emissionprob_"):
        rows = getattr(model, name)
        empty = rows.sum(axis=1) <= 0
        if empty.any():
            rows[empty] = 1.0 / rows.shape[1]
            states.update(np.flatnonzero(empty).tolist())
    return sorted(states)


def _warn_impossible(impossible, X):
    first = sorted(impossible)[:5]
    where = ", ".join(f"X[{i}][{t}] = {X[i][t]}" for i, t in first)
    warnings.warn(
        f"{len(impossible)} token(s) have probability zero under the model (first: {where}); "
        f"their log-probability is -inf and they are treated as missing for later steps",
        ImpossibleSequenceWarning,
        stacklevel=4,
    )
