"""Brute-force HMM probabilities for tiny models: sums over every state path (the test oracle of truncated scores)."""
import itertools

import numpy as np


def window_prob(x, lo, hi, startprob, transmat, emit):
    """p(x_lo .. x_hi): the sum over every state path s_0 .. s_hi, emissions only at lo .. hi (1 when hi < 0)."""
    if hi < 0:
        return 1.0
    total = 0.0
    for path in itertools.product(range(len(startprob)), repeat=hi + 1):
        p = startprob[path[0]]
        for s in range(1, hi + 1):
            p *= transmat[path[s - 1], path[s]]
        for s in range(lo, hi + 1):
            p *= emit(path[s], x[s])
        total += p
    return total


def truncated_log_probs(x, k, startprob, transmat, emit):
    """log p(x_t | x_{max(0, t-k) .. t-1}) at every position t of ``x``, as a ratio of two window probabilities."""
    out = []
    for t in range(len(x)):
        lo = max(0, t - k)
        out.append(np.log(window_prob(x, lo, t, startprob, transmat, emit)
                          / window_prob(x, lo, t - 1, startprob, transmat, emit)))
    return np.array(out)
