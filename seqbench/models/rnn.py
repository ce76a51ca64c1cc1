"""Recurrent families: ``RNN`` (tanh), ``LSTM`` and ``GRU`` over torch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``.

The body is a stack of single-layer torch recurrent layers (``batch_first=True``)
with seeded dropout between them; everything around it (embeddings and the
character encoder, heads, training, scoring, sampling, saving) is the shared
:class:`~._neural_base.NeuralSequenceEstimator`. Sampling steps
``nn.LSTMCell`` / ``nn.GRUCell`` / ``nn.RNNCell`` objects that share the
layers' weights instead of running a layer on one position at a time
(one LSTM layer of 256 units, batch 1, one thread: 82 us against 99 us per
step with oneDNN off, 215 us with it on).

The LSTM's forget-gate bias starts at 1 (Jozefowicz et al., 2015); the
gradient-norm clipping of the training loop (``clip_norm``, default 5)
deals with exploding gradients, which gating does not prevent.
"""
from __future__ import annotations

import numbers
from dataclasses import replace

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..exceptions import ConfigError
from ..registry import register
from ._neural_base import NeuralSequenceEstimator, store_params
from ._neural_layers import Dropout

__all__ = ["RNN", "LSTM", "GRU", "RecurrentBody"]

_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
_CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class RecurrentBody(nn.Module):
    """Stacked recurrent layers: (B, T, n_inputs) -> (B, T, hidden_size x directions).

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    n_inputs, hidden_size, n_layers : int
    dropout : float
        Between layers (seeded, see :mod:`._neural_layers`).
    bidirectional : bool
        Features are ``[forward, backward]``; a bidirectional body is not
        causal and carries no state (taggers and classifiers only).

    Notes
    -----
    The state is a list with one entry per layer: ``h`` of shape
    (directions, B, hidden_size), or ``(h, c)`` for an LSTM.
    """

    def __init__(self, cell, n_inputs, hidden_size, n_layers=1, dropout=0.0, bidirectional=False):
        super().__init__()
        dirs = 2 if bidirectional else 1
        self.cell, self.hidden_size, self.bidirectional = cell, hidden_size, bidirectional
        self.layers = nn.ModuleList(
            _LAYERS[cell](n_inputs if k == 0 else hidden_size * dirs, hidden_size, batch_first=True,
                          bidirectional=bidirectional)
            for k in range(n_layers))
        self.drop = Dropout(dropout)
        self.n_outputs = hidden_size * dirs
        self.causal = self.carries_state = not bidirectional

    def init_weights(self, generator):
        """LSTM: forget-gate bias 1 (``b_ih = 1``, ``b_hh = 0`` on the forget slice; gates i, f, g, o)."""
        if self.cell != "lstm":
            return
        H = self.hidden_size
        with torch.no_grad():
            for layer in self.layers:
                for name, p in layer.named_parameters():
                    if name.startswith("bias_ih"):
                        p[H: 2 * H].fill_(1.0)
                    elif name.startswith("bias_hh"):
                        p[H: 2 * H].zero_()

    def forward(self, x, lengths=None, state=None):
        """Run every layer over the batch; a bidirectional body packs it so padding is never read."""
        states = []
        ragged = self.bidirectional and lengths is not None and bool((lengths < x.shape[1]).any())
        for k, layer in enumerate(self.layers):
            if k:
                x = self.drop(x)
            h0 = None if state is None else state[k]
            if ragged:
                packed = pack_padded_sequence(x, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
                out, hk = layer(packed, h0)
                x = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]
            else:
                x, hk = layer(x, h0)                                  # (B, T, H x dirs)
            states.append(hk)
        return x, states

    def _cells(self):
        """One torch cell per layer, sharing the layer's parameters (built once, rebuilt if they change)."""
        cells = self.__dict__.get("_step_cells")
        if cells is None or any(c.weight_ih is not l.weight_ih_l0 for c, l in zip(cells, self.layers)):
            cells = []
            for layer in self.layers:
                cell = _CELLS[self.cell](layer.input_size, layer.hidden_size, device="meta")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    setattr(cell, name, getattr(layer, f"{name}_l0"))
                cells.append(cell)
            self.__dict__["_step_cells"] = cells  # not a submodule: no duplicate weights in state_dict
        return cells

    def step(self, x, state=None):
        """One time step: (B, n_inputs) -> (B, hidden_size), state in the layers' format."""
        if self.bidirectional:
            raise ConfigError("a bidirectional body cannot be stepped forward in time")
        new = []
        for k, cell in enumerate(self._cells()):
            if k:
                x = self.drop(x)
            if self.cell == "lstm":
                hc = None if state is None else (state[k][0][0], state[k][1][0])
                h, c = cell(x, hc)
                new.append((h.unsqueeze(0), c.unsqueeze(0)))
            else:
                h = cell(x, None if state is None else state[k][0])
                new.append(h.unsqueeze(0))
            x = h
        return x, new


class _Recurrent(NeuralSequenceEstimator):
    """A recurrent network (tanh RNN, LSTM or GRU by subclass) behind the seqbench estimator contract.

    ``fit(X)`` on ids makes a language model, on float ``(T, d)`` arrays a
    Gaussian density; ``fit(X, y)`` a tagger (one tag per token) or a
    many-to-one classifier (one label per sequence). See
    :mod:`seqbench.models._neural_base` for the modes and for the training
    parameters, which every neural family shares.

    Parameters
    ----------
    hidden_size : int, default=128
    n_layers : int, default=1
    embedding_dim : int, default=64
        Word embedding size (ids; float input is fed as it is).
    dropout : float, default=0.0
        On the embeddings, between layers and on the last layer's output.
    bidirectional : bool, default=False
        Taggers and classifiers only: ``fit(X)`` raises ConfigError (the
        model would see the future of the token it predicts).
    char_encoder : {None, "lstm", "cnn"}, default=None
        Add a character-level encoding of each word's string (from
        ``vocab``) to its embedding: a char-BiLSTM or a char-CNN. Unknown
        words (ids ``>= vocab.n_known``) get the learned UNK embedding plus
        the encoding of their own string.
    char_dim : int, default=32
        Size of the character encoding.
    vocab : Vocab, sequence of str or None, default=None
        The word strings of the ids (required by ``char_encoder``); also fixes
        ``vocab_size_ = len(vocab)``.
    word_dropout : float, "auto" or "frequency", default="auto"
        Training: probability of replacing a word's embedding by UNK.
        "auto": 0.05 for taggers and classifiers on ids, 0 for language models.
        "frequency": ``0.25 / (0.25 + count(word))`` per word (Kiperwasser &
        Goldberg 2016): rare words, the most like unknown ones, are dropped most.
    batch_size, max_epochs, max_tokens, time_budget_s, optimizer, lr, weight_decay, lr_schedule, \
warmup_steps, lr_decay, lr_decay_start, \
clip_norm, valid_fraction, patience, stateful, bptt, init_range, random_state, device, n_threads
        The training parameters of :class:`~._neural_base.NeuralSequenceEstimator`.

    Attributes
    ----------
    See :class:`~._neural_base.NeuralSequenceEstimator` (``history_``,
    ``n_parameters_``, ``module_``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from seqbench.models import LSTM
    >>> X = [np.array([1, 2, 3, 1, 2, 3])] * 8
    >>> lm = LSTM(hidden_size=16, max_epochs=2, random_state=0).fit(X)
    >>> [s.shape for s in lm.score_tokens(X[:2])]
    [(6,), (6,)]
    """

    _cell = "lstm"

    def __init__(self, hidden_size=128, n_layers=1, embedding_dim=64, dropout=0.0, bidirectional=False,
                 char_encoder=None, char_dim=32, vocab=None, word_dropout="auto", batch_size=32, max_epochs=10,
                 max_tokens=None, time_budget_s=None, optimizer="adamw", lr=None, weight_decay=0.01,
                 lr_schedule="constant", warmup_steps=0, lr_decay=0.5, lr_decay_start=0, clip_norm=5.0,
                 valid_fraction=0.1,
                 patience=3, stateful=False, bptt=None, init_range=None, random_state=None, device="cpu", n_threads=1):
        store_params(self, locals())

    def __seqbench_tags__(self):
        tags = super().__seqbench_tags__()
        if self.bidirectional:  # a tagger / classifier only
            return replace(tags, density=False, sampler=False, max_context=False)
        return tags

    def _build_body(self, n_inputs):
        for name in ("hidden_size", "n_layers"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.bidirectional, bool):
            raise ConfigError(f"bidirectional must be True or False, got {self.bidirectional!r}")
        return RecurrentBody(self._cell, n_inputs, self.hidden_size, self.n_layers, self.dropout, self.bidirectional)

    @classmethod
    def get_test_params(cls):
        tiny = {"hidden_size": 16, "embedding_dim": 8, "batch_size": 8, "max_epochs": 20, "lr": 0.05,
                "valid_fraction": 0.0}
        return [tiny, {**tiny, "bidirectional": True, "dropout": 0.1}]


@register("rnn")
class RNN(_Recurrent):
    __doc__ = "Elman RNN (tanh). " + _Recurrent.__doc__
    _cell = "rnn"


@register("lstm")
class LSTM(_Recurrent):
    __doc__ = "Long short-term memory network (forget-gate bias 1). " + _Recurrent.__doc__
    _cell = "lstm"
    _onednn_fixed_shape_fit = True  # fixed-shape batches: oneDNN's LSTM kernel, planned once


@register("gru")
class GRU(_Recurrent):
    __doc__ = "Gated recurrent unit network. " + _Recurrent.__doc__
    _cell = "gru"
