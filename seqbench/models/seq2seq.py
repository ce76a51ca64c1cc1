"""Encoder-decoder transduction: ``Seq2Seq`` maps a source sequence of ids to a target sequence of ids.

``fit(X, Y)`` takes pairs of sequences of possibly different lengths. A
recurrent encoder (LSTM or GRU, ``n_layers``) reads the source; a decoder of
the same shape starts from the encoder's final state and predicts the target
followed by an end symbol, one token at a time, from the previous token
(the true one in training: teacher forcing) and a *context* vector:

``attention=None``
    the encoder's final top-layer state, the same at every step (the fixed
    context vector of Cho et al. / Sutskever et al.);
``"mean"``
    the mean of all encoder states (mean pooling), the same at every step;
``"bahdanau"``
    additive attention (Bahdanau et al., 2015): weights
    ``softmax_i(v . tanh(W s_{t-1} + U h_i))`` from the *previous* decoder
    state, context fed into the decoder cell;
``"luong"``
    multiplicative "general" attention (Luong et al., 2015): weights
    ``softmax_i(s_t . W h_i)`` from the *current* decoder state; the
    previous attentional vector is fed to the cell (input feeding).

Every variant predicts from ``tanh(W_c [s_t; c_t])``. Attention weights sum
to 1 over the source positions and are 0 on padding. ``predict`` decodes
greedily. Symbols: target ids ``0 .. n_target_symbols_ - 1`` (the largest
training id + 1), then the end symbol (EOS, an output class) and the begin
symbol (BOS, the decoder's first input); both are internal. Source ids
beyond the training range read a learned unknown-word row.

Training runs through the one loop (:func:`._torch.train`): each batch is a
:class:`~._neural_batches.Window` whose ``inp`` is ``(source, decoder
input)``, ``tgt`` the targets with EOS (padding -1) and ``lengths`` the
source lengths; the loss is nats per target token, EOS included.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .._validation import check_sequences, n_tokens
from ..base import Tags
from ..exceptions import ConfigError, InvalidSequenceError
from ..registry import register
from ._neural_base import NeuralSequenceEstimator, store_params
from ._neural_batches import Window, bucket_batches, pad, split_valid
from ._neural_heads import TokenHead
from ._neural_layers import Dropout, check_seeded, init_parameters, resolve_device, torch_runtime
from ._neural_params import is_int
from ._torch import train

__all__ = ["Seq2Seq", "Seq2SeqNet", "BahdanauAttention", "LuongAttention", "CELLS", "ATTENTIONS"]

CELLS = ("lstm", "gru")
ATTENTIONS = (None, "none", "mean", "bahdanau", "luong")  # "none" = None (for TOML suites)
_LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU}
_CELLS = {"lstm": nn.LSTMCell, "gru": nn.GRUCell}
_EVAL_ROWS = 128


def _attend(scores, keys, mask):
    """Softmax of ``scores`` (B, S) over the valid source positions ``mask`` (B, S) -> context (B, K), weights."""
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
    return torch.bmm(weights.unsqueeze(1), keys)[:, 0], weights


class BahdanauAttention(nn.Module):
    """Additive attention: ``e_i = v . tanh(W q + U k_i)``; query (B, Q), keys (B, S, K), mask (B, S) bool.

    ``prepare(keys)`` computes ``U k_i`` once per source; ``forward`` returns
    the context (B, K) and the weights (B, S).
    """

    def __init__(self, query_dim, key_dim, attn_dim):
        super().__init__()
        self.W = nn.Linear(query_dim, attn_dim, bias=False)
        self.U = nn.Linear(key_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def prepare(self, keys):
        return self.U(keys)                                                      # (B, S, A)

    def forward(self, query, keys, mask, prepared=None):
        prepared = self.prepare(keys) if prepared is None else prepared
        scores = self.v(torch.tanh(self.W(query).unsqueeze(1) + prepared))[..., 0]   # (B, S)
        return _attend(scores, keys, mask)


class LuongAttention(nn.Module):
    """Multiplicative ("general") attention: ``e_i = q . W k_i``; same interface as :class:`BahdanauAttention`."""

    def __init__(self, query_dim, key_dim):
        super().__init__()
        self.W = nn.Linear(key_dim, query_dim, bias=False)

    def prepare(self, keys):
        return self.W(keys)                                                      # (B, S, Q)

    def forward(self, query, keys, mask, prepared=None):
        prepared = self.prepare(keys) if prepared is None else prepared
        return _attend(torch.bmm(prepared, query.unsqueeze(-1))[..., 0], keys, mask)


class Seq2SeqNet(nn.Module):
    """Encoder, decoder cells, attention and output layer.

    ``forward(inp, targets=None, lengths=None, state=None) -> (logits, loss, None)``
    with ``inp = (src (B, S) int64, dec_in (B, T) int64)``, ``lengths`` (B,)
    source lengths on the CPU, logits (B, T, n_tgt + 1). Source ids ``< 0``
    (padding) or ``>= n_src`` read the unknown-word row; decoder input ids
    ``< 0`` (padding, BOS) read the BOS row.
    """

    def __init__(self, cell, n_src, n_tgt, embedding_dim, hidden_size, n_layers, attention, dropout):
        super().__init__()
        H, E = hidden_size, embedding_dim
        self.cell, self.attention, self.n_src, self.n_tgt, self.hidden_size = cell, attention, n_src, n_tgt, H
        self.src_embed = nn.Embedding(n_src + 1, E)                             # + unknown / padding
        self.tgt_embed = nn.Embedding(n_tgt + 1, E)                             # + BOS
        self.encoder = nn.ModuleList(_LAYERS[cell](E if k == 0 else H, H, batch_first=True) for k in range(n_layers))
        self.decoder = nn.ModuleList(_CELLS[cell](E + H if k == 0 else H, H) for k in range(n_layers))
        self.attn = {"bahdanau": lambda: BahdanauAttention(H, H, H), "luong": lambda: LuongAttention(H, H)}.get(
            attention, lambda: None)()
        self.combine = nn.Linear(2 * H, H)
        self.out = nn.Linear(H, n_tgt + 1)                                      # + EOS
        self.drop = Dropout(dropout)

    def init_weights(self, generator):
        """LSTM forget-gate biases start at 1 (encoder layers and decoder cells)."""
        if self.cell != "lstm":
            return
        H = self.hidden_size
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "bias_ih" in name:
                    p[H: 2 * H].fill_(1.0)
                elif "bias_hh" in name:
                    p[H: 2 * H].zero_()

    # ------------------------------------------------------------------ encoder
    def encode(self, src, lengths):
        """Source (B, S) -> memory dict (keys (B, S, H), mask, prepared keys, fixed context) and decoder state."""
        rows = torch.where((src < 0) | (src >= self.n_src), self.n_src, src)
        x = self.drop(self.src_embed(rows))
        ragged = bool((lengths < src.shape[1]).any())
        state = []
        for k, layer in enumerate(self.encoder):
            if k:
                x = self.drop(x)
            if ragged:
                packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                out, hk = layer(packed)
                x = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])[0]
            else:
                x, hk = layer(x)                                                 # (B, S, H)
            state.append((hk[0][0], hk[1][0]) if self.cell == "lstm" else hk[0])
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < lengths.to(src.device)[:, None]
        memory = {"keys": x, "mask": mask, "prepared": None if self.attn is None else self.attn.prepare(x)}
        if self.attention is None:
            memory["context"] = self._top(state[-1])
        elif self.attention == "mean":
            memory["weights"] = mask.to(x.dtype) / lengths.to(x.device, x.dtype)[:, None]
            memory["context"] = torch.bmm(memory["weights"].unsqueeze(1), x)[:, 0]
        return memory, {"layers": state, "feed": x.new_zeros(x.shape[0], self.hidden_size)}

    def _top(self, layer_state):
        return layer_state[0] if self.cell == "lstm" else layer_state

    # ------------------------------------------------------------------ decoder
    def step(self, y_prev, memory, state):
        """One decoder step: previous ids (B,) -> logits (B, n_tgt + 1), state, attention weights (B, S) or None."""
        rows = torch.where(y_prev < 0, self.n_tgt, y_prev)
        emb = self.drop(self.tgt_embed(rows))
        weights = memory.get("weights")
        if self.attention == "bahdanau":
            context, weights = self.attn(self._top(state["layers"][-1]), memory["keys"], memory["mask"],
                                         memory["prepared"])
            x = torch.cat([emb, context], dim=-1)
        elif self.attention == "luong":
            x = torch.cat([emb, state["feed"]], dim=-1)
        else:
            context = memory["context"]
            x = torch.cat([emb, context], dim=-1)
        layers = []
        for k, cell in enumerate(self.decoder):
            if k:
                x = self.drop(x)
            layers.append(cell(x, state["layers"][k]))
            x = self._top(layers[-1])                                            # (B, H)
        if self.attention == "luong":
            context, weights = self.attn(x, memory["keys"], memory["mask"], memory["prepared"])
        feed = torch.tanh(self.combine(torch.cat([x, context], dim=-1)))
        return self.out(self.drop(feed)), {"layers": layers, "feed": feed}, weights

    def teacher_forced(self, src, lengths, dec_in):
        """Logits (B, T, n_tgt + 1) and attention weights (B, T, S) (None without attention) given the inputs."""
        memory, state = self.encode(src, lengths)
        logits, weights = [], []
        for t in range(dec_in.shape[1]):
            out, state, w = self.step(dec_in[:, t], memory, state)
            logits.append(out)
            weights.append(w)
        return torch.stack(logits, dim=1), None if weights[0] is None else torch.stack(weights, dim=1)

    def forward(self, inp, targets=None, lengths=None, state=None):
        src, dec_in = inp
        logits, _ = self.teacher_forced(src, lengths, dec_in)
        return logits, None if targets is None else TokenHead.loss(logits, targets), None


def _end_marked(sequences):
    """Each sequence followed by -1 (its end), for position-wise comparison."""
    return [np.append(np.asarray(s, dtype=np.int64), -1) for s in sequences]


@register("seq2seq")
class Seq2Seq(NeuralSequenceEstimator):
    """Encoder-decoder network for transduction: ``fit(X, Y)`` on pairs of id sequences, greedy ``predict``.

    See :mod:`seqbench.models.seq2seq` for the architecture and symbols.

    Parameters
    ----------
    cell : {"lstm", "gru"}, default="lstm"
    attention : {None, "none", "mean", "bahdanau", "luong"}, default=None
        ``"none"`` is the same as None (a TOML suite cannot write None).
    hidden_size : int, default=128
    embedding_dim : int, default=64
        Source and target embeddings (separate tables).
    n_layers : int, default=1
        Layers of the encoder and of the decoder.
    dropout : float, default=0.0
        On the embeddings, between layers and before the output layer.
    batch_size, max_epochs, max_tokens, time_budget_s, optimizer, lr, weight_decay, lr_schedule, \
warmup_steps, lr_decay, lr_decay_start, clip_norm, valid_fraction, patience, init_range, random_state, device, n_threads
        The training parameters of :class:`~._neural_base.NeuralSequenceEstimator` (no ``stateful``
        or ``bptt``: training reads whole pairs). ``max_tokens`` and the history count target tokens
        (EOS included).

    Attributes
    ----------
    fit_mode_ : "transduction"
    vocab_size_ : int
        Source ids ``0 .. vocab_size_ - 1`` have their own embedding.
    n_target_symbols_ : int
        Target ids ``0 .. n_target_symbols_ - 1`` can be produced.
    history_, stop_reason_, n_parameters_, n_threads_, device_, module_, net_spec_
        As in :class:`~._neural_base.NeuralSequenceEstimator`.

    Examples
    --------
    >>> import numpy as np
    >>> from seqbench.models import Seq2Seq
    >>> X = [np.array([1, 2, 3]), np.array([3, 1])] * 4
    >>> model = Seq2Seq(hidden_size=16, max_epochs=2, random_state=0).fit(X, [x[::-1] for x in X])
    >>> [p.dtype for p in model.predict(X[:2])]
    [dtype('int64'), dtype('int64')]
    """

    stateful = False   # read by the shared parameter checks; not parameters of this family
    bptt = None

    def __init__(self, cell="lstm", attention=None, hidden_size=128, embedding_dim=64, n_layers=1, dropout=0.0,
                 batch_size=32, max_epochs=10, max_tokens=None, time_budget_s=None, optimizer="adamw", lr=None,
                 weight_decay=0.01, lr_schedule="constant", warmup_steps=0, lr_decay=0.5, lr_decay_start=0,
                 clip_norm=5.0,
                 valid_fraction=0.1, patience=3, init_range=None, random_state=None, device="cpu", n_threads=1):
        store_params(self, locals())

    def __seqbench_tags__(self):
        return Tags(input_kind="discrete", density=False, tagger=False, sampler=False, neural=True, transducer=True)

    # ------------------------------------------------------------------ network
    def _assemble(self, spec):
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        for name in ("hidden_size", "n_layers"):
            if not is_int(getattr(self, name), 1):
                raise ConfigError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        net = Seq2SeqNet(self.cell, spec["n_src"], spec["n_tgt"], self.embedding_dim, self.hidden_size,
                         self.n_layers, None if self.attention == "none" else self.attention, self.dropout)
        check_seeded(net)
        return net

    # ------------------------------------------------------------------ data
    def _check_pairs(self, X, Y):
        X = check_sequences(X, kind="discrete", name="X")
        if Y is None:
            raise InvalidSequenceError(f"{type(self).__name__} needs target sequences Y (fit(X, Y): one per source)")
        Y = check_sequences(Y, kind="discrete", allow_empty_sequence=True, name="Y")
        if len(Y) != len(X):
            raise InvalidSequenceError(f"Y has {len(Y)} target sequences for {len(X)} source sequences in X")
        return X, Y

    def _window(self, X, rows, Y=None, device="cpu"):
        """A padded batch: ``inp = (src, BOS + y)``, ``tgt = y + EOS`` (-1 padding), ``lengths`` of the sources."""
        src, lengths = pad([X[i] for i in rows], -1)
        if Y is None:
            return Window((torch.from_numpy(src).to(device), None), None, torch.from_numpy(lengths), 0, rows)
        eos = self.n_target_symbols_
        dec_in = pad([np.concatenate([[-1], Y[i]]).astype(np.int64) for i in rows], -1)[0]
        tgt, n = pad([np.append(Y[i], eos).astype(np.int64) for i in rows], -1)
        return Window((torch.from_numpy(src).to(device), torch.from_numpy(dec_in).to(device)),
                      torch.from_numpy(tgt).to(device), torch.from_numpy(lengths), int(n.sum()), rows)

    # ------------------------------------------------------------------ fit
    def fit(self, X, Y=None):
        """Train on pairs: ``X`` source sequences, ``Y`` target sequences (of possibly other lengths).

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)
            Source ids, non-empty.
        Y : list of ndarray of shape (m_i,)
            Target ids (an empty target is allowed: the model learns to stop at once).

        Returns
        -------
        self
        """
        config = self._start_fit()
        X, Y = self._check_pairs(X, Y)
        self.input_kind_ = "discrete"
        self.vocab_size_ = int(max(x.max() for x in X)) + 1
        self.n_target_symbols_ = max((int(y.max()) + 1 for y in Y if len(y)), default=0)
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.random_state)
        init_seed, train_seed = (int(s) for s in rng.integers(2**63 - 1, size=2))
        spec = {"n_src": self.vocab_size_, "n_tgt": self.n_target_symbols_}
        lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
        tr, va = split_valid(len(X), self.valid_fraction, rng)
        with torch_runtime(self.n_threads, self._onednn):
            net = self._build_net(spec)
            init_parameters(net, torch.Generator().manual_seed(init_seed))
            net = net.to(device)

            def train_chunks(epoch):
                return [[self._window(X, tr[b], Y, device)] for b in bucket_batches(lengths[tr], self.batch_size, rng)]

            def valid_chunks():
                return [[self._window(X, va[b], Y, device)] for b in bucket_batches(lengths[va], self.batch_size)]

            history, stop = train(net, train_chunks, valid_chunks if len(va) else None, config,
                                  generator=torch.Generator(device=device).manual_seed(train_seed),
                                  steps_per_epoch=-(-len(tr) // self.batch_size),
                                  tokens_per_epoch=int(sum(len(Y[i]) + 1 for i in tr)))
            self.n_threads_ = torch.get_num_threads()
        self.net_spec_, self.module_, self.device_ = spec, net, str(device)
        self.history_, self.stop_reason_ = history, stop
        self.n_parameters_ = int(sum(p.numel() for p in net.parameters()))
        self.fit_mode_ = "transduction"
        return self

    # ------------------------------------------------------------------ decoding
    def _batches(self, X):
        lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
        return bucket_batches(lengths, _EVAL_ROWS)

    @torch.no_grad()
    def predict(self, X, max_length=None):
        """Greedy decoding: the most likely next token at every step, until EOS.

        Parameters
        ----------
        X : list of ndarray of shape (n_steps_i,)
        max_length : int or None
            Most tokens produced per sequence; None: ``2 * n_steps_i + 10``.

        Returns
        -------
        list of ndarray of int64, shape (m_i,)
            The produced targets, EOS left out.
        """
        self._check_fitted()
        if max_length is not None and not is_int(max_length, 0):
            raise ConfigError(f"max_length must be None or an integer >= 0, got {max_length!r}")
        X = check_sequences(X, kind="discrete", name="X")
        out = [None] * len(X)
        net, device, eos = self.module_.eval(), torch.device(self.device_), self.n_target_symbols_
        with torch_runtime(self.n_threads, self._onednn):
            for rows in self._batches(X):
                win = self._window(X, rows, device=device)
                limit = (2 * win.lengths + 10) if max_length is None else torch.full_like(win.lengths, max_length)
                memory, state = net.encode(win.inp[0], win.lengths)
                y = torch.full((len(rows),), -1, dtype=torch.int64, device=device)
                done = (limit == 0).to(device)
                tokens = []
                for t in range(int(limit.max())):
                    if bool(done.all()):
                        break
                    logits, state, _ = net.step(y, memory, state)
                    y = logits.argmax(dim=-1)
                    tokens.append(torch.where(done, eos, y))
                    done |= (y == eos) | (limit.to(device) <= t + 1)
                produced = torch.stack(tokens, dim=1).cpu().numpy() if tokens else np.empty((len(rows), 0), np.int64)
                for b, i in enumerate(rows):
                    seq = produced[b, : int(limit[b])]
                    stop = np.flatnonzero(seq == eos)
                    out[i] = seq[: stop[0] if stop.size else len(seq)].astype(np.int64)
        return out

    @torch.no_grad()
    def attention_weights(self, X, Y):
        """Teacher-forced attention weights: for pair ``i`` an array (len(Y[i]) + 1, len(X[i])).

        Row ``t`` holds the weights over the source positions with which the
        decoder predicted ``Y[i][t]`` (the last row: EOS); each row sums to 1.
        ``attention="mean"`` gives uniform rows.

        Raises
        ------
        NotImplementedError
            For ``attention=None`` (the decoder reads the final state only).
        """
        self._check_fitted()
        if self.attention in (None, "none"):
            self._unsupported("attention_weights with attention=None (the decoder reads the final state only)")
        X, Y = self._check_pairs(X, Y)
        out = [None] * len(X)
        net, device = self.module_.eval(), torch.device(self.device_)
        with torch_runtime(self.n_threads, self._onednn):
            for rows in self._batches(X):
                win = self._window(X, rows, Y, device)
                _, weights = net.teacher_forced(win.inp[0], win.lengths, win.inp[1])
                w = weights.double().cpu().numpy()
                for b, i in enumerate(rows):
                    out[i] = w[b, : len(Y[i]) + 1, : len(X[i])]
        return out

    # ------------------------------------------------------------------ scores
    def score(self, X, Y):
        """Token accuracy of greedy decoding against ``Y``, the end of each target counted as a token.

        With ``p`` = ``predict(X)[i]`` followed by EOS and ``r`` = ``Y[i]``
        followed by EOS, position ``t < len(r)`` is correct when
        ``t < len(p)`` and ``p[t] == r[t]``; the score is the number of
        correct positions over ``sum(len(Y[i]) + 1)``. A prediction that
        stops early is wrong at every missing position (its EOS included);
        one that runs on is wrong at the target's EOS.

        Returns
        -------
        float in [0, 1]
        """
        pred, Y = self._predict_pairs(X, Y)
        hits = 0
        for p, r in zip(_end_marked(pred), _end_marked(Y)):
            n = min(len(p), len(r))
            hits += int((p[:n] == r[:n]).sum())
        return hits / (n_tokens(Y) + len(Y))

    def sequence_accuracy(self, X, Y):
        """Fraction of the sources whose greedy decoding equals the target exactly."""
        pred, Y = self._predict_pairs(X, Y)
        return float(np.mean([np.array_equal(p, r) for p, r in zip(pred, Y)]))

    def _predict_pairs(self, X, Y):
        self._check_fitted()
        X, Y = self._check_pairs(X, Y)
        return self.predict(X), Y

    # ------------------------------------------------------------------ what a transducer is not
    def score_tokens(self, X, max_context=None):
        self._unsupported("score_tokens (a conditional model of Y given X, not a density of X)")

    def predict_proba(self, X):
        self._unsupported("predict_proba (predict decodes whole target sequences)")

    def predict_next_moments(self, X):
        self._unsupported("predict_next_moments")

    def sample(self, n_sequences=1, length=100, random_state=None, temperature=1.0):
        self._unsupported("sample (a conditional model: use predict(X))")

    @classmethod
    def get_test_params(cls):
        tiny = {"hidden_size": 16, "embedding_dim": 8, "batch_size": 8, "max_epochs": 5, "lr": 0.02,
                "valid_fraction": 0.0}
        return [tiny, {**tiny, "cell": "gru", "attention": "bahdanau"}]
