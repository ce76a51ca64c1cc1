"""Scoring, prediction and sampling of the neural families (a mixin of ``NeuralSequenceEstimator``).

Everything here runs the fitted network ``module_`` without gradients,
under the estimator's thread and oneDNN settings, over length-bucketed
batches. A recurrent body (``carries_state``) is run over windows with its
state carried, so memory stays bounded for any sequence length; other
bodies get blocks of whole sequences. Results are float64 arrays, one per
sequence; padding and batch composition change them only at float32
rounding (~1e-7).

The mixin reads from its estimator: ``module_``, ``device_``, ``fit_mode_``,
``input_kind_``, ``n_threads``, ``_onednn``, ``_validate_X``, ``_inputs`` and
``_density_targets`` (see :mod:`._neural_base`).
"""
from __future__ import annotations

import numpy as np
import torch

from ..exceptions import ConfigError, InvalidSequenceError
from ._neural_batches import bucket_batches, sequence_chunks
from ._neural_inputs import START
from ._neural_layers import torch_runtime
from ._neural_params import is_int, is_real

__all__ = ["NeuralPredictMixin"]

EVAL_ELEMENTS = 2**24   # head outputs per scoring pass (rows x steps x classes)
EVAL_ROWS = 128         # sequences per scoring batch


def _draw(probs, u):
    """Inverse-CDF draw of one index per row of ``probs`` (B, C) given uniforms ``u`` (B,)."""
    cdf = np.cumsum(probs, axis=1)
    return np.minimum((cdf < (u * cdf[:, -1])[:, None]).sum(axis=1), probs.shape[1] - 1)


class NeuralPredictMixin:
    """``score_tokens``, ``predict_next_moments``, ``predict``, ``predict_proba``, ``score``, ``sample``."""

    def _check_mode(self, modes, what):
        self._check_fitted()
        if self.fit_mode_ not in modes:
            how = {"density": "fit(X) as a density", "tagger": "fit(X, y) as a tagger",
                   "classifier": "fit(X, y) as a sequence classifier"}[self.fit_mode_]
            raise InvalidSequenceError(f"this {type(self).__name__} was fitted with {how}; {what} needs a model "
                                       f"fitted as {' or '.join(modes)}")

    def _eval_chunks(self, inputs, targets, whole=False):
        """Scoring chunks: length buckets; windows (state carried) or, for bodies without a carried state
        or when ``whole``, blocks of whole sequences, sized to the memory budget."""
        net, device = self.module_, torch.device(self.device_)
        n_out = net.head.proj.out_features
        lengths = np.fromiter((len(x) for x in inputs), dtype=np.int64, count=len(inputs))
        carries = getattr(net.body, "carries_state", False) and not whole
        for rows in bucket_batches(lengths, EVAL_ROWS):
            if carries:
                width = max(1, EVAL_ELEMENTS // (len(rows) * n_out))
                yield from sequence_chunks(inputs, targets, [rows], width, device)
            else:
                block = max(1, EVAL_ELEMENTS // (int(lengths[rows].max()) * n_out))
                yield from sequence_chunks(inputs, targets, [rows[i: i + block] for i in range(0, len(rows), block)],
                                           None, device)

    @torch.no_grad()
    def _per_position(self, inputs, targets, reduce, width):
        """``reduce(head output, window) -> ndarray (B, W, *width)`` over every window, reassembled per sequence."""
        net = self.module_.eval()
        out = [np.empty((len(x),) + width) for x in inputs]
        with torch_runtime(self.n_threads, self._onednn):
            for chunk in self._eval_chunks(inputs, targets):
                state = None
                for win in chunk:
                    head_out, _, state = net(win.inp, None, win.lengths, state)
                    values = reduce(head_out, win.tgt)
                    for b, (row, n) in enumerate(zip(win.rows, win.lengths.tolist())):
                        if n:
                            out[row][win.start: win.start + n] = values[b, :n]
        return out

    @staticmethod
    def _reduce_logp(logits, tgt):
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, tgt.clamp(min=0).unsqueeze(-1))
        return logp.squeeze(-1).double().cpu().numpy()

    @staticmethod
    def _reduce_raw(head_out, tgt):
        return head_out.double().cpu().numpy()

    @staticmethod
    def _reduce_softmax(logits, tgt=None):
        p = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        return p / p.sum(axis=-1, keepdims=True)

    def _gaussian_logpdf(self, out, z):
        """log N(z; mean, var) summed over features, in the original units: (T,)."""
        mean, logvar = np.split(out, 2, axis=-1)
        logp = -0.5 * (logvar + (z - mean) ** 2 / np.exp(logvar) + np.log(2 * np.pi)).sum(axis=-1)
        return logp - np.log(self.feature_scale_).sum()

    # ------------------------------------------------------------------ density
    def score_tokens(self, X, max_context=None):
        """Per-position ``log p(x_t | x_<t)`` in nats (log density summed over features for floats).

        The first position is predicted from the start symbol alone.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,) or (n_steps_i, n_features)
        max_context : int or None
            Condition on at most the last ``max_context`` observations,
            exactly: position ``t > max_context`` is scored by running the
            network afresh on ``START, x_{t-k} .. x_{t-1}`` (the window read as
            the start of a sequence); positions with a shorter history keep
            their full score.

        Returns
        -------
        list of ndarray of float64, shape (n_steps_i,)
        """
        self._check_mode(("density",), "score_tokens")
        if max_context is not None and not is_int(max_context, 0):
            raise ConfigError(f"max_context must be None or an integer >= 0, got {max_context!r}")
        X = self._validate_X(X)
        inputs, targets = self._inputs(X, shifted=True), self._density_targets(X)
        if self.input_kind_ == "discrete":
            scores = self._per_position(inputs, targets, self._reduce_logp, ())
        else:
            raw = self._per_position(inputs, None, self._reduce_raw, (2 * self.n_features_,))
            scores = [self._gaussian_logpdf(r, z) for r, z in zip(raw, targets)]
        if max_context is not None:
            self._truncate_context(scores, inputs, targets, int(max_context))
        return scores

    @torch.no_grad()
    def _truncate_context(self, scores, inputs, targets, k):
        """Replace the scores of positions ``t > k`` by their scores given only the last ``k`` inputs (in place)."""
        lengths = np.fromiter((len(x) for x in inputs), dtype=np.int64, count=len(inputs))
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        seq = np.repeat(np.arange(len(inputs)), lengths)
        t = np.arange(int(lengths.sum())) - offsets[seq]
        where = np.flatnonzero(t > k)                                    # global positions to rescore
        if not where.size:
            return
        flat_inp, flat_tgt = np.concatenate(inputs), np.concatenate(targets)
        last_k = np.arange(-k + 1, 1)                                     # the last k inputs: x_{t-k} .. x_{t-1}
        net, device = self.module_.eval(), torch.device(self.device_)
        rows = max(1, min(EVAL_ELEMENTS // net.head.proj.out_features, 2**16 // (k + 1)))
        new = np.empty(where.size)
        with torch_runtime(self.n_threads, self._onednn):
            for lo in range(0, where.size, rows):
                g = where[lo: lo + rows]
                idx = np.concatenate([offsets[seq[g]][:, None], g[:, None] + last_k], axis=1)  # START first
                h, _ = net.features(torch.from_numpy(flat_inp[idx]).to(device))                # (R, k + 1, H)
                out = net.head(h[:, -1:])                                                       # (R, 1, C)
                tgt = flat_tgt[g][:, None]
                if self.input_kind_ == "discrete":
                    new[lo: lo + len(g)] = self._reduce_logp(out, torch.from_numpy(tgt).to(device))[:, 0]
                else:
                    new[lo: lo + len(g)] = self._gaussian_logpdf(out.double().cpu().numpy()[:, 0], tgt[:, 0])
        flat = np.concatenate(scores)
        flat[where] = new
        scores[:] = np.split(flat, np.cumsum(lengths)[:-1])

    def predict_next_moments(self, X):
        """Mean and variance of ``x_t | x_<t`` at every position (continuous density).

        Returns
        -------
        means, variances : list of ndarray of shape (n_steps_i, n_features)
        """
        self._check_mode(("density",), "predict_next_moments")
        if self.input_kind_ != "continuous":
            self._unsupported("predict_next_moments on token ids (it describes a Gaussian density)")
        X = self._validate_X(X)
        raw = self._per_position(self._inputs(X, shifted=True), None, self._reduce_raw, (2 * self.n_features_,))
        means = [np.split(r, 2, axis=-1)[0] * self.feature_scale_ + self.feature_loc_ for r in raw]
        variances = [np.exp(np.split(r, 2, axis=-1)[1]) * self.feature_scale_ ** 2 for r in raw]
        return means, variances

    # ------------------------------------------------------------------ tagger / classifier
    def predict_proba(self, X):
        """Tag probabilities per position (tagger) or class probabilities per sequence (classifier).

        Returns
        -------
        list of ndarray of shape (n_steps_i, n_tags_) (tagger), or ndarray of shape (n_sequences, n_classes)
        """
        self._check_mode(("tagger", "classifier"), "predict_proba")
        X = self._validate_X(X)
        inputs = self._inputs(X, shifted=False)
        if self.fit_mode_ == "tagger":
            return self._per_position(inputs, None, self._reduce_softmax, (self.n_tags_,))
        return self._classify(inputs)

    @torch.no_grad()
    def _classify(self, inputs):
        net = self.module_.eval()
        proba = np.empty((len(inputs), len(self.classes_)))
        with torch_runtime(self.n_threads, self._onednn):
            for chunk in self._eval_chunks(inputs, None, whole=True):
                (win,) = chunk
                logits, _, _ = net(win.inp, None, win.lengths)
                proba[win.rows] = self._reduce_softmax(logits)
        return proba

    def predict(self, X):
        """Tags (tagger: list of (n_steps_i,) int64), labels (classifier: (n_sequences,)),
        or one-step-ahead means (continuous density: list of (n_steps_i, n_features))."""
        self._check_fitted()
        if self.fit_mode_ == "density":
            if self.input_kind_ == "continuous":
                return self.predict_next_moments(X)[0]
            self._unsupported("predict after fit(X) on token ids (a language model; fit(X, y) makes a tagger)")
        proba = self.predict_proba(X)
        if self.fit_mode_ == "tagger":
            return [p.argmax(axis=1).astype(np.int64) for p in proba]
        return self.classes_[proba.argmax(axis=1)]

    def score(self, X, y=None):
        """Mean log-likelihood per token (density), token accuracy (tagger) or sequence accuracy (classifier)."""
        self._check_fitted()
        if self.fit_mode_ != "classifier" or y is None:
            return super().score(X, y)
        labels = np.asarray(y)
        if labels.ndim != 1 or labels.shape[0] != len(X):
            raise InvalidSequenceError(f"y has {labels.shape[0] if labels.ndim else 0} labels for {len(X)} sequences")
        return float((self.predict(X) == labels).mean())

    # ------------------------------------------------------------------ sampling
    def sample(self, n_sequences=1, length=100, random_state=None, temperature=1.0):
        """Draw sequences from the fitted density, all at once, one step at a time.

        The network steps its cells (``body.step``) and keeps the state;
        ``temperature`` divides the logits (scales the variance, floats).
        The unseen-word class is never drawn.

        Parameters
        ----------
        n_sequences, length : int
        random_state : int, numpy Generator or None
            None: the estimator's ``random_state``.
        temperature : float

        Returns
        -------
        list of ndarray of shape (length,) (int64 ids) or (length, n_features) (floats)
        """
        self._check_mode(("density",), "sample")
        for name, value in (("n_sequences", n_sequences), ("length", length)):
            if not is_int(value, 1):
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if not is_real(temperature, 0, low_open=True):
            raise ConfigError(f"temperature must be a number > 0, got {temperature!r}")
        rng = np.random.default_rng(self.random_state if random_state is None else random_state)
        with torch_runtime(self.n_threads, self._onednn), torch.no_grad():
            return self._sample(n_sequences, length, rng, float(temperature))

    def _sample(self, n, length, rng, temperature):
        net, device = self.module_.eval(), torch.device(self.device_)
        discrete = self.input_kind_ == "discrete"
        if discrete:
            x_t = torch.full((n,), START, dtype=torch.int64, device=device)
            out = np.empty((n, length), dtype=np.int64)
        else:
            d = self.n_features_
            x_t = torch.zeros((n, d + 1), device=device)
            x_t[:, -1] = 1.0
            out = np.empty((n, length, d))
        stepper = hasattr(net.body, "step")
        state, prefix = None, []
        for pos in range(length):
            if stepper:
                head_out, state = net.step(x_t, state)
            else:  # a body without cells: rerun the whole prefix
                prefix.append(x_t)
                h, _ = net.features(torch.stack(prefix, dim=1))
                head_out = net.head(h[:, -1:])[:, 0]
            if discrete:
                logits = head_out[:, : self.vocab_size_].double() / temperature
                probs = torch.softmax(logits, dim=-1).cpu().numpy()
                out[:, pos] = _draw(probs, rng.random(n))
                x_t = torch.from_numpy(out[:, pos]).to(device)
            else:
                mean, logvar = np.split(head_out.double().cpu().numpy(), 2, axis=-1)
                z = mean + np.sqrt(np.exp(logvar) * temperature) * rng.standard_normal(mean.shape)
                out[:, pos] = z * self.feature_scale_ + self.feature_loc_
                x_t = torch.zeros((n, d + 1), device=device)
                x_t[:, :-1] = torch.from_numpy(z).float()
        return list(out)
