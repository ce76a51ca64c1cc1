"""Speed of seqbench's categorical HMM against hmmlearn, side by side on the same data.

Run: ``.venv/bin/python benchmarks/hmm_speed.py [--repeats 5] [--seed 0]``

Data: a random HMM with 30 states and 1,000 symbols (Dirichlet(0.5)
transition and emission rows), 200,000 tokens sampled from it in sequences
of 20-50 steps (lengths uniform), all from one seed. Every library runs on
ONE thread (threadpoolctl pins BLAS, ``torch.set_num_threads(1)`` the torch
kernel of seqbench's Viterbi; hmmlearn's C++ loops are serial), and
the measurements are interleaved -- each repeat times every contender once,
in turn -- so that load on the machine hits all of them alike; the tables
give the median over repeats.

Measured:

- scoring: seqbench ``score_tokens`` (per-token predictive log-probabilities)
  against hmmlearn ``score`` (total log-likelihood) with
  ``implementation="scaling"`` and with the default ``"log"``;
- Viterbi: seqbench ``predict`` against hmmlearn ``decode``;
- one EM iteration (E-step and M-step) from the same parameters: seqbench's
  batched EM (``_hmm_em.estep`` and the normalisation) against hmmlearn
  ``fit`` with ``n_iter=1`` and no initialisation.

Before timing, the results are checked to agree: total log-likelihood
(relative 1e-10), the Viterbi path's log-probability, and the parameters
after one EM iteration (1e-10).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

N_STATES, N_SYMBOLS, N_TOKENS, MIN_LEN, MAX_LEN = 30, 1000, 200_000, 20, 50


def make_data(seed):
    """True parameters and sequences of 20-50 tokens, 200k tokens in all."""
    from seqbench.models import HMM

    rng = np.random.default_rng(seed)
    start = rng.dirichlet(np.ones(N_STATES))
    trans = rng.dirichlet(np.full(N_STATES, 0.5), size=N_STATES)
    emit = rng.dirichlet(np.full(N_SYMBOLS, 0.5), size=N_STATES)
    lengths = rng.integers(MIN_LEN, MAX_LEN + 1, size=2 * N_TOKENS // MIN_LEN)
    lengths = lengths[: int(np.searchsorted(np.cumsum(lengths), N_TOKENS)) + 1]
    full = HMM.from_params(start, trans, emit).sample(len(lengths), MAX_LEN, random_state=rng)
    X = [x[:n] for x, n in zip(full, lengths)]
    return (start, trans, emit), X


def hmmlearn_model(true_params, implementation, **kw):
    from hmmlearn.hmm import CategoricalHMM

    model = CategoricalHMM(n_components=N_STATES, n_features=N_SYMBOLS, implementation=implementation,
                           init_params="", **kw)
    model.startprob_, model.transmat_, model.emissionprob_ = (p.copy() for p in true_params)
    return model


def path_log_prob(path, x, params):
    start, trans, emit = params
    return np.log(start[path[0]]) + np.log(trans[path[:-1], path[1:]]).sum() + np.log(emit[path, x]).sum()


def check_agreement(params, X, X_cat, lengths):
    """Raise AssertionError unless seqbench and hmmlearn agree on the data."""
    from seqbench.models import HMM
    from seqbench.models import _hmm_em as em

    ours = HMM.from_params(*params)
    ref = hmmlearn_model(params, "scaling")
    total = sum(s.sum() for s in ours.score_tokens(X))
    assert np.isclose(total, ref.score(X_cat, lengths), rtol=1e-10, atol=0), "log-likelihoods differ"
    for x, path in list(zip(X, ours.predict(X)))[:200]:
        ref_lp, _ = ref.decode(x[:, None], algorithm="viterbi")
        assert np.isclose(path_log_prob(path, x, params), ref_lp, rtol=1e-10), "Viterbi paths differ in probability"
    stats = em.estep(em.CategoricalData(X, N_SYMBOLS, N_STATES), *params)
    fitted = hmmlearn_model(params, "scaling", n_iter=1, params="ste").fit(X_cat, lengths)
    for got, want in zip((em.normalise(stats.start), em.normalise(stats.trans), em.normalise(stats.obs)),
                         (fitted.startprob_, fitted.transmat_, fitted.emissionprob_)):
        assert np.allclose(got, want, rtol=1e-10, atol=1e-12), "EM iterations differ"
    return total


def contenders(params, X, X_cat, lengths):
    """name -> (group, zero-argument callable)."""
    from seqbench.models import HMM
    from seqbench.models import _hmm_em as em

    ours = HMM.from_params(*params)
    scaling, log = hmmlearn_model(params, "scaling"), hmmlearn_model(params, "log")

    def our_em():
        data = em.CategoricalData(X, N_SYMBOLS, N_STATES)  # bucketing counted in the iteration's time
        stats = em.estep(data, *params)
        return em.normalise(stats.start), em.normalise(stats.trans), em.normalise(stats.obs)

    def their_em():
        return hmmlearn_model(params, "scaling", n_iter=1, params="ste").fit(X_cat, lengths)

    return {
        "seqbench score_tokens": ("score", lambda: ours.score_tokens(X)),
        "hmmlearn score (scaling)": ("score", lambda: scaling.score(X_cat, lengths)),
        "hmmlearn score (log)": ("score", lambda: log.score(X_cat, lengths)),
        "seqbench predict (Viterbi)": ("viterbi", lambda: ours.predict(X)),
        "hmmlearn decode (Viterbi)": ("viterbi", lambda: scaling.decode(X_cat, lengths, algorithm="viterbi")),
        "seqbench EM iteration": ("em", our_em),
        "hmmlearn EM iteration (scaling)": ("em", their_em),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # seqbench's Viterbi adds rows with a torch kernel
    with threadpool_limits(limits=1):
        params, X = make_data(args.seed)
        lengths = np.array([len(x) for x in X])
        X_cat = np.concatenate(X)[:, None]
        n = int(lengths.sum())
        print(f"{N_STATES} states, {N_SYMBOLS} symbols, {n} tokens in {len(X)} sequences of "
              f"{lengths.min()}-{lengths.max()} steps; 1 thread; median of {args.repeats} interleaved repeats")
        total = check_agreement(params, X, X_cat, lengths)
        print(f"agreement checked: log-likelihood {total:.6f}, Viterbi path probabilities, one EM iteration\n")
        runs = contenders(params, X, X_cat, lengths)
        times = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, (_, fn) in runs.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    med = {name: float(np.median(t)) for name, t in times.items()}
    print(f"{'':34s} {'seconds':>9s} {'tokens/s':>12s}")
    for name, (group, _) in runs.items():
        print(f"{name:34s} {med[name]:9.4f} {n / med[name]:12,.0f}")
    ratios = [("scoring: seqbench / hmmlearn scaling", "hmmlearn score (scaling)", "seqbench score_tokens"),
              ("scoring: seqbench / hmmlearn log", "hmmlearn score (log)", "seqbench score_tokens"),
              ("Viterbi: seqbench / hmmlearn", "hmmlearn decode (Viterbi)", "seqbench predict (Viterbi)"),
              ("EM iteration: seqbench / hmmlearn scaling", "hmmlearn EM iteration (scaling)",
               "seqbench EM iteration")]
    print("\nspeed-ups (hmmlearn time / seqbench time):")
    for label, theirs, ours in ratios:
        print(f"  {label:44s} {med[theirs] / med[ours]:6.2f}x")


if __name__ == "__main__":
    main()
