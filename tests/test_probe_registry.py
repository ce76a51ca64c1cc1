"""The probes as harness tasks: their datasets are registered, and each task applies only where it should."""
import pytest

from seqbench import get_tags, make_model
from seqbench.data import load_dataset
from seqbench.data.named import dataset_info
from seqbench.harness.suite import _SYNTHETIC_PROFILES
from seqbench.tasks import CORE_TASKS, PROBES, TASKS

# probe dataset -> (small options, the probe task that scores it, a model key that it applies to)
PROBE_DATA = {
    "probe-lag": ({"ks": [1, 2], "n_sequences": 8}, "lag", "ngram"),
    "probe-adding": ({"lengths": [5], "n_sequences": 8}, "adding", "kalman"),
    "probe-copy": ({"lengths": [5], "n_sequences": 8}, "copy", "lstm"),
    "probe-order": ({"distances": [5], "n_sequences": 8}, "order", "generative"),
    "probe-transduction": ({"lengths": [5], "n_train": 8, "n_test": 4}, "transduction", "seq2seq"),
    "pcfg-substitution": ({"n_sequences": 4, "length": 64}, "mi", "hmm"),
    "pcfg-brackets": ({"n_sequences": 4}, "mi", "ngram"),
}


def test_probe_tasks_are_registered_apart_from_the_core_tasks():
    assert set(TASKS) == set(CORE_TASKS) | set(PROBES)
    assert set(CORE_TASKS) == {"lm", "tagging", "continuous"}
    assert set(PROBES) == {"lag", "mi", "context", "transduction", "order", "adding", "copy"}


@pytest.mark.parametrize("name", sorted(PROBE_DATA))
def test_probe_dataset_loads_with_its_profile_and_task(name):
    options, task, key = PROBE_DATA[name]
    assert dataset_info(name)["kind"] == "synthetic"
    splits = load_dataset(name, **options)
    profile = _SYNTHETIC_PROFILES[name]
    assert splits.info["kind"] == profile.kind
    tags = get_tags(make_model(key))
    # the stand-in used to expand suites and the loaded data agree, and the probe applies to its data
    assert TASKS[task].applies(tags, profile.stand_in()) is None
    assert TASKS[task].applies(tags, splits) is None
    # the core tasks leave a probe's data to the probe (the MI probe's grammars are text to an LM too)
    for core in CORE_TASKS.values():
        reason = core.applies(tags, splits)
        if profile.kind == "probe-mi" and core.NAME == "lm":
            assert reason is None
        else:
            assert reason is not None
    # and a probe never applies to another probe's data
    for other, probe in PROBES.items():
        if other != task and other not in ("context",):
            assert probe.applies(tags, splits) is not None, (other, name)


def test_probes_refuse_ordinary_datasets():
    splits = load_dataset("synthetic-hmm", n_states=2, n_symbols=3, n_sequences=4, length=5)
    tags = get_tags(make_model("ngram"))
    for name in ("lag", "transduction", "order", "adding", "copy"):
        assert PROBES[name].applies(tags, splits) is not None
    assert PROBES["mi"].applies(tags, splits) is None and PROBES["context"].applies(tags, splits) is None
