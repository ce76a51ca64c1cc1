"""Kalman peer cases: filtering against statsmodels, pykalman and filterpy; one EM iteration against pykalman.

Data: ``synthetic-lgssm`` with state 6 and observations 3 (a random stable
system from the seed), 64 sequences of 10,000 steps (``quick``: 8 of
1,000). Every contender uses the true parameters.

- ``kalman-filter``: seqbench ``score_tokens`` (predictive log-densities)
  over all sequences; statsmodels' compiled ``KalmanFilter.loglike`` over
  all sequences (a fresh filter per sequence); pykalman ``loglikelihood``
  and filterpy's predict/update loop (with ``log_likelihood``) over the
  first 2,000 steps of the first sequence (300 with ``quick``): they are
  Python loops per step. Agreement: the log-likelihood of each sequence
  they filter.
- ``kalman-em``: one EM iteration (E-step with the RTS smoother, M-step of
  every parameter) on the first sequence: seqbench ``Kalman(n_iter=1)``
  started at the true parameters against pykalman ``em(n_iter=1)`` (pykalman
  learns from one sequence only); seqbench's time includes ``fit``'s
  validation. Agreement: every re-estimated parameter.
"""
from __future__ import annotations

import warnings

import numpy as np

from .peers import Contender, Prepared, case

FULL = {"n_sequences": 64, "length": 10_000, "n_sub": 2_000}
QUICK = {"n_sequences": 8, "length": 1_000, "n_sub": 300}
STATE, OBS = 6, 3
EM_VARS = ["transition_matrices", "observation_matrices", "transition_covariance",
           "observation_covariance", "initial_state_mean", "initial_state_covariance"]
KALMAN = "pip install 'seqbench[peers]' ({})"


def lgssm(seed, quick):
    """``(X, true parameters dict, oracle Kalman, description)``."""
    from ..data import load_dataset

    size = QUICK if quick else FULL
    ds = load_dataset("synthetic-lgssm", state_dim=STATE, obs_dim=OBS, n_sequences=size["n_sequences"],
                      length=size["length"], n_valid=1, n_test=1, seed=seed)
    p = {k: np.asarray(v, dtype=float) for k, v in ds.info["true_params"].items()}
    description = (f"synthetic-lgssm state {STATE}, obs {OBS}, {len(ds.train.X)} x {size['length']:,} steps, "
                   f"spectral radius {ds.info['spectral_radius']:.3f}")
    return ds.train.X, p, ds.oracle, description


def pykalman_filter(p):
    from pykalman import KalmanFilter

    return KalmanFilter(transition_matrices=p["A"], observation_matrices=p["C"], transition_covariance=p["Q"],
                        observation_covariance=p["R"], initial_state_mean=p["x0"],
                        initial_state_covariance=p["P0"])


def filterpy_loglik(p, x):
    """filterpy's predict/update over one sequence (update first: the first observation sees x0)."""
    from filterpy.kalman import KalmanFilter

    kf = KalmanFilter(dim_x=p["A"].shape[0], dim_z=p["C"].shape[0])
    kf.F, kf.H, kf.Q, kf.R = p["A"], p["C"], p["Q"], p["R"]
    kf.x, kf.P = p["x0"].copy(), p["P0"].copy()
    total = 0.0
    for t, z in enumerate(x):
        if t:
            kf.predict()
        kf.update(z)
        total += kf.log_likelihood
    return total


def statsmodels_logliks(p, X):
    """Log-likelihood of each sequence, one fresh compiled filter per sequence."""
    from statsmodels.tsa.statespace.kalman_filter import KalmanFilter

    d, q = p["A"].shape[0], p["C"].shape[0]
    out = []
    for x in X:
        kf = KalmanFilter(k_endog=q, k_states=d)
        kf["design"], kf["obs_cov"], kf["transition"] = p["C"], p["R"], p["A"]
        kf["selection"], kf["state_cov"] = np.eye(d), p["Q"]
        kf.initialize_known(p["x0"], p["P0"])
        kf.bind(x)
        out.append(kf.loglike())
    return np.array(out)


@case("kalman-filter", "kalman", "filter", "step", "log-likelihood of every sequence by the Kalman filter")
def _filter(seed, quick):
    size = QUICK if quick else FULL
    X, p, ours, description = lgssm(seed, quick)
    sub = X[0][: size["n_sub"]]
    n, n_sub = sum(len(x) for x in X), len(sub)
    per_seq = lambda: np.array([s.sum() for s in ours.score_tokens(X)])  # noqa: E731
    sub_ll = lambda: ours.score_tokens([sub])[0].sum()  # noqa: E731
    pyk = {}  # built in prepare: pykalman may be missing
    return Prepared(description, [
        Contender("seqbench Kalman.score_tokens", "seqbench", lambda: ours.score_tokens(X), n),
        Contender("statsmodels KalmanFilter.loglike", "statsmodels", lambda: statsmodels_logliks(p, X), n,
                  requires=("statsmodels",), agree=lambda: (per_seq(), statsmodels_logliks(p, X)), rtol=1e-8,
                  what="log-likelihood of each sequence"),
        Contender(f"pykalman loglikelihood ({n_sub} steps)", "pykalman", lambda: pyk["kf"].loglikelihood(sub),
                  n_sub, requires=("pykalman",), install=KALMAN.format("pykalman"),
                  prepare=lambda: pyk.setdefault("kf", pykalman_filter(p)),
                  agree=lambda: (sub_ll(), pyk["kf"].loglikelihood(sub)), rtol=1e-8, what="log-likelihood"),
        Contender(f"filterpy predict/update ({n_sub} steps)", "filterpy", lambda: filterpy_loglik(p, sub), n_sub,
                  requires=("filterpy",), install=KALMAN.format("filterpy"),
                  agree=lambda: (sub_ll(), filterpy_loglik(p, sub)), rtol=1e-8, what="log-likelihood"),
    ])


def seqbench_em(p, x):
    """``Kalman(n_iter=1)`` from the true parameters, fitted on one sequence."""
    from ..models import Kalman

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge, by design
        return Kalman(p["A"].shape[0], n_iter=1, tol=0, init=p, min_covar=1e-12).fit([x])


@case("kalman-em", "kalman", "em-iteration", "step", "one EM iteration on one sequence from the true parameters")
def _em(seed, quick):
    X, p, _, description = lgssm(seed, quick)
    one = X[0]

    def theirs():
        return pykalman_filter(p).em(one, n_iter=1, em_vars=EM_VARS)

    def agree():
        a, b = seqbench_em(p, one), theirs()
        ours = (a.A_, a.C_, a.Q_, a.R_, a.x0_, a.P0_)
        peer = (b.transition_matrices, b.observation_matrices, b.transition_covariance,
                b.observation_covariance, b.initial_state_mean, b.initial_state_covariance)
        return (np.concatenate([np.ravel(v) for v in ours]), np.concatenate([np.ravel(v) for v in peer]))

    return Prepared(f"{description}; EM on the first sequence", [
        Contender("seqbench Kalman(n_iter=1).fit", "seqbench", lambda: seqbench_em(p, one), len(one)),
        Contender("pykalman em(n_iter=1)", "pykalman", theirs, len(one), requires=("pykalman",),
                  install=KALMAN.format("pykalman"), agree=agree, rtol=1e-6, atol=1e-10,
                  what="A, C, Q, R, x0, P0 after one iteration"),
    ])
