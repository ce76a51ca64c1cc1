"""Character-level word encoders (the char-rnn under a word-rnn): a vector for any word string.

A word id is looked up in a table of its characters (built once from the
vocabulary strings, unseen test words included: seqbench's ``Vocab`` keeps
them at ids ``>= n_known``), and the characters are encoded by a BiLSTM
(final states of both directions) or a CNN (max over positions of a width-3
convolution). Only the distinct words of a batch are encoded.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["CharEncoder", "char_table", "CHAR_ENCODERS"]

CHAR_ENCODERS = ("lstm", "cnn")
MAX_WORD_CHARS = 20   # longer words keep their first and last 10 characters (prefix and suffix)
CHAR_EMBEDDING = 16


def char_table(words, n_known, max_chars=MAX_WORD_CHARS):
    """Character ids of every word string.

    Characters are numbered over the training words (ids ``< n_known``) from
    2 upwards; 0 pads and 1 stands for a character never seen in a training word.

    Parameters
    ----------
    words : sequence of str, shape (n_words,)
        The vocabulary strings, by id.
    n_known : int
        Words ``0 .. n_known - 1`` are training words.
    max_chars : int

    Returns
    -------
    table : ndarray of int64, shape (n_words, max_chars)
    lengths : ndarray of int64, shape (n_words,)
        At least 1 (an empty string reads as one pad character).
    n_chars : int
        Size of the character alphabet, pad and unknown included.
    """
    alphabet = sorted(set("".join(words[:n_known])))
    index = {c: i + 2 for i, c in enumerate(alphabet)}
    half = max_chars // 2
    table = np.zeros((len(words), max_chars), dtype=np.int64)
    lengths = np.ones(len(words), dtype=np.int64)
    for i, w in enumerate(words):  # once per vocabulary entry, at fit
        if len(w) > max_chars:
            w = w[:half] + w[-(max_chars - half):]
        ids = [index.get(c, 1) for c in w]
        table[i, : len(ids)] = ids
        lengths[i] = max(len(ids), 1)
    return table, lengths, len(alphabet) + 2


class CharEncoder(nn.Module):
    """Encode words by their characters.

    Parameters
    ----------
    kind : {"lstm", "cnn"}
    n_words, max_chars, n_chars : int
        Shape of the character table and size of the alphabet (see :func:`char_table`);
        the table itself is a buffer, filled by :meth:`set_table` (or by ``load_state_dict``).
    out_dim : int
        Size of a word's encoding (even for ``"lstm"``: two directions of ``out_dim // 2``).
    """

    def __init__(self, kind, n_words, max_chars, n_chars, out_dim):
        super().__init__()
        self.kind = kind
        self.out_dim = out_dim
        self.register_buffer("table", torch.zeros(n_words, max_chars, dtype=torch.long))
        self.register_buffer("lengths", torch.ones(n_words, dtype=torch.long))
        self.embed = nn.Embedding(n_chars, CHAR_EMBEDDING, padding_idx=0)
        if kind == "lstm":
            self.rnn = nn.LSTM(CHAR_EMBEDDING, out_dim // 2, batch_first=True, bidirectional=True)
        else:
            self.conv = nn.Conv1d(CHAR_EMBEDDING, out_dim, kernel_size=3, padding=1)

    def set_table(self, table, lengths):
        """Copy the character table (from :func:`char_table`) into the buffers."""
        self.table.copy_(torch.as_tensor(table))
        self.lengths.copy_(torch.as_tensor(lengths))

    def init_weights(self, generator):
        with torch.no_grad():
            self.embed.weight[0].zero_()

    def forward(self, ids):
        """Encodings of word ids.

        Parameters
        ----------
        ids : LongTensor of shape (...)
            Word ids; an id outside ``[0, n_words)`` (the start symbol,
            padding) gets the zero vector.

        Returns
        -------
        Tensor of shape (..., out_dim)
        """
        n_words = self.table.shape[0]
        valid = (ids >= 0) & (ids < n_words)
        uniq, inverse = torch.unique(torch.where(valid, ids, -1), return_inverse=True)  # (U,), ids.shape
        words = uniq.clamp(min=0)
        chars, lengths = self.table[words], self.lengths[words]                         # (U, L), (U,)
        emb = self.embed(chars)                                                          # (U, L, C)
        if self.kind == "lstm":
            packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, (h, _) = self.rnn(packed)                                                 # (2, U, out/2)
            enc = torch.cat([h[0], h[1]], dim=-1)
        else:
            conv = self.conv(emb.transpose(1, 2))                                        # (U, out, L)
            pad = torch.arange(chars.shape[1], device=ids.device)[None, :] >= lengths[:, None]
            enc = conv.masked_fill(pad[:, None, :], float("-inf")).amax(dim=2)
        enc = enc * (uniq >= 0).unsqueeze(-1).to(enc.dtype)                             # no string: zeros
        return enc[inverse]
