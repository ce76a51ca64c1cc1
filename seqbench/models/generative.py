"""Generative sequence classifier: one density per class and Bayes' rule.

Any seqbench density (an n-gram, an HMM, an LSTM language model, a Kalman
filter) becomes a classifier of whole sequences::

    log p(c | x) = log p(x | c) + log p(c) - log sum_c' p(x | c') p(c')
    log p(x | c) = sum_t log p_c(x_t | x_<t)      (the class model's score_tokens)

The class model sees only the sequences of its class (``fit(X_c)``). Class
models of discrete data each learn their own vocabulary size from their own
sequences; an id a class never saw is scored as that model scores unknown
ids (an n-gram: the uniform floor of its vocabulary), so give every class
the whole alphabet when the classes' symbol sets differ.
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy.special import logsumexp
from sklearn.base import clone

from .._validation import check_sequences
from ..base import SequenceEstimator, Tags, get_tags
from ..exceptions import ConfigError, InvalidSequenceError, NumericalError
from ..registry import make_model, register
from ._neural_base import _looks_continuous

__all__ = ["GenerativeClassifier"]

PRIORS = ("fit", "uniform")


def _check_labels(y, n_sequences):
    """One integer class label per sequence: int64 array of shape (n_sequences,)."""
    if y is None:
        raise InvalidSequenceError("GenerativeClassifier.fit needs y: one integer class label per sequence")
    if isinstance(y, np.ndarray) and y.dtype != object:
        if y.ndim != 1:
            raise InvalidSequenceError(
                f"y has shape {y.shape}; expected one class label per sequence, shape ({n_sequences},)")
        if not np.issubdtype(y.dtype, np.integer):
            raise InvalidSequenceError(f"y has dtype {y.dtype}; class labels must be integers")
        labels = y.astype(np.int64)
    else:
        try:
            items = list(y)
        except TypeError:
            raise InvalidSequenceError(
                f"y is {type(y).__name__}; expected one integer class label per sequence") from None
        for i, value in enumerate(items):
            if not isinstance(value, (str, bytes)) and np.ndim(value) > 0:
                raise InvalidSequenceError(
                    f"y[{i}] is an array of {np.size(value)} values (per-token tags?); GenerativeClassifier "
                    f"takes one integer class label per sequence, y of shape ({n_sequences},)")
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise InvalidSequenceError(f"y[{i}] = {value!r} is not an integer class label")
        labels = np.asarray(items, dtype=np.int64)
    if labels.shape[0] != n_sequences:
        raise InvalidSequenceError(f"y has {labels.shape[0]} labels for {n_sequences} sequences in X")
    return labels


@register("generative")
class GenerativeClassifier(SequenceEstimator):
    """Sequence classifier from one density model per class (Bayes' rule).

    Parameters
    ----------
    estimator : estimator or str, default="ngram"
        The class-conditional density: an unfitted seqbench density model
        (cloned once per class) or a registry key (``make_model(key)``).
    estimator_params : dict or None, default=None
        Parameters set on every class's copy (``{"order": 3}``); with a key,
        the way to configure the density from a suite file.
    priors : {"fit", "uniform"}, default="fit"
        Class priors ``p(c)``: the training frequencies, or ``1 / n_classes``.
    random_state : int, numpy Generator or None, default=None
        When set and the density has a ``random_state`` parameter, each
        class's copy gets its own seed drawn from it (else the copies keep
        the estimator's own).

    Attributes
    ----------
    classes_ : ndarray of int64, shape (n_classes,)
        The labels, sorted.
    estimators_ : list of estimator
        The fitted density of each class, aligned with ``classes_``.
    class_log_prior_ : ndarray of float64, shape (n_classes,)
    input_kind_ : {"discrete", "continuous"}
    n_features_ : int
        Continuous input: ``d``.
    n_parameters_ : int or None
        Total over the class models (None when they do not report it).
    fit_mode_ : "classifier"

    Examples
    --------
    >>> import numpy as np
    >>> from seqbench.models import GenerativeClassifier, NGram
    >>> X = [np.array([0, 1, 0, 1, 0, 1]), np.array([1, 0, 1, 0, 1, 0]),
    ...      np.array([0, 0, 1, 1, 0, 0]), np.array([1, 1, 0, 0, 1, 1])]
    >>> clf = GenerativeClassifier(NGram(order=2), priors="uniform").fit(X, [0, 0, 1, 1])
    >>> clf.predict([np.array([0, 1, 0, 1]), np.array([1, 1, 0, 0])]).tolist()
    [0, 1]
    """

    def __init__(self, estimator="ngram", estimator_params=None, priors="fit", random_state=None):
        self.estimator = estimator
        self.estimator_params = estimator_params
        self.priors = priors
        self.random_state = random_state

    # ------------------------------------------------------------------ capabilities
    def __seqbench_tags__(self):
        fitted = getattr(self, "estimators_", None)
        base = get_tags(fitted[0] if fitted else self._template())
        return Tags(input_kind=base.input_kind, density=False, tagger=False, hidden_states=False, sampler=False,
                    max_context=False, allow_nan=base.allow_nan, neural=base.neural, classifier=True)

    @classmethod
    def get_test_params(cls):
        return [{"estimator": "ngram", "estimator_params": {"order": 2}},
                {"estimator": "hmm", "estimator_params": {"n_states": 2, "n_iter": 5}, "priors": "uniform"}]

    # ------------------------------------------------------------------ parameters
    def _template(self):
        """An unfitted copy of the class density with ``estimator_params`` applied."""
        params = self.estimator_params
        if params is not None and not isinstance(params, dict):
            raise ConfigError(f"estimator_params must be a dict or None, got {type(params).__name__}")
        params = dict(params or {})
        if isinstance(self.estimator, str):
            return make_model(self.estimator, **params)
        if not (hasattr(self.estimator, "fit") and hasattr(self.estimator, "get_params")):
            raise ConfigError(f"estimator must be a seqbench density model or a registry key, got {self.estimator!r}")
        est = clone(self.estimator)
        try:
            return est.set_params(**params)
        except ValueError as exc:
            raise ConfigError(f"bad estimator_params for {type(est).__name__}: {exc}") from None

    def _check_X(self, X, input_kind, allow_nan):
        if input_kind == "both":
            input_kind = "continuous" if _looks_continuous(X) else "discrete"
        if input_kind == "continuous":
            return check_sequences(X, kind="continuous", allow_nan=allow_nan,
                                   n_features=getattr(self, "n_features_", None)), input_kind
        return check_sequences(X, kind="discrete"), input_kind

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Fit one density per class on that class's sequences.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,) or (n_steps_i, n_features)
        y : array-like of int, shape (n_sequences,)
            One class label per sequence (per-token tags are refused).

        Returns
        -------
        self
        """
        template = self._template()
        tags = get_tags(template)
        if not tags.density:
            raise ConfigError(f"{type(template).__name__} with these parameters is not a density (no score_tokens "
                              f"after fit(X)); GenerativeClassifier needs one")
        if self.priors not in PRIORS:
            raise ConfigError(f"priors must be one of {PRIORS}, got {self.priors!r}")
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, name)  # forget a previous fit (n_features_ would constrain the new X)
        X, input_kind = self._check_X(X, tags.input_kind, tags.allow_nan)
        labels = _check_labels(y, len(X))
        classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if len(classes) < 2:
            raise InvalidSequenceError(f"y has only one class ({classes[0]}); a classifier needs at least two")
        seeds = [None] * len(classes)
        if self.random_state is not None and "random_state" in template.get_params(deep=False):
            seeds = [int(s) for s in np.random.default_rng(self.random_state).integers(2**31 - 1, size=len(classes))]
        estimators = []
        for k, seed in enumerate(seeds):
            est = clone(template)
            if seed is not None:
                est.set_params(random_state=seed)
            estimators.append(est.fit([X[i] for i in np.flatnonzero(inverse == k)]))
        self.input_kind_ = input_kind
        if input_kind == "continuous":
            self.n_features_ = X[0].shape[1]
        self.classes_ = classes.astype(np.int64)
        self.estimators_ = estimators
        prior = counts / counts.sum() if self.priors == "fit" else np.full(len(classes), 1.0 / len(classes))
        self.class_log_prior_ = np.log(prior)
        sizes = [getattr(e, "n_parameters_", None) for e in estimators]
        self.n_parameters_ = None if None in sizes else int(sum(sizes))
        self.fit_mode_ = "classifier"
        return self

    # ------------------------------------------------------------------ prediction
    def _joint_log_likelihood(self, X):
        """``log p(x | c) + log p(c)``: ndarray of shape (n_sequences, n_classes)."""
        self._check_fitted()
        X, _ = self._check_X(X, self.input_kind_, get_tags(self.estimators_[0]).allow_nan)
        lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        jll = np.empty((len(X), len(self.classes_)))
        for k, est in enumerate(self.estimators_):
            jll[:, k] = np.add.reduceat(np.concatenate(est.score_tokens(X)), starts)
        jll += self.class_log_prior_
        dead = np.flatnonzero(np.isnan(jll).any(axis=1) | np.isposinf(jll).any(axis=1) | np.isneginf(jll).all(axis=1))
        if dead.size:
            i = int(dead[0])
            raise NumericalError(f"X[{i}] has log-likelihoods {jll[i].tolist()} under the class models; "
                                 f"its posterior is undefined")
        return jll

    def predict_log_proba(self, X):
        """Log posterior ``log p(c | x)``: ndarray of shape (n_sequences, n_classes)."""
        jll = self._joint_log_likelihood(X)
        return jll - logsumexp(jll, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Posterior ``p(c | x)`` (rows sum to 1): ndarray of shape (n_sequences, n_classes)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable class of each sequence: ndarray of int64, shape (n_sequences,)."""
        best = self._joint_log_likelihood(X).argmax(axis=1)
        return self.classes_[best]

    def score(self, X, y=None):
        """Accuracy of :meth:`predict` against ``y`` (one label per sequence)."""
        self._check_fitted()
        if y is None:
            raise InvalidSequenceError("GenerativeClassifier.score needs y: one class label per sequence")
        pred = self.predict(X)
        return float((pred == _check_labels(y, len(pred))).mean())
