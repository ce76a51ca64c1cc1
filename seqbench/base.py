"""The estimator contract every seqbench model follows.

Extension template
------------------
A new family is one class in ``seqbench/models/<family>.py``::

    from seqbench.base import SequenceEstimator, Tags
    from seqbench.registry import register

    @register("mymodel")
    class MyModel(SequenceEstimator):
        def __init__(self, order=2, random_state=None):
            self.order = order              # stored verbatim, no logic
            self.random_state = random_state

        def __seqbench_tags__(self):
            return Tags(input_kind="discrete", density=True)

        def fit(self, X, y=None):
            X = self._validate_fit_X(X)     # sets vocab_size_
            self.fit_mode_ = "density"      # or "tagger" for fit(X, y); marks the model fitted
            ...                             # learned state ends in "_"
            return self

        def score_tokens(self, X, max_context=None):
            self._check_fitted()
            X = self._validate_X(X)
            return [...]                    # log p(x_t | x_<t), nats, one array per sequence

        @classmethod
        def get_test_params(cls):
            return [{"order": 2}]

Methods a family does not support raise ``NotImplementedError`` naming the
capability; ``Tags`` declares which ones exist, and tasks run only where the
tags allow.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._validation import check_sequences, check_tags, n_tokens
from .exceptions import InvalidSequenceError, NotFittedError

__all__ = ["SequenceEstimator", "Tags", "get_tags"]


@dataclass(frozen=True)
class Tags:
    """What an estimator can do; tasks and the harness read these.

    Attributes
    ----------
    input_kind : {"discrete", "continuous", "both"}
        Token ids or float vectors; "both": ``fit`` decides from the data
        (a neural network with an embedding or a linear input layer).
    density : bool
        ``fit(X)`` gives a density with ``score_tokens`` (perplexity, NLL).
    tagger : bool
        ``fit(X, y)`` gives a tagger: ``predict`` returns tags, ``score(X, y)`` accuracy.
    hidden_states : bool
        ``predict(X)`` after ``fit(X)`` decodes hidden states (unsupervised HMM).
    sampler : bool
        ``sample(n, length, random_state)`` is available.
    max_context : bool
        ``score_tokens(X, max_context=k)`` truncates the context to ``k`` tokens.
    allow_nan : bool
        NaN observations (missing values) are accepted (continuous input).
    semi_supervised : bool
        ``y`` may hold -1 for unknown tags.
    neural : bool
        A PyTorch model (``device`` and ``n_threads`` apply).
    uses_vocab : bool
        Has a ``vocab`` parameter through which it reads token strings
        (e.g. suffixes of unknown words).
    tagger_density : bool
        After ``fit(X, y)`` the model is still a density over the tokens:
        ``score_tokens`` marginalises the tags (a supervised HMM), so the
        tagging task also reports its perplexity.
    classifier : bool
        ``fit(X, y)`` with ``y`` one integer label per sequence (shape
        ``(n_sequences,)``) gives a sequence classifier: ``predict`` returns
        labels ``(n_sequences,)``, ``predict_proba`` ``(n_sequences, n_classes)``,
        ``score(X, y)`` accuracy (neural many-to-one networks,
        :class:`~seqbench.models.GenerativeClassifier`).
    transducer : bool
        ``fit(X, y)`` with ``y`` a target sequence per source sequence (of
        any length) gives a transducer: ``predict`` returns sequences
        (:class:`~seqbench.models.Seq2Seq`).
    """

    input_kind: str = "discrete"
    density: bool = True
    tagger: bool = False
    hidden_states: bool = False
    sampler: bool = True
    max_context: bool = False
    allow_nan: bool = False
    semi_supervised: bool = False
    neural: bool = False
    uses_vocab: bool = False
    tagger_density: bool = False
    classifier: bool = False
    transducer: bool = False


def get_tags(estimator) -> Tags:
    """Return the :class:`Tags` of an estimator instance."""
    return estimator.__seqbench_tags__()


class SequenceEstimator(BaseEstimator):
    """Base class of every seqbench model (scikit-learn's rules, sequence data).

    ``X`` is a list of sequences (1-D int arrays of token ids, or 2-D float
    arrays ``(n_steps_i, n_features)``); ``y`` a list of 1-D int tag arrays
    of the same lengths. Log-probabilities are natural logs, per token.
    """

    # ------------------------------------------------------------- capabilities
    def __seqbench_tags__(self) -> Tags:
        return Tags()

    @classmethod
    def get_test_params(cls):
        """Tiny parameter sets for tests and the quick suite (list of dicts)."""
        return [{}]

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement fit")

    def _unsupported(self, what):
        raise NotImplementedError(f"{type(self).__name__} does not support {what}")

    def _check_fitted(self):
        check_is_fitted(self)

    def __sklearn_is_fitted__(self):
        return getattr(self, "fit_mode_", None) is not None

    # ------------------------------------------------------------ validation
    def _validate_fit_X(self, X):
        """Validate training sequences and set ``vocab_size_`` (discrete) or ``n_features_``."""
        tags = get_tags(self)
        if tags.input_kind == "continuous":
            X = check_sequences(X, kind="continuous", allow_nan=tags.allow_nan)
            self.n_features_ = X[0].shape[1]
            return X
        vocab = getattr(self, "vocab", None)
        X = check_sequences(X, kind="discrete", vocab_size=None if vocab is None else len(vocab))
        self.vocab_size_ = len(vocab) if vocab is not None else int(max(x.max() for x in X)) + 1
        return X

    def _validate_X(self, X, *, oov_id=None):
        """Validate sequences at predict/score time.

        Discrete ids at or beyond ``vocab_size_`` are out-of-vocabulary words:
        when the model was given an explicit ``vocab`` they are an error; else
        they are replaced by ``oov_id`` (the model's unknown-word id), which
        must then be given.
        """
        tags = get_tags(self)
        if tags.input_kind == "continuous":
            return check_sequences(X, kind="continuous", n_features=self.n_features_, allow_nan=tags.allow_nan)
        strict = getattr(self, "vocab", None) is not None or oov_id is None
        X = check_sequences(X, kind="discrete", vocab_size=self.vocab_size_ if strict else None)
        if not strict:
            X = [np.where(x >= self.vocab_size_, oov_id, x) for x in X]
        return X

    # ---------------------------------------------------------------- methods
    def score_tokens(self, X, max_context=None):
        """Per-position log p(x_t | x_<t) in nats (log density for continuous input).

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,) or (n_steps_i, n_features)
        max_context : int or None
            Condition on at most this many previous tokens (context-truncation probes).

        Returns
        -------
        list of ndarray of shape (n_steps_i,)
        """
        self._unsupported("score_tokens (this model is not a density)")

    def score(self, X, y=None):
        """scikit-learn's meaning: higher is better.

        Without ``y``: mean log-likelihood per token (nats), token-weighted over
        all sequences. With ``y`` (a tagger): token accuracy of ``predict(X)``.
        """
        self._check_fitted()
        if y is None:
            scores = self.score_tokens(X)
            return float(sum(s.sum() for s in scores) / n_tokens(scores))
        if self.fit_mode_ != "tagger":
            raise InvalidSequenceError(
                f"{type(self).__name__} was fitted without tags (fit(X)); score(X, y) needs a tagger fitted with fit(X, y)"
            )
        y_pred = self.predict(X)
        y = check_tags(y, y_pred)
        correct = sum(int((a == b).sum()) for a, b in zip(y, y_pred))
        return correct / n_tokens(y)

    def predict(self, X):
        """Tags (tagger), hidden states (unsupervised), or one-step-ahead means (continuous)."""
        self._unsupported("predict")

    def predict_proba(self, X):
        """Per-position tag or state posteriors: list of ndarray of shape (n_steps_i, n_classes)."""
        self._unsupported("predict_proba")

    def sample(self, n_sequences=1, length=100, random_state=None):
        """Draw sequences from the fitted model: list of ndarray of shape (length,)."""
        self._unsupported("sample")
