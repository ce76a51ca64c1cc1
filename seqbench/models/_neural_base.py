"""The base of every neural family: one estimator around encoder -> body -> head and one training loop.

Extension template
------------------
A neural family writes only its *body*, the part between the input vectors
and the output head; everything else (input encoders, heads by mode, the
training loop, batching, scoring, sampling, saving, threads, devices) lives
here and in the ``_neural_*`` helpers::

    from seqbench.models._neural_base import NeuralSequenceEstimator, TRAIN_DEFAULTS, store_params
    from seqbench.registry import register

    class MyBody(nn.Module):
        # x (B, T, n_inputs) float -> h (B, T, n_outputs); state opaque (None: start afresh)
        def forward(self, x, lengths=None, state=None): ...        # -> (h, state)
        def step(self, x_t, state=None): ...                        # optional: (B, n_inputs) -> (h_t, state)
        n_outputs = ...     # int
        causal = True       # h_t depends on x_<=t only (needed for fit(X): language models)
        carries_state = True  # forward continues from `state` (windowed scoring, TBPTT)
        bidirectional = False  # features = [forward half, backward half] (classifier pooling)

    @register("mine")
    class Mine(NeuralSequenceEstimator):
        def __init__(self, width=64, embedding_dim=64, dropout=0.0, char_encoder=None, vocab=None,
                     word_dropout="auto", batch_size=32, ...every key of TRAIN_DEFAULTS...):
            store_params(self, locals())   # verbatim, no logic

        def _build_body(self, n_inputs):  # validate the family's parameters here (ConfigError)
            return MyBody(n_inputs, self.width, ...)

        @classmethod
        def get_test_params(cls):
            return [{"width": 8, "max_epochs": 5}]

Rules for bodies (see :mod:`._neural_layers`): dropout through
``_neural_layers.Dropout`` (never ``nn.Dropout`` or a ``dropout=`` of a torch
layer: they use torch's global generator and are refused); random draws of
your own through a ``Stochastic`` module's ``generator``; a special
initialisation in an ``init_weights(generator)`` method. ``lengths`` (B,)
lives on the CPU; a unidirectional body may ignore it (padding is at the
end), a bidirectional one must not read padding (pack the batch).

The base reads these parameters when a family declares them (else the
default): ``embedding_dim`` (64), ``dropout`` (0.0), ``char_encoder`` (None),
``char_dim`` (32), ``vocab`` (None), ``word_dropout`` ("auto").

The assembled network is a :class:`~._neural_heads.SequenceNet`, makemore's
``forward(idx, targets=None) -> (logits, loss)`` plus the recurrent state:
``forward(idx, targets=None, lengths=None, state=None) -> (logits, loss, state)``,
padded targets -1 (ids) or NaN (floats) and ignored by the loss. A family
whose network is not encoder -> body -> head (an encoder-decoder) overrides
``_assemble(spec)`` and returns a module with that interface, plus
``features(idx, lengths, state) -> (h, state)``, ``encoder.n_outputs``,
``body`` (``n_outputs``, ``causal``, ``carries_state``) and ``head``
(``proj.out_features``, ``loss``).

Modes (chosen by ``fit``'s arguments)
-------------------------------------
``fit(X)``, integer ids
    Language model: ``x_t`` is predicted from ``START, x_0 .. x_{t-1}``;
    ``score_tokens``, ``sample``; ``fit_mode_ = "density"``.
``fit(X)``, float arrays ``(T_i, d)`` (a 2-D array per sequence, even for d = 1)
    Gaussian density of ``x_t | x_<t`` (diagonal, mean and log-variance);
    ``score_tokens`` (log density summed over dims), ``predict`` (means),
    ``predict_next_moments``, ``sample``; ``fit_mode_ = "density"``.
``fit(X, y)``, ``y`` a list of per-token tag arrays
    Tagger: ``predict``, ``predict_proba``; ``fit_mode_ = "tagger"``.
``fit(X, y)``, ``y`` a 1-D int array of ``len(X)`` labels
    Many-to-one classifier from the last state: ``predict`` (labels),
    ``predict_proba`` (n_sequences, n_classes); ``fit_mode_ = "classifier"``.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch

from .._validation import check_sequences, check_tags
from ..base import SequenceEstimator, Tags
from ..exceptions import ConfigError, InvalidSequenceError, ResourceLimitError
from ._char_encoder import char_table
from ._neural_batches import bucket_batches, sequence_chunks, split_valid, stream_chunk
from ._neural_heads import GaussianHead, SequenceHead, SequenceNet, TokenHead
from ._neural_inputs import FREQUENCY, START, ContinuousEncoder, TokenEncoder
from ._neural_io import load_estimator, restore, save_estimator
from ._neural_layers import check_seeded, init_parameters, resolve_device, torch_runtime
from ._neural_params import TRAIN_DEFAULTS, param, store_params, train_config
from ._neural_predict import NeuralPredictMixin
from ._torch import train

__all__ = ["NeuralSequenceEstimator", "TRAIN_DEFAULTS", "store_params"]

_STATEFUL_BPTT = 35
_AUTO_WORD_DROPOUT = 0.05          # taggers and classifiers on ids: teaches the UNK row
_MAX_WINDOW_BYTES = 8 * 2**30      # refuse a training window whose activations would need more


def _looks_continuous(X):
    """Continuous input is a 2-D array per sequence (read from the first one)."""
    try:
        first = X[0]
        return np.ndim(first) == 2 and not isinstance(first, (str, bytes))
    except (TypeError, IndexError, KeyError, ValueError):
        return False


def _is_label_vector(y):
    """A classifier's target: one integer per sequence (not one array per sequence)."""
    if isinstance(y, np.ndarray):
        return y.dtype != object and y.ndim == 1
    return isinstance(y, (list, tuple)) and len(y) > 0 and all(isinstance(v, numbers.Integral) for v in y)


def _vocab_words(vocab):
    """The strings of a seqbench ``Vocab`` or of a sequence of str, and how many are training words."""
    itos = getattr(vocab, "itos", None)
    words = list(vocab if itos is None else itos)
    bad = next((i for i, w in enumerate(words) if not isinstance(w, str)), None)
    if bad is not None:
        raise ConfigError(f"vocab[{bad}] = {words[bad]!r} is not a str; vocab must be a Vocab or a sequence of str")
    return words, int(getattr(vocab, "n_known", len(words)))


class NeuralSequenceEstimator(NeuralPredictMixin, SequenceEstimator):
    """Shared estimator of the neural families (see the module docstring for the extension template).

    Training parameters (every family declares them, defaults in ``TRAIN_DEFAULTS``)
    ---------------------------------------------------------------------------------
    batch_size : int, default=32
        Sequences per batch (streams per batch when ``stateful``).
    max_epochs : int or None, default=10
    max_tokens : int or None, default=None
        Stop after this many training targets.
    time_budget_s : float or None, default=None
        Stop training after this many seconds (checked after every step).
    optimizer : {"adamw", "sgd"}, default="adamw"
    lr : float or None, default=None
        None: 1e-3 for AdamW, 1.0 for SGD.
    weight_decay : float, default=0.01
    lr_schedule : {"constant", "cosine", "plateau", "step"}, default="constant"
        See :mod:`._torch`; ``"step"`` is Zaremba et al.'s: ``lr`` for
        ``lr_decay_start`` epochs, then times ``lr_decay`` after each epoch.
    warmup_steps : int, default=0
    lr_decay : float, default=0.5
        Factor of the plateau and step schedules, in (0, 1).
    lr_decay_start : int, default=0
        Epochs at full ``lr`` before the step schedule decays.
    init_range : float or None, default=None
        None: torch's default initialisation (plus the family's own, e.g. the
        LSTM's forget-gate bias). A number ``r``: every parameter but layer
        norms drawn from ``U(-r, r)`` (Zaremba et al.'s 0.1).
    clip_norm : float or None, default=5.0
        Largest global gradient norm; None disables clipping.
    valid_fraction : float, default=0.1
        Held out of the training data for validation loss, early stopping
        and the plateau schedule (sequences; the tail of the stream when
        ``stateful``); 0 disables validation. The best validation epoch's
        weights are kept.
    patience : int or None, default=3
        Early stopping: epochs without a better validation loss.
    stateful : bool, default=False
        Language models on a long stream: concatenate the training sequences
        into one stream, split it into ``batch_size`` rows and train by
        truncated BPTT with the state carried across batches (Zaremba et
        al.; Keras' ``stateful=True``).
    bptt : int or None, default=None
        Truncated-BPTT window. ``stateful``: default 35. Otherwise None
        trains on whole sequences; a value cuts each batch into windows of
        ``bptt`` steps with the state carried (exact forward pass, gradient
        truncated to the window).
    random_state : int, numpy Generator or None
        Seeds a local ``torch.Generator`` (weights, dropout) and the numpy
        generator of shuffling and the validation split; torch's global
        generator is never seeded. Also the default seed of :meth:`sample`.
    device : {"cpu", "cuda", "auto"}, default="cpu"
    n_threads : int, default=1
        torch's intra-op threads during fit and scoring (restored afterwards).

    Attributes
    ----------
    fit_mode_ : {"density", "tagger", "classifier"}
    input_kind_ : {"discrete", "continuous"}
    vocab_size_ : int
        Discrete input: ids ``0 .. vocab_size_ - 1`` are the model's words.
    n_features_ : int
        Continuous input: ``d``.
    n_tags_ : int
        Tagger: tags ``0 .. n_tags_ - 1``.
    classes_ : ndarray of int64
        Classifier: the labels.
    feature_loc_, feature_scale_ : ndarray of shape (d,)
        Continuous input: the network sees ``(x - loc) / scale`` (training statistics).
    net_spec_ : dict
        What ``_build_net`` needs to rebuild the network (head, sizes, char table shape).
    module_ : SequenceNet
    history_ : list of dict
        One entry per epoch: ``epoch``, ``loss``, ``val_loss``, ``grad_norm``,
        ``tokens_seen``, ``seconds``, ``tokens_per_s``, ``lr`` (see :func:`._torch.train`).
    stop_reason_ : {"max_epochs", "max_tokens", "time_budget", "early_stopping"}
    n_parameters_ : int
    n_threads_ : int
        torch's thread count during the fit.
    device_ : str
    """

    _onednn = False  # oneDNN during fit/score (see _neural_layers.torch_runtime); a family may turn it on
    # oneDNN while fitting where the training batches have one shape: stateful=True (every window is
    # (batch, bptt)) or sequences all of one length, so its plan is made once (ragged buckets would re-plan
    # at every new length). A family turns it on where it pays (the LSTM: 1.25-1.8x faster per step).
    _onednn_fixed_shape_fit = False

    # ------------------------------------------------------------------ family hooks
    def _build_body(self, n_inputs):  # pragma: no cover - abstract
        """Return the family's body module reading ``n_inputs`` features per step."""
        raise NotImplementedError(f"{type(self).__name__} must implement _build_body(n_inputs)")

    # ------------------------------------------------------------------ capabilities
    def __seqbench_tags__(self):
        return Tags(input_kind=getattr(self, "input_kind_", "both"), density=True, tagger=True, sampler=True,
                    max_context=True, neural=True, uses_vocab=getattr(self, "char_encoder", None) is not None,
                    classifier=True)

    # ------------------------------------------------------------------ parameters
    def _train_config(self):
        """Check the training parameters; return the loop's :class:`TrainConfig`."""
        return train_config(self)

    # ------------------------------------------------------------------ the network
    def _build_net(self, spec):
        """Assemble encoder -> body -> head from ``spec`` (``net_spec_``) and the parameters (CPU).

        torch's constructors draw initial weights from the global generator;
        its state is restored afterwards, and :func:`init_parameters` redraws
        every weight from the estimator's own generator.
        """
        with torch.random.fork_rng(devices=[]):
            return self._assemble(spec)

    def _assemble(self, spec):
        if spec["input"] == "continuous":
            encoder = ContinuousEncoder(spec["n_features"])
        else:
            encoder = TokenEncoder(spec["n_words"], param(self, "embedding_dim"), spec["word_dropout"],
                                   spec["chars"])
        body = self._build_body(encoder.n_outputs)
        head = spec["head"]
        if head in ("lm", "gaussian") and not getattr(body, "causal", False):
            raise ConfigError(
                f"{type(self).__name__} with these parameters (e.g. bidirectional=True) sees the future of each "
                f"position, so fit(X) cannot make a language model of it; use it as a tagger, fit(X, y)")
        if head == "gaussian":
            out = GaussianHead(body.n_outputs, spec["n_features"])
        elif head == "classifier":
            out = SequenceHead(body.n_outputs, spec["n_classes"], getattr(body, "bidirectional", False))
        else:
            out = TokenHead(body.n_outputs, spec["n_classes"])
        net = SequenceNet(encoder, body, out, param(self, "dropout"))
        check_seeded(net)
        return net

    def _rebuild_net(self, state_dict):
        """The fitted network from ``net_spec_`` and saved weights, on ``device_`` (CPU if unavailable)."""
        if self.device_.startswith("cuda") and not torch.cuda.is_available():
            self.device_ = "cpu"
        net = self._build_net(self.net_spec_)
        net.load_state_dict(state_dict)
        return net.to(self.device_).eval()

    def _spec(self, X, head, n_classes):
        spec = {"head": head, "n_classes": n_classes, "input": self.input_kind_, "n_words": None,
                "n_features": None, "word_dropout": 0.0, "chars": None}
        if self.input_kind_ == "continuous":
            spec["n_features"] = self.n_features_
            return spec, None
        vocab = param(self, "vocab")
        words, n_known = _vocab_words(vocab) if vocab is not None else (None, self.vocab_size_)
        wd = param(self, "word_dropout")
        spec["n_words"] = n_known
        spec["word_dropout"] = wd if wd == FREQUENCY else float(
            (_AUTO_WORD_DROPOUT if head in ("tagger", "classifier") else 0.0) if wd == "auto" else wd)
        table = None
        if param(self, "char_encoder") is not None:
            table = char_table(words, n_known)
            spec["chars"] = {"kind": self.char_encoder, "n_words": len(words), "max_chars": table[0].shape[1],
                             "n_chars": table[2], "out_dim": param(self, "char_dim")}
        return spec, table

    # ------------------------------------------------------------------ data
    def _validate_fit_X(self, X):
        if _looks_continuous(X):
            X = check_sequences(X, kind="continuous", allow_nan=False)
            self.input_kind_, self.n_features_ = "continuous", X[0].shape[1]
            return X
        vocab = param(self, "vocab")
        X = check_sequences(X, kind="discrete", vocab_size=None if vocab is None else len(vocab))
        self.input_kind_ = "discrete"
        self.vocab_size_ = len(vocab) if vocab is not None else int(max(x.max() for x in X)) + 1
        return X

    def _validate_X(self, X, *, oov_id=None):
        """Validated sequences; discrete ids beyond the training range are allowed unless a vocab fixes it."""
        if self.input_kind_ == "continuous":
            return check_sequences(X, kind="continuous", n_features=self.n_features_, allow_nan=False)
        vocab = param(self, "vocab")
        return check_sequences(X, kind="discrete", vocab_size=None if vocab is None else self.vocab_size_)

    def _inputs(self, X, shifted):
        """Network inputs per sequence: ids (START first when ``shifted``) or ``[z, start flag]`` rows."""
        if self.input_kind_ == "discrete":
            if not shifted:
                return list(X)
            return [np.concatenate([[START], x[:-1]]).astype(np.int64) for x in X]
        out = []
        for x in X:
            z = ((x - self.feature_loc_) / self.feature_scale_).astype(np.float32)
            rows = np.zeros((len(z), z.shape[1] + 1), dtype=np.float32)
            if shifted:
                rows[1:, :-1], rows[0, -1] = z[:-1], 1.0
            else:
                rows[:, :-1] = z
            out.append(rows)
        return out

    def _density_targets(self, X):
        if self.input_kind_ == "discrete":
            return [np.minimum(x, self.vocab_size_) for x in X]  # ids beyond the range: the unseen-word class
        return [((x - self.feature_loc_) / self.feature_scale_).astype(np.float32) for x in X]

    def _fit_targets(self, X, y):
        """(head, n_classes, targets) for fit's arguments, checking ``y``."""
        if y is None:
            if self.input_kind_ == "continuous":
                return "gaussian", None, self._density_targets(X)
            return "lm", self.vocab_size_ + 1, self._density_targets(X)
        if _is_label_vector(y):
            labels = np.asarray(y)
            if labels.shape[0] != len(X):
                raise InvalidSequenceError(f"y has {labels.shape[0]} labels for {len(X)} sequences in X")
            if not np.issubdtype(labels.dtype, np.integer):
                raise InvalidSequenceError(f"y has dtype {labels.dtype}; class labels must be integers")
            self.classes_ = np.unique(labels).astype(np.int64)
            return "classifier", len(self.classes_), np.searchsorted(self.classes_, labels).astype(np.int64)
        y = check_tags(y, X)
        self.n_tags_ = max(int(t.max()) for t in y) + 1
        return "tagger", self.n_tags_, y

    def _check_modes(self, head):
        if self.stateful and head not in ("lm", "gaussian"):
            raise ConfigError("stateful=True trains a density on one stream; it does not apply to fit(X, y)")
        if head == "classifier" and self.bptt is not None:
            raise ConfigError("bptt does not apply to a classifier, which learns from each whole sequence")

    # ------------------------------------------------------------------ fit
    def _start_fit(self):
        """Check the training parameters and forget a previous fit; returns the loop's :class:`TrainConfig`."""
        config = self._train_config()
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, name)
        return config

    def fit(self, X, y=None):
        """Train on ``X`` (a density) or on ``(X, y)`` (a tagger or a classifier); see the module docstring.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,) (ids) or (n_steps_i, n_features) (floats)
        y : None, list of ndarray of shape (n_steps_i,) (tags), or ndarray of shape (n_sequences,) (labels)

        Returns
        -------
        self
        """
        config = self._start_fit()
        X = self._validate_fit_X(X)
        if self.input_kind_ == "continuous":
            cat = np.concatenate(X)
            scale = cat.std(axis=0)
            self.feature_loc_, self.feature_scale_ = cat.mean(axis=0), np.where(scale > 0, scale, 1.0)
        head, n_classes, targets = self._fit_targets(X, y)
        self._check_modes(head)
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.random_state)
        init_seed, train_seed = (int(s) for s in rng.integers(2**63 - 1, size=2))
        init_generator = torch.Generator().manual_seed(init_seed)            # weights: drawn on the CPU
        generator = torch.Generator(device=device).manual_seed(train_seed)   # dropout: on the device
        spec, table = self._spec(X, head, n_classes)
        fixed_shape = bool(self.stateful) or len({len(x) for x in X}) == 1
        with torch_runtime(self.n_threads, self._onednn or (self._onednn_fixed_shape_fit and fixed_shape)):
            net = self._build_net(spec)
            init_parameters(net, init_generator, self.init_range)
            if table is not None:
                net.encoder.chars.set_table(table[0], table[1])
            if spec.get("word_dropout") == FREQUENCY:
                net.encoder.set_word_counts(np.bincount(np.concatenate(X), minlength=spec["n_words"]))
            net = net.to(device)
            train_chunks, valid_chunks, sizes = self._training_data(X, targets, head, rng, device, net)
            history, stop = train(net, train_chunks, valid_chunks, config, generator=generator, **sizes)
            self.n_threads_ = torch.get_num_threads()
        self.net_spec_, self.module_, self.device_ = spec, net, str(device)
        self.history_, self.stop_reason_ = history, stop
        self.n_parameters_ = int(sum(p.numel() for p in net.parameters()))
        self.fit_mode_ = {"lm": "density", "gaussian": "density"}.get(head, head)
        return self

    def _training_data(self, X, targets, head, rng, device, net):
        """``(train_chunks, valid_chunks)`` and ``steps_per_epoch``/``tokens_per_epoch`` for the loop."""
        if (self.stateful or self.bptt is not None) and not getattr(net.body, "carries_state", False):
            raise ConfigError(f"stateful and bptt carry the state forward from window to window; this "
                              f"{type(self).__name__} (e.g. bidirectional) has no such state")
        density = head in ("lm", "gaussian")
        inputs = self._inputs(X, shifted=density)
        if self.stateful:
            bptt = self.bptt or _STATEFUL_BPTT
            inp, tgt = self._stream_inputs(X), np.concatenate(targets)
            n_valid = int(round(self.valid_fraction * len(inp))) if len(inp) > 2 * self.batch_size else 0
            cut = len(inp) - n_valid
            train_windows = stream_chunk(inp[:cut], tgt[:cut], self.batch_size, bptt, device)
            valid_windows = stream_chunk(inp[cut:], tgt[cut:], self.batch_size, bptt, device) if n_valid else None
            self._check_window_memory(train_windows[0].inp.shape[:2], net)
            return ((lambda epoch: [train_windows]), (lambda: [valid_windows]) if valid_windows else None,
                    {"steps_per_epoch": len(train_windows),
                     "tokens_per_epoch": sum(w.n_targets for w in train_windows)})
        tr, va = split_valid(len(X), self.valid_fraction, rng)
        lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
        tr_lengths = lengths[tr]
        longest = int(tr_lengths.max())
        self._check_window_memory((min(self.batch_size, len(tr)), min(longest, self.bptt or longest)), net)

        def train_chunks(epoch):
            batches = [tr[b] for b in bucket_batches(tr_lengths, self.batch_size, rng)]
            return sequence_chunks(inputs, targets, batches, self.bptt, device)

        def valid_chunks():
            batches = [va[b] for b in bucket_batches(lengths[va], self.batch_size)]
            return sequence_chunks(inputs, targets, batches, self.bptt, device)

        step = self.bptt or longest
        windows = sum(-(-int(tr_lengths[b].max()) // step) for b in bucket_batches(tr_lengths, self.batch_size))
        tokens = len(tr) if head == "classifier" else int(tr_lengths.sum())
        return (train_chunks, valid_chunks if len(va) else None,
                {"steps_per_epoch": windows, "tokens_per_epoch": tokens})

    def _stream_inputs(self, X):
        """Inputs of the concatenated stream: START, then every token but the last."""
        return self._inputs([np.concatenate(X)], shifted=True)[0]

    def _check_window_memory(self, shape, net):
        B, T = shape
        per_step = 4 * (3 * net.head.proj.out_features + 16 * net.body.n_outputs * getattr(self, "n_layers", 1)
                        + 2 * net.encoder.n_outputs)
        need = B * T * per_step
        if need > _MAX_WINDOW_BYTES:
            raise ResourceLimitError(
                f"a training window of {B} sequences x {T} steps needs about {need / 2**30:.1f} GiB of activations "
                f"(limit {_MAX_WINDOW_BYTES / 2**30:.0f} GiB); for long sequences set stateful=True (a language "
                f"model on one stream) or bptt (e.g. 35), or lower batch_size")

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Write the fitted model: ``state_dict`` plus JSON of parameters and fitted attributes.

        See :mod:`._neural_io`; read it back with :meth:`load` (``torch.load(..., weights_only=True)``).
        """
        self._check_fitted()
        save_estimator(self, path)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save` (the class is taken from the file; it must be ``cls`` or a subclass)."""
        return load_estimator(cls, path)

    def __getstate__(self):
        state = dict(super().__getstate__())  # object.__getstate__ returns __dict__ itself: copy before editing
        module = state.get("module_")
        if module is not None:
            state["module_"] = {k: v.detach().cpu() for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state):
        weights = state.get("module_")
        super().__setstate__({k: v for k, v in state.items() if k != "module_"})
        if weights is not None:
            restore(self, {}, weights)
