"""Mutual information between symbols ``d`` steps apart, estimated from token sequences.

For each distance ``d`` every pair ``(x_t, x_{t+d})`` inside one sequence
(never across two) is counted, pooled over sequences and positions, and the
mutual information of that pooled joint table is

    I(d) = H(X) + H(Y) - H(X, Y)            (nats)

with ``X`` the first and ``Y`` the second symbol of a pair (their marginals
are the table's margins). Each entropy is corrected for the bias of the
plug-in estimator:

``"miller-madow"``
    ``H_plugin + (m - 1) / (2 N)``, ``m`` the number of occupied cells and
    ``N`` the number of pairs (Miller 1955).
``"grassberger"``
    ``log N - (1/N) sum_i n_i G(n_i)`` with
    ``G(n) = psi(n) + (-1)^n (psi((n+1)/2) - psi(n/2)) / 2`` (Grassberger 2003).
``None``
    The plug-in estimate, biased upwards by about
    ``(m_xy - m_x - m_y + 1) / (2 N)``.

A corrected estimate can be slightly negative where ``I(d) = 0``; it is kept
as it is (clipping at 0 would bias it again). The **shuffled baseline** is the
same estimator on a random permutation of all the tokens (the sequence lengths
kept): there the true value is 0, so it shows the estimator's own floor
(bias left after correction, and its noise) at the same number of pairs.

Bootstrap intervals
-------------------
Pairs from one sequence are dependent, so pairs are never resampled one by
one. When there are at least ``MIN_SEQUENCE_UNITS`` sequences they are
independent draws and the whole sequences are resampled (Efron's bootstrap on
independent units: every within-sequence dependence is kept). With fewer,
longer sequences (one stream of text) each sequence is cut into consecutive
non-overlapping blocks and the blocks are resampled (Carlstein's block
bootstrap); the automatic block length is at least twice the largest
distance, so most pairs lie in one block and neighbouring blocks are nearly
independent at the distances measured. A pair belongs to the unit of its first
token, so the units' tables add up to the full table and the full-sample
estimate is the centre of the replicates. One set of resampling weights is
used for every distance (a replicate is one resampled data set).

The interval is the percentile interval of the replicates, recentred: in the
bootstrap world the true value is the plug-in MI of the full sample, which a
corrected estimate lies below by its correction, so the replicates of a
corrected estimator centre on the plug-in value, not on the estimate. Their
percentiles are shifted by ``estimate - plug-in`` (zero for
``correction=None``, whose interval is the plain percentile interval of a
biased estimator): the bootstrap measures the spread, the correction the
centre.

Everything is vectorised: pair codes ``x * V + y`` are counted per unit with
one sparse matrix per distance, and all replicates' tables are one sparse
product with the matrix of resampling multiplicities.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import digamma, xlogy

from ..._validation import as_generator, check_sequences
from ...exceptions import ConfigError

__all__ = ["MICurve", "mutual_information_curve", "log_distances", "check_distances"]

CORRECTIONS = ("miller-madow", "grassberger", None)
MIN_SEQUENCE_UNITS = 20      # fewer sequences than this: block bootstrap
TARGET_BLOCKS = 50           # the automatic block length aims at this many blocks
_CHUNK_CELLS = 4_000_000     # largest (cells x replicates) table held at once (32 MB of float64)


@dataclass(frozen=True)
class MICurve:
    """An estimated mutual-information curve.

    Attributes
    ----------
    d : ndarray of int64, shape (n_distances,)
        The distances, in the order given.
    mi : ndarray of float64, shape (n_distances,)
        Estimated ``I(X_t; X_{t+d})`` in nats (bias-corrected; may be
        slightly negative where the true value is 0).
    lo, hi : ndarray of float64, shape (n_distances,), or None
        Bootstrap percentile interval at ``level``; None without bootstrap.
    shuffled : ndarray of float64, shape (n_distances,), or None
        The same estimator on a shuffled copy of the tokens (true value 0).
    n_pairs : ndarray of int64, shape (n_distances,)
        Pairs counted at each distance.
    correction : str or None
    level : float
        Coverage of the interval.
    unit : str
        What the bootstrap resampled: ``"sequence"`` or ``"block of L tokens"``.
    """

    d: np.ndarray
    mi: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None
    shuffled: np.ndarray | None
    n_pairs: np.ndarray
    correction: str | None
    level: float
    unit: str

    @property
    def noise_floor(self):
        """ndarray of shape (n_distances,): the level a point must exceed to count as signal.

        ``max(shuffled, 0)`` plus the half-width of the point's own interval
        (each term 0 when not computed): a point above it has its interval
        (about) wholly above the shuffled estimator's value.
        """
        floor = np.zeros(len(self.d)) if self.shuffled is None else np.maximum(self.shuffled, 0.0)
        if self.lo is not None:
            floor = floor + (self.hi - self.lo) / 2.0
        return floor


# ------------------------------------------------------------------ distances
def log_distances(max_d=1000, n=30):
    """About ``n`` log-spaced integer distances from 1 to ``max_d``, without repeats.

    Parameters
    ----------
    max_d : int
        Largest distance (>= 1).
    n : int
        Number of log-spaced points before rounding; near 1 several round to
        the same integer, so fewer come back.

    Returns
    -------
    ndarray of int64, shape (<= n,)
        Sorted, starting at 1 and ending at ``max_d``.

    Examples
    --------
    >>> log_distances(100, 8).tolist()
    [1, 2, 4, 7, 14, 27, 52, 100]
    """
    for name, value in (("max_d", max_d), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    return np.unique(np.round(np.geomspace(1, int(max_d), int(n))).astype(np.int64))


def check_distances(distances):
    """Validate distances: a non-empty 1-D set of integers >= 1 (returned as int64)."""
    d = np.asarray(distances if not isinstance(distances, numbers.Integral) else [distances])
    if d.ndim != 1 or d.size == 0:
        raise ConfigError(f"distances must be a non-empty 1-D list of integers >= 1, got {distances!r}")
    if d.dtype == bool or not np.issubdtype(d.dtype, np.integer):
        raise ConfigError(f"distances must be integers >= 1, got dtype {d.dtype}: {d[:5].tolist()!r}")
    if d.min() < 1:
        i = int(np.flatnonzero(d < 1)[0])
        raise ConfigError(f"distances[{i}] = {d[i]} is not a distance; expected integers >= 1")
    return d.astype(np.int64)


# ------------------------------------------------------------------ entropies
def _entropy(counts, correction):
    """Entropies (nats) of the columns of a count table.

    Parameters
    ----------
    counts : ndarray of shape (n_cells, n_tables)
        Non-negative integer-valued counts; each column one table.

    Returns
    -------
    ndarray of shape (n_tables,)
    """
    total = counts.sum(axis=0)
    if correction == "grassberger":
        n = np.rint(counts).astype(np.int64)
        table = _grassberger_table(int(n.max()))
        return np.log(total) - (counts * table[n]).sum(axis=0) / total
    plugin = np.log(total) - xlogy(counts, counts).sum(axis=0) / total
    if correction == "miller-madow":
        return plugin + ((counts > 0).sum(axis=0) - 1) / (2.0 * total)
    return plugin


def _grassberger_table(n_max):
    """``G(n)`` for ``n = 0 .. n_max`` (``G(0)`` unused: it multiplies a zero count)."""
    n = np.arange(1, n_max + 1, dtype=np.float64)
    sign = np.where(n % 2 == 0, 1.0, -1.0)
    g = digamma(n) + 0.5 * sign * (digamma((n + 1) / 2) - digamma(n / 2))
    return np.concatenate([[0.0], g])


# ---------------------------------------------------------------- pair tables
class _Pairs:
    """The tokens of all sequences end to end, with where each sequence ends and its unit."""

    def __init__(self, X, block_length):
        lengths = np.fromiter((len(x) for x in X), dtype=np.int64, count=len(X))
        self.tokens = np.concatenate(X)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.end = np.repeat(starts + lengths, lengths)  # (n_tokens,): exclusive end of each token's sequence
        offset = np.arange(self.tokens.size) - np.repeat(starts, lengths)
        if block_length is None:  # units are the sequences
            self.unit = np.repeat(np.arange(len(X)), lengths)
        else:  # units are blocks of block_length tokens inside each sequence
            blocks = -(-lengths // block_length)
            first = np.concatenate([[0], np.cumsum(blocks)[:-1]])
            self.unit = np.repeat(first, lengths) + offset // block_length
        self.n_units = int(self.unit.max()) + 1

    def unit_table(self, tokens, d, n_symbols):
        """Pair counts per unit at distance ``d``.

        Returns
        -------
        table : scipy.sparse.csr_matrix of shape (n_units, n_cells)
            Counts of the occupied cells (pair codes) only.
        x_of, y_of : ndarray of int64, shape (n_cells,)
            First and second symbol of each cell.
        """
        first = np.flatnonzero(np.arange(tokens.size) + d < self.end)
        codes = tokens[first] * n_symbols + tokens[first + d]
        cells, column = np.unique(codes, return_inverse=True)
        table = sparse.csr_matrix((np.ones(first.size), (self.unit[first], column)),
                                  shape=(self.n_units, cells.size))
        return table, cells // n_symbols, cells % n_symbols


def _one_hot(index):
    """Sparse (n_groups, n) matrix summing entries by group: row ``g`` has ones where ``index == g``."""
    groups, column = np.unique(index, return_inverse=True)
    return sparse.csr_matrix((np.ones(index.size), (column, np.arange(index.size))), shape=(groups.size, index.size))


def _mi_tables(table, x_of, y_of, weights, correction):
    """MI of the pair tables ``weights @ table`` (one per row of ``weights``), in nats.

    Parameters
    ----------
    table : sparse matrix of shape (n_units, n_cells)
    x_of, y_of : ndarray of shape (n_cells,)
    weights : ndarray of shape (n_tables, n_units)
        How many times each unit is taken in each table.

    Returns
    -------
    ndarray of shape (n_tables,)
    """
    to_x, to_y = _one_hot(x_of), _one_hot(y_of)
    out = np.empty(weights.shape[0])
    step = max(1, _CHUNK_CELLS // max(1, table.shape[1]))
    for lo in range(0, weights.shape[0], step):
        joint = np.asarray(table.T @ weights[lo: lo + step].T)  # (n_cells, chunk)
        out[lo: lo + step] = (_entropy(np.asarray(to_x @ joint), correction)
                              + _entropy(np.asarray(to_y @ joint), correction)
                              - _entropy(joint, correction))
    return out


# --------------------------------------------------------------------- public
def _check_options(correction, n_bootstrap, level, block_length):
    if correction not in CORRECTIONS:
        raise ConfigError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, numbers.Integral) or n_bootstrap < 0:
        raise ConfigError(f"n_bootstrap must be an integer >= 0, got {n_bootstrap!r}")
    if not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ConfigError(f"level must be a number in (0, 1), got {level!r}")
    if block_length is not None and (isinstance(block_length, bool) or not isinstance(block_length, numbers.Integral)
                                     or block_length < 1):
        raise ConfigError(f"block_length must be None or an integer >= 1, got {block_length!r}")


def _units(X, d, block_length):
    """The block length of the bootstrap units (None: whole sequences) and its description."""
    if block_length is None and len(X) >= MIN_SEQUENCE_UNITS:
        return None, "sequence"
    if block_length is None:
        n_tokens = sum(len(x) for x in X)
        block_length = max(2 * int(d.max()), -(-n_tokens // TARGET_BLOCKS))
    return int(block_length), f"block of {int(block_length)} tokens"


def mutual_information_curve(X, distances, n_symbols=None, correction="miller-madow", n_bootstrap=200,
                             shuffle_baseline=True, random_state=None, level=0.95, block_length=None):
    """Estimate ``I(X_t; X_{t+d})`` in nats for each distance, with intervals and a null baseline.

    Parameters
    ----------
    X : list of ndarray of shape (n_steps_i,)
        Integer token ids; pairs are taken inside each sequence only.
    distances : array-like of int, shape (n_distances,)
        Each >= 1; at least one sequence must be longer than the largest.
    n_symbols : int or None
        Alphabet size (ids must lie in ``[0, n_symbols)``); default
        ``max id + 1``. It changes nothing but the validation.
    correction : {"miller-madow", "grassberger", None}
        Bias correction of each entropy (see the module docstring).
    n_bootstrap : int
        Bootstrap replicates for the intervals (0: no intervals).
    shuffle_baseline : bool
        Also estimate on a random permutation of the tokens.
    random_state : None, int or numpy Generator
        Seeds the resampling and the shuffle.
    level : float
        Coverage of the percentile interval.
    block_length : int or None
        Bootstrap unit: None resamples whole sequences when there are at
        least 20 of them and otherwise blocks of
        ``max(2 * max(distances), ceil(n_tokens / 50))`` tokens; an int
        always resamples blocks of that many tokens.

    Returns
    -------
    MICurve
        ``d, mi, lo, hi, shuffled, n_pairs`` and the settings.

    Raises
    ------
    InvalidSequenceError
        For malformed sequences (empty list, float or negative ids, ...).
    ConfigError
        For bad distances or options, or a distance no sequence is long enough for.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.integers(0, 2, 500) for _ in range(40)]     # i.i.d. tokens: I(d) = 0
    >>> curve = mutual_information_curve(X, [1, 5], n_bootstrap=50, random_state=0)
    >>> bool(np.all(np.abs(curve.mi) < 1e-3))
    True
    """
    X = check_sequences(X, kind="discrete", vocab_size=n_symbols)
    d = check_distances(distances)
    _check_options(correction, n_bootstrap, level, block_length)
    longest = max(len(x) for x in X)
    if d.max() >= longest:
        raise ConfigError(f"distance {int(d.max())} has no pairs: the longest sequence has {longest} tokens "
                          f"(distances must be < {longest})")
    rng = as_generator(random_state)
    block, unit = _units(X, d, block_length)
    pairs = _Pairs(X, block)
    V = int(n_symbols) if n_symbols is not None else int(pairs.tokens.max()) + 1

    weights = np.ones((1, pairs.n_units))
    if n_bootstrap:
        resampled = rng.multinomial(pairs.n_units, np.full(pairs.n_units, 1.0 / pairs.n_units), size=n_bootstrap)
        weights = np.vstack([weights, resampled])
    shuffled_tokens = rng.permutation(pairs.tokens) if shuffle_baseline else None

    mi, lo, hi, shuffled, n_pairs = (np.empty(d.size) for _ in range(5))
    tail = (1.0 - level) / 2.0
    for i, di in enumerate(d):
        table, x_of, y_of = pairs.unit_table(pairs.tokens, int(di), V)
        values = _mi_tables(table, x_of, y_of, weights, correction)
        mi[i], n_pairs[i] = values[0], table.sum()
        if n_bootstrap:
            plugin = values[0] if correction is None else _mi_tables(table, x_of, y_of, weights[:1], None)[0]
            lo[i], hi[i] = np.quantile(values[1:], [tail, 1.0 - tail]) + (values[0] - plugin)
        if shuffle_baseline:
            table, x_of, y_of = pairs.unit_table(shuffled_tokens, int(di), V)
            shuffled[i] = _mi_tables(table, x_of, y_of, weights[:1], correction)[0]
    return MICurve(d=d, mi=mi, lo=lo if n_bootstrap else None, hi=hi if n_bootstrap else None,
                   shuffled=shuffled if shuffle_baseline else None, n_pairs=n_pairs.astype(np.int64),
                   correction=correction, level=float(level), unit=unit)
