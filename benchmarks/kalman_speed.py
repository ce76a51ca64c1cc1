"""Kalman family: accuracy against the true model and statsmodels, speed against pykalman, filterpy, statsmodels.

Run: ``.venv/bin/python benchmarks/kalman_speed.py [accuracy|speed|all]``
(peers: ``pip install -e ".[peers]"``; statsmodels is a core dependency).
Every library runs on one BLAS thread (threadpoolctl).

accuracy
    synthetic-lgssm (state 4, obs 2, 200 train sequences x 100 steps, seed 0):
    test NLL per step of the true model (oracle), of a fitted ``Kalman(4)``
    and, when available, of ``HMM(emission="gaussian")``; state recovery.
    nile: ``Kalman(1)`` (free, and constrained to a local level A = C = 1)
    next to statsmodels' ``UnobservedComponents(level="llevel")`` fitted on
    the same standardised first 80% and filtered over the whole series,
    scored on the last 20%.
speed
    A random stable system (state 6, obs 3): filter steps/s (predictive
    log-densities) of seqbench over 64 sequences x 10,000 steps; pykalman,
    filterpy and statsmodels' compiled filter on the same parameters (the
    slow peers on a subset, reported as steps/s); log-likelihood agreement;
    one EM iteration of seqbench and pykalman on one 10,000-step sequence
    (pykalman learns from one sequence only) and seqbench's EM over all 64.
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from _timing import timed
from seqbench.data import load_dataset
from seqbench.models import Kalman
from seqbench.tasks import continuous as task

EM_VARS = ["transition_matrices", "observation_matrices", "transition_covariance",
           "observation_covariance", "initial_state_mean", "initial_state_covariance"]




def row(name, *cells):
    print(f"  {name:<38}" + "".join(f"{c:>{w}}" for c, w in zip(cells, (10, 10, 12, 13, 18))))


# ------------------------------------------------------------------------------ accuracy
def accuracy_synthetic():
    ds = load_dataset("synthetic-lgssm", state_dim=4, obs_dim=2, n_sequences=200, length=100, seed=0)
    print(f"synthetic-lgssm state 4, obs 2, {ds.train.n_sequences} x 100 train, "
          f"{ds.test.n_sequences} x 100 test (test metrics)")
    row("model", "nll/step", "mse", "coverage90", "state_mse", "fit s")
    oracle = task.evaluate(ds.oracle, ds)
    row("oracle (true parameters)", f"{oracle['nll_per_step']:.5f}", f"{oracle['mse']:.5f}",
        f"{oracle['coverage']:.4f}", f"{oracle['state_mse']:.5f}", "-")
    est = Kalman(4, random_state=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task.fit(est, ds)
    fit_s = time.perf_counter() - t0
    r = task.evaluate(est, ds)
    row(f"Kalman(4) ({est.n_iter_} EM iterations)", f"{r['nll_per_step']:.5f}", f"{r['mse']:.5f}",
        f"{r['coverage']:.4f}", f"{r['state_mse']:.5f}", f"{fit_s:.2f}")
    gap = (r["nll_per_step"] - oracle["nll_per_step"]) / abs(oracle["nll_per_step"])
    print(f"  Kalman(4) NLL/step - oracle = {r['nll_per_step'] - oracle['nll_per_step']:.5f} "
          f"({100 * gap:.3f}% of |oracle|)")
    try:
        from seqbench.models import HMM

        hmm = HMM(n_states=8, emission="gaussian", random_state=0)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            task.fit(hmm, ds)
        h = task.evaluate(hmm, ds)
        row("HMM(8, gaussian)", f"{h['nll_per_step']:.5f}", "-", "-", "-", f"{time.perf_counter() - t0:.2f}")
    except Exception as exc:  # the gaussian HMM is another family's work; report, do not fail
        print(f"  HMM(emission='gaussian') not available: {type(exc).__name__}: {exc}")


def accuracy_nile():
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    ds = load_dataset("nile")
    full = np.concatenate([ds.train.X[0], ds.valid.X[0], ds.test.X[0]])[:, 0]
    n_fit = len(ds.train.X[0]) + len(ds.valid.X[0])
    print(f"\nnile (standardised with the first 72%; fit on the first {n_fit} steps, "
          f"test = last {len(full) - n_fit}, filtered from the start)")
    row("model", "nll/step", "mse", "coverage90", "Q (level)", "R")
    params = UnobservedComponents(full[:n_fit], level="llevel").fit(disp=False).params
    res = UnobservedComponents(full, level="llevel").filter(params)
    y, mean = full[n_fit:], res.forecasts[0, n_fit:]
    sd = np.sqrt(res.forecasts_error_cov[0, 0, n_fit:])
    row("statsmodels local level", f"{-res.llf_obs[n_fit:].mean():.5f}", f"{np.mean((y - mean) ** 2):.5f}",
        f"{np.mean(np.abs(y - mean) <= 1.6448536269514722 * sd):.4f}", f"{params[1]:.5f}", f"{params[0]:.5f}")
    for label, kw in (("Kalman(1), all estimated", {}),
                      ("Kalman(1), A = C = 1 (local level)",
                       {"estimate": ("Q", "R", "x0", "P0"), "init": {"A": [[1.0]], "C": [[1.0]]}})):
        est = Kalman(1, n_iter=2000, random_state=0, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            task.fit(est, ds)
        r = task.evaluate(est, ds)
        row(label, f"{r['nll_per_step']:.5f}", f"{r['mse']:.5f}", f"{r['coverage']:.4f}",
            f"{est.Q_[0, 0]:.5f}", f"{est.R_[0, 0]:.5f}")


# --------------------------------------------------------------------------------- speed
def _peer_pykalman(p):
    from pykalman import KalmanFilter

    return KalmanFilter(transition_matrices=p["A"], observation_matrices=p["C"], transition_covariance=p["Q"],
                        observation_covariance=p["R"], initial_state_mean=p["x0"],
                        initial_state_covariance=p["P0"])


def _filterpy(p, x, loglik):
    """filterpy's predict/update over one sequence (update first: the first observation sees x0).

    With ``loglik``, also sums ``kf.log_likelihood`` (computed by filterpy after each update).
    """
    from filterpy.kalman import KalmanFilter

    kf = KalmanFilter(dim_x=p["A"].shape[0], dim_z=p["C"].shape[0])
    kf.F, kf.H, kf.Q, kf.R = p["A"], p["C"], p["Q"], p["R"]
    kf.x, kf.P = p["x0"].copy(), p["P0"].copy()
    total = 0.0
    for t, z in enumerate(x):
        if t:
            kf.predict()
        kf.update(z)
        if loglik:
            total += kf.log_likelihood
    return total


def _statsmodels_filter(p):
    from statsmodels.tsa.statespace.kalman_filter import KalmanFilter

    d, q = p["A"].shape[0], p["C"].shape[0]
    kf = KalmanFilter(k_endog=q, k_states=d)
    kf["design"], kf["obs_cov"], kf["transition"] = p["C"], p["R"], p["A"]
    kf["selection"], kf["state_cov"] = np.eye(d), p["Q"]
    kf.initialize_known(p["x0"], p["P0"])
    return kf


def _statsmodels_loglik(p, X):
    """Total log-likelihood, one fresh filter per sequence (a re-bound filter keeps state from the last one)."""
    total = 0.0
    for x in X:
        kf = _statsmodels_filter(p)
        kf.bind(x)
        total += kf.loglike()
    return total


def _rel(a, b):
    return abs(a - b) / abs(b)


def speed():
    ds = load_dataset("synthetic-lgssm", state_dim=6, obs_dim=3, n_sequences=64, length=10_000,
                      n_valid=1, n_test=1, seed=0)
    X = ds.train.X
    p = {k: np.asarray(v) for k, v in ds.info["true_params"].items()}
    est = ds.oracle
    n = sum(len(x) for x in X)
    print(f"\nspeed: state 6, obs 3, spectral radius {ds.info['spectral_radius']:.3f}; 1 BLAS thread")
    row("filter (log-likelihood)", "sequences", "steps", "seconds", "steps/s", "seqbench / peer")
    t_sb, scores = timed(lambda: est.score_tokens(X), repeat=3)
    rate_sb = n / t_sb
    row("seqbench score_tokens", 64, n, f"{t_sb:.4f}", f"{rate_sb:,.0f}", "1")
    ll_sb = [s.sum() for s in scores]

    t_sm, ll_sm = timed(lambda: _statsmodels_loglik(p, X), repeat=3)
    row("statsmodels KalmanFilter.loglike", 64, n, f"{t_sm:.4f}", f"{n / t_sm:,.0f}", f"{rate_sb * t_sm / n:.1f}x")

    sub = X[0][:2000]
    kf_pk = _peer_pykalman(p)
    peers = (("pykalman filter", lambda: kf_pk.filter(sub)),
             ("pykalman loglikelihood", lambda: kf_pk.loglikelihood(sub)),
             ("filterpy predict/update", lambda: _filterpy(p, sub, loglik=False)),
             ("filterpy + log_likelihood", lambda: _filterpy(p, sub, loglik=True)))
    for name, fn in peers:
        t, _ = timed(fn, repeat=1)
        row(name, 1, len(sub), f"{t:.4f}", f"{len(sub) / t:,.0f}", f"{rate_sb * t / len(sub):,.0f}x")

    ref = est.score_tokens([sub])[0].sum()
    print("  log-likelihood agreement (relative difference to seqbench):")
    print(f"    statsmodels, 64 x 10,000 steps: {_rel(ll_sm, sum(ll_sb)):.2e}")
    print(f"    pykalman,    2,000 steps:       {_rel(kf_pk.loglikelihood(sub), ref):.2e}")
    print(f"    filterpy,    2,000 steps:       {_rel(_filterpy(p, sub, loglik=True), ref):.2e}")

    masked = [x.copy() for x in X]
    rng = np.random.default_rng(0)
    for x in masked:
        x[rng.random(x.shape) < 0.05] = np.nan
    est_m = Kalman.from_params(**p, missing="mask")
    t_m, _ = timed(lambda: est_m.score_tokens(masked[:8]), repeat=1)
    row("seqbench, 5% missing (per-seq cov)", 8, 80_000, f"{t_m:.4f}", f"{80_000 / t_m:,.0f}", "-")

    print("\n  one EM iteration (E-step + M-step), from the true parameters")
    row("EM", "sequences", "steps", "seconds", "steps/s", "seqbench / peer")
    one = X[0]

    def sb_em(data, n_iter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Kalman(6, n_iter=n_iter, tol=0, init=p, min_covar=1e-12).fit(data)

    t1, _ = timed(lambda: sb_em([one], 1), repeat=3)
    t6, fit6 = timed(lambda: sb_em([one], 6), repeat=3)
    it_sb = (t6 - t1) / 5                                    # fit's fixed costs cancel
    row("seqbench Kalman.fit (per iteration)", 1, len(one), f"{it_sb:.4f}", f"{len(one) / it_sb:,.0f}", "1")
    t_pk_em, kf_em = timed(lambda: _peer_pykalman(p).em(one, n_iter=1, em_vars=EM_VARS), repeat=1)
    row("pykalman em(n_iter=1)", 1, len(one), f"{t_pk_em:.4f}", f"{len(one) / t_pk_em:,.0f}",
        f"{t_pk_em / it_sb:.1f}x")
    t1, _ = timed(lambda: sb_em(X, 1), repeat=3)
    t4, _ = timed(lambda: sb_em(X, 4), repeat=3)
    it_all = (t4 - t1) / 3
    row("seqbench Kalman.fit, all sequences", 64, n, f"{it_all:.4f}", f"{n / it_all:,.0f}",
        f"{(n / it_all) / (len(one) / t_pk_em):,.0f}x per step")
    one_iter = sb_em([one], 1)
    diff = max(np.abs(a - b).max() for a, b in zip(
        (one_iter.A_, one_iter.C_, one_iter.Q_, one_iter.R_, one_iter.x0_, one_iter.P0_),
        (kf_em.transition_matrices, kf_em.observation_matrices, kf_em.transition_covariance,
         kf_em.observation_covariance, kf_em.initial_state_mean, kf_em.initial_state_covariance)))
    print(f"  EM parameters after one iteration, max |seqbench - pykalman| = {diff:.2e}; "
          f"log-likelihood over 6 iterations non-decreasing: {bool(np.all(np.diff(fit6.history_) >= 0))}")


def main(part="all"):
    with threadpool_limits(1):
        if part in ("accuracy", "all"):
            accuracy_synthetic()
            accuracy_nile()
        if part in ("speed", "all"):
            speed()


if __name__ == "__main__":
    main(*sys.argv[1:])
