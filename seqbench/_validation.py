"""Input validation and the two internal layouts (concatenated, padded), in one place.

Public estimators take ``X`` as a list of sequences: 1-D integer arrays of token
ids (discrete) or 2-D float arrays of shape ``(T_i, d)`` (continuous); ``y`` is a
list of 1-D integer arrays of the same lengths. Nothing else in seqbench should
re-implement these checks.
"""
from __future__ import annotations

import numbers

import numpy as np

from .exceptions import InvalidSequenceError, UnknownSymbolError

__all__ = ["check_sequences", "check_tags", "to_concat", "from_concat", "pad_batch", "n_tokens", "as_generator"]


def _first_bad(mask):
    """Index of the first True entry of a boolean array."""
    return int(np.flatnonzero(mask)[0])


def _as_array(seq, i, name):
    if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
        raise InvalidSequenceError(
            f"{name}[{i}] is {type(seq).__name__} {seq!r:.40}; expected a sequence "
            f"(1-D array of token ids or 2-D float array). Pass a list of sequences, "
            f"e.g. [np.array([3, 1, 4])], not a flat list of ids."
        )
    try:
        arr = np.asarray(seq)
    except ValueError as exc:  # ragged nested lists
        raise InvalidSequenceError(f"{name}[{i}] could not be read as an array: {exc}") from None
    return arr


def check_sequences(
    X,
    *,
    kind="discrete",
    vocab_size=None,
    n_features=None,
    allow_nan=False,
    allow_empty_sequence=False,
    name="X",
):
    """Validate a list of sequences and return it as a list of contiguous arrays.

    Parameters
    ----------
    X : list of array-like
        Sequences: ``(n_steps_i,)`` integer ids for ``kind="discrete"``,
        ``(n_steps_i, n_features)`` floats for ``kind="continuous"`` (a 1-D
        float sequence is read as ``n_features=1``).
    kind : {"discrete", "continuous"}
    vocab_size : int or None
        Discrete only: ids must lie in ``[0, vocab_size)``. ``None`` checks
        only that ids are non-negative.
    n_features : int or None
        Continuous only: required number of columns.
    allow_nan : bool
        Continuous only: whether NaN (missing) observations are accepted.
    allow_empty_sequence : bool
        Whether a sequence of length 0 is accepted.

    Returns
    -------
    X : list of ndarray
        ``int64`` arrays of shape ``(n_steps_i,)`` or ``float64`` arrays of
        shape ``(n_steps_i, n_features)``.

    Raises
    ------
    InvalidSequenceError
        Naming the sequence index, position and bad value.
    UnknownSymbolError
        For an id outside ``[0, vocab_size)``.
    """
    if kind not in ("discrete", "continuous"):
        raise ValueError(f"kind must be 'discrete' or 'continuous', got {kind!r}")
    if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 1 and kind == "discrete":
        raise InvalidSequenceError(
            f"{name} is a flat 1-D array of {X.shape[0]} values; expected a list of sequences, "
            f"e.g. [X] for one sequence."
        )
    if isinstance(X, (str, bytes)) or not hasattr(X, "__len__") or not hasattr(X, "__iter__"):
        raise InvalidSequenceError(f"{name} must be a list of sequences, got {type(X).__name__}")
    if len(X) == 0:
        raise InvalidSequenceError(f"{name} is empty: at least one sequence is required")
    if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 2 and kind == "continuous":
        raise InvalidSequenceError(
            f"{name} is a single 2-D array of shape {X.shape}; expected a list of sequences, "
            f"e.g. [X] for one sequence of {X.shape[0]} steps."
        )
    if kind == "discrete":
        fast = _discrete_fast_path(X, vocab_size)
        if fast is not None:
            return fast
    out = []
    for i, seq in enumerate(X):
        if kind == "discrete" and isinstance(seq, numbers.Number):
            raise InvalidSequenceError(
                f"{name}[{i}] is the number {seq!r}; expected a sequence. Pass a list of "
                f"sequences, e.g. [[3, 1, 4]], not a flat list of ids."
            )
        arr = _as_array(seq, i, name)
        if arr.ndim == 0:
            raise InvalidSequenceError(f"{name}[{i}] is a scalar {arr!r}; expected a sequence")
        if arr.shape[0] == 0 and not allow_empty_sequence:
            raise InvalidSequenceError(f"{name}[{i}] is empty (length 0); every sequence needs at least one step")
        out.append(_check_discrete(arr, i, name, vocab_size) if kind == "discrete"
                   else _check_continuous(arr, i, name, n_features, allow_nan))
        if kind == "continuous" and n_features is None:
            n_features = out[-1].shape[1]
    return out


def _discrete_fast_path(X, vocab_size):
    """Already-clean input (non-empty 1-D int64 arrays in range) checked with one pass over
    the concatenation; None when anything needs the per-sequence checks and their messages."""
    if not all(type(x) is np.ndarray and x.dtype == np.int64 and x.ndim == 1 and x.size for x in X):
        return None
    cat = np.concatenate(X)
    if cat.min() < 0 or (vocab_size is not None and cat.max() >= vocab_size):
        return None
    return [x if x.flags.c_contiguous else np.ascontiguousarray(x) for x in X]


def _check_discrete(arr, i, name, vocab_size):
    if arr.ndim != 1:
        raise InvalidSequenceError(f"{name}[{i}] has shape {arr.shape}; expected a 1-D array of token ids")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InvalidSequenceError(f"{name}[{i}] has dtype {arr.dtype}; expected integer token ids")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            t = _first_bad(bad)
            raise InvalidSequenceError(
                f"{name}[{i}][{t}] = {arr[t].item()!r} is not an integer token id; expected integers >= 0"
            )
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.size and arr.min() < 0:
        t = _first_bad(arr < 0)
        raise UnknownSymbolError(f"{name}[{i}][{t}] = {arr[t]} is negative; token ids must be >= 0")
    if vocab_size is not None and arr.size and arr.max() >= vocab_size:
        t = _first_bad(arr >= vocab_size)
        raise UnknownSymbolError(
            f"{name}[{i}][{t}] = {arr[t]} is out of range; expected ids in [0, {vocab_size})"
        )
    return arr


def _check_continuous(arr, i, name, n_features, allow_nan):
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InvalidSequenceError(f"{name}[{i}] has shape {arr.shape}; expected (n_steps, n_features)")
    if not (np.issubdtype(arr.dtype, np.number)) or arr.dtype == bool:
        raise InvalidSequenceError(f"{name}[{i}] has dtype {arr.dtype}; expected floats")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if n_features is not None and arr.shape[1] != n_features:
        raise InvalidSequenceError(f"{name}[{i}] has {arr.shape[1]} features; expected {n_features}")
    if np.isinf(arr).any():
        t, d = np.argwhere(np.isinf(arr))[0]
        raise InvalidSequenceError(f"{name}[{i}][{t}, {d}] = {arr[t, d]} is infinite")
    if not allow_nan and np.isnan(arr).any():
        t, d = np.argwhere(np.isnan(arr))[0]
        raise InvalidSequenceError(
            f"{name}[{i}][{t}, {d}] is NaN; this model does not accept missing values"
        )
    return arr


def check_tags(y, X, *, n_tags=None, allow_unknown=False, name="y"):
    """Validate tag sequences against already-validated token sequences.

    Parameters
    ----------
    y : list of array-like of shape (n_steps_i,)
        Integer tag ids.
    X : list of ndarray
        The validated token sequences; ``y[i]`` must have ``len(X[i])`` tags.
    n_tags : int or None
        Tag ids must lie in ``[0, n_tags)`` when given.
    allow_unknown : bool
        Accept ``-1`` for an unknown tag (semi-supervised training).

    Returns
    -------
    y : list of ndarray of int64
    """
    if y is None or isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
        raise InvalidSequenceError(f"{name} must be a list of tag sequences, got {type(y).__name__}")
    if len(y) != len(X):
        raise InvalidSequenceError(f"{name} has {len(y)} sequences for {len(X)} sequences in X")
    out = []
    for i, (tags, seq) in enumerate(zip(y, X)):
        arr = _as_array(tags, i, name)
        if arr.ndim != 1:
            raise InvalidSequenceError(f"{name}[{i}] has shape {arr.shape}; expected a 1-D array of tag ids")
        if arr.shape[0] != len(seq):
            raise InvalidSequenceError(f"{name}[{i}] has {arr.shape[0]} tags for {len(seq)} tokens")
        arr = _check_discrete(arr, i, name, None) if not allow_unknown else _check_tag_ids(arr, i, name)
        if n_tags is not None and arr.size and arr.max() >= n_tags:
            t = _first_bad(arr >= n_tags)
            raise UnknownSymbolError(f"{name}[{i}][{t}] = {arr[t]} is out of range; expected tags in [0, {n_tags})")
        out.append(arr)
    return out


def _check_tag_ids(arr, i, name):
    shifted = _check_discrete(np.where(arr == -1, 0, arr) if np.issubdtype(arr.dtype, np.number) else arr, i, name, None)
    return np.where(np.asarray(arr) == -1, -1, shifted).astype(np.int64)


def n_tokens(X):
    """Total number of steps over all sequences."""
    return int(sum(len(x) for x in X))


def to_concat(X):
    """Concatenate sequences into hmmlearn's layout.

    Returns
    -------
    X_concat : ndarray of shape (sum n_steps_i, 1) for ids, (sum n_steps_i, d) for floats
    lengths : ndarray of int64, shape (n_sequences,)
    """
    lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
    cat = np.concatenate(X, axis=0)
    if cat.ndim == 1:
        cat = cat[:, None]
    return cat, lengths


def from_concat(values, lengths):
    """Split a concatenated array back into a list of per-sequence arrays."""
    return np.split(np.asarray(values), np.cumsum(lengths)[:-1])


def pad_batch(X, pad_value=0, dtype=None):
    """Pad sequences to a common length.

    Returns
    -------
    batch : ndarray of shape (n_sequences, max_len) or (n_sequences, max_len, d)
    lengths : ndarray of int64, shape (n_sequences,)
    """
    lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
    first = np.asarray(X[0])
    shape = (len(X), int(lengths.max()) if len(X) else 0) + first.shape[1:]
    batch = np.full(shape, pad_value, dtype=dtype or first.dtype)
    for i, x in enumerate(X):
        batch[i, : len(x)] = x
    return batch, lengths


def as_generator(random_state):
    """A numpy Generator from None, an int, a SeedSequence, a Generator or a legacy RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    return np.random.default_rng(random_state)
