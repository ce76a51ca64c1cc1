"""The tagging task: accuracy split by known words, and the perplexity of taggers that are densities."""
import math

import numpy as np
import pytest

from seqbench.base import SequenceEstimator, Tags
from seqbench.data.splits import Split, Splits
from seqbench.tasks import tagging


class _ParityTagger(SequenceEstimator):
    """Tags each token with its parity; as a density, gives every token probability 1/4."""

    def __init__(self, density=True):
        self.density = density

    def __seqbench_tags__(self):
        return Tags(tagger=True, density=self.density, tagger_density=self.density)

    def fit(self, X, y=None):
        self.fit_mode_ = "tagger"
        return self

    def predict(self, X):
        return [x % 2 for x in X]

    def score_tokens(self, X, max_context=None):
        return [np.full(len(x), math.log(0.25)) for x in X]


def _splits():
    X = [np.array([0, 1, 2, 3]), np.array([5, 4])]
    y = [np.array([0, 1, 0, 0]), np.array([1, 0])]  # one wrong tag (token 3) of six
    part = Split(X=X, y=y)
    train = Split(X=[np.array([0, 1, 2])], y=[np.array([0, 1, 0])])
    return Splits(train=train, valid=part, test=part, vocab=None, tagset=None, info={})


@pytest.mark.parametrize("density", [True, False])
def test_accuracy_and_the_perplexity_of_a_density_tagger(density):
    est = _ParityTagger(density=density).fit(None)
    result = tagging.evaluate(est, _splits(), "test")
    assert result["accuracy"] == pytest.approx(5 / 6)
    assert result["n_unknown"] == 3  # ids 3, 4, 5 never occur in training
    assert result["accuracy_known"] == pytest.approx(3 / 3) and result["accuracy_unknown"] == pytest.approx(2 / 3)
    if density:
        assert result["perplexity"] == pytest.approx(4.0)
    else:
        assert "perplexity" not in result
