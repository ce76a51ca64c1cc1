"""Input encoders: token ids or float vectors -> the vectors a body reads, shape (B, T, n_inputs).

Token input convention (every neural family)
--------------------------------------------
Input ids are the dataset's token ids, except ``START = -1``: the start
symbol a language model reads before the first token (padding positions
also hold -1; nothing reads them). Ids ``0 .. n_words - 1`` have their own
embedding; any other id (a word unseen in training, ``>= vocab.n_known``,
or beyond the training range) gets the learned ``UNK`` row. With a
character encoder, a word's vector also carries the encoding of its string.

Continuous input
----------------
Row ``t`` is ``[z_{t-1}, 0]`` for standardised observations ``z``, and the
start row is ``[0, ..., 0, 1]`` (a start flag in the last column).
"""
from __future__ import annotations

import torch
from torch import nn

from ._char_encoder import CharEncoder
from ._neural_layers import Stochastic

__all__ = ["TokenEncoder", "ContinuousEncoder", "START", "FREQUENCY"]

START = -1
FREQUENCY = "frequency"   # word_dropout by word frequency
FREQUENCY_ALPHA = 0.25


class TokenEncoder(Stochastic):
    """Word embedding with learned UNK and start rows, word dropout, optional char encoder.

    Parameters
    ----------
    n_words : int
        Ids ``0 .. n_words - 1`` are embedded; row ``n_words`` is UNK, ``n_words + 1`` the start symbol.
    embedding_dim : int
    word_dropout : float or "frequency"
        Training only: probability of replacing a word's embedding by UNK
        (so UNK is learned, and the char encoder learns to stand in for it).
        "frequency": a probability per word, ``alpha / (alpha + count)`` with
        ``alpha = 0.25`` (Kiperwasser & Goldberg 2016; Plank et al. 2016), set
        by :meth:`set_word_counts`: rare words, the ones most like unknown
        words, lose their embedding most often.
    chars : dict or None
        ``{"kind", "n_words", "max_chars", "n_chars", "out_dim"}`` of a :class:`CharEncoder`.

    Attributes
    ----------
    n_outputs : int
        ``embedding_dim`` plus the char encoding's size.
    """

    def __init__(self, n_words, embedding_dim, word_dropout=0.0, chars=None):
        super().__init__()
        self.n_words = n_words
        self.word_dropout = word_dropout if word_dropout == FREQUENCY else float(word_dropout)
        uniform = 0.0 if word_dropout == FREQUENCY else float(word_dropout)
        probs = torch.full((n_words + 2,), uniform)
        probs[n_words:] = 0.0                                 # UNK and start are never dropped
        self.register_buffer("drop_prob", probs)              # saved with the weights
        self.embed = nn.Embedding(n_words + 2, embedding_dim)
        self.chars = CharEncoder(**chars) if chars else None
        self.n_outputs = embedding_dim + (chars["out_dim"] if chars else 0)

    def set_word_counts(self, counts, alpha=FREQUENCY_ALPHA):
        """``word_dropout="frequency"``: per-word drop probability ``alpha / (alpha + count)`` (count 0: none)."""
        counts = torch.as_tensor(counts, dtype=torch.float32)[: self.n_words]
        with torch.no_grad():
            self.drop_prob[: counts.numel()] = torch.where(counts > 0, alpha / (alpha + counts), 0.0)

    def forward(self, ids):
        """(B, T) int ids -> (B, T, n_outputs)."""
        unk, start = self.n_words, self.n_words + 1
        rows = torch.where(ids < 0, start, torch.where(ids >= self.n_words, unk, ids))
        if self.training and self.word_dropout != 0.0:
            u = torch.rand(ids.shape, generator=self.generator, device=ids.device)
            rows = torch.where(u < self.drop_prob[rows], unk, rows)
        x = self.embed(rows)                                  # (B, T, E)
        if self.chars is not None:
            x = torch.cat([x, self.chars(ids)], dim=-1)       # (B, T, E + C)
        return x


class ContinuousEncoder(nn.Module):
    """Identity on ``[z_{t-1}, start flag]`` rows (the recurrent layer's input matrix is the projection).

    Parameters
    ----------
    n_features : int
        ``d``; the input rows have ``d + 1`` columns.
    """

    def __init__(self, n_features):
        super().__init__()
        self.n_outputs = n_features + 1

    def forward(self, x):
        """(B, T, d + 1) float -> the same tensor."""
        return x
