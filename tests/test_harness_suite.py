"""Suites: strict validation naming the key, grid expansion, n/a cells, cell keys and seeds."""
import hashlib
import json
import os
import pickle
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import seqbench
from seqbench import get_tags
from seqbench.base import Tags
from seqbench.data import load_corpus, load_dataset
from seqbench.exceptions import ConfigError, DatasetUnavailableError
from seqbench.harness.suite import (DatasetProfile, expand_cells, list_suites, load_suite, parse_suite)
from seqbench.models import HMM, NGram
from seqbench.tasks import TASKS

from conftest import IN_CI

HEADER = 'seeds = [0]\n'
DATASET = '[[datasets]]\nname = "synthetic-hmm"\noptions = { n_states = 3, n_sequences = 10, length = 5 }\n'
MODEL = '[[models]]\nid = "kn3"\nmodel = "ngram"\nparams = { order = 3 }\ntasks = ["lm"]\n'


def _write(folder, text, name="suite.toml"):
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _load(tmp_path, text):
    return load_suite(_write(tmp_path, text))


def _cells(tmp_path, text):
    return _model_cells(expand_cells(_load(tmp_path, text)))


def _model_cells(cells):
    """The cells of the suite's models (without the synthetic sets' oracle cells)."""
    return [c for c in cells if c.model != "oracle"]


# ========================================================================== bundled suites
def test_bundled_suites_are_listed():
    assert {"quick", "full", "paper"} <= set(list_suites())


@pytest.mark.parametrize("name", ["quick", "full", "paper"])
def test_bundled_suite_loads_and_expands(name):
    suite = load_suite(name)
    cells = _model_cells(expand_cells(suite))
    oracles = [c for c in expand_cells(suite) if c.model == "oracle"]
    names = {d.spec.get("name") for d in suite.datasets}
    expected = {("synthetic-hmm", t) for t in ("lm", "tagging", "context", "mi") if t in suite.tasks
                and "synthetic-hmm" in names}
    lgssm = {("synthetic-lgssm", "continuous")} if "synthetic-lgssm" in names else set()
    assert {(c.dataset, c.task) for c in oracles} == expected | lgssm
    # one cell per dataset x (task of the model) x seed, for every model
    n_datasets = {m.id: len(suite.datasets) if m.datasets is None else len(m.datasets) for m in suite.models}
    assert len(cells) == sum(n_datasets[m.id] * len(m.tasks) * len(suite.seeds) for m in suite.models)
    assert len({c.key for c in cells}) == len(cells)
    assert all(c.status in ("pending", "n/a") for c in cells)
    assert all((c.status == "n/a") == bool(c.reason) for c in cells)
    assert any(c.status == "pending" for c in cells)
    assert all(0 <= c.cell_seed < 2**32 for c in cells)


def test_quick_suite_keeps_its_reproduction_targets():
    suite = load_suite("quick")
    cell = next(c for c in expand_cells(suite) if (c.model_id, c.dataset, c.task) == ("kn5", "ptb", "lm"))
    (target,) = suite.targets_for(cell)
    assert (target.metric, target.value, target.tolerance) == ("perplexity", 141.2, 1.0)
    assert "Mikolov" in target.source


def test_paper_suite_builds_every_model_and_names_its_sources():
    """Every paper row constructs and passes the training loop's parameter checks (no data is read)."""
    from seqbench.models._neural_params import train_config
    from seqbench.registry import make_model

    suite = load_suite("paper")
    for m in suite.models:
        est = make_model(m.model, **m.params)
        if get_tags(est).neural:
            if "char_encoder" in m.params:
                est.set_params(vocab=["a", "b"])  # the tagging task passes the dataset's vocab
            train_config(est)  # raises ConfigError on a value the loop refuses
    targets = [t for m in suite.models for t in m.targets]
    assert {t.model_id for t in targets} >= {"kn3", "kn5", "lstm-zaremba-small", "transformer-nanogpt"}
    assert all(t.source for t in targets)


def test_unknown_suite_name_lists_the_bundled_ones():
    with pytest.raises(ConfigError, match="no suite 'nope'.*quick"):
        load_suite("nope")


def test_load_by_path_defaults_name_to_stem(tmp_path):
    suite = load_suite(_write(tmp_path, HEADER + DATASET + MODEL, name="my-grid.toml"))
    assert suite.name == "my-grid"
    assert (suite.backend, suite.n_jobs, suite.scheduler, suite.time_budget_s) == ("loky", 1, None, None)
    assert suite.tasks == ("lm", "tagging", "continuous")  # the core tasks; probes run when a suite names them


# ===================================================================== every error names its key
D2 = '[[datasets]]\nname = "ptb"\n'
HMM_ENTRY = '[[models]]\nid = "h"\nmodel = "hmm"\n'
TARGET = ('[[models.targets]]\ndataset = "synthetic-hmm"\ntask = "lm"\nmetric = "perplexity"\n'
          'value = 5.0\nsource = "x"\n')
CORPUS = '[[datasets]]\nid = "mine"\npaths = ["a.txt"]\n'

BROKEN = [
    # (suite text, key path the message must start with, a word of the reason)
    ('nmae = "x"\n' + DATASET + MODEL, "nmae", "did you mean 'name'"),
    (HEADER + MODEL, "datasets", "missing"),
    (HEADER + DATASET, "models", "missing"),
    ('name = "my suite"\n' + DATASET + MODEL, "name", "not a valid id"),
    ('seeds = []\n' + DATASET + MODEL, "seeds", "empty"),
    ('seeds = 3\n' + DATASET + MODEL, "seeds", "list"),
    ('seeds = [0, -1]\n' + DATASET + MODEL, "seeds[1]", ">= 0"),
    ('seeds = [1, 1]\n' + DATASET + MODEL, "seeds[1]", "duplicate"),
    ('seeds = ["a"]\n' + DATASET + MODEL, "seeds[0]", "integer"),
    ('tasks = ["lm", "parse"]\n' + DATASET + MODEL, "tasks[1]", "unknown task"),
    ('[defaults]\ntime_budget_s = -5\n' + DATASET + MODEL, "defaults.time_budget_s", "> 0"),
    ('[defaults]\ntime_budget_s = 0\n' + DATASET + MODEL, "defaults.time_budget_s", "> 0"),
    ('[defaults]\nn_jobs = 0\n' + DATASET + MODEL, "defaults.n_jobs", ">= 1"),
    ('[defaults]\nn_jobs = 1.5\n' + DATASET + MODEL, "defaults.n_jobs", "integer"),
    ('[defaults]\nbackend = "spark"\n' + DATASET + MODEL, "defaults.backend", "unknown backend"),
    ('[defaults]\nscheduler = "tcp://h:1"\n' + DATASET + MODEL, "defaults.scheduler", "dask"),
    ('[defaults]\nthreads = 2\n' + DATASET + MODEL, "defaults.threads", "unknown key"),
    ('[[datasets]]\nname = "ptbb"\n' + MODEL, "datasets[0].name", "unknown dataset"),
    (DATASET + '[[datasets]]\nname = "ptb"\noptions = { tags = "upos" }\n' + MODEL,
     "datasets[1].options.tags", "unknown option of dataset 'ptb'"),
    ('[[datasets]]\nname = "synthetic-hmm"\noptions = { n_states = "8" }\n' + MODEL,
     "datasets[0].options.n_states", "integer"),
    ('[[datasets]]\nname = "ptb"\nsplit = "x"\n' + MODEL, "datasets[0].split", "unknown key"),
    (D2 + D2 + MODEL, "datasets[1].id", "duplicate id"),
    (D2 + '[[datasets]]\nname = "ptb"\nid = "ptb2"\n' + MODEL, "datasets[1]", "same dataset"),
    ('[[datasets]]\nid = "mine"\npaths = []\n' + MODEL, "datasets[0].paths", "empty"),
    ('[[datasets]]\nid = "m"\npaths = ["a", "b", "c", "d"]\n' + MODEL, "datasets[0].paths", "1, 2 or 3"),
    (CORPUS + 'format = "xml"\n' + MODEL, "datasets[0].format", "unknown format"),
    ('[[datasets]]\npaths = ["a.txt"]\n' + MODEL, "datasets[0].id", "missing"),
    (CORPUS + 'name = "ptb"\n' + MODEL, "datasets[0]", "not both"),
    (CORPUS + 'options = { tags = "upos" }\n' + MODEL, "datasets[0].options.tags", "format 'text'"),
    (DATASET + '[[models]]\nid = "x"\nmodel = "ngramm"\n', "models[0].model", "unknown model"),
    (DATASET + '[[models]]\nid = "x"\nmodel = "ngram"\nparams = { ordr = 3 }\n',
     "models[0].params.ordr", "unknown parameter of 'ngram' (did you mean 'order'?)"),
    (DATASET + '[[models]]\nid = "x"\nmodel = "ngram"\nparams = { order = 1979-05-27 }\n',
     "models[0].params.order", "not supported"),
    (DATASET + MODEL + MODEL, "models[1].id", "duplicate id"),
    (DATASET + MODEL + MODEL.replace('"kn3"', '"kn3b"'), "models[1]", "same model and parameters"),
    (DATASET + HMM_ENTRY.replace('"hmm"', '"kalman"') + 'tasks = ["tagging"]\n', "models[0].tasks[0]",
     "not a tagger"),
    (DATASET + HMM_ENTRY + 'tasks = ["pos"]\n', "models[0].tasks[0]", "unknown task"),
    ('tasks = ["lm"]\n' + DATASET + HMM_ENTRY + 'tasks = ["tagging"]\n', "models[0].tasks[0]",
     "not among the suite's tasks"),
    (DATASET + HMM_ENTRY + 'time_budget_s = -1\n', "models[0].time_budget_s", "> 0"),
    (DATASET + HMM_ENTRY + 'param = {}\n', "models[0].param", "did you mean 'params'"),
    (DATASET + '[[models]]\nmodel = "hmm"\n', "models[0].id", "missing"),
    (DATASET + MODEL + TARGET.replace('"synthetic-hmm"', '"ptb"'), "models[0].targets[0].dataset",
     "unknown dataset id"),
    (DATASET + MODEL + TARGET.replace('source = "x"\n', ""), "models[0].targets[0].source", "missing"),
    (DATASET + MODEL + TARGET + "tolerance = -1.0\n", "models[0].targets[0].tolerance", ">= 0"),
    (DATASET + MODEL + TARGET.replace("5.0", '"low"'), "models[0].targets[0].value", "number"),
    (DATASET + MODEL + TARGET.replace('"lm"', '"tagging"'), "models[0].targets[0].task",
     "unknown task for this model"),
    (DATASET + MODEL + TARGET + TARGET, "models[0].targets[1]", "duplicate"),
    (D2 + '[[models]]\nid = "t"\nmodel = "ngram"\n' + TARGET.replace('"synthetic-hmm"', '"ptb"')
     .replace('"lm"', '"tagging"'), "models[0].targets[0]", "dataset has no tags"),
]


@pytest.mark.parametrize("text,key,reason", BROKEN, ids=[f"{k}-{i}" for i, (_, k, _) in enumerate(BROKEN)])
def test_config_error_names_the_key(tmp_path, text, key, reason):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    message = str(info.value)
    assert message.startswith(f"{key}: "), message
    assert reason in message
    assert str(tmp_path / "suite.toml") in message  # and the file


def test_invalid_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        _load(tmp_path, "seeds = [0\n")


# ============================================================================ grid and n/a
NA_SUITE = """
seeds = [0, 1]
[[datasets]]
name = "ptb"
[[datasets]]
name = "treebank-pos"
[[datasets]]
name = "nile"
[[models]]
id = "lm"
model = "ngram"
tasks = ["lm"]
[[models]]
id = "tagger"
model = "ngram"
tasks = ["tagging"]
[[models]]
id = "kf"
model = "kalman"
"""


def test_grid_counts_and_na_reasons(tmp_path):
    cells = _cells(tmp_path, NA_SUITE)
    # models x their tasks: lm(1) + tagger(1) + kf(3: lm, tagging, continuous) = 5 per dataset and seed;
    # 3 datasets, 2 seeds
    assert len(cells) == 5 * 3 * 2
    status = {(c.dataset, c.task, c.model_id): (c.status, c.reason) for c in cells if c.seed == 0}
    not_discrete, not_tagger = ("n/a", "model is not a discrete density"), ("n/a", "model is not a tagger")
    expected = {
        ("ptb", "lm", "lm"): ("pending", None),
        ("ptb", "lm", "kf"): not_discrete,
        ("ptb", "tagging", "tagger"): ("n/a", "dataset has no tags"),
        ("ptb", "tagging", "kf"): not_tagger,
        ("ptb", "continuous", "kf"): ("n/a", "dataset is not continuous"),
        ("treebank-pos", "lm", "lm"): ("pending", None),
        ("treebank-pos", "lm", "kf"): not_discrete,
        ("treebank-pos", "tagging", "tagger"): ("pending", None),
        ("treebank-pos", "tagging", "kf"): not_tagger,
        ("treebank-pos", "continuous", "kf"): ("n/a", "dataset is not continuous"),
        ("nile", "lm", "lm"): ("n/a", "dataset is continuous"),
        ("nile", "lm", "kf"): not_discrete,
        ("nile", "tagging", "tagger"): ("n/a", "dataset has no tags"),
        ("nile", "tagging", "kf"): not_tagger,
        ("nile", "continuous", "kf"): ("pending", None),
    }
    assert status == expected


def test_grid_order_is_dataset_task_model_seed(tmp_path):
    cells = _cells(tmp_path, NA_SUITE)
    order = [(c.dataset, c.task, c.model_id, c.seed) for c in cells]
    assert order[:6] == [("ptb", "lm", "lm", 0), ("ptb", "lm", "lm", 1), ("ptb", "lm", "kf", 0),
                         ("ptb", "lm", "kf", 1), ("ptb", "tagging", "tagger", 0), ("ptb", "tagging", "tagger", 1)]
    assert order == [(c.dataset, c.task, c.model_id, c.seed) for c in _cells(tmp_path, NA_SUITE)]


def test_model_datasets_restrict_its_cells(tmp_path):
    two = DATASET + '[[datasets]]\nid = "other"\nname = "synthetic-hmm"\noptions = { n_states = 2 }\n'
    text = two + MODEL + 'datasets = ["other"]\n' + MODEL.replace('"kn3"', '"kn3b"').replace("order = 3", "order = 2")
    cells = _model_cells(_cells(tmp_path, text))
    assert sorted((c.model_id, c.dataset) for c in cells) == [("kn3", "other"), ("kn3b", "other"),
                                                              ("kn3b", "synthetic-hmm")]
    # the same model twice is fine when their datasets do not overlap, and an unknown id is named
    same = two + MODEL + 'datasets = ["other"]\n' + MODEL.replace('"kn3"', '"again"') + 'datasets = ["synthetic-hmm"]\n'
    assert len(_model_cells(_cells(tmp_path, same))) == 2
    with pytest.raises(ConfigError, match=r"models\[0\]\.datasets\[0\].*nope"):
        _load(tmp_path, two + MODEL + 'datasets = ["nope"]\n')


def test_time_budget_defaults_and_override(tmp_path):
    text = '[defaults]\ntime_budget_s = 60\n' + DATASET + MODEL + HMM_ENTRY + "time_budget_s = 5\n"
    budgets = {c.model_id: c.time_budget_s for c in _cells(tmp_path, text)}
    assert budgets == {"kn3": 60.0, "h": 5.0}


# ========================================================================= profiles = real data
SMALL = {"synthetic-hmm": {"n_states": 2, "n_symbols": 4, "n_sequences": 4, "length": 3},
         "synthetic-lgssm": {"n_sequences": 4, "length": 3},
         "nile": {}}
TAG_SETS = [Tags(), Tags(tagger=True), Tags(density=False, tagger=True), Tags(input_kind="continuous")]


def _profile_of(dataset_id, suite):
    return next(d.profile for d in suite.datasets if d.id == dataset_id)


def _assert_stand_in_agrees(profile, splits):
    for task in TASKS.values():
        for tags in TAG_SETS:
            assert task.applies(tags, profile.stand_in()) == task.applies(tags, splits), (task.NAME, tags)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_profile_applicability_matches_loaded_data(tmp_path, name):
    options = ", ".join(f"{k} = {v}" for k, v in SMALL[name].items())
    suite = _load(tmp_path, f'[[datasets]]\nname = "{name}"\noptions = {{ {options} }}\n' + MODEL)
    _assert_stand_in_agrees(_profile_of(name, suite), load_dataset(name, **SMALL[name]))


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["treebank-pos", "tiny-shakespeare"])
def test_profile_applicability_matches_loaded_corpus(tmp_path, name):
    try:
        splits = load_dataset(name)
    except DatasetUnavailableError as exc:
        if IN_CI:
            raise
        pytest.skip(f"corpus absent: {exc}")
    suite = _load(tmp_path, f'[[datasets]]\nname = "{name}"\n' + MODEL)
    _assert_stand_in_agrees(_profile_of(name, suite), splits)


# ============================================================================== user corpora
def test_user_corpus_by_path_expands_with_absolute_paths(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text("a b c\nb c a\nc a b\na a b\n" * 3, encoding="utf-8")
    (data / "test.txt").write_text("a b\nc c\n", encoding="utf-8")
    (data / "pos.tsv").write_text("the\tD\ndog\tN\n\na\tD\ncat\tN\n\n" * 20, encoding="utf-8")
    text = """
        [[datasets]]
        id = "mine"
        paths = ["../data/train.txt", "../data/test.txt"]
        options = { min_count = 1 }
        [[datasets]]
        id = "mytags"
        paths = ["../data/pos.tsv"]
        format = "tagged"
        [[models]]
        id = "ng"
        model = "ngram"
    """
    cells = _model_cells(expand_cells(load_suite(_write(tmp_path / "suites", text))))
    mine = [c for c in cells if c.dataset == "mine"]
    assert mine[0].dataset_spec == {"paths": [str(data / "train.txt"), str(data / "test.txt")],
                                    "format": "text", "options": {"min_count": 1}}
    assert all(os.path.isabs(p) for c in cells for p in c.dataset_spec["paths"])
    status = {(c.dataset, c.task): c.status for c in cells}
    assert status == {("mine", "lm"): "pending", ("mine", "tagging"): "n/a", ("mine", "continuous"): "n/a",
                      ("mytags", "lm"): "pending", ("mytags", "tagging"): "pending",
                      ("mytags", "continuous"): "n/a"}
    # the spec is what the runner hands to load_corpus, and the stand-in agrees with the loaded data
    spec = mine[0].dataset_spec
    splits = load_corpus(spec["paths"], format=spec["format"], **spec["options"])
    _assert_stand_in_agrees(DatasetProfile("lm", "discrete", tagged=False), splits)
    tagged = next(c for c in cells if c.dataset == "mytags").dataset_spec
    splits = load_corpus(tagged["paths"], format=tagged["format"], **tagged["options"])
    _assert_stand_in_agrees(DatasetProfile("tagging", "discrete", tagged=True), splits)


# ============================================================================ keys and seeds
KEY_SUITE = HEADER.replace("[0]", "[7]") + DATASET + MODEL


def test_cell_key_is_sha256_of_the_documented_spec(tmp_path):
    (cell,) = _cells(tmp_path, KEY_SUITE)
    spec = {
        "model_class": "seqbench.models.ngram.NGram",
        "params": {"order": 3, "smoothing": "kneser_ney", "discount": None, "k": 1.0, "vocab": None,
                   "max_suffix": 10, "random_state": None},
        "dataset": {"name": "synthetic-hmm", "options": {"n_states": 3, "n_sequences": 10, "length": 5}},
        "task": "lm",
        "seed": 7,
        "seqbench_version": seqbench.__version__,
    }
    assert set(spec["params"]) == set(NGram().get_params())  # the hand-written list is complete
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(text.encode()).hexdigest()
    assert cell.spec == spec
    assert cell.key == key
    assert cell.cell_seed == int(np.random.SeedSequence(int(key, 16)).generate_state(1, dtype=np.uint32)[0])


def test_keys_are_stable_across_processes(tmp_path):
    path = _write(tmp_path, NA_SUITE)
    here = [(c.key, c.cell_seed) for c in expand_cells(load_suite(path))]
    code = ("import json, sys; from seqbench.harness.suite import load_suite, expand_cells; "
            "print(json.dumps([(c.key, c.cell_seed) for c in expand_cells(load_suite(sys.argv[1]))]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert [tuple(x) for x in json.loads(out.stdout)] == here


def test_changing_one_hyperparameter_changes_only_that_models_keys(tmp_path):
    before = {(c.model_id, c.dataset, c.task, c.seed): c.key for c in _cells(tmp_path, NA_SUITE)}
    hmm = 'id = "hmm"\nmodel = "hmm"\n'
    changed = NA_SUITE.replace(hmm, hmm + "params = { n_iter = 7 }\n")
    after = {(c.model_id, c.dataset, c.task, c.seed): c.key for c in _cells(tmp_path, changed)}
    assert before.keys() == after.keys()
    for where, key in before.items():
        assert (after[where] != key) == (where[0] == "hmm"), where


def test_cell_seed_does_not_depend_on_suite_order(tmp_path):
    blocks = NA_SUITE.split("[[models]]")
    header, models = blocks[0], ["[[models]]" + b for b in blocks[1:]]
    seeds = {c.key: (c.cell_seed, c.model_id) for c in _cells(tmp_path, NA_SUITE)}
    for shuffle_seed in range(3):
        random.Random(shuffle_seed).shuffle(models)
        datasets = header.replace('[[datasets]]\nname = "ptb"\n', "") + '[[datasets]]\nname = "ptb"\n'
        shuffled = {c.key: (c.cell_seed, c.model_id) for c in _cells(tmp_path, datasets + "".join(models))}
        assert shuffled == seeds


def test_seeds_give_distinct_keys_and_cell_seeds(tmp_path):
    cells = _cells(tmp_path, "seeds = [0, 1, 2]\n" + DATASET + MODEL)
    assert len({c.key for c in cells}) == len({c.cell_seed for c in cells}) == 3


def test_cells_pickle_and_hash_by_key(tmp_path):
    cells = _cells(tmp_path, NA_SUITE)
    assert [pickle.loads(pickle.dumps(c)) for c in cells] == cells  # loky/dask ship cells to workers
    assert len(set(cells)) == len(cells)


def test_build_model_uses_cell_seed_unless_the_suite_sets_one(tmp_path):
    text = DATASET + HMM_ENTRY + '[[models]]\nid = "h7"\nmodel = "hmm"\nparams = { random_state = 7 }\n'
    cells = {c.model_id: c for c in _cells(tmp_path, text) if c.task == "lm"}
    est = cells["h"].build_model()
    assert isinstance(est, HMM) and est.random_state == cells["h"].cell_seed
    assert cells["h"].params == {}  # the key was computed without the derived seed
    assert cells["h7"].build_model().random_state == 7


def test_parse_suite_accepts_a_dict():
    doc = {"datasets": [{"name": "nile"}], "models": [{"id": "a", "model": "hmm", "params": {"n_states": 2}}]}
    suite = parse_suite(doc, default_name="inline")
    assert suite.name == "inline" and suite.path is None
    assert [c.reason for c in expand_cells(suite)] == [  # a categorical HMM on a continuous series
        "dataset is continuous", "dataset has no tags", "model is not a continuous density"]


def test_oracle_id_is_reserved_and_oracle_cells_need_no_model(tmp_path):
    bad = HEADER + DATASET + MODEL.replace('id = "kn3"', 'id = "oracle"')
    with pytest.raises(ConfigError, match=r"models\[0\]\.id: 'oracle' is reserved"):
        _load(tmp_path, bad)
    cells = expand_cells(_load(tmp_path, HEADER + DATASET + MODEL))
    oracle = [c for c in cells if c.model == "oracle"]
    assert [c.task for c in oracle] == ["lm", "tagging"] and all(c.status == "pending" for c in oracle)
    with pytest.raises(ConfigError, match="not built"):
        oracle[0].build_model()
