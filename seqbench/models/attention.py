"""Attention families: ``AttentionLSTM`` (an LSTM attending over its own past states) and ``Transformer``
(a small causal Transformer, pre-LN blocks as in nanoGPT).

Both are bodies of :class:`~._neural_base.NeuralSequenceEstimator`, so they
come with every mode of the neural base (language model, Gaussian density,
tagger, classifier), its training loop, scoring, sampling and saving. Their
many-to-one classifiers pool over all positions (:class:`PoolingHead`)
instead of reading the last state.

Attention runs through ``F.scaled_dot_product_attention`` without its
``dropout_p`` (which draws from torch's global generator); dropout is the
seeded :class:`~._neural_layers.Dropout` on the embeddings, on the residual
branches and on the body's output.

AttentionLSTM
-------------
An LSTM stack gives states ``h_1 .. h_T``; position ``t`` attends over
``h_1 .. h_t`` (or the last ``window`` of them) with the multiplicative
score ``(W_q h_t) . h_s / sqrt(H)``, and the context ``c_t`` is combined
with the current state: ``o_t = tanh(W_c [h_t; c_t])`` (Luong et al.,
2015) is what the head reads. The state carried from window to window
(scoring, TBPTT, sampling) is the LSTM state plus the states the next
positions may attend to (all of them when ``window`` is None: memory grows
with the sequence, so ``stateful=True`` needs a ``window``).

Transformer and its context window
----------------------------------
Learned absolute positions ``0 .. context - 1``. A sequence of at most
``context`` inputs is one causal pass, exact. Longer ones are read in
windows of ``context`` inputs starting at multiples of ``stride``:
position ``t >= context`` is computed in the earliest window that holds
it, the one starting at ``ceil((t - context + 1) / stride) * stride``,
as if that window were a sequence of its own (positions renumbered from
0). A language model's score of ``x_t`` then conditions on the last
``t - start + 1`` tokens, between ``context - stride + 1`` and ``context``
(``stride=1``: exactly the last ``context``), and never on what comes
later. The rule depends only on ``t``, so scoring in windows with the
state carried (the last ``context - 1`` inputs and their offset), a
single pass, padded batches and sampling all agree. A non-causal
Transformer (taggers, classifiers) reads position ``t`` in the window
that holds it nearest its middle, keys beyond each sequence's end masked.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..exceptions import ConfigError
from ..registry import register
from ._neural_base import NeuralSequenceEstimator, store_params
from ._neural_heads import SequenceHead, TokenHead
from ._neural_layers import Dropout
from ._neural_params import is_int
from .rnn import RecurrentBody

__all__ = ["AttentionLSTM", "Transformer", "SelfAttention", "PastAttention", "PoolingHead", "TiedTokenHead",
           "TransformerBody", "AttentionLSTMBody"]

_ATTENTION_ELEMENTS = 2**22   # attention scores per pass (rows x queries x keys): longer inputs go in blocks
POOLINGS = ("mean", "attention")


def _valid_mask(lengths, T, device):
    """(B, T) bool: position < length (all True without lengths)."""
    if lengths is None:
        return None
    return torch.arange(T, device=device)[None, :] < lengths.to(device)[:, None]


# ================================================================================== heads
class PoolingHead(nn.Module):
    """Many-to-one head over all positions: mean or attention pooling, then a linear layer -> (B, n_classes).

    Attention pooling: ``a_t = softmax_t(w . h_t)`` over the valid positions, summary ``sum_t a_t h_t``.
    Padding (positions ``>= lengths``) is never read.
    """

    def __init__(self, n_inputs, n_classes, pooling="attention"):
        super().__init__()
        self.pooling = pooling
        self.score = nn.Linear(n_inputs, 1) if pooling == "attention" else None
        self.proj = nn.Linear(n_inputs, n_classes)

    def forward(self, h, lengths=None):
        B, T, _ = h.shape
        valid = _valid_mask(lengths, T, h.device)
        if valid is None:
            valid = torch.ones(B, T, dtype=torch.bool, device=h.device)
        if self.pooling == "mean":
            w = valid.to(h.dtype) / valid.sum(dim=1, keepdim=True).clamp(min=1)
        else:
            w = torch.softmax(self.score(h)[..., 0].masked_fill(~valid, float("-inf")), dim=1)
        return self.proj((w.unsqueeze(-1) * h).sum(dim=1))                      # (B, n_classes)

    loss = staticmethod(SequenceHead.loss)


class _TiedLinear(nn.Module):
    """Logits from the input embedding's first ``n_classes`` rows (words, then UNK = the unseen-word class)."""

    def __init__(self, embed, n_classes):
        super().__init__()
        self.embed, self.out_features = embed, n_classes
        self.bias = nn.Parameter(torch.zeros(n_classes))

    def forward(self, h):
        return F.linear(h, self.embed.weight[: self.out_features], self.bias)

    def init_weights(self, generator):
        """The shared matrix starts at ``N(0, 1 / d)`` so the first logits have unit scale."""
        with torch.no_grad():
            self.embed.weight.normal_(0.0, 1.0 / math.sqrt(self.embed.weight.shape[1]), generator=generator)


class TiedTokenHead(nn.Module):
    """A language-model head sharing its weight matrix with the word embedding (Press & Wolf, 2017)."""

    def __init__(self, embed, n_classes):
        super().__init__()
        self.proj = _TiedLinear(embed, n_classes)

    def forward(self, h, lengths=None):
        return self.proj(h)

    loss = staticmethod(TokenHead.loss)


# ================================================================================== attention
class SelfAttention(nn.Module):
    """Multi-head self-attention, causal or with a key-padding mask: (B, T, d) -> (B, T, d).

    Parameters
    ----------
    d_model, n_heads : int
        ``n_heads`` divides ``d_model``.
    causal : bool
        Position ``t`` attends to ``1 .. t`` (``is_causal=True``); else to
        every valid position of its sequence.
    """

    def __init__(self, d_model, n_heads, causal=True):
        super().__init__()
        self.n_heads, self.causal = n_heads, causal
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x, valid=None):
        """``valid`` (B,) int64: keys at or beyond it are masked (non-causal only)."""
        B, T, D = x.shape
        q, k, v = (z.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)
                   for z in self.in_proj(x).split(D, dim=-1))                    # (B, heads, T, D / heads)
        mask = None
        if not self.causal and valid is not None:
            mask = (torch.arange(T, device=x.device)[None, :] < valid.to(x.device)[:, None])[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, D))


class PastAttention(nn.Module):
    """Each query state attends over the states before it (itself included), optionally only the last ``window``.

    ``forward(h, memory)``: ``h`` (B, T, H) are the newest states, ``memory``
    (B, P + T, H) the earlier ones followed by ``h``; query ``t`` (memory
    position ``P + t``) attends to memory positions ``s <= P + t`` (and
    ``s > P + t - window``). Returns ``tanh(W_c [h_t; c_t])`` (B, T, H).
    Long inputs are processed in blocks of queries (memory bounded).
    """

    def __init__(self, hidden_size, window=None):
        super().__init__()
        self.window = window
        self.query = nn.Linear(hidden_size, hidden_size, bias=False)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)

    def forward(self, h, memory):
        B, T, H = h.shape
        P = memory.shape[1] - T
        q = self.query(h).unsqueeze(1)                                           # (B, 1, T, H)
        if self.window is None:
            block = max(1, _ATTENTION_ELEMENTS // (B * memory.shape[1]))
        else:  # blocks of about the window's size: a block's queries read block + window - 1 keys
            block = max(64, self.window)
            block = max(1, min(block, _ATTENTION_ELEMENTS // (B * (block + self.window))))
        contexts = []
        for lo in range(0, T, block):
            hi = min(T, lo + block)
            k_lo = 0 if self.window is None else max(0, P + lo - self.window + 1)
            keys = memory[:, k_lo: P + hi].unsqueeze(1)                          # (B, 1, K, H)
            q_pos = torch.arange(P + lo, P + hi, device=h.device)[:, None]
            k_pos = torch.arange(k_lo, P + hi, device=h.device)[None, :]
            mask = k_pos <= q_pos
            if self.window is not None:
                mask &= k_pos > q_pos - self.window
            contexts.append(F.scaled_dot_product_attention(q[:, :, lo:hi], keys, keys, attn_mask=mask)[:, 0])
        c = torch.cat(contexts, dim=1)                                           # (B, T, H)
        return torch.tanh(self.combine(torch.cat([h, c], dim=-1)))


# ================================================================================== bodies
class AttentionLSTMBody(nn.Module):
    """LSTM stack, then :class:`PastAttention` over its top-layer states: (B, T, n_inputs) -> (B, T, H).

    The state is ``(lstm_state, memory)``: the LSTM state in
    :class:`~.rnn.RecurrentBody`'s format and the top-layer states the next
    positions may attend to (B, P, H).
    """

    causal = carries_state = True
    bidirectional = False

    def __init__(self, n_inputs, hidden_size, n_layers=1, dropout=0.0, window=None):
        super().__init__()
        self.lstm = RecurrentBody("lstm", n_inputs, hidden_size, n_layers, dropout)
        self.attend = PastAttention(hidden_size, window)
        self.window = window
        self.n_outputs = hidden_size

    def forward(self, x, lengths=None, state=None):
        lstm_state, memory = (None, x.new_zeros(x.shape[0], 0, self.n_outputs)) if state is None else state
        h, lstm_state = self.lstm(x, lengths, lstm_state)                        # (B, T, H)
        memory = torch.cat([memory, h], dim=1)                                   # (B, P + T, H)
        out = self.attend(h, memory)
        keep = memory.shape[1] if self.window is None else min(memory.shape[1], self.window - 1)
        return out, (lstm_state, memory[:, memory.shape[1] - keep:])

    def step(self, x, state=None):
        """One position: (B, n_inputs) -> (B, H), state."""
        out, state = self.forward(x.unsqueeze(1), None, state)
        return out[:, 0], state


class _Block(nn.Module):
    """Pre-LN Transformer block: ``x + drop(attn(ln(x)))``, then ``x + drop(mlp(ln(x)))`` (GELU MLP)."""

    def __init__(self, d_model, n_heads, mlp_size, dropout, causal):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, causal)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_size), nn.GELU(), nn.Linear(mlp_size, d_model))
        self.drop = Dropout(dropout)

    def forward(self, x, valid=None):
        x = x + self.drop(self.attn(self.ln1(x), valid))
        return x + self.drop(self.mlp(self.ln2(x)))


class TransformerBody(nn.Module):
    """Input projection, learned positions, pre-LN blocks, final LayerNorm: (B, T, n_inputs) -> (B, T, d_model).

    Sequences longer than ``context`` are read in windows (see the module
    docstring). A causal body's state is ``(inputs, offset)``: the last
    ``context - 1`` projected inputs (B, P, d_model) and the absolute
    position of the first of them (a 0-d int64 tensor).
    """

    bidirectional = False

    def __init__(self, n_inputs, d_model, n_heads, n_layers, context, stride, mlp_size, dropout=0.0, causal=True):
        super().__init__()
        self.proj_in = nn.Linear(n_inputs, d_model) if n_inputs != d_model else nn.Identity()
        self.positions = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(_Block(d_model, n_heads, mlp_size, dropout, causal) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.context, self.stride, self.n_heads, self.n_layers = context, stride, n_heads, n_layers
        self.n_outputs = d_model
        self.causal = self.carries_state = causal

    def init_weights(self, generator):
        """Positions start at ``N(0, 0.02^2)`` (nanoGPT)."""
        with torch.no_grad():
            self.positions.weight.normal_(0.0, 0.02, generator=generator)

    def _run(self, z, valid=None):
        """Windows read as sequences of their own: (N, L <= context, d) -> (N, L, d)."""
        x = z + self.positions.weight[: z.shape[1]]
        for block in self.blocks:
            x = block(x, valid)
        return self.ln_f(x)

    def _starts(self, t, n):
        """Absolute window start of each absolute position ``t`` (B, Tq), for sequences of ``n`` (B, 1) steps."""
        c, s = self.context, self.stride
        if self.causal:
            return np.where(t < c, 0, -(-(t - c + 1) // s) * s)
        last = np.maximum(0, -(-(n - c) // s)) * s
        return np.clip((t - (c - s) // 2) // s * s, 0, last)

    def forward(self, x, lengths=None, state=None):
        x = self.proj_in(x)                                                      # (B, T, d)
        B, T, D = x.shape
        if state is None or not self.causal:
            z, offset, P = x, 0, 0
        else:
            z, offset, P = torch.cat([state[0], x], dim=1), int(state[1]), state[0].shape[1]
        L, c = z.shape[1], self.context
        n = np.full((B, 1), offset + L) if lengths is None or self.causal else lengths.numpy()[:, None] + offset + P
        if offset == 0 and L <= c:                                               # one window: the usual pass
            h = self._run(z, None if self.causal else torch.from_numpy(n[:, 0]).clamp(min=1))[:, P:]
        else:
            h = self._windows(z, offset, P, n)
        keep = min(c - 1, L)
        return h, (None if not self.causal else (z[:, L - keep:], torch.tensor(offset + L - keep)))

    def _windows(self, z, offset, P, n):
        """Outputs of positions ``P ..`` of ``z`` (absolute ``offset + P ..``) by the window rule."""
        B, L, D = z.shape
        c = self.context
        t = np.broadcast_to(offset + np.arange(P, L), (B, L - P))
        ws = self._starts(t, n)                                                  # (B, Tq) absolute starts
        starts, which = np.unique(ws, return_inverse=True)
        which = which.reshape(ws.shape)
        idx = np.minimum(starts[:, None] - offset + np.arange(c)[None, :], L - 1)  # (n_w, c) into z
        valid = None if self.causal else torch.from_numpy(np.clip(n - starts[None, :], 1, c).reshape(-1))
        group = max(1, _ATTENTION_ELEMENTS // (B * c * max(D, self.n_heads * c)))
        outs = []
        for g in range(0, len(starts), group):
            zw = z[:, torch.from_numpy(idx[g: g + group])]                       # (B, G, c, d)
            vw = None if valid is None else valid.view(B, -1)[:, g: g + group].reshape(-1)
            outs.append(self._run(zw.flatten(0, 1), vw).view(B, -1, c, D))
        hw = torch.cat(outs, dim=1)                                              # (B, n_w, c, d)
        pos = torch.from_numpy(np.minimum(t - ws, c - 1))
        rows = torch.arange(B)[:, None]
        return hw[rows, torch.from_numpy(which), pos]                            # (B, Tq, d)

    def step(self, x, state=None):
        """One position: (B, n_inputs) -> (B, d_model), state."""
        out, state = self.forward(x.unsqueeze(1), None, state)
        return out[:, 0], state


# ================================================================================== estimators
def _check_int(est, name, low):
    value = getattr(est, name)
    if not is_int(value, low):
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def _pooled(net, spec, pooling):
    """Replace a classifier's last-state head by a pooling head over all positions."""
    if spec["head"] == "classifier":
        net.head = PoolingHead(net.body.n_outputs, spec["n_classes"], pooling)
    return net


_COMMON_DOC = """
    ``fit(X)`` on ids makes a language model, on float ``(T, d)`` arrays a
    Gaussian density; ``fit(X, y)`` a tagger (one tag per token) or a
    many-to-one classifier (one label per sequence, {pooling}). See
    :mod:`seqbench.models._neural_base` for the modes and the training
    parameters, and :mod:`seqbench.models.attention` for the attention.
"""

_SHARED_PARAMS_DOC = """\
    char_encoder : {None, "lstm", "cnn"}, default=None
    char_dim : int, default=32
    vocab : Vocab, sequence of str or None, default=None
    word_dropout : float, "auto" or "frequency", default="auto"
        As for :class:`~seqbench.models.LSTM`.
    batch_size, max_epochs, max_tokens, time_budget_s, optimizer, lr, weight_decay, lr_schedule, \
warmup_steps, lr_decay, lr_decay_start, \
clip_norm, valid_fraction, patience, stateful, bptt, init_range, random_state, device, n_threads
        The training parameters of :class:`~._neural_base.NeuralSequenceEstimator`.

    Attributes
    ----------
    See :class:`~._neural_base.NeuralSequenceEstimator` (``history_``, ``n_parameters_``, ``module_``, ...).
"""


@register("attention_lstm")
class AttentionLSTM(NeuralSequenceEstimator):
    __doc__ = ("An LSTM whose output at each position attends over its own past states.\n" + _COMMON_DOC.format(
        pooling="attention pooling over all positions") + """
    Parameters
    ----------
    hidden_size : int, default=128
    n_layers : int, default=1
        LSTM layers; the attention reads the top one.
    window : int or None, default=None
        Attend to the last ``window`` states (the current one included);
        None: to all past states (memory and time grow with the length:
        quadratic in it; ``stateful=True`` needs a window).
    embedding_dim : int, default=64
    dropout : float, default=0.0
        On the embeddings, between LSTM layers and on the output.
""" + _SHARED_PARAMS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from seqbench.models import AttentionLSTM
    >>> X = [np.array([1, 2, 3, 1, 2, 3])] * 8
    >>> lm = AttentionLSTM(hidden_size=16, max_epochs=2, random_state=0).fit(X)
    >>> [s.shape for s in lm.score_tokens(X[:2])]
    [(6,), (6,)]
""")

    def __init__(self, hidden_size=128, n_layers=1, window=None, embedding_dim=64, dropout=0.0, char_encoder=None,
                 char_dim=32, vocab=None, word_dropout="auto", batch_size=32, max_epochs=10, max_tokens=None,
                 time_budget_s=None, optimizer="adamw", lr=None, weight_decay=0.01, lr_schedule="constant",
                 warmup_steps=0, lr_decay=0.5, lr_decay_start=0, clip_norm=5.0, valid_fraction=0.1,
                 patience=3, stateful=False,
                 bptt=None, init_range=None, random_state=None, device="cpu", n_threads=1):
        store_params(self, locals())

    def _build_body(self, n_inputs):
        hidden, layers = _check_int(self, "hidden_size", 1), _check_int(self, "n_layers", 1)
        if self.window is not None:
            _check_int(self, "window", 1)
        elif self.stateful:
            raise ConfigError("stateful=True carries the attention memory along the whole stream; set window "
                              "(e.g. 64) to bound it")
        return AttentionLSTMBody(n_inputs, hidden, layers, self.dropout, self.window)

    def _assemble(self, spec):
        return _pooled(super()._assemble(spec), spec, "attention")

    @classmethod
    def get_test_params(cls):
        return [{"hidden_size": 16, "embedding_dim": 8, "window": 6, "batch_size": 8, "max_epochs": 20, "lr": 0.05,
                 "valid_fraction": 0.0}]


@register("transformer")
class Transformer(NeuralSequenceEstimator):
    __doc__ = ("A small Transformer (learned positions, pre-LN blocks as in nanoGPT).\n" + _COMMON_DOC.format(
        pooling="mean or attention pooling") + """
    Parameters
    ----------
    d_model : int, default=128
    n_heads : int, default=4
        Divides ``d_model``.
    n_layers : int, default=2
    context : int, default=128
        Positions the model has; longer sequences are read in windows (see
        :mod:`seqbench.models.attention`).
    stride : int or None, default=None
        Spacing of the windows over longer sequences, in ``[1, context]``;
        None: ``max(1, context // 2)``.
    mlp_size : int or None, default=None
        Width of each block's MLP; None: ``4 * d_model``.
    causal : bool, default=True
        False: every position attends to the whole sequence (taggers and
        classifiers only; ``fit(X)`` raises ConfigError).
    pooling : {"mean", "attention"}, default="mean"
        How a classifier summarises the positions.
    tie_weights : bool, default=False
        Language model on ids: the output layer shares the word embedding's
        matrix (needs ``embedding_dim == d_model`` and no ``char_encoder``).
    embedding_dim : int, default=128
        Word embedding size, projected to ``d_model`` when it differs.
    dropout : float, default=0.0
        On the embeddings, on every residual branch and on the output.
""" + _SHARED_PARAMS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from seqbench.models import Transformer
    >>> X = [np.array([1, 2, 3, 1, 2, 3])] * 8
    >>> lm = Transformer(d_model=16, n_heads=2, context=8, max_epochs=2, random_state=0).fit(X)
    >>> [s.shape for s in lm.score_tokens(X[:2])]
    [(6,), (6,)]
""")

    def __init__(self, d_model=128, n_heads=4, n_layers=2, context=128, stride=None, mlp_size=None, causal=True,
                 pooling="mean", tie_weights=False, embedding_dim=128, dropout=0.0, char_encoder=None, char_dim=32,
                 vocab=None, word_dropout="auto", batch_size=32, max_epochs=10, max_tokens=None, time_budget_s=None,
                 optimizer="adamw", lr=None, weight_decay=0.01, lr_schedule="constant", warmup_steps=0,
                 lr_decay=0.5, lr_decay_start=0, clip_norm=5.0, valid_fraction=0.1, patience=3,
                 stateful=False, bptt=None,
                 init_range=None, random_state=None, device="cpu", n_threads=1):
        store_params(self, locals())

    def __seqbench_tags__(self):
        tags = super().__seqbench_tags__()
        if self.causal is False:  # a tagger / classifier only
            return replace(tags, density=False, sampler=False, max_context=False)
        return tags

    def _build_body(self, n_inputs):
        d, heads = _check_int(self, "d_model", 1), _check_int(self, "n_heads", 1)
        layers, context = _check_int(self, "n_layers", 1), _check_int(self, "context", 1)
        if d % heads:
            raise ConfigError(f"n_heads={heads} must divide d_model={d}")
        stride = max(1, context // 2) if self.stride is None else self.stride
        if not is_int(stride, 1) or stride > context:
            raise ConfigError(f"stride must be None or an integer in [1, context={context}], got {self.stride!r}")
        mlp = 4 * d if self.mlp_size is None else _check_int(self, "mlp_size", 1)
        if not isinstance(self.causal, bool):
            raise ConfigError(f"causal must be True or False, got {self.causal!r}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        return TransformerBody(n_inputs, d, heads, layers, context, stride, mlp, self.dropout, self.causal)

    def _assemble(self, spec):
        net = _pooled(super()._assemble(spec), spec, self.pooling)
        if not isinstance(self.tie_weights, bool):
            raise ConfigError(f"tie_weights must be True or False, got {self.tie_weights!r}")
        if self.tie_weights:
            if spec["head"] != "lm":
                raise ConfigError("tie_weights=True shares the word embedding with a language model's output "
                                  "layer; it applies to fit(X) on token ids only")
            if net.encoder.n_outputs != self.d_model or spec["chars"] is not None:
                raise ConfigError(f"tie_weights=True needs embedding_dim == d_model (got {self.embedding_dim} "
                                  f"and {self.d_model}) and no char_encoder")
            if spec["n_classes"] != spec["n_words"] + 1:
                raise ConfigError("tie_weights=True needs every output word to have its own embedding row; "
                                  "this vocab marks words as unknown (n_known < len(vocab))")
            net.head = TiedTokenHead(net.encoder.embed, spec["n_classes"])
        return net

    @classmethod
    def get_test_params(cls):
        tiny = {"d_model": 16, "n_heads": 2, "n_layers": 1, "context": 16, "embedding_dim": 16, "batch_size": 8,
                "max_epochs": 20, "lr": 0.01, "valid_fraction": 0.0}
        return [tiny, {**tiny, "causal": False, "pooling": "attention", "dropout": 0.1}]
