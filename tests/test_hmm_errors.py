"""HMM error paths: impossible sequences, too many states, memory preflight, modes and parameters."""
import numpy as np
import pytest

from seqbench.exceptions import (ConfigError, ImpossibleSequenceWarning, InvalidSequenceError, NotFittedError,
                                 ResourceLimitError)
from seqbench.models import HMM

# state 0 emits only symbol 0 and never leaves; state 1 emits only symbol 1
STRICT = dict(startprob=[1.0, 0.0], transmat=[[1.0, 0.0], [0.5, 0.5]], emissionprob=[[1.0, 0.0], [0.0, 1.0]])
X_BAD = [np.array([0, 0]), np.array([0, 0, 1, 0])]


@pytest.mark.parametrize("decoder", ["viterbi", "posterior"])
def test_impossible_sequence_scores_minus_inf_and_is_not_decoded(decoder):
    model = HMM.from_params(**STRICT, decoder=decoder)
    with pytest.warns(ImpossibleSequenceWarning, match=r"X\[1\]\[2\]"):
        assert model.score(X_BAD) == -np.inf
    with pytest.raises(InvalidSequenceError, match=r"X\[1\] has probability zero.*X\[1\]\[2\] = 1"):
        model.predict(X_BAD)
    with pytest.raises(InvalidSequenceError, match=r"X\[1\] has probability zero"):
        model.predict_proba(X_BAD)
    np.testing.assert_array_equal(model.predict([np.array([0, 0, 0])])[0], [0, 0, 0])


def test_continuous_density_far_in_the_tail_stays_exact():
    # two far-apart narrow states and a chain that cannot leave state 0: the scaled density of step 1
    # underflows in every state, yet the observation has a finite log density under state 0
    model = HMM.from_params([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], means=[[0.0], [1e3]],
                            covars=[[[1e-2]], [[1e-2]]])
    x = np.array([[0.0], [1e3], [0.1]])
    exact = -0.5 * (np.log(2 * np.pi * 1e-2) + x[:, 0] ** 2 / 1e-2)
    np.testing.assert_allclose(model.score_tokens([x])[0], exact, rtol=1e-12)
    np.testing.assert_array_equal(model.predict([x])[0], [0, 0, 0])
    np.testing.assert_allclose(model.predict_proba([x])[0], [[1, 0]] * 3)


def test_more_states_than_tokens_names_both_numbers():
    with pytest.raises(ConfigError, match=r"n_states=6 is more than the 5 training tokens"):
        HMM(n_states=6).fit([np.array([0, 1, 2]), np.array([1, 0])])
    assert issubclass(ConfigError, ValueError)


def test_memory_preflight_refuses_before_allocating():
    with pytest.raises(ResourceLimitError, match=r"n_states=1000000 needs about \d\.\d+e\+\d+ bytes"):
        HMM(n_states=10**6).fit([np.array([0, 1, 2])])
    with pytest.raises(ResourceLimitError, match="bytes"):
        HMM(n_states=10**6).fit([np.array([0, 1, 2])], [np.array([0, -1, 1])])


def test_parameter_errors_name_the_parameter():
    X = [np.array([0, 1, 1, 0])]
    for params, match in [({"n_iter": 0}, "n_iter must be an integer >= 1"),
                          ({"n_init": 1.5}, "n_init"),
                          ({"tol": -1.0}, "tol must be a finite number >= 0"),
                          ({"emission_pseudocount": 0.0}, "emission_pseudocount must be a finite number > 0"),
                          ({"transition_pseudocount": np.nan}, "transition_pseudocount"),
                          ({"covariance_type": "banded"}, "covariance_type='banded'"),
                          ({"order": 3}, "order=3"),
                          ({"order": True}, "order=True"),
                          ({"n_mix": 0}, "n_mix")]:
        with pytest.raises(ConfigError, match=match):
            HMM(**params).fit(X)


def test_from_params_checks_continuous_parameters():
    with pytest.raises(ConfigError, match=r"covars\[1\] is not positive definite"):
        HMM.from_params([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], means=[[0.0], [1.0]], covars=[[[1.0]], [[-1.0]]])
    with pytest.raises(ConfigError, match="covars has shape"):
        HMM.from_params([1.0], [[1.0]], means=[[0.0, 0.0]], covars=[[[1.0]]])
    with pytest.raises(ConfigError, match=r"weights\[0\] sums to"):
        HMM.from_params([1.0], [[1.0]], means=[[[0.0], [1.0]]], covars=np.ones((1, 2, 1, 1)), weights=[[0.5, 0.6]])
    with pytest.raises(ConfigError, match="not both"):
        HMM.from_params([1.0], [[1.0]], [[1.0]], means=[[0.0]], covars=[[[1.0]]])
    with pytest.raises(ConfigError, match="decoder"):
        HMM.from_params([1.0], [[1.0]], [[1.0]], decoder="greedy")


def test_supervised_tagger_has_no_em_parameters():
    X = [np.array([0, 1, 2, 1]), np.array([2, 0])]
    y = [np.array([0, 1, 1, 1]), np.array([1, 0])]
    tagger = HMM().fit(X, y)
    assert tagger.fit_mode_ == "tagger"
    for method, args in ((tagger.sample, (2, 3)), (tagger.bic, (X,)), (tagger.mutual_information, (1,))):
        with pytest.raises(NotImplementedError, match="supervised tagger"):
            method(*args)
    with pytest.raises(NotImplementedError, match="max_context"):
        tagger.score_tokens(X, max_context=2)
    with pytest.raises(NotFittedError):
        HMM().bic(X)
