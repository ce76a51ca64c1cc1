"""Synthetic datasets drawn from a random model that is returned with them (the oracle).

``synthetic_hmm``: a random discrete HMM; ``X`` are the symbols, ``y`` the true
hidden states (so decoding accuracy can be measured), ``oracle`` the true
model as a fitted :class:`~seqbench.models.HMM`.

``synthetic_lgssm``: a random stable linear-Gaussian state-space model;
``X`` are the observations, ``Split.states`` the true hidden states, the true
parameters in ``info["true_params"]``.

Everything is drawn from one ``numpy.random.Generator(seed)``: the same
options give the same data. Sequences are sampled all at once, one time step
at a time (no per-token Python loop).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..exceptions import ConfigError
from .splits import Split, Splits
from .vocab import Vocab

__all__ = ["synthetic_hmm", "synthetic_lgssm", "sample_lgssm", "lgssm_oracle"]

PARTS = ("train", "valid", "test")


# ------------------------------------------------------------------- options
def _check_int(name, value, minimum=1, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _part_sizes(n_sequences, n_valid, n_test):
    """Sequences per part: valid and test default to n_sequences // 4 (at least 1)."""
    _check_int("n_sequences", n_sequences)
    _check_int("n_valid", n_valid, allow_none=True)
    _check_int("n_test", n_test, allow_none=True)
    default = max(1, n_sequences // 4)
    return {"train": n_sequences,
            "valid": default if n_valid is None else n_valid,
            "test": default if n_test is None else n_test}


def _cut(items, sizes):
    """Cut one list of per-sequence arrays into the three parts, in order."""
    bounds = np.cumsum([0] + [sizes[p] for p in PARTS])
    return {p: items[bounds[i]: bounds[i + 1]] for i, p in enumerate(PARTS)}


# ----------------------------------------------------------------------- HMM
def _random_hmm_params(rng, n_states, n_symbols, concentration):
    """Start (Dirichlet(1)), transition and emission rows (Dirichlet(concentration))."""
    startprob = rng.dirichlet(np.ones(n_states))
    transmat = rng.dirichlet(np.full(n_states, concentration), size=n_states)
    emissionprob = rng.dirichlet(np.full(n_symbols, concentration), size=n_states)
    return startprob, transmat, emissionprob


def synthetic_hmm(n_states=8, n_symbols=30, n_sequences=200, length=50, n_valid=None, n_test=None,
                  seed=0, concentration=0.3):
    """Sequences from a random discrete HMM, with the true states and the true model.

    Transition and emission rows are Dirichlet draws with a small
    ``concentration`` (sparse, structured rows); the start distribution is
    Dirichlet(1). The sequences are sampled by the oracle's own
    :meth:`~seqbench.models.HMM.sample`.

    Parameters
    ----------
    n_states : int
        Hidden states.
    n_symbols : int
        Observation symbols (ids ``0 .. n_symbols - 1``).
    n_sequences : int
        Training sequences.
    length : int
        Steps per sequence.
    n_valid, n_test : int or None
        Sequences in valid and test; default ``max(1, n_sequences // 4)``.
    seed : int
        Seeds one ``numpy.random.Generator`` for the parameters and the samples.
    concentration : float
        Dirichlet concentration of transition and emission rows (smaller: sparser).

    Returns
    -------
    Splits
        ``X``: symbol ids, ``(length,)`` int64 arrays; ``y``: true states;
        ``vocab``: ``"s0" .. "s{n_symbols-1}"`` with ids equal to the symbols
        (no specials); ``tagset``: ``"h0" ..``; ``oracle``: the true
        :class:`~seqbench.models.HMM` (fitted, from ``HMM.from_params``),
        decoding with ``decoder="posterior"`` (the most probable state per
        position: the Bayes-optimal token accuracy);
        ``info``: name, kind ``"synthetic"``, options, seed, true parameters.
    """
    from ..models.hmm import HMM  # lazily: importing the model families is heavier than the data layer

    _check_int("n_states", n_states)
    _check_int("n_symbols", n_symbols)
    _check_int("length", length)
    _check_int("seed", seed, minimum=0)
    sizes = _part_sizes(n_sequences, n_valid, n_test)
    if not isinstance(concentration, numbers.Real) or not np.isfinite(concentration) or concentration <= 0:
        raise ConfigError(f"concentration must be a finite number > 0, got {concentration!r}")

    rng = np.random.default_rng(seed)
    params = _random_hmm_params(rng, n_states, n_symbols, float(concentration))
    oracle = HMM.from_params(*params, decoder="posterior")  # Bayes-optimal per-token state decoding
    X, S = oracle.sample(sum(sizes.values()), length, random_state=rng, return_states=True)
    X, S = _cut(X, sizes), _cut(S, sizes)

    train_X, train_S = np.concatenate(X["train"]), np.concatenate(S["train"])
    vocab = Vocab([f"s{i}" for i in range(n_symbols)], np.bincount(train_X, minlength=n_symbols), specials=())
    tagset = Vocab([f"h{k}" for k in range(n_states)], np.bincount(train_S, minlength=n_states), specials=())
    options = {"n_states": n_states, "n_symbols": n_symbols, "n_sequences": n_sequences, "length": length,
               "n_valid": n_valid, "n_test": n_test, "seed": seed, "concentration": concentration}
    info = {
        "name": "synthetic-hmm",
        "kind": "synthetic",
        "synthetic": True,
        "input_kind": "discrete",
        "source": "generated by seqbench.data.synthetic.synthetic_hmm",
        "licence": "generated data (no licence needed)",
        "split": "independent draws from the same model: "
                 + ", ".join(f"{p} = {sizes[p]} sequences" for p in PARTS),
        "preprocessing": "none; token ids are the symbols, tags are the true hidden states",
        "options": options,
        "seed": seed,
        "true_params": {"startprob": params[0].tolist(), "transmat": params[1].tolist(),
                        "emissionprob": params[2].tolist()},
        "oracle": "HMM.from_params(**true_params, decoder='posterior')",
    }
    parts = {p: Split(X[p], y=S[p]) for p in PARTS}
    return Splits(parts["train"], parts["valid"], parts["test"], vocab=vocab, tagset=tagset,
                  info=info, oracle=oracle)


# --------------------------------------------------------------------- LGSSM
def _random_spd(rng, dim, scale, floor):
    """A random symmetric positive definite matrix: scale * M M^T / dim + floor * I."""
    M = rng.normal(size=(dim, dim))
    return scale * (M @ M.T) / dim + floor * np.eye(dim)


def _random_lgssm_params(rng, state_dim, obs_dim):
    """A stable system: A scaled to spectral radius in [0.5, 0.95]; C, Q, R random; stationary start."""
    from scipy.linalg import solve_discrete_lyapunov

    A = rng.normal(size=(state_dim, state_dim))
    A *= rng.uniform(0.5, 0.95) / np.max(np.abs(np.linalg.eigvals(A)))
    C = rng.normal(size=(obs_dim, state_dim))
    Q = _random_spd(rng, state_dim, 0.1, 0.05)
    R = _random_spd(rng, obs_dim, 0.1, 0.05)
    P0 = solve_discrete_lyapunov(A, Q)
    P0 = (P0 + P0.T) / 2
    return {"A": A, "C": C, "Q": Q, "R": R, "x0": np.zeros(state_dim), "P0": P0}


def sample_lgssm(params, n_sequences, length, rng):
    """Draw sequences from a linear-Gaussian state-space model, all sequences at once.

    ``x_0 ~ N(x0, P0)``, ``x_t = A x_{t-1} + w_t`` with ``w_t ~ N(0, Q)``,
    ``y_t = C x_t + v_t`` with ``v_t ~ N(0, R)``; every step is observed.

    Parameters
    ----------
    params : dict
        ``A`` (d, d), ``C`` (p, d), ``Q`` (d, d), ``R`` (p, p), ``x0`` (d,), ``P0`` (d, d).
    n_sequences, length : int
    rng : numpy.random.Generator

    Returns
    -------
    Y : ndarray of shape (n_sequences, length, p)
        Observations.
    states : ndarray of shape (n_sequences, length, d)
        Hidden states.
    """
    A, C = params["A"], params["C"]
    chol_Q, chol_R, chol_P0 = (np.linalg.cholesky(params[k]) for k in ("Q", "R", "P0"))
    d, p = A.shape[0], C.shape[0]
    states = np.empty((n_sequences, length, d))
    states[:, 0] = params["x0"] + rng.standard_normal((n_sequences, d)) @ chol_P0.T
    noise = rng.standard_normal((n_sequences, length, d)) @ chol_Q.T  # (N, T, d)
    for t in range(1, length):
        states[:, t] = states[:, t - 1] @ A.T + noise[:, t]
    Y = states @ C.T + rng.standard_normal((n_sequences, length, p)) @ chol_R.T
    return Y, states


def lgssm_oracle(params):
    """The true model of ``synthetic_lgssm`` as a fitted seqbench estimator.

    The hook for the Kalman family: it returns
    ``seqbench.models.kalman.Kalman.from_params(A=, C=, Q=, R=, x0=, P0=)``
    once that family provides it.

    Raises
    ------
    NotImplementedError
        While no Kalman family with ``from_params`` is available.
    """
    try:
        from ..models.kalman import Kalman
    except ImportError:
        Kalman = None
    if Kalman is None or not hasattr(Kalman, "from_params"):
        raise NotImplementedError("the LGSSM oracle needs seqbench.models.kalman.Kalman.from_params, "
                                  "which is not available yet")
    return Kalman.from_params(**{k: np.asarray(v) for k, v in params.items()})


def synthetic_lgssm(state_dim=2, obs_dim=1, n_sequences=50, length=100, n_valid=None, n_test=None, seed=0):
    """Sequences from a random stable linear-Gaussian state-space model, with the true states.

    Parameters
    ----------
    state_dim : int
        Hidden state dimension ``d``.
    obs_dim : int
        Observation dimension ``p``.
    n_sequences : int
        Training sequences.
    length : int
        Steps per sequence.
    n_valid, n_test : int or None
        Sequences in valid and test; default ``max(1, n_sequences // 4)``.
    seed : int
        Seeds one ``numpy.random.Generator`` for the parameters and the samples.

    Returns
    -------
    Splits
        ``X``: observations, ``(length, obs_dim)`` float64 arrays;
        ``Split.states``: true hidden states, ``(length, state_dim)``;
        ``info["true_params"]``: ``A, C, Q, R, x0, P0`` as nested lists (the
        start ``N(x0, P0)`` is the stationary distribution, so every step has
        the same marginal); ``info["kind"] = "continuous"``;
        ``oracle``: :func:`lgssm_oracle` of the true parameters, or None
        (noted in ``info["oracle"]``) until the Kalman family supplies it.
    """
    for name, value in (("state_dim", state_dim), ("obs_dim", obs_dim), ("length", length)):
        _check_int(name, value)
    _check_int("seed", seed, minimum=0)
    sizes = _part_sizes(n_sequences, n_valid, n_test)

    rng = np.random.default_rng(seed)
    params = _random_lgssm_params(rng, state_dim, obs_dim)
    Y, states = sample_lgssm(params, sum(sizes.values()), length, rng)
    Y, states = _cut(list(Y), sizes), _cut(list(states), sizes)
    try:
        oracle, oracle_note = lgssm_oracle(params), "Kalman.from_params(**true_params)"
    except NotImplementedError as exc:
        oracle, oracle_note = None, f"none yet: {exc}"
    options = {"state_dim": state_dim, "obs_dim": obs_dim, "n_sequences": n_sequences, "length": length,
               "n_valid": n_valid, "n_test": n_test, "seed": seed}
    info = {
        "name": "synthetic-lgssm",
        "kind": "continuous",
        "synthetic": True,
        "input_kind": "continuous",
        "source": "generated by seqbench.data.synthetic.synthetic_lgssm",
        "licence": "generated data (no licence needed)",
        "split": "independent draws from the same model: "
                 + ", ".join(f"{p} = {sizes[p]} sequences" for p in PARTS),
        "preprocessing": "none; Split.states holds the true hidden states",
        "options": options,
        "seed": seed,
        "spectral_radius": float(np.max(np.abs(np.linalg.eigvals(params["A"])))),
        "true_params": {k: v.tolist() for k, v in params.items()},
        "oracle": oracle_note,
    }
    parts = {p: Split(Y[p], states=states[p]) for p in PARTS}
    return Splits(parts["train"], parts["valid"], parts["test"], info=info, oracle=oracle)
