"""HMM peer cases: scoring, Viterbi and one EM iteration against hmmlearn (and pomegranate's DenseHMM).

Data: a random categorical HMM (Dirichlet(0.5) transition and emission
rows) with 30 states and 1,000 symbols, 200,000 tokens sampled from it in
sequences of 20-50 steps (``quick``: 10 states, 100 symbols, 5,000 tokens).
Every contender starts from the true parameters; hmmlearn gets its raw
concatenated arrays (``X_cat``, ``lengths``), built once outside the timing.

- ``hmm-score``: seqbench ``score_tokens`` against hmmlearn ``score``
  (``implementation="scaling"`` and ``"log"``) and pomegranate
  ``DenseHMM.log_probability`` (one call per sequence length, end
  probabilities 1); agreement: total log-likelihood, relative 1e-10.
- ``hmm-viterbi``: seqbench ``predict`` against hmmlearn ``decode``;
  agreement: the summed log-probability of the decoded paths.
- ``hmm-em``: one E-step and M-step from the same parameters (seqbench's
  batched ``_hmm_em`` against hmmlearn ``fit(n_iter=1)`` and pomegranate's
  ``summarize`` + ``from_summaries``, the body of its ``fit`` loop);
  agreement: the re-estimated start, transition and emission probabilities,
  1e-10 (pomegranate 1e-8).
"""
from __future__ import annotations

import numpy as np

from .peers import Contender, Prepared, case

FULL = {"n_states": 30, "n_symbols": 1000, "n_tokens": 200_000}
QUICK = {"n_states": 10, "n_symbols": 100, "n_tokens": 5_000}
MIN_LEN, MAX_LEN = 20, 50


def make_hmm_data(seed, n_states, n_symbols, n_tokens):
    """True parameters ``(start, trans, emit)`` and sequences of 20-50 tokens, ``n_tokens`` in all (at least)."""
    from ..models import HMM

    rng = np.random.default_rng(seed)
    start = rng.dirichlet(np.ones(n_states))
    trans = rng.dirichlet(np.full(n_states, 0.5), size=n_states)
    emit = rng.dirichlet(np.full(n_symbols, 0.5), size=n_states)
    lengths = rng.integers(MIN_LEN, MAX_LEN + 1, size=2 * n_tokens // MIN_LEN + 1)
    lengths = lengths[: int(np.searchsorted(np.cumsum(lengths), n_tokens)) + 1]
    full = HMM.from_params(start, trans, emit).sample(len(lengths), MAX_LEN, random_state=rng)
    return (start, trans, emit), [x[:n] for x, n in zip(full, lengths)]


def hmmlearn_model(true_params, implementation="scaling", **kw):
    """hmmlearn ``CategoricalHMM`` holding ``true_params`` (no initialisation of its own)."""
    from hmmlearn.hmm import CategoricalHMM

    start, trans, emit = true_params
    model = CategoricalHMM(n_components=len(start), n_features=emit.shape[1], implementation=implementation,
                           init_params="", **kw)
    model.startprob_, model.transmat_, model.emissionprob_ = start.copy(), trans.copy(), emit.copy()
    return model


def path_log_prob(paths, X, params):
    """Summed log-probability of state paths ``paths`` for sequences ``X`` (vectorised over all tokens)."""
    start, trans, emit = params
    s, x = np.concatenate(paths), np.concatenate(X)
    first = np.zeros(len(s), dtype=bool)
    first[np.cumsum([0] + [len(p) for p in paths[:-1]])] = True
    prev = np.roll(s, 1)
    return (np.log(start[s[first]]).sum() + np.log(trans[prev[~first], s[~first]]).sum()
            + np.log(emit[s, x]).sum())


class _Data:
    def __init__(self, seed, quick):
        self.size = QUICK if quick else FULL
        self.params, self.X = make_hmm_data(seed, **self.size)
        self.lengths = np.array([len(x) for x in self.X])
        self.X_cat = np.concatenate(self.X)[:, None]
        self.n = int(self.lengths.sum())
        self.description = (f"random HMM {self.size['n_states']} states x {self.size['n_symbols']} symbols, "
                            f"{self.n:,} tokens in {len(self.X)} sequences of {MIN_LEN}-{MAX_LEN}")

    def ours(self):
        from ..models import HMM

        return HMM.from_params(*self.params)

    def total(self):
        return sum(s.sum() for s in self.ours().score_tokens(self.X))


def _pomegranate(data):
    """pomegranate DenseHMM holding the true parameters (float64), and the sequences batched by length."""
    import torch
    from pomegranate.distributions import Categorical
    from pomegranate.hmm import DenseHMM

    start, trans, emit = data.params
    model = DenseHMM([Categorical(torch.as_tensor(emit[k:k + 1])) for k in range(len(start))],
                     edges=torch.as_tensor(trans), starts=torch.as_tensor(start),
                     ends=torch.ones(len(start), dtype=torch.float64)).double()  # its buffers default to float32
    by_length = {}
    for x in data.X:
        by_length.setdefault(len(x), []).append(x)
    return model, [torch.as_tensor(np.stack(xs))[:, :, None] for xs in by_length.values()]  # (n, T, 1)


def _pomegranate_score(data):
    """pomegranate ``log_probability``: the total log-likelihood, one call per sequence length."""
    model, batches = _pomegranate(data)

    def run():
        return float(sum(model.log_probability(b).sum() for b in batches))
    return run


@case("hmm-score", "hmm", "score", "token", "total log-likelihood of the sequences under the true HMM")
def _score(seed, quick):
    data = _Data(seed, quick)
    ours = data.ours()
    total = data.total()
    out = [Contender("seqbench HMM.score_tokens", "seqbench", lambda: ours.score_tokens(data.X), data.n)]
    for impl in ("scaling", "log"):
        def run(model=hmmlearn_model(data.params, impl)):
            return model.score(data.X_cat, data.lengths)
        out.append(Contender(f"hmmlearn score ({impl})", "hmmlearn", run, data.n, requires=("hmmlearn",),
                             agree=lambda run=run: (total, run()), rtol=1e-10, what="total log-likelihood"))
    pomegranate = {}
    out.append(Contender(
        "pomegranate DenseHMM.log_probability", "pomegranate", lambda: pomegranate["run"](), data.n,
        requires=("pomegranate.hmm",), prepare=lambda: pomegranate.setdefault("run", _pomegranate_score(data)),
        agree=lambda: (total, pomegranate["run"]()), rtol=1e-8, what="total log-likelihood",
        note="float64; sequences grouped by length"))
    return Prepared(data.description, out)


@case("hmm-viterbi", "hmm", "viterbi", "token", "most likely state path of every sequence")
def _viterbi(seed, quick):
    data = _Data(seed, quick)
    ours = data.ours()
    theirs = hmmlearn_model(data.params)
    return Prepared(data.description, [
        Contender("seqbench HMM.predict", "seqbench", lambda: ours.predict(data.X), data.n),
        Contender("hmmlearn decode (viterbi)", "hmmlearn",
                  lambda: theirs.decode(data.X_cat, data.lengths, algorithm="viterbi"), data.n,
                  requires=("hmmlearn",), rtol=1e-10, what="summed log-probability of the decoded paths",
                  agree=lambda: (path_log_prob(ours.predict(data.X), data.X, data.params),
                                 theirs.decode(data.X_cat, data.lengths, algorithm="viterbi")[0])),
    ])


def _pomegranate_em(data):
    """One pomegranate EM iteration from the true parameters: ``summarize`` every batch, then
    ``from_summaries`` (what ``fit`` does per iteration); returns ``(start, trans, emit)``.

    pomegranate's transition rows also hold the end probability, so they are
    renormalised over the states to compare with the other contenders.
    """
    import torch

    def run():
        model, batches = _pomegranate(data)  # fresh each call: from_summaries overwrites the parameters
        for batch in batches:
            model.summarize(batch)
        model.from_summaries()
        edges = torch.exp(model.edges).numpy()
        emit = np.concatenate([d.probs.numpy() for d in model.distributions])
        return torch.exp(model.starts).numpy(), edges / edges.sum(axis=1, keepdims=True), emit
    return run


def seqbench_em_iteration(data):
    """One batched E-step and M-step from the true parameters: ``(start, trans, emit)``."""
    from ..models import _hmm_em as em

    size = data.size
    batch = em.CategoricalData(data.X, size["n_symbols"], size["n_states"])  # bucketing counted in the time
    stats = em.estep(batch, *data.params)
    return em.normalise(stats.start), em.normalise(stats.trans), em.normalise(stats.obs)


@case("hmm-em", "hmm", "em-iteration", "token", "one EM iteration (E-step and M-step) from the true parameters")
def _em(seed, quick):
    data = _Data(seed, quick)

    def theirs():
        return hmmlearn_model(data.params, "scaling", n_iter=1, params="ste").fit(data.X_cat, data.lengths)

    def flat(params):
        return np.concatenate([p.ravel() for p in params])

    def agree():
        fitted = theirs()
        return flat(seqbench_em_iteration(data)), flat((fitted.startprob_, fitted.transmat_, fitted.emissionprob_))

    pomegranate = {}
    what = "start, transition and emission probabilities"
    return Prepared(data.description, [
        Contender("seqbench batched EM iteration", "seqbench", lambda: seqbench_em_iteration(data), data.n),
        Contender("hmmlearn fit(n_iter=1) (scaling)", "hmmlearn", theirs, data.n, requires=("hmmlearn",),
                  agree=agree, rtol=1e-10, atol=1e-12, what=what),
        Contender("pomegranate DenseHMM summarize + from_summaries", "pomegranate", lambda: pomegranate["run"](),
                  data.n, requires=("pomegranate.hmm",),
                  prepare=lambda: pomegranate.setdefault("run", _pomegranate_em(data)),
                  agree=lambda: (flat(seqbench_em_iteration(data)), flat(pomegranate["run"]())),
                  rtol=1e-8, atol=1e-12, what=what,
                  note="float64; one fit iteration; includes building the model"),
    ])
