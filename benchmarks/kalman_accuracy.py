"""Kalman family accuracy: against the true model on synthetic data and against statsmodels on the Nile.

Run: ``.venv/bin/python benchmarks/kalman_accuracy.py`` (one BLAS thread).
Speed against pykalman, filterpy and statsmodels: ``seqbench bench peers --only kalman``.

synthetic-lgssm (state 4, obs 2, 200 train sequences x 100 steps, seed 0):
test NLL per step of the true model (oracle), of a fitted ``Kalman(4)``
and of ``HMM(emission="gaussian")``; state recovery. nile: ``Kalman(1)``
(free, and constrained to a local level A = C = 1) next to statsmodels'
``UnobservedComponents(level="llevel")`` fitted on the same standardised
first 80% and filtered over the whole series, scored on the last 20%.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from seqbench.data import load_dataset
from seqbench.models import Kalman
from seqbench.tasks import continuous as task


def row(name, *cells):
    print(f"  {name:<38}" + "".join(f"{c:>{w}}" for c, w in zip(cells, (10, 10, 12, 13, 18))))


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


def main():
    with threadpool_limits(1):
        accuracy_synthetic()
        accuracy_nile()


if __name__ == "__main__":
    main()
