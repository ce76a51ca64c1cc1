"""Registry: register, make_model, list_models with tag filters."""
import pytest

from seqbench import SequenceEstimator, Tags, list_models, make_model, register
from seqbench.exceptions import ConfigError, NotFittedError
from seqbench.registry import _REGISTRY


def test_known_models_and_filters():
    names = list_models()
    assert "ngram" in names and names == sorted(names)
    assert "ngram" in list_models(tagger=True)
    assert "ngram" in list_models(input_kind="discrete")
    assert "ngram" not in list_models(input_kind="continuous")
    with pytest.raises(ConfigError, match="unknown tag 'colour'"):
        list_models(colour="red")


def test_make_model_errors():
    assert make_model("NGram", order=2).order == 2  # keys are case-insensitive
    with pytest.raises(ConfigError, match="unknown model 'nope'.*ngram"):
        make_model("nope")
    with pytest.raises(ConfigError, match="bad parameters for model 'ngram'"):
        make_model("ngram", colour="red")


def test_register_and_base_defaults():
    @register("_toy_for_test")
    class Toy(SequenceEstimator):
        def __init__(self, a=1):
            self.a = a

        def __seqbench_tags__(self):
            return Tags(density=False, tagger=True)

    try:
        est = make_model("_toy_for_test", a=2)
        assert est.get_params() == {"a": 2}
        with pytest.raises(NotImplementedError, match="Toy does not support sample"):
            est.sample(1, 3)
        with pytest.raises(NotFittedError):
            est.score([[1, 2]])
        with pytest.raises(ConfigError, match="already registered"):
            register("_toy_for_test")(type("Other", (SequenceEstimator,), {}))
    finally:
        _REGISTRY.pop("_toy_for_test")
