"""How the Kalman family batches sequences: two time-major groups, sorted by length.

All sequences share the parameters, so when no value is missing the
predicted and filtered covariances (and the gains) at step ``t`` are the
same for every sequence: the *shared* group (complete sequences) runs the
covariance recursion once per step and moves the means of all sequences
with one matrix product. Sorted by decreasing length, the sequences still
running at step ``t`` are a prefix ``[:n_active[t]]`` of the batch, so
sequences of any lengths go together.

Sequences with a missing value form the *masked* group: covariances per
sequence and per step, padded steps treated as missing (they carry no
information, so the filter and smoother are exact on the real steps).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ResourceLimitError

__all__ = ["Group", "make_groups", "unpack", "check_memory"]

MAX_BYTES = 4 * 2**30   # per-sequence covariance arrays beyond this are refused


@dataclass
class Group:
    """A batch of sequences laid out time-major.

    Attributes
    ----------
    index : ndarray of int64, shape (B,)
        Positions of the sequences in the caller's list, longest first.
    lengths : ndarray of int64, shape (B,)
        Their lengths (non-increasing).
    Y : ndarray of shape (T, B, p)
        Observations; padding is 0 (shared) or NaN (masked).
    masked : bool
        Whether covariances are per sequence (some value is missing).
    """

    index: np.ndarray
    lengths: np.ndarray
    Y: np.ndarray
    masked: bool

    @property
    def n_active(self):
        """ndarray of shape (T,): how many sequences have a step ``t`` (a prefix of the batch)."""
        return self.valid.sum(axis=1)

    @property
    def valid(self):
        """ndarray of bool, shape (T, B): real (not padded) steps."""
        return self.lengths[None, :] > np.arange(self.Y.shape[0])[:, None]


def _pad(X, idx, masked):
    lengths = np.array([len(X[i]) for i in idx], dtype=np.int64)
    p = X[idx[0]].shape[1]
    Y = np.full((int(lengths[0]), len(idx), p), np.nan if masked else 0.0)
    for b, i in enumerate(idx):
        Y[: lengths[b], b] = X[i]
    return lengths, Y


def make_groups(X, allow_masked=True, force_masked=False):
    """Split validated sequences into the shared and the masked group.

    Parameters
    ----------
    X : list of ndarray of shape (n_steps_i, p)
    allow_masked : bool
        Whether NaN values may occur (else the caller has rejected them).
    force_masked : bool
        Put every sequence in the masked group (the general path; tests).

    Returns
    -------
    list of Group
        At most two groups; every sequence is in exactly one.
    """
    has_nan = np.array([allow_masked and bool(np.isnan(x).any()) for x in X]) | force_masked
    order = np.argsort([-len(x) for x in X], kind="stable")
    groups = []
    for masked in (False, True):
        idx = order[has_nan[order] == masked]
        if idx.size:
            lengths, Y = _pad(X, idx, masked)
            groups.append(Group(idx, lengths, Y, masked))
    return groups


def check_memory(groups, state_dim, per_sequence_shared=False):
    """Refuse, with the figure, per-sequence covariance arrays larger than ``MAX_BYTES``.

    A masked group keeps about four ``(T, B, d, d)`` float64 arrays (predicted,
    filtered, smoothed covariances and smoother gains); ``per_sequence_shared``
    counts one such array for a shared group too (``smooth`` returns them).

    Raises
    ------
    ResourceLimitError
    """
    need = sum((4 if g.masked else int(per_sequence_shared)) * g.Y.shape[0] * g.Y.shape[1] * state_dim**2 * 8
               for g in groups)
    if need > MAX_BYTES:
        raise ResourceLimitError(
            f"per-sequence state covariances would take {need / 2**30:.1f} GiB (limit "
            f"{MAX_BYTES / 2**30:.0f} GiB); pass fewer or shorter sequences per call"
        )


def unpack(groups, per_group, n_sequences):
    """Cut time-major per-group arrays back into the caller's list order.

    Parameters
    ----------
    groups : list of Group
    per_group : list of ndarray of shape (T_g, B_g, ...)
        One array per group, step-major like ``Group.Y``.
    n_sequences : int

    Returns
    -------
    list of ndarray of shape (n_steps_i, ...)
    """
    out = [None] * n_sequences
    for g, values in zip(groups, per_group):
        for b, (i, L) in enumerate(zip(g.index, g.lengths)):
            out[i] = np.ascontiguousarray(values[:L, b])
    return out
