"""Known-answer tests of the Kalman family: exact joint-Gaussian densities, a hand-solved 1-D case,
missing values, EM (monotone, joint M-step by hand, pykalman), bad input."""
import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from seqbench.exceptions import ConfigError, ConvergenceWarning, InvalidSequenceError, NumericalError
from seqbench.models import Kalman
from seqbench.models import kalman as kalman_module
from seqbench.models._kalman_em import e_step
from seqbench.models._kalman_filter import run_filter
from seqbench.models._kalman_layout import make_groups, unpack
from seqbench.models._kalman_smoother import smooth_masked, smooth_shared

NAMES = ("A", "C", "Q", "R", "x0", "P0")


def random_params(rng, d, p):
    """A stable system with random SPD covariances and a non-zero start."""
    A = rng.normal(size=(d, d))
    A *= 0.9 / np.max(np.abs(np.linalg.eigvals(A)))
    spd = [(lambda M: M @ M.T / k + 0.2 * np.eye(k))(rng.normal(size=(k, k))) for k in (d, p, d)]
    return {"A": A, "C": rng.normal(size=(p, d)), "Q": spd[0], "R": spd[1],
            "x0": rng.normal(size=d), "P0": spd[2]}


def joint_gaussian(prm, T):
    """Mean and covariance of the stacked states (T d) and observations (T p), built densely.

    Returns
    -------
    mx, Sx, my, Sy, Sxy
    """
    A, C, Q, R, x0, P0 = (np.asarray(prm[n]) for n in NAMES)
    d = A.shape[0]
    means, covs = [x0], [P0]
    for _ in range(1, T):
        means.append(A @ means[-1])
        covs.append(A @ covs[-1] @ A.T + Q)
    Sx = np.zeros((T * d, T * d))
    for s in range(T):
        for t in range(s, T):
            block = np.linalg.matrix_power(A, t - s) @ covs[s]          # Cov(x_t, x_s)
            Sx[t * d:(t + 1) * d, s * d:(s + 1) * d] = block
            Sx[s * d:(s + 1) * d, t * d:(t + 1) * d] = block.T
    Cb = np.kron(np.eye(T), C)
    mx = np.concatenate(means)
    return mx, Sx, Cb @ mx, Cb @ Sx @ Cb.T + np.kron(np.eye(T), R), Sx @ Cb.T


def dense_posterior(prm, y):
    """E[x | observed y] (T, d) and Cov (T d, T d) by conditioning the joint Gaussian (NaN = missing)."""
    T, d = len(y), np.asarray(prm["A"]).shape[0]
    mx, Sx, my, Sy, Sxy = joint_gaussian(prm, T)
    o = ~np.isnan(y.ravel())
    G = np.linalg.solve(Sy[np.ix_(o, o)], Sxy[:, o].T).T
    return (mx + G @ (y.ravel()[o] - my[o])).reshape(T, d), Sx - G @ Sxy[:, o].T


def dense_loglik(prm, y):
    T = len(y)
    _, _, my, Sy, _ = joint_gaussian(prm, T)
    o = ~np.isnan(y.ravel())
    return multivariate_normal(my[o], Sy[np.ix_(o, o)]).logpdf(y.ravel()[o])


@pytest.fixture
def prm():
    return random_params(np.random.default_rng(0), 3, 2)


@pytest.fixture
def ragged():
    rng = np.random.default_rng(1)
    return [rng.normal(size=(T, 2)) for T in (6, 1, 4, 6, 3)]


def fit_quiet(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


# ---------------------------------------------------------------------------------- densities
def test_score_tokens_are_exact_conditional_log_densities(prm, ragged):
    """Every prefix sum of score_tokens is the joint-Gaussian log-density of that prefix."""
    est = Kalman.from_params(**prm)
    scores = est.score_tokens(ragged)
    for y, s in zip(ragged, scores):
        assert s.shape == (len(y),)
        for T in range(1, len(y) + 1):
            assert s[:T].sum() == pytest.approx(dense_loglik(prm, y[:T]), abs=1e-9)
    assert est.score(ragged) == pytest.approx(np.concatenate(scores).mean(), rel=1e-12)


def test_loglik_matches_pykalman(prm):
    pykalman = pytest.importorskip("pykalman")
    y = np.random.default_rng(2).normal(size=(50, 2))
    kf = pykalman.KalmanFilter(
        transition_matrices=prm["A"], observation_matrices=prm["C"], transition_covariance=prm["Q"],
        observation_covariance=prm["R"], initial_state_mean=prm["x0"], initial_state_covariance=prm["P0"])
    est = Kalman.from_params(**prm)
    assert est.score_tokens([y])[0].sum() == pytest.approx(kf.loglikelihood(y), rel=1e-10)
    means, covs = est.filter([y])
    ref_m, ref_c = kf.filter(y)
    np.testing.assert_allclose(means[0], ref_m, atol=1e-10)
    np.testing.assert_allclose(covs[0], ref_c, atol=1e-10)


def test_hand_solved_one_dimensional_case():
    """a = 0.5, c = q = r = p0 = 1, x0 = 0, y = (2, 1): every quantity by hand, in fractions."""
    est = Kalman.from_params(A=[[0.5]], C=[[1.0]], Q=[[1.0]], R=[[1.0]], x0=[0.0], P0=[[1.0]])
    y = [np.array([[2.0], [1.0]])]
    m, P = est.filter(y)
    np.testing.assert_allclose(m[0][:, 0], [1.0, 13 / 17], rtol=1e-14)
    np.testing.assert_allclose(P[0][:, 0, 0], [0.5, 9 / 17], rtol=1e-14)
    ms, Ps = est.smooth(y)
    np.testing.assert_allclose(ms[0][:, 0], [18 / 17, 13 / 17], rtol=1e-14)
    np.testing.assert_allclose(Ps[0][:, 0, 0], [8 / 17, 9 / 17], rtol=1e-14)
    mean, var = est.predict_next_moments(y)
    np.testing.assert_allclose(mean[0][:, 0], [0.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(var[0][:, 0], [2.0, 2.125], rtol=1e-14)
    np.testing.assert_allclose(est.predict(y)[0], mean[0])
    expected = norm.logpdf(2.0, 0.0, np.sqrt(2.0)) + norm.logpdf(1.0, 0.5, np.sqrt(2.125))
    assert est.score_tokens(y)[0].sum() == pytest.approx(expected, rel=1e-14)
    lo, hi = est.predict_interval(y, coverage=0.9)
    np.testing.assert_allclose(hi[0][:, 0] - lo[0][:, 0], 2 * 1.6448536269514722 * np.sqrt([2.0, 2.125]))
    # forecast: from the last filtered state (13/17, 9/17): x_{T+1} ~ N(13/34, 9/68 + 1), y adds r = 1
    fm, fv = est.forecast(y, steps=2)
    np.testing.assert_allclose(fm[0][:, 0], [13 / 34, 13 / 68])
    np.testing.assert_allclose(fv[0][:, 0], [9 / 68 + 2, 0.25 * (9 / 68 + 1) + 2])


def test_smoother_equals_dense_posterior_shared_and_masked(prm, ragged):
    est = Kalman.from_params(**prm, missing="mask")
    holes = [y.copy() for y in ragged]
    holes[0][2, 1] = np.nan                 # one entry
    holes[3][4] = np.nan                    # a whole step
    for X in (ragged, holes):
        means, covs = est.smooth(X)
        for y, m, V in zip(X, means, covs):
            ref_m, ref_S = dense_posterior(prm, y)
            np.testing.assert_allclose(m, ref_m, atol=1e-10)
            d = m.shape[1]
            for t in range(len(y)):
                np.testing.assert_allclose(V[t], ref_S[t * d:(t + 1) * d, t * d:(t + 1) * d], atol=1e-10)


def test_missing_values_score_the_observed_marginal(prm, ragged):
    est = Kalman.from_params(**prm, missing="mask")
    X = [y.copy() for y in ragged]
    X[0][1, 0] = np.nan
    X[0][3] = np.nan
    X[2][0] = np.nan
    X[4][:, 1] = np.nan
    scores = est.score_tokens(X)
    for y, s in zip(X, scores):
        assert s.sum() == pytest.approx(dense_loglik(prm, y), abs=1e-9)
    assert scores[0][3] == 0.0 and scores[2][0] == 0.0          # fully missing steps are not scored
    # a partly observed step scores the marginal of its observed entry given the past
    past = dense_loglik(prm, X[0][:1])
    assert scores[0][1] == pytest.approx(dense_loglik(prm, X[0][:2]) - past, abs=1e-9)
    # sequences without gaps score as in the complete-data (shared) path
    np.testing.assert_allclose(scores[1], Kalman.from_params(**prm).score_tokens([X[1]])[0], atol=1e-12)


def test_masked_path_equals_shared_path_with_steady_state():
    """Long ragged sequences: the shared path (steady-state shortcuts) equals the per-sequence path."""
    rng = np.random.default_rng(3)
    prm = random_params(rng, 3, 2)
    X = [rng.normal(size=(T, 2)) for T in (300, 250, 250, 40, 7, 1)]
    theta = Kalman.from_params(**prm)._theta
    shared, masked = make_groups(X), make_groups(X, force_masked=True)
    f_s, f_m = run_filter(theta, shared[0]), run_filter(theta, masked[0])
    assert f_s.steady_from < 300                                # the shortcut is exercised
    np.testing.assert_allclose(unpack(shared, [f_s.loglik], 6)[0], unpack(masked, [f_m.loglik], 6)[0], atol=1e-11)
    sm_s = smooth_shared(theta.A, f_s, shared[0].lengths, keep_covariances=True)
    sm_m = smooth_masked(theta.A, f_m, masked[0].lengths)
    np.testing.assert_allclose(sm_s.m_smooth, sm_m.m_smooth, atol=1e-11)
    np.testing.assert_allclose(sm_s.V, sm_m.V, atol=1e-12)
    np.testing.assert_allclose(sm_s.V_sum, sm_m.V_sum, atol=1e-11)
    a, b = e_step(theta, shared), e_step(theta, masked)
    for name in ("xx", "xx_first", "xx_last", "lag", "yx", "yy", "V0"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-11, atol=1e-10)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)


# ------------------------------------------------------------------------------------------ EM
def hand_m_step(prm, X):
    """The joint M-step of all sequences from dense posterior moments (no Kalman code involved)."""
    d = np.asarray(prm["A"]).shape[0]
    S00 = S10 = S11 = Syx = Syy = 0
    Sxx = 0
    first_m, first_V = [], []
    n_steps = n_trans = 0
    for y in X:
        m, S = dense_posterior(prm, y)
        E = S + np.outer(m.ravel(), m.ravel())                    # E[x x^T], stacked
        blk = lambda t, s: E[t * d:(t + 1) * d, s * d:(s + 1) * d]  # noqa: E731
        T = len(y)
        for t in range(T):
            Sxx = Sxx + blk(t, t)
            Syx = Syx + np.outer(y[t], m[t])
            Syy = Syy + np.outer(y[t], y[t])
            if t:
                S10, S11, S00 = S10 + blk(t, t - 1), S11 + blk(t, t), S00 + blk(t - 1, t - 1)
        first_m.append(m[0])
        first_V.append(S[:d, :d])
        n_steps, n_trans = n_steps + T, n_trans + T - 1
    A = S10 @ np.linalg.inv(S00)
    Q = (S11 - A @ S10.T) / n_trans
    C = Syx @ np.linalg.inv(Sxx)
    R = (Syy - C @ Syx.T) / n_steps
    x0 = np.mean(first_m, axis=0)
    P0 = np.mean([V + np.outer(m - x0, m - x0) for m, V in zip(first_m, first_V)], axis=0)
    return {"A": A, "C": C, "Q": Q, "R": R, "x0": x0, "P0": P0}


def test_em_step_is_the_joint_closed_form_over_sequences(prm):
    rng = np.random.default_rng(4)
    X = [rng.normal(size=(3, 2)), rng.normal(size=(5, 2))]
    est = Kalman(3, n_iter=1, tol=0, init=prm, min_covar=1e-12)
    fit_quiet(est, X)
    expected = hand_m_step(prm, X)
    for name in NAMES:
        np.testing.assert_allclose(getattr(est, name + "_"), expected[name], atol=1e-9, err_msg=name)


def test_em_matches_pykalman_on_one_sequence(prm):
    pykalman = pytest.importorskip("pykalman")
    y = np.random.default_rng(5).normal(size=(30, 2))
    kf = pykalman.KalmanFilter(
        transition_matrices=prm["A"], observation_matrices=prm["C"], transition_covariance=prm["Q"],
        observation_covariance=prm["R"], initial_state_mean=prm["x0"], initial_state_covariance=prm["P0"])
    kf.em(y, n_iter=3, em_vars=["transition_matrices", "observation_matrices", "transition_covariance",
                                "observation_covariance", "initial_state_mean", "initial_state_covariance"])
    est = fit_quiet(Kalman(3, n_iter=3, tol=0, init=prm, min_covar=1e-12), [y])
    for ours, theirs in ((est.A_, kf.transition_matrices), (est.C_, kf.observation_matrices),
                         (est.Q_, kf.transition_covariance), (est.R_, kf.observation_covariance),
                         (est.x0_, kf.initial_state_mean), (est.P0_, kf.initial_state_covariance)):
        np.testing.assert_allclose(ours, theirs, atol=1e-8)
    assert est.history_[-1] == pytest.approx(kf.loglikelihood(y), rel=1e-10)


@pytest.mark.parametrize("with_gaps", [False, True])
def test_em_never_lowers_the_likelihood(with_gaps):
    rng = np.random.default_rng(6)
    truth = Kalman.from_params(**random_params(rng, 2, 2))
    X = truth.sample(12, 40, random_state=0)[:10] + truth.sample(3, 17, random_state=1)
    if with_gaps:
        X[0][5:9] = np.nan
        X[3][rng.random(X[3].shape) < 0.2] = np.nan
    est = fit_quiet(Kalman(3, n_iter=40, tol=0, missing="mask", random_state=0), X)
    h = np.array(est.history_)
    assert len(h) == 41 and est.n_iter_ == 40
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:]))
    assert h[-1] == pytest.approx(sum(s.sum() for s in est.score_tokens(X)), rel=1e-12)
    assert h[-1] > h[0]


def test_estimate_subset_keeps_the_others(prm, ragged):
    est = fit_quiet(Kalman(3, n_iter=3, init=prm, estimate=("Q", "R")), ragged)
    for name in ("A", "C", "x0", "P0"):
        np.testing.assert_array_equal(getattr(est, name + "_"), prm[name])
    assert not np.allclose(est.Q_, prm["Q"])


def test_fit_learns_a_model_close_to_the_truth():
    rng = np.random.default_rng(7)
    truth = Kalman.from_params(**random_params(rng, 2, 2))
    train, test = truth.sample(60, 60, random_state=1), truth.sample(30, 60, random_state=2)
    est = fit_quiet(Kalman(2, n_iter=100, random_state=0), train)
    assert est.score(test) > truth.score(test) - 0.02
    assert est.score(test) < truth.score(test) + 0.02


def test_sample_has_the_model_moments(prm):
    est = Kalman.from_params(**prm)
    X, states = est.sample(4000, 2, random_state=0, return_states=True)
    Y = np.stack(X)                                                  # (N, 2, p)
    C, R, x0, P0 = (np.asarray(prm[n]) for n in ("C", "R", "x0", "P0"))
    np.testing.assert_allclose(Y[:, 0].mean(axis=0), C @ x0, atol=0.15)
    np.testing.assert_allclose(np.cov(Y[:, 0].T), C @ P0 @ C.T + R, rtol=0.15, atol=0.1)
    np.testing.assert_allclose(np.stack(states)[:, 0].mean(axis=0), x0, atol=0.1)


# ------------------------------------------------------------------------------------ bad input
def test_nan_without_mask_names_sequence_and_step(prm):
    est = Kalman.from_params(**prm)
    X = [np.zeros((4, 2)), np.zeros((5, 2))]
    X[1][3, 1] = np.nan
    with pytest.raises(InvalidSequenceError, match=r"X\[1\]\[3, 1\] is NaN \(sequence 1, step 3\).*missing='mask'"):
        est.score_tokens(X)
    with pytest.raises(InvalidSequenceError, match=r"X\[1\]\[3, 1\] is NaN"):
        Kalman(2).fit(X)


def test_inf_and_dimension_mismatch_are_named(prm):
    est = Kalman.from_params(**prm, missing="mask")
    bad = np.zeros((3, 2))
    bad[2, 0] = -np.inf
    with pytest.raises(InvalidSequenceError, match=r"X\[1\]\[2, 0\] = -inf is infinite"):
        est.score_tokens([np.zeros((2, 2)), bad])
    with pytest.raises(InvalidSequenceError, match=r"X\[0\] has 3 features; expected 2"):
        est.score_tokens([np.zeros((2, 3))])
    with pytest.raises(InvalidSequenceError, match="no observed value"):
        Kalman(2, missing="mask").fit([np.full((3, 2), np.nan)])


def test_from_params_rejects_bad_covariances(prm):
    with pytest.raises(ValueError, match=r"Q is not positive semi-definite: smallest eigenvalue -0\.5"):
        Kalman.from_params(**{**prm, "Q": np.diag([1.0, -0.5, 2.0])})
    with pytest.raises(ConfigError, match=r"R is not positive definite: smallest eigenvalue 0"):
        Kalman.from_params(**{**prm, "R": np.zeros((2, 2))})
    with pytest.raises(ConfigError, match="P0 is not symmetric"):
        Kalman.from_params(**{**prm, "P0": np.triu(np.ones((3, 3)))})
    with pytest.raises(ConfigError, match=r"C has shape \(2, 4\); expected \(obs_dim, 3\)"):
        Kalman.from_params(**{**prm, "C": np.ones((2, 4))})
    with pytest.raises(ConfigError, match=r"A\[0, 1\] = nan"):
        Kalman.from_params(**{**prm, "A": np.array([[0.5, np.nan, 0], [0, 0.5, 0], [0, 0, 0.5]])})
    # a singular but PSD state noise is a valid model (a deterministic state part)
    est = Kalman.from_params(**{**prm, "Q": np.diag([1.0, 0.0, 1.0])})
    assert np.isfinite(est.score_tokens([np.zeros((5, 2))])[0]).all()


@pytest.mark.parametrize("params,msg", [
    ({"state_dim": 0}, "state_dim must be an integer >= 1"),
    ({"missing": "drop"}, "missing must be one of"),
    ({"estimate": ("A", "B")}, r"estimate has unknown parameter\(s\) \['B'\]"),
    ({"min_covar": 0}, "min_covar must be a finite number > 0"),
    ({"init": "random"}, "init must be 'subspace' or a dict"),
    ({"init": {"A": np.eye(5)}}, r"init \(completed by the subspace start\): C has shape \(2, 2\)"),
    ({"init": {"A": np.eye(5), "C": np.ones((2, 5)), "Q": np.eye(5), "x0": np.zeros(5), "P0": np.eye(5)}},
     "init gives state_dim 5 and obs_dim 2; expected 2 and 2"),
])
def test_bad_parameters_raise_config_error(params, msg, ragged):
    with pytest.raises(ConfigError, match=msg):
        Kalman(**{"state_dim": 2, **params}).fit(ragged)


def test_non_finite_em_step_names_parameter_and_iteration(monkeypatch, ragged):
    real = kalman_module.m_step

    def broken(stats, theta, estimate, floor):
        new = real(stats, theta, estimate, floor)
        return new._replace(Q=np.full_like(new.Q, np.nan)) if len(broken.calls) else broken.calls.append(1) or new

    broken.calls = []
    monkeypatch.setattr(kalman_module, "m_step", broken)
    with pytest.raises(NumericalError, match="EM iteration 2: parameter Q became non-finite"):
        Kalman(2, n_iter=5, tol=0).fit(ragged)


def test_per_sequence_covariances_beyond_the_memory_limit_are_refused(monkeypatch, prm):
    from seqbench.exceptions import ResourceLimitError
    from seqbench.models import _kalman_layout

    est = Kalman.from_params(**prm, missing="mask")
    X = [np.zeros((100, 2)), np.full((50, 2), np.nan)]
    monkeypatch.setattr(_kalman_layout, "MAX_BYTES", 5_000)
    est.score_tokens(X[:1])                                   # shared covariances: nothing per sequence
    with pytest.raises(ResourceLimitError, match=r"would take .* GiB"):
        est.score_tokens(X)
    with pytest.raises(ResourceLimitError):
        est.smooth(X[:1])                                     # smooth returns per-sequence covariances
