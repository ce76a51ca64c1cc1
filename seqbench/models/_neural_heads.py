"""Output heads by fit mode, and :class:`SequenceNet`: encoder -> body -> head.

- language model: :class:`TokenHead`, logits (B, T, V + 1); cross-entropy
  against targets (B, T), -1 padding ignored;
- tagger: :class:`TokenHead`, logits (B, T, n_tags); the same loss;
- classifier: :class:`SequenceHead`, logits (B, n_classes) from the last
  state; cross-entropy against labels (B,);
- Gaussian density: :class:`GaussianHead`, (B, T, 2d) = mean and log
  variance; Gaussian negative log density summed over the d features,
  against targets (B, T, d), NaN padding ignored.

Every loss is a mean over the counted targets (tokens, sequences or steps).

The language model's last class (id ``V``) stands for "a word beyond the
training range" (ids ``>= V`` when scoring without a vocabulary): it is
never a training target, so its probability is learned to be small, and
sampling leaves it out.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._neural_layers import Dropout

__all__ = ["TokenHead", "SequenceHead", "GaussianHead", "SequenceNet", "MIN_VARIANCE"]

MIN_VARIANCE = 1e-6  # floor of the Gaussian head's variance, in standardised units


class TokenHead(nn.Module):
    """One categorical distribution per position: ``Linear(h_t)`` -> logits (B, T, n_classes)."""

    def __init__(self, n_inputs, n_classes):
        super().__init__()
        self.proj = nn.Linear(n_inputs, n_classes)

    def forward(self, h, lengths=None):
        return self.proj(h)

    @staticmethod
    def loss(logits, targets):
        n = (targets >= 0).sum().clamp(min=1)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-1, reduction="sum") / n


class SequenceHead(nn.Module):
    """One distribution per sequence, from the last state (B, n_classes).

    The summary of a sequence is the body's output at its last position;
    for a bidirectional body (second half of the features: the backward
    direction) the backward half is read at position 0, where it has seen
    the whole sequence.
    """

    def __init__(self, n_inputs, n_classes, bidirectional=False):
        super().__init__()
        self.bidirectional = bidirectional
        self.proj = nn.Linear(n_inputs, n_classes)

    def forward(self, h, lengths=None):
        B, T, H = h.shape
        last = (lengths.to(h.device) - 1) if lengths is not None else torch.full((B,), T - 1, device=h.device)
        summary = h[torch.arange(B, device=h.device), last]                     # (B, H)
        if self.bidirectional:
            summary = torch.cat([summary[:, : H // 2], h[:, 0, H // 2:]], dim=-1)
        return self.proj(summary)

    @staticmethod
    def loss(logits, targets):
        return F.cross_entropy(logits, targets)


class GaussianHead(nn.Module):
    """Diagonal Gaussian of the next observation: mean and log-variance (B, T, 2d).

    The variance is ``softplus(raw) + MIN_VARIANCE`` (standardised units),
    returned as its log.
    """

    def __init__(self, n_inputs, n_features):
        super().__init__()
        self.n_features = n_features
        self.proj = nn.Linear(n_inputs, 2 * n_features)

    def forward(self, h, lengths=None):
        mean, raw = self.proj(h).chunk(2, dim=-1)
        return torch.cat([mean, torch.log(F.softplus(raw) + MIN_VARIANCE)], dim=-1)

    @staticmethod
    def log_density(out, targets):
        """log N(targets; mean, var) summed over features: (B, T) (NaN where targets are NaN)."""
        mean, logvar = out.chunk(2, dim=-1)
        return -0.5 * (logvar + (targets - mean) ** 2 / logvar.exp() + math.log(2 * math.pi)).sum(dim=-1)

    def loss(self, out, targets):
        valid = ~torch.isnan(targets[..., 0])                                    # (B, T)
        logp = self.log_density(out, torch.where(valid.unsqueeze(-1), targets, 0.0))
        return -(logp * valid).sum() / valid.sum().clamp(min=1)


class SequenceNet(nn.Module):
    """The assembled network: ``forward(idx, targets=None, lengths=None, state=None) -> (logits, loss, state)``.

    makemore's interface plus the recurrent state: ``idx`` is (B, T) ids or
    (B, T, d + 1) floats (see :mod:`._neural_inputs`), ``targets`` as in the
    table of :mod:`._neural_heads` (padding ignored), ``lengths`` (B,) int64
    on the CPU (None: every row full), ``state`` the body's opaque state
    (None: start afresh). ``loss`` is None without targets.

    Parameters
    ----------
    encoder, body, head : nn.Module
    dropout : float
        Applied to the encoder's output and to the body's output (the
        non-recurrent connections, as in Zaremba et al.).
    """

    def __init__(self, encoder, body, head, dropout=0.0):
        super().__init__()
        self.encoder, self.body, self.head = encoder, body, head
        self.drop = Dropout(dropout)

    def features(self, idx, lengths=None, state=None):
        """Body output (B, T, n_outputs) and the state after the last position."""
        h, state = self.body(self.drop(self.encoder(idx)), lengths, state)
        return self.drop(h), state

    def forward(self, idx, targets=None, lengths=None, state=None):
        h, state = self.features(idx, lengths, state)
        logits = self.head(h, lengths)
        loss = None if targets is None else self.head.loss(logits, targets)
        return logits, loss, state

    def step(self, idx_t, state=None):
        """One position for every row: ``idx_t`` (B,) ids or (B, d + 1) floats -> head output (B, C), state.

        Uses the body's ``step`` (one cell step) when it has one; the caller
        keeps the state. Bodies without ``step`` are run by the estimator on
        the whole prefix instead.
        """
        x = self.drop(self.encoder(idx_t.unsqueeze(1)))[:, 0]                     # (B, E)
        h, state = self.body.step(x, state)                                        # (B, H)
        return self.head(self.drop(h).unsqueeze(1))[:, 0], state
