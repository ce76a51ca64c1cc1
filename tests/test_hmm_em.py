"""The HMM's own categorical EM against hmmlearn's, restarts, pseudocounts, monotone log-likelihood."""
import warnings

import numpy as np
import pytest
from hmmlearn.hmm import CategoricalHMM

from seqbench.exceptions import ConvergenceWarning
from seqbench.models import HMM
from seqbench.models import _hmm_em as em


def random_params(rng, n_states, n_symbols, concentration=1.0):
    start = rng.dirichlet(np.full(n_states, concentration))
    trans = rng.dirichlet(np.full(n_states, concentration), size=n_states)
    emit = rng.dirichlet(np.full(n_symbols, concentration), size=n_states)
    return start, trans, emit


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(21)
    truth = HMM.from_params(*random_params(rng, 4, 7, concentration=0.5))
    full = truth.sample(150, 40, random_state=1)
    lengths = rng.integers(1, 41, size=150)  # ragged, including length-1 sequences
    return [x[:n] for x, n in zip(full, lengths)]


def quiet_fit(model, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.mark.parametrize("n_iter", [1, 6])
def test_em_iterations_equal_hmmlearn_from_the_same_start(data, n_iter):
    K, V = 3, 7
    unigram = np.bincount(np.concatenate(data), minlength=V).astype(float)
    init = em.random_init(np.random.default_rng(5), K, unigram)
    run = em.categorical_em(em.CategoricalData(data, V, K), init, n_iter=n_iter, tol=-np.inf)
    ref = CategoricalHMM(n_components=K, n_features=V, n_iter=n_iter, tol=-np.inf, implementation="scaling",
                         init_params="", params="ste")
    ref.startprob_, ref.transmat_, ref.emissionprob_ = (init[k].copy() for k in ("startprob", "transmat",
                                                                                     "emissionprob"))
    X_cat, lengths = np.concatenate(data)[:, None], np.array([len(x) for x in data])
    ref.fit(X_cat, lengths)
    np.testing.assert_allclose(run.history, list(ref.monitor_.history), rtol=1e-10)
    np.testing.assert_allclose(run.params["startprob"], ref.startprob_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(run.params["transmat"], ref.transmat_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(run.params["emissionprob"], ref.emissionprob_, rtol=1e-8, atol=1e-12)
    # the final E-step scores the final parameters: hmmlearn's score of them
    assert run.stats.log_likelihood == pytest.approx(ref.score(X_cat, lengths), rel=1e-10)


def test_expected_counts_equal_hmmlearn_posteriors(data):
    params = random_params(np.random.default_rng(3), 3, 7)
    stats = em.estep(em.CategoricalData(data, 7, 3), *params)
    ref = CategoricalHMM(n_components=3, n_features=7, implementation="scaling")
    ref.startprob_, ref.transmat_, ref.emissionprob_ = params
    X_cat, lengths = np.concatenate(data)[:, None], np.array([len(x) for x in data])
    post = ref.predict_proba(X_cat, lengths)
    obs = np.zeros((3, 7))
    np.add.at(obs.T, X_cat[:, 0], post)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    np.testing.assert_allclose(stats.obs, obs, rtol=1e-9)
    np.testing.assert_allclose(stats.start, post[starts].sum(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats.occupancy, post.sum(axis=0), rtol=1e-9)
    # every position but the first of a sequence is reached by one transition
    assert stats.trans.sum() == pytest.approx(lengths.sum() - len(lengths), rel=1e-10)
    np.testing.assert_allclose(stats.trans.sum(axis=0), post.sum(axis=0) - post[starts].sum(axis=0), rtol=1e-9)


def test_history_never_decreases_and_rows_are_distributions(data):
    model = quiet_fit(HMM(n_states=5, n_iter=60, tol=0.0, random_state=2), data)
    h = np.array(model.history_)
    assert len(h) == model.n_iter_ >= 10
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:]))
    assert model.log_likelihood_ >= h[-1] - 1e-9 * abs(h[-1])
    for rows in (model.startprob_[None], model.transmat_, model.emissionprob_):
        np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-12)
        assert (rows > 0).all()


def test_pseudocount_smoothing_by_hand():
    counts = em.Stats(start=np.array([3.0, 0.0]), trans=np.array([[2.0, 2.0], [0.0, 0.0]]),
                      obs=np.array([[4.0, 0.0, 0.0], [1.0, 1.0, 0.0]]), occupancy=np.array([4.0, 2.0]),
                      log_likelihood=-1.0)
    out = em.smooth(counts, transition_pseudocount=0.5, emission_pseudocount=0.25)
    np.testing.assert_allclose(out["startprob"], [3.5 / 4, 0.5 / 4])
    np.testing.assert_allclose(out["transmat"], [[0.5, 0.5], [0.5, 0.5]])  # never left: uniform
    np.testing.assert_allclose(out["emissionprob"], [[4.25 / 4.75, 0.25 / 4.75, 0.25 / 4.75],
                                                     [1.25 / 2.75, 1.25 / 2.75, 0.25 / 2.75]])
    np.testing.assert_allclose(out["unseen"], [0.25 / 4.75, 0.25 / 2.75])
    # without pseudocounts an all-zero row stays zero (hmmlearn's normalisation), never NaN
    np.testing.assert_array_equal(em.normalise(counts.trans), [[0.5, 0.5], [0.0, 0.0]])


def test_restarts_keep_the_best_log_likelihood(data, monkeypatch):
    kept = []
    real = em.categorical_em

    def spy(*args, **kwargs):
        kept.append(real(*args, **kwargs))
        return kept[-1]

    monkeypatch.setattr(em, "categorical_em", spy)
    best = quiet_fit(HMM(n_states=3, n_iter=8, n_init=4, random_state=0), data)
    lls = [r.stats.log_likelihood for r in kept]
    assert len(lls) == 4 and len(set(lls)) == 4  # four different starts
    assert best.log_likelihood_ == max(lls)
    assert best.history_ == kept[int(np.argmax(lls))].history
    one = quiet_fit(HMM(n_states=3, n_iter=8, n_init=1, random_state=0), data)
    assert one.log_likelihood_ == lls[0]  # the first restart is the single run


def test_converged_flag_and_warning(data):
    with pytest.warns(ConvergenceWarning, match="n_iter=2"):
        HMM(n_states=2, n_iter=2, random_state=0).fit(data)
    model = HMM(n_states=2, n_iter=500, tol=1e-2, random_state=0).fit(data)
    assert model.converged_ and model.history_[-1] - model.history_[-2] < 1e-2


def test_unsupervised_em_recovers_a_well_separated_model():
    rng = np.random.default_rng(4)
    trans = np.array([[0.9, 0.1], [0.2, 0.8]])
    emit = np.array([[0.7, 0.2, 0.1, 0.0], [0.0, 0.1, 0.2, 0.7]])
    truth = HMM.from_params([0.5, 0.5], trans, emit)
    X = truth.sample(200, 50, random_state=rng)
    model = quiet_fit(HMM(n_states=2, n_iter=200, n_init=2, random_state=0), X)
    order = np.argsort(model.emissionprob_[:, 0])[::-1]  # state emitting symbol 0 first
    np.testing.assert_allclose(model.transmat_[np.ix_(order, order)], trans, atol=0.05)
    np.testing.assert_allclose(model.emissionprob_[order], emit, atol=0.05)
    held_out = truth.sample(50, 50, random_state=9)
    assert model.score(held_out) == pytest.approx(truth.score(held_out), abs=0.01)


def test_hmmlearn_engine_for_few_long_sequences_equals_the_batched_one():
    """One long stream goes to hmmlearn's compiled E-step (engine="auto"); both engines give the same EM."""
    rng = np.random.default_rng(7)
    V, K = 6, 3
    X = [rng.integers(0, V, size=n) for n in (400, 350)]
    assert em.CategoricalData(X, V, K).hmmlearn is not None  # 2 sequences side by side: narrow
    assert em.CategoricalData([rng.integers(0, V, size=20) for _ in range(200)], V, K).hmmlearn is None
    init = em.random_init(np.random.default_rng(1), K, np.bincount(np.concatenate(X), minlength=V).astype(float))
    runs = [em.categorical_em(em.CategoricalData(X, V, K, engine=e), init, n_iter=8, tol=-np.inf)
            for e in ("batched", "hmmlearn")]
    np.testing.assert_allclose(runs[0].history, runs[1].history, rtol=1e-10)
    for name in ("startprob", "transmat", "emissionprob"):
        np.testing.assert_allclose(runs[0].params[name], runs[1].params[name], rtol=0, atol=1e-8)
    for field in ("start", "trans", "obs", "occupancy"):
        np.testing.assert_allclose(getattr(runs[0].stats, field), getattr(runs[1].stats, field), rtol=1e-8)
