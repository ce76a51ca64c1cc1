"""Hidden Markov models: unsupervised (EM), supervised (tagger) and semi-supervised, in one class.

- ``fit(X)``: EM (Baum-Welch). Categorical emissions run seqbench's own
  batched EM (:mod:`._hmm_em`), whose iterations equal hmmlearn's
  ``CategoricalHMM``'s; Gaussian and Gaussian-mixture emissions run
  hmmlearn's ``GaussianHMM`` / ``GMMHMM``. Pseudocounts are applied to the
  final parameters (see :mod:`._hmm_em`).
- ``fit(X, y)`` with every tag known: a supervised tagger (TnT-style, first
  or second order, suffix model for unknown words), the core in
  :mod:`._hmm_tagger`.
- ``fit(X, y)`` with ``-1`` for unknown tags: EM constrained by the known
  tags; the states are the tags.

Scoring, decoding, posteriors and sampling of the EM-trained models are
seqbench's own batched float64 algorithms (:mod:`._hmm_inference`):
sequences of similar length share one array operation per time step.
"""
from __future__ import annotations

import warnings

import numpy as np

from .._validation import as_generator, check_sequences, check_tags
from ..base import SequenceEstimator, Tags
from ..exceptions import ConfigError, ImpossibleSequenceWarning, InvalidSequenceError
from ..registry import register
from . import _hmm_analysis as analysis
from . import _hmm_em as em
from . import _hmm_inference as inf
from ._hmm_context import truncate_context
from ._hmm_emissions import COVARIANCE_TYPES, FAMILIES, draw, map_buckets, n_emission_params
from ._hmm_params import check_estimator_params, check_memory, check_model_params, is_int
from .ngram import _vocab_words

__all__ = ["HMM"]

DECODERS = ("viterbi", "posterior")
TAGGER_SMOOTHINGS = ("tnt", "additive")


@register("hmm")
class HMM(SequenceEstimator):
    """Hidden Markov model: EM density over tokens or vectors, supervised or semi-supervised tagger.

    Parameters
    ----------
    n_states : int, default=4
        Hidden states (unsupervised); at least the number of tags (semi-supervised).
    emission : {"categorical", "gaussian", "gmm"}, default="categorical"
        Token ids, or vectors ``(n_steps_i, d)`` with a Gaussian / Gaussian
        mixture per state.
    n_mix : int, default=1
        Mixture components per state (``"gmm"``).
    covariance_type : {"diag", "spherical", "full", "tied"}, default="diag"
        Covariance form trained by hmmlearn (continuous emissions).
    n_iter : int, default=100
        Maximum EM iterations per restart.
    tol : float, default=1e-4
        EM stops when the training log-likelihood gains less than this.
    n_init : int, default=1
        EM restarts from random initialisations; the best training
        log-likelihood is kept.
    emission_pseudocount, transition_pseudocount : float, default=1e-3
        Added to every expected count of the final parameters:
        ``B[k, v] = (n_kv + a) / (n_k + V a)`` and likewise for the start
        and transition rows; an id never seen in training (or ``>=
        vocab_size_``) gets ``a / (n_k + V a)``.
    order : {1, 2}, default=1
        Tagger: tag n-gram order (bigram or trigram transitions).
    decoder : {"viterbi", "posterior"}, default="viterbi"
        ``predict``: the most likely path, or the most likely state at each
        position (maximises the expected number of correct states).
    vocab : Vocab or None, default=None
        Fixes ``vocab_size_ = len(vocab)`` and gives the word strings for
        the tagger's suffix model of unknown words.
    max_suffix, rare_threshold : int, default=10
        Tagger: longest suffix and the frequency up to which a word is rare
        (its suffixes train the unknown-word model).
    tagger_smoothing : {"tnt", "additive"}, default="tnt"
        Supervised tagger (``fit(X, y)``). ``"tnt"``: Brants' TnT, deleted
        interpolation of the tag n-grams and the suffix model of unknown
        words. ``"additive"`` (``order=1`` only): relative frequencies with
        ``transition_pseudocount`` / ``emission_pseudocount`` added
        (Lidstone), as NLTK's ``HiddenMarkovModelTrainer.train_supervised``
        with ``LidstoneProbDist``; an unknown word gets ``a / (n_k + V a)``.
    random_state : int, numpy Generator or None
        Seeds the EM initialisations and, by default, :meth:`sample`.

    Attributes
    ----------
    fit_mode_ : {"density", "tagger"}
    n_states_ : int
    vocab_size_ : int (discrete) / n_features_ : int (continuous)
    startprob_ : ndarray of shape (n_states_,)
    transmat_ : ndarray of shape (n_states_, n_states_)
    emissionprob_ : ndarray of shape (n_states_, vocab_size_)
        Categorical.
    unseen_emissionprob_ : ndarray of shape (n_states_,) or None
        Probability of an id ``>= vocab_size_`` at scoring time; None for
        :meth:`from_params`, which rejects such ids.
    means_, covars_, weights_ : ndarray
        Continuous: ``(K, d)`` and ``(K, d, d)`` (Gaussian), ``(K, M, d)``,
        ``(K, M, d, d)`` and ``(K, M)`` (mixture); covariances in full form.
    history_ : list of float
        Training log-likelihood before each EM iteration of the kept restart.
    log_likelihood_ : float
        Training log-likelihood of the kept restart's final EM parameters (before pseudocounts).
    n_iter_ : int
    converged_ : bool
    n_parameters_ : int
        Free parameters, counted as hmmlearn counts them (``bic``, ``aic``); EM-trained models.
    n_tags_ : int
        Tagger modes.
    labels_ : list of ndarray of int64
        Semi-supervised: decoded tags of the training sequences, known tags clamped.
    tagger_ : HMMTaggerCore or None
        Supervised: the fitted core (scoring and decoding go to it).
    """

    def __init__(self, n_states=4, emission="categorical", n_mix=1, covariance_type="diag", n_iter=100, tol=1e-4,
                 n_init=1, emission_pseudocount=1e-3, transition_pseudocount=1e-3, order=1, decoder="viterbi",
                 vocab=None, max_suffix=10, rare_threshold=10, tagger_smoothing="tnt", random_state=None):
        self.n_states = n_states
        self.emission = emission
        self.n_mix = n_mix
        self.covariance_type = covariance_type
        self.n_iter = n_iter
        self.tol = tol
        self.n_init = n_init
        self.emission_pseudocount = emission_pseudocount
        self.transition_pseudocount = transition_pseudocount
        self.order = order
        self.decoder = decoder
        self.vocab = vocab
        self.max_suffix = max_suffix
        self.rare_threshold = rare_threshold
        self.tagger_smoothing = tagger_smoothing
        self.random_state = random_state

    def __seqbench_tags__(self):
        discrete = self.emission not in ("gaussian", "gmm")
        return Tags(input_kind="discrete" if discrete else "continuous", density=True, tagger=discrete,
                    hidden_states=True, sampler=True, max_context=True, semi_supervised=discrete,
                    uses_vocab=discrete, tagger_density=discrete)

    @classmethod
    def get_test_params(cls):
        return [{"n_states": 2, "n_iter": 5},
                {"n_states": 3, "n_iter": 3, "order": 2, "decoder": "posterior", "emission_pseudocount": 0.01}]

    # ------------------------------------------------------------------ params
    def _check_params(self):
        check_estimator_params(self, {"emission": FAMILIES, "covariance_type": COVARIANCE_TYPES,
                                      "decoder": DECODERS, "order": (1, 2),
                                      "tagger_smoothing": TAGGER_SMOOTHINGS})

    def _continuous(self):
        return self.emission in ("gaussian", "gmm")

    def _preflight(self, X, n_states):
        """Refuse impossible or oversized problems before allocating anything."""
        width = self.vocab_size_ if not self._continuous() else self.n_mix * self.n_features_ ** 2
        check_memory(n_states, width, max(len(x) for x in X), "fit")
        n_tokens = sum(len(x) for x in X)
        if n_states > n_tokens:
            raise ConfigError(f"n_states={n_states} is more than the {n_tokens} training tokens; "
                              f"use at most {n_tokens} states")

    # --------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """EM on ``X`` (``y=None``), a tagger on ``(X, y)``, semi-supervised EM when ``y`` holds -1.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,) or (n_steps_i, d)
            Token ids (categorical) or vectors (continuous emissions).
        y : list of ndarray of int of shape (n_steps_i,) or None
            Tag ids; -1 marks an unknown tag.

        Returns
        -------
        self
        """
        self._check_params()
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, name)  # a refit never keeps state of another mode
        X = self._validate_fit_X(X)
        rng = as_generator(self.random_state)
        if y is None:
            return self._fit_em(X, rng)
        if self._continuous():
            raise ConfigError(f"fit(X, y) needs emission='categorical' (token ids), not {self.emission!r}")
        y = check_tags(y, X, allow_unknown=True)
        if any((t < 0).any() for t in y):
            return self._fit_semi_supervised(X, y, rng)
        if self.tagger_smoothing == "additive":
            return self._fit_additive_tagger(X, y)
        return self._fit_tagger(X, y)

    def _fit_em(self, X, rng):
        self._preflight(X, self.n_states)
        seeds = [int(seed) for seed in rng.integers(0, 2**31 - 1, size=self.n_init)]
        width = self.n_features_ if self._continuous() else self.vocab_size_
        best = em.best_of_restarts(self.emission, X, width, self.n_states, seeds, self.n_iter, self.tol,
                                   self.covariance_type, self.n_mix)
        self._set_em_result(best, self.n_states)
        self.fit_mode_ = "density"
        return self

    def _fit_semi_supervised(self, X, y, rng):
        if self.order != 1:
            raise ConfigError(f"semi-supervised training (y with -1) needs order=1, got order={self.order}")
        n_states = max(self.n_states, max(int(t.max()) for t in y) + 1)
        self._preflight(X, n_states)
        data = em.CategoricalData(X, self.vocab_size_, n_states, known=y)
        init = em.labelled_init(X, y, n_states, self.vocab_size_, rng)
        self._set_em_result(em.categorical_em(data, init, self.n_iter, self.tol), n_states)
        self.n_tags_ = n_states
        self.fit_mode_ = "tagger"
        self.labels_ = self._decode(X, known=y)
        return self

    def _fit_tagger(self, X, y):
        from ._hmm_tagger import HMMTaggerCore  # the supervised core is a separate module

        self.n_tags_ = self.n_states_ = max(int(t.max()) for t in y) + 1
        self.tagger_ = HMMTaggerCore(self.order, self.n_tags_, self.vocab_size_, words=_vocab_words(self.vocab),
                                     max_suffix=self.max_suffix, rare_threshold=self.rare_threshold,
                                     decoder=self.decoder).fit(X, y)
        self.fit_mode_ = "tagger"
        return self

    def _fit_additive_tagger(self, X, y):
        if self.order != 1:
            raise ConfigError(f"tagger_smoothing='additive' needs order=1, got order={self.order}; "
                              f"order 2 uses tagger_smoothing='tnt'")
        n_tags = max(int(t.max()) for t in y) + 1
        self._preflight(X, n_tags)
        start, trans, obs = em.labelled_counts(X, y, n_tags, self.vocab_size_)
        stats = em.Stats(start, trans, obs, obs.sum(axis=1), float("nan"))
        final = em.smooth(stats, self.transition_pseudocount, self.emission_pseudocount)
        self.n_tags_ = self.n_states_ = n_tags
        self.tagger_ = None  # decoding uses the plain parameters below
        self.startprob_, self.transmat_ = final["startprob"], final["transmat"]
        self.emissionprob_, self.unseen_emissionprob_ = final["emissionprob"], final["unseen"]
        self.n_parameters_ = self._count_parameters()
        self.fit_mode_ = "tagger"
        return self

    def _set_em_result(self, run, n_states):
        final = em.smooth(run.stats, self.transition_pseudocount,
                          None if self._continuous() else self.emission_pseudocount)
        self.n_states_ = n_states
        self.tagger_ = None
        self.startprob_, self.transmat_ = final["startprob"], final["transmat"]
        if self._continuous():
            for name in ("means", "covars", "weights"):
                if name in run.params:
                    setattr(self, name + "_", run.params[name])
        else:
            self.emissionprob_, self.unseen_emissionprob_ = final["emissionprob"], final["unseen"]
        self.history_, self.n_iter_, self.converged_ = run.history, run.n_iter, run.converged
        self.log_likelihood_ = run.stats.log_likelihood
        self.n_parameters_ = self._count_parameters()
        em.warn_fit_quality(run, self.n_iter, self.tol)

    @classmethod
    def from_params(cls, startprob, transmat, emissionprob=None, *, means=None, covars=None, weights=None,
                    decoder="viterbi"):
        """A fitted HMM with exactly the given parameters (e.g. the true model of synthetic data).

        Parameters
        ----------
        startprob : array-like of shape (K,)
        transmat : array-like of shape (K, K)
            Rows sum to 1.
        emissionprob : array-like of shape (K, V), optional
            Categorical emissions; rows sum to 1.
        means, covars, weights : array-like, optional
            Gaussian emissions: ``means (K, d)``, ``covars (K, d, d)``;
            mixtures: ``means (K, M, d)``, ``covars (K, M, d, d)``,
            ``weights (K, M)``. Covariances symmetric positive definite.
        decoder : {"viterbi", "posterior"}
            What ``predict`` returns ("posterior": the Bayes-optimal state
            per position, the oracle of token accuracy).

        Returns
        -------
        HMM
            Fitted (``fit_mode_ == "density"``); categorical ids ``>= V``
            raise :class:`UnknownSymbolError` at scoring time. Bad shapes or
            values (rows not summing to 1, a covariance not positive
            definite) raise :class:`ConfigError`.
        """
        if decoder not in DECODERS:
            raise ConfigError(f"decoder={decoder!r} is not supported; expected one of {DECODERS}")
        family, params = check_model_params(startprob, transmat, emissionprob, means, covars, weights)
        K = len(params["startprob"])
        n_mix = params["weights"].shape[1] if family == "gmm" else 1
        est = cls(n_states=K, emission=family, n_mix=n_mix, covariance_type="full", decoder=decoder)
        for name, value in params.items():
            setattr(est, name + "_", value)
        if family == "categorical":
            est.vocab_size_, est.unseen_emissionprob_ = params["emissionprob"].shape[1], None
        else:
            est.n_features_ = params["means"].shape[-1]
        est.n_states_, est.history_, est.tagger_, est.fit_mode_ = K, [], None, "density"
        est.n_parameters_ = est._count_parameters()
        return est

    # ------------------------------------------------------------ batched core
    def _params(self):
        names = ("emissionprob",) if not self._continuous() else ("means", "covars", "weights")
        return {n: getattr(self, n + "_") for n in names if hasattr(self, n + "_")}

    def _own_model(self, what):
        """The fitted EM parameters are needed (not the supervised core's)."""
        self._check_fitted()
        if self.tagger_ is not None:
            self._unsupported(f"{what} on a supervised tagger (fit(X, y) with every tag known); "
                              f"it needs a model fitted with fit(X) or semi-supervised")

    def _map_buckets(self, X, run, known=None):
        """``run(source, layout)`` over length buckets; per-sequence results and impossible steps (see map_buckets)."""
        check_memory(self.n_states_, 0, max(len(x) for x in X), "scoring")
        return map_buckets(self.emission, self._scoring_params(), self.n_states_, X, run, known)

    def _scoring_params(self):
        """Emission parameters with the probability of unseen ids (categorical), as the sources take them."""
        return {**self._params(), "unseen": getattr(self, "unseen_emissionprob_", None)}

    def _scoring_X(self, X):
        self._check_fitted()
        if self._continuous():
            return self._validate_X(X)
        if self.tagger_ is not None:
            return check_sequences(X, kind="discrete", vocab_size=self.vocab_size_ if self.vocab is not None else None)
        return self._validate_X(X, oov_id=self.vocab_size_ if self.unseen_emissionprob_ is not None else None)

    def score_tokens(self, X, max_context=None):
        """log p(x_t | x_<t) in nats per position (log density for continuous emissions; forward algorithm).

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,) or (n_steps_i, d)
        max_context : int or None
            Condition on at most the last ``max_context`` tokens, exactly:
            position ``t > max_context`` gets ``log p(x_t | x_{t-k..t-1})``
            with the state before the window at the model's marginal
            ``startprob A^(t-k)`` (see :mod:`._hmm_context`; it costs
            ``O(k K^2)`` per rescored position); positions with a shorter
            history keep their full score. Models fitted with ``fit(X)`` or
            semi-supervised; a supervised tagger raises ``NotImplementedError``.

        Returns
        -------
        list of ndarray of shape (n_steps_i,)
            ``-inf`` (with an :class:`ImpossibleSequenceWarning`) only at a
            token the model gives probability zero.
        """
        if max_context is not None and not is_int(max_context, 0):
            raise ConfigError(f"max_context must be None or an integer >= 0, got {max_context!r}")
        X = self._scoring_X(X)
        if self.tagger_ is not None:
            if max_context is not None:
                self._unsupported("max_context on a supervised tagger (fit(X, y) with every tag known); "
                                  "it needs a model fitted with fit(X) or semi-supervised")
            return self.tagger_.score_tokens(X)

        def run(source, layout):
            scale, _, impossible = inf.forward(self.startprob_, self.transmat_, source)
            values = np.log(scale) if source.shift is None else np.log(scale) + source.shift
            for b, t in impossible:
                values[t, b] = -np.inf
            return values, impossible

        out, impossible = self._map_buckets(X, run)
        if max_context is not None:
            truncated = truncate_context(self.emission, self._scoring_params(), self.startprob_, self.transmat_,
                                         X, out, int(max_context))
            impossible = sorted({*impossible, *truncated})
        if impossible:
            where = ", ".join(f"X[{i}][{t}]" for i, t in impossible[:5])
            warnings.warn(f"{len(impossible)} step(s) have probability zero under the model (first: {where}); "
                          f"their log-probability is -inf and they are treated as missing for later steps",
                          ImpossibleSequenceWarning, stacklevel=2)
        return out

    def predict_proba(self, X):
        """Posterior state (tag) marginals ``p(state_t | x)``: list of ``(n_steps_i, n_states_)`` arrays.

        A sequence of probability zero (its posteriors are undefined) raises
        :class:`InvalidSequenceError`.
        """
        X = self._scoring_X(X)
        if self.tagger_ is not None:
            return self.tagger_.predict_proba(X)
        return self._posteriors(X)

    def _posteriors(self, X, known=None):
        def run(source, layout):
            scale, alpha, impossible = inf.forward(self.startprob_, self.transmat_, source, store=True)
            return inf.backward(self.transmat_, source, scale, alpha, layout.valid)[0], impossible

        out, impossible = self._map_buckets(X, run, known)
        self._refuse_impossible(impossible, X)
        return out

    def predict(self, X):
        """Tags (tagger) or hidden states: the Viterbi path, or the most likely state per position (``decoder``).

        Returns a list of ``(n_steps_i,)`` int64 arrays. A sequence of
        probability zero (no path is more likely than another) raises
        :class:`InvalidSequenceError`.
        """
        X = self._scoring_X(X)
        if self.tagger_ is not None:
            return self.tagger_.predict(X)
        return self._decode(X)

    def _decode(self, X, known=None):
        if self.decoder == "posterior":
            return [p.argmax(axis=1) for p in self._posteriors(X, known)]
        with np.errstate(divide="ignore"):
            log_start, log_trans = np.log(self.startprob_), np.log(self.transmat_)

        def run(source, layout):
            path, _, impossible = inf.viterbi(log_start, log_trans, source, layout.lengths)
            return path, impossible

        out, impossible = self._map_buckets(X, run, known)
        self._refuse_impossible(impossible, X)
        return out

    @staticmethod
    def _refuse_impossible(impossible, X):
        if impossible:
            i, t = impossible[0]
            value = np.array2string(np.asarray(X[i][t]), precision=4, threshold=6)
            raise InvalidSequenceError(
                f"X[{i}] has probability zero under the model: X[{i}][{t}] = {value} cannot be emitted by any "
                f"state reachable at step {t}; it has no most likely state path or posterior")

    # ----------------------------------------------------------------- model selection
    def bic(self, X):
        """Bayesian information criterion ``-2 log p(X) + n_params log(n_tokens)`` (lower is better).

        ``n_params`` counts free parameters as hmmlearn does for the
        emission family and covariance type (see :func:`n_emission_params`).
        """
        return self._criterion(X, np.log)

    def aic(self, X):
        """Akaike information criterion ``-2 log p(X) + 2 n_params`` (lower is better)."""
        return self._criterion(X, lambda n: 2.0)

    def _criterion(self, X, penalty):
        self._own_model("bic/aic")
        scores = self.score_tokens(X)
        return float(-2.0 * sum(s.sum() for s in scores) + self.n_parameters_ * penalty(sum(len(s) for s in scores)))

    def _count_parameters(self):
        K, width = self.n_states_, self.n_features_ if self._continuous() else self.vocab_size_
        return (K - 1) + K * (K - 1) + n_emission_params(self.emission, K, width, self.covariance_type, self.n_mix)

    def mutual_information(self, d):
        """Exact ``I(X_t; X_{t+d})`` in nats under the stationary state distribution (categorical).

        ``d``: an int or array of ints ``>= 1``; returns a float or an array of its shape.
        """
        self._own_model("mutual_information")
        if self._continuous():
            self._unsupported("mutual_information for continuous emissions (it is defined for symbols)")
        return analysis.mutual_information(self.transmat_, self.emissionprob_, d)

    # ----------------------------------------------------------------- sampling
    def sample(self, n_sequences=1, length=100, random_state=None, return_states=False):
        """Draw ``n_sequences`` sequences of ``length`` steps, all at once, one time step at a time.

        ``random_state`` None uses the estimator's. Returns a list of
        ``(length,)`` int64 ids or ``(length, d)`` vectors and, with
        ``return_states=True``, the list of ``(length,)`` state paths.
        """
        self._own_model("sample")
        for name, value in (("n_sequences", n_sequences), ("length", length)):
            if not is_int(value, 1):
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        rng = as_generator(self.random_state if random_state is None else random_state)
        states = inf.sample_states(self.startprob_, self.transmat_, n_sequences, length, rng)
        X, states = list(draw(self.emission, self._params(), states, rng)), list(states)
        return (X, states) if return_states else X
