"""Batches for the training loop and for scoring: length buckets, time windows, streams.

Vocabulary
----------
example
    One sequence's input array (``(T,)`` ids or ``(T, d + 1)`` floats) and
    target array (``(T,)`` ids, ``(T, d)`` floats) or target label (a
    classifier's int).
window
    :class:`Window`: padded tensors of a few rows over at most ``bptt``
    time steps; padded targets are -1 (ids) or NaN (floats).
chunk
    Windows that share the recurrent state, in time order: the loop starts
    each chunk from a fresh state and carries it (detached) from window to
    window. A batch of sequences cut into windows of ``bptt`` steps is one
    chunk; a stateful epoch over one stream is one chunk.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Window", "bucket_batches", "pad", "sequence_chunks", "stream_chunk", "split_valid"]


@dataclass
class Window:
    """Padded tensors of one optimisation step (or one scoring pass).

    Attributes
    ----------
    inp : Tensor (B, T) int64 or (B, T, d + 1) float32
    tgt : Tensor (B, T) int64, (B, T, d) float32 or (B,) int64
    lengths : Tensor (B,) int64, on the CPU
        Valid steps of each row in this window (0 for a row that has ended).
    n_targets : int
        Counted targets (loss weight): tokens, or sequences for a classifier.
    rows : ndarray of int64, shape (B,)
        Which examples the rows are.
    start : int
        Time offset of the window within its chunk.
    """

    inp: torch.Tensor
    tgt: torch.Tensor | None
    lengths: torch.Tensor
    n_targets: int
    rows: np.ndarray
    start: int = 0


def bucket_batches(lengths, batch_size, rng=None):
    """Group sequences of similar length.

    Sort by length (ties broken at random with ``rng``), cut into batches of
    ``batch_size``, and shuffle the order of the batches (with ``rng``).
    Without ``rng``: sorted by length, in order (scoring).

    Parameters
    ----------
    lengths : ndarray of int, shape (n,)
    batch_size : int
    rng : numpy Generator or None

    Returns
    -------
    list of ndarray of int64
    """
    lengths = np.asarray(lengths)
    order = (np.lexsort((rng.random(len(lengths)), lengths)) if rng is not None
             else np.argsort(lengths, kind="stable"))
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def pad(arrays, value):
    """Stack arrays of shape ``(T_i, ...)`` into ``(B, max T_i, ...)`` filled with ``value``."""
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    first = arrays[0]
    out = np.full((len(arrays), int(lengths.max())) + first.shape[1:], value, dtype=first.dtype)
    for i, a in enumerate(arrays):  # one copy per sequence
        out[i, : len(a)] = a
    return out, lengths


def _pad_value(array, target):
    """Padding: -1 for ids (the start symbol as input, ignored as a target); 0 for float inputs, NaN for
    float targets (ignored by the Gaussian loss)."""
    if array.dtype.kind == "i":
        return -1
    return np.nan if target else 0.0


def _tensor(array, device):
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def sequence_chunks(inputs, targets, batches, bptt, device):
    """Chunks of padded batches of whole sequences, each cut into windows of ``bptt`` steps.

    Parameters
    ----------
    inputs : list of ndarray
        Per example ``(T_i,)`` int64 or ``(T_i, d + 1)`` float32.
    targets : list of ndarray, ndarray of shape (n,), or None
        Per-position targets, per-sequence labels, or None (scoring).
    batches : list of ndarray of int64
        Example indices of each batch (see :func:`bucket_batches`).
    bptt : int or None
        Window length; None: one window per batch.
    device : torch.device

    Yields
    ------
    list of Window
        One chunk per batch.
    """
    per_position = targets is not None and not isinstance(targets, np.ndarray)
    for rows in batches:
        inp, lengths = pad([inputs[i] for i in rows], _pad_value(inputs[rows[0]], target=False))
        if per_position:
            tgt = pad([targets[i] for i in rows], _pad_value(targets[rows[0]], target=True))[0]
        else:
            tgt = None if targets is None else targets[rows]
        T = inp.shape[1]
        step = T if bptt is None else bptt
        inp_t = _tensor(inp, device)
        tgt_t = None if tgt is None else _tensor(tgt, device)
        chunk = []
        for start in range(0, T, step):
            win_lengths = np.clip(lengths - start, 0, step)
            n_targets = int(win_lengths.sum()) if per_position else len(rows)
            chunk.append(Window(inp_t[:, start: start + step],
                                tgt_t[:, start: start + step] if per_position else tgt_t,
                                torch.from_numpy(win_lengths), n_targets, rows, start))
        yield chunk


def stream_chunk(inp, tgt, batch_size, bptt, device):
    """One stream split into ``batch_size`` parallel rows, cut into windows of ``bptt`` steps.

    The stream of ``N`` steps becomes ``B = min(batch_size, N)`` contiguous
    rows of ``N // B`` steps (the last ``N mod B`` steps are left out), as in
    Zaremba et al.; row ``r`` of window ``w + 1`` continues row ``r`` of window ``w``.

    Parameters
    ----------
    inp : ndarray of shape (N,) or (N, d + 1)
    tgt : ndarray of shape (N,) or (N, d)
    batch_size, bptt : int
    device : torch.device

    Returns
    -------
    list of Window
    """
    B = max(1, min(batch_size, len(inp)))
    L = len(inp) // B
    inp_t = _tensor(inp[: B * L].reshape((B, L) + inp.shape[1:]), device)
    tgt_t = _tensor(tgt[: B * L].reshape((B, L) + tgt.shape[1:]), device)
    rows = np.arange(B)
    windows = []
    for start in range(0, L, bptt):
        width = min(bptt, L - start)
        windows.append(Window(inp_t[:, start: start + width], tgt_t[:, start: start + width],
                              torch.full((B,), width, dtype=torch.int64), B * width, rows, start))
    return windows


def split_valid(n, fraction, rng):
    """Indices of a random train / validation split of ``n`` items.

    ``round(fraction * n)`` items (at least one when ``fraction > 0``, none
    when ``n < 2``) are held out.

    Returns
    -------
    train, valid : ndarray of int64
    """
    n_valid = 0 if fraction <= 0 or n < 2 else min(n - 1, max(1, int(round(fraction * n))))
    perm = rng.permutation(n)
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])
