"""The continuous task: applicability, metric definitions by hand, state recovery up to a linear map,
time-split series scored as a continuation, and the oracle < fitted < naive ordering."""
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import norm

from seqbench import Tags
from seqbench.data import load_dataset
from seqbench.data.splits import Split, Splits
from seqbench.exceptions import ConvergenceWarning
from seqbench.models import Kalman
from seqbench.tasks import TASKS
from seqbench.tasks import continuous as task


class Recorder:
    """A continuous density with fixed outputs that records what the task asks of it."""

    def __init__(self, logdens=-1.0, mean=0.0, var=1.0, state_map=None):
        self.logdens, self.mean, self.var, self.state_map = logdens, mean, var, state_map
        self.fitted_on, self.scored, self.truth = None, [], {}

    def fit(self, X):
        self.fitted_on = [np.array(x) for x in X]
        return self

    def score_tokens(self, X):
        self.scored.append([len(x) for x in X])
        return [np.full(len(x), self.logdens) for x in X]

    def predict_next_moments(self, X):
        return [np.full(np.shape(x), self.mean) for x in X], [np.full(np.shape(x), self.var) for x in X]


class StateRecorder(Recorder):
    """Its smoothed means are the true states times an invertible matrix."""

    def smooth(self, X):
        return [self.truth[id(x)] @ self.state_map for x in X], None


def _split(X, states=None):
    return Split([np.asarray(x, dtype=float) for x in X], states=states)


def test_registered_and_applies():
    assert TASKS["continuous"] is task
    ds = load_dataset("synthetic-lgssm", n_sequences=4, length=5)
    assert task.applies(Tags(input_kind="continuous", density=True), ds) is None
    assert task.applies(Tags(input_kind="discrete", density=True), ds) == "model is not a continuous density"
    assert task.applies(Tags(input_kind="continuous", density=False), ds) == "model is not a continuous density"
    stand_in = SimpleNamespace(info={"kind": "lm", "input_kind": "discrete"})
    assert task.applies(Tags(input_kind="continuous"), stand_in) == "dataset is not continuous"
    assert task.applies(Tags(input_kind="continuous"), SimpleNamespace(info={"kind": "continuous"})) is None


def test_metrics_by_hand_with_missing_values():
    test = [np.array([[0.5, np.nan], [np.nan, np.nan], [2.0, -1.0]]), np.array([[0.0, 3.0]])]
    ds = Splits(_split([np.zeros((2, 2))]), _split([np.zeros((2, 2))]), _split(test), info={"kind": "continuous"})
    est = Recorder(logdens=-1.5, mean=0.0, var=4.0)
    task.fit(est, ds)
    assert len(est.fitted_on) == 1 and est.fitted_on[0].shape == (2, 2)   # independent sequences: train only
    r = task.evaluate(est, ds)
    # 3 steps have an observed entry, 5 observed scalars; the fully missing step scores -1.5 too,
    # but the sum is divided by the observed steps only (a model gives 0 there)
    assert r["n_tokens"] == 3 and r["n_values"] == 5
    assert r["nll_per_step"] == pytest.approx(1.5 * 4 / 3)
    assert r["mse"] == pytest.approx((0.25 + 4 + 1 + 0 + 9) / 5)
    half = norm.ppf(0.95) * 2.0                                            # 3.29: only |3| and smaller inside
    assert r["coverage"] == pytest.approx(np.mean(np.abs([0.5, 2.0, -1.0, 0.0, 3.0]) <= half))
    assert "state_mse" not in r                                            # no true states


def test_time_split_series_is_fitted_on_80_percent_and_scored_as_continuation():
    ds = load_dataset("nile")
    n_train, n_valid, n_test = (len(p.X[0]) for _, p in ds)
    est = Recorder(logdens=-0.5)
    task.fit(est, ds)
    assert [len(x) for x in est.fitted_on] == [n_train + n_valid]
    np.testing.assert_array_equal(est.fitted_on[0], np.concatenate([ds.train.X[0], ds.valid.X[0]]))
    r = task.evaluate(est, ds)
    assert est.scored == [[n_train + n_valid + n_test]]                   # the whole series runs
    assert r["n_tokens"] == n_test and r["nll_per_step"] == pytest.approx(0.5)
    y = ds.test.X[0][:, 0]
    assert r["mse"] == pytest.approx(np.mean(y**2))                        # the stub predicts 0
    r_valid = task.evaluate(est, ds, "valid")
    assert r_valid["n_tokens"] == n_valid and est.scored[-1] == [n_train + n_valid]


def _with_states(n=30, T=20, d=2, seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(3):
        states = [rng.normal(size=(T, d)) for _ in range(n)]
        parts.append(_split([rng.normal(size=(T, 1)) for _ in range(n)], states=states))
    return Splits(*parts, info={"kind": "continuous", "input_kind": "continuous"})


def test_state_mse_is_invariant_to_an_invertible_map_fitted_on_train():
    ds = _with_states()
    M = np.array([[2.0, 1.0], [-0.5, 3.0]])
    est = StateRecorder(state_map=M)
    for _, part in ds:
        est.truth.update({id(x): s for x, s in zip(part.X, part.states)})
    assert task.evaluate(est, ds)["state_mse"] == pytest.approx(0.0, abs=1e-20)
    # the generating model is scored without a map: the same stub as oracle is off by (M - I)
    ds.oracle = est
    truth = np.concatenate(ds.test.states)
    assert task.evaluate(est, ds)["state_mse"] == pytest.approx(np.mean((truth @ M - truth) ** 2))


@pytest.fixture(scope="module")
def lgssm_results():
    ds = load_dataset("synthetic-lgssm", state_dim=2, obs_dim=2, n_sequences=80, length=50, seed=3)
    fitted = Kalman(2, n_iter=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        task.fit(fitted, ds)
    # naive: every step an independent N(0, train covariance) -- a Kalman whose state is never observed
    Y = np.concatenate(ds.train.X)
    naive = Kalman.from_params(A=[[0.0]], C=np.zeros((2, 1)), Q=[[1.0]], R=np.cov(Y.T), x0=[0.0], P0=[[1.0]])
    return ds, {name: task.evaluate(est, ds) for name, est in
                (("oracle", ds.oracle), ("fitted", fitted), ("naive", naive))}


def test_oracle_beats_fitted_beats_naive(lgssm_results):
    ds, r = lgssm_results
    assert r["oracle"]["nll_per_step"] < r["fitted"]["nll_per_step"] < r["naive"]["nll_per_step"]
    assert r["fitted"]["nll_per_step"] - r["oracle"]["nll_per_step"] < 0.02 * abs(r["oracle"]["nll_per_step"])
    assert r["oracle"]["mse"] < r["naive"]["mse"] and r["fitted"]["mse"] < r["naive"]["mse"]
    # the optimal smoother recovers the states best; a fitted model (identified only up to a linear
    # map of the state, and with the split of noise between Q and R weakly identified) comes after
    assert r["oracle"]["state_mse"] < r["fitted"]["state_mse"] < 0.6 * r["naive"]["state_mse"]
    assert 0.85 < r["oracle"]["coverage"] < 0.95
    assert r["oracle"]["n_tokens"] == ds.test.n_tokens and r["oracle"]["n_values"] == 2 * ds.test.n_tokens


def test_oracle_metrics_match_their_definitions(lgssm_results):
    ds, r = lgssm_results
    oracle, X = ds.oracle, ds.test.X
    n = ds.test.n_tokens
    assert r["oracle"]["nll_per_step"] == pytest.approx(-sum(s.sum() for s in oracle.score_tokens(X)) / n)
    smoothed = np.concatenate(oracle.smooth(X)[0])
    assert r["oracle"]["state_mse"] == pytest.approx(np.mean((smoothed - np.concatenate(ds.test.states)) ** 2))


def test_nile_local_level_agrees_with_statsmodels():
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    ds = load_dataset("nile")
    full = np.concatenate([p.X[0] for _, p in ds])[:, 0]
    n_fit = len(ds.train.X[0]) + len(ds.valid.X[0])
    params = UnobservedComponents(full[:n_fit], level="llevel").fit(disp=False).params
    res = UnobservedComponents(full, level="llevel").filter(params)
    sm_nll = -res.llf_obs[n_fit:].mean()
    sm_mse = np.mean((full[n_fit:] - res.forecasts[0, n_fit:]) ** 2)
    est = Kalman(1, n_iter=300, estimate=("Q", "R", "x0", "P0"), init={"A": [[1.0]], "C": [[1.0]]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        task.fit(est, ds)
    r = task.evaluate(est, ds)
    assert r["nll_per_step"] == pytest.approx(sm_nll, rel=0.01)
    assert r["mse"] == pytest.approx(sm_mse, rel=0.01)
