"""Benchmark suites: a TOML file -> a validated :class:`Suite` -> the grid of :class:`Cell`.

Schema
------
Every key below is optional unless marked *required*; any other key is an
error::

    name = "quick"                     # default: the file's stem; letters, digits, . _ + -
    description = "..."
    seeds = [0, 1, 2]                  # replicate seeds: distinct ints >= 0; default [0]
    tasks = ["lm", "tagging", "lag"]   # keys of seqbench.tasks.TASKS; default: the core tasks
                                       # (lm, tagging, continuous); probes run when listed

    [defaults]                         # run settings (the CLI may override them)
    time_budget_s = 600                # seconds per cell, > 0; omitted: no limit
    backend = "loky"                   # "loky" | "dask" | "sequential"
    n_jobs = 1                         # parallel cells, >= 1
    scheduler = "tcp://host:8786"      # dask only; "" or omitted: a LocalCluster

    [[datasets]]                       # required, at least one; a named dataset:
    name = "ud-ewt"                    # required: one of seqbench.data.list_datasets()
    id = "ewt-upos"                    # default: the name; unique in the suite
    options = { tags = "upos" }        # names from dataset_info(name)["options"]

    [[datasets]]                       # ... or your own corpus (seqbench.data.load_corpus):
    id = "mycorpus"                    # required
    paths = ["train.txt", "test.txt"]  # required: 1-3 files, relative to the suite file's folder
    format = "text"                    # "text" (default) | "conllu" | "tagged"
    options = { min_count = 2 }        # the format's options (min_count, tags, sep, ...)

    [[models]]                         # required, at least one
    id = "kn3"                         # required, unique in the suite
    model = "ngram"                    # required: a registry key; may recur with other params
    params = { order = 3 }             # names checked against get_params(); values by fit
    tasks = ["lm"]                     # restrict this model's tasks; each must be possible
    datasets = ["ptb", "tiny-shakespeare"]   # restrict this model's datasets (ids of this suite)
    time_budget_s = 120                # overrides defaults.time_budget_s
    requires = ["cuda"]                # run only where this is present (else the cell reads "unavailable")

    [[models.targets]]                 # a published figure for the report's reproduction panel
    dataset = "ptb"                    # required: a dataset id of this suite
    task = "lm"                        # required: a task this model runs on that dataset
    metric = "perplexity"              # required
    value = 141.2                      # required, finite
    tolerance = 2.0                    # >= 0
    source = "Mikolov (2012), Table 4.1"   # required

A broken suite raises :class:`~seqbench.exceptions.ConfigError` whose message
starts with the key path (indices from 0), e.g.
``models[2].params.ordr: unknown parameter of 'ngram' ...``.

Grid
----
:func:`expand_cells` crosses dataset x task x model x seed in suite order
(a model's ``tasks`` drop the other tasks for it, its ``datasets`` the other
datasets: those cells are not in the grid at all). A pair the model's
:class:`~seqbench.base.Tags` or the dataset's kind rule out stays in the
grid as a cell with status ``"n/a"`` and the reason. Applicability is
decided by each task's ``applies(tags, splits)`` on a light stand-in built
from ``dataset_info`` (no data is loaded): see :class:`DatasetProfile`.

Each cell is keyed by the sha256 of its canonical spec (model class and full
``get_params()``, dataset spec, task, seed, seqbench version) and gets a
``cell_seed`` derived from that key alone, so results do not depend on the
order of the suite or the worker that ran the cell.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .. import __version__
from ..base import Tags, get_tags
from ..data import list_datasets
from ..data.named import _CORPUS_OPTIONS, dataset_info
from ..exceptions import ConfigError
from ..registry import get_model_class, make_model
from ..tasks import CORE_TASKS, TASKS
from . import _suite_checks as check
from .requirements import REQUIREMENTS

__all__ = ["Suite", "DatasetEntry", "ModelEntry", "Target", "Cell", "DatasetProfile",
           "load_suite", "parse_suite", "list_suites", "expand_cells",
           "canonical_spec", "cell_key", "cell_seed", "to_json", "select_cells", "ORACLE"]

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
BACKENDS = ("loky", "dask", "sequential")
ORACLE = "oracle"  # model id and key of the cells that score a synthetic dataset's generating model

_TOP_KEYS = ("name", "description", "seeds", "tasks", "defaults", "datasets", "models")
_DEFAULT_KEYS = ("time_budget_s", "backend", "n_jobs", "scheduler")
_NAMED_KEYS = ("name", "id", "options")
_CORPUS_KEYS = ("id", "paths", "format", "options")
_MODEL_KEYS = ("id", "model", "params", "tasks", "datasets", "time_budget_s", "requires", "targets")
_TARGET_KEYS = ("dataset", "task", "metric", "value", "tolerance", "source")


# =============================================================================== data model
@dataclass(frozen=True)
class DatasetProfile:
    """What task applicability needs to know of a dataset, known without loading it.

    Attributes
    ----------
    kind : str
        ``splits.info["kind"]`` of the loaded data ("lm", "tagging", "continuous", "synthetic").
    input_kind : {"discrete", "continuous"}
    tagged : bool
        Whether ``splits.train.y`` holds tags (or true hidden states).
    oracle_tasks : tuple of str
        Tasks on which the dataset's generating model (``splits.oracle``) is
        scored as the row ``oracle``: the limit the other rows are a ratio to.
    """

    kind: str
    input_kind: str
    tagged: bool
    oracle_tasks: tuple = ()

    def stand_in(self):
        """A light object with the ``Splits`` attributes a task's ``applies`` may read.

        Only ``info["kind"]``, ``info["input_kind"]`` and whether ``train.y``
        (``valid.y``, ``test.y``) is None are meaningful; a task whose
        ``applies`` needs more must extend this profile.
        """
        part = SimpleNamespace(X=None, y=[] if self.tagged else None)
        return SimpleNamespace(info={"kind": self.kind, "input_kind": self.input_kind},
                               train=part, valid=part, test=part, vocab=None, tagset=None)


_LM = DatasetProfile("lm", "discrete", tagged=False)
_TAGGING = DatasetProfile("tagging", "discrete", tagged=True)
_CONTINUOUS = DatasetProfile("continuous", "continuous", tagged=False)
# The one table of profiles: by dataset_info kind, by synthetic name, by corpus format.
_KIND_PROFILES = {"lm": _LM, "tagging": _TAGGING, "continuous": _CONTINUOUS}
_SYNTHETIC_PROFILES = {"synthetic-hmm": DatasetProfile("synthetic", "discrete", tagged=True,
                                                       oracle_tasks=("lm", "tagging", "context", "mi")),
                       "synthetic-lgssm": DatasetProfile("continuous", "continuous", tagged=False,
                                                         oracle_tasks=("continuous",)),
                       # probes (seqbench.tasks.probes): their data, one Splits per condition
                       "probe-lag": DatasetProfile("probe-lag", "discrete", tagged=False),
                       "probe-adding": DatasetProfile("probe-adding", "continuous", tagged=False),
                       "probe-copy": DatasetProfile("probe-copy", "discrete", tagged=True),
                       "probe-order": DatasetProfile("probe-order", "discrete", tagged=False),
                       "probe-transduction": DatasetProfile("probe-transduction", "discrete", tagged=False),
                       "pcfg-substitution": DatasetProfile("probe-mi", "discrete", tagged=False),
                       "pcfg-brackets": DatasetProfile("probe-mi", "discrete", tagged=False)}
_FORMAT_PROFILES = {"text": _LM, "conllu": _TAGGING, "tagged": _TAGGING}


@dataclass(frozen=True)
class DatasetEntry:
    """One ``[[datasets]]`` entry: its id, the spec the runner loads, its profile.

    ``spec`` is ``{"name": ..., "options": {...}}`` (named: ``load_dataset(name, **options)``) or
    ``{"paths": [absolute paths], "format": ..., "options": {...}}`` (user corpus:
    ``load_corpus(paths, format=format, **options)``). Options are as the suite
    gives them (defaults are not filled in).
    """

    id: str
    spec: dict
    profile: DatasetProfile


@dataclass(frozen=True)
class Target:
    """A published figure a cell should reproduce (shown in the report)."""

    model_id: str
    dataset: str
    task: str
    metric: str
    value: float
    tolerance: float | None
    source: str


@dataclass(frozen=True)
class ModelEntry:
    """One ``[[models]]`` entry, checked by constructing the model once.

    ``tasks`` are the tasks this model runs (its own list, else the suite's);
    ``datasets`` the dataset ids it runs on (None: all of the suite's);
    ``model_class`` and ``full_params`` are what enters the cell key.
    """

    id: str
    model: str
    params: dict
    tasks: tuple
    time_budget_s: float | None
    model_class: str
    full_params: dict
    tags: Tags
    targets: tuple
    datasets: tuple | None = None
    requires: tuple = ()

    def runs_on(self, dataset_id):
        return self.datasets is None or dataset_id in self.datasets


@dataclass(frozen=True)
class Suite:
    """A validated suite (see the module docstring for the TOML schema)."""

    name: str
    description: str
    path: Path | None
    seeds: tuple
    tasks: tuple
    datasets: tuple
    models: tuple
    time_budget_s: float | None
    backend: str
    n_jobs: int
    scheduler: str | None

    @property
    def targets(self):
        """tuple of Target: every published target of every model."""
        return tuple(t for m in self.models for t in m.targets)

    def targets_for(self, cell):
        """The targets that apply to ``cell`` (same model id, dataset id and task)."""
        return tuple(t for t in self.targets
                     if (t.model_id, t.dataset, t.task) == (cell.model_id, cell.dataset, cell.task))


@dataclass(frozen=True)
class Cell:
    """One dataset x task x model x seed of a suite (see the module docstring).

    ``params`` are the suite's parameters; :meth:`build_model` adds
    ``random_state=cell_seed`` when the model has that parameter and the
    suite did not set it (the key is computed without it).
    """

    dataset: str
    dataset_spec: dict
    task: str
    model_id: str
    model: str
    params: dict
    seed: int
    time_budget_s: float | None
    key: str
    cell_seed: int
    status: str
    reason: str | None
    spec: dict
    requires: tuple = ()

    def __hash__(self):  # the dict fields are not hashable; the key identifies the cell
        return hash(self.key)

    def build_model(self):
        """The unfitted estimator this cell runs (not for the ``oracle`` cells: the dataset holds that model)."""
        if self.model == ORACLE:
            raise ConfigError("the oracle cell's model is splits.oracle of its dataset; it is not built")
        est = make_model(self.model, **self.params)
        if "random_state" in est.get_params(deep=False) and "random_state" not in self.params:
            est.set_params(random_state=self.cell_seed)
        return est


# ============================================================================ keys and seeds
def to_json(value):
    """JSON-normalise a parameter value: numpy -> python, tuples -> lists, other objects -> repr."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((to_json(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return repr(value)


def canonical_spec(model_class, full_params, dataset_spec, task, seed):
    """The dict a cell key hashes (all values JSON)."""
    return {"model_class": model_class, "params": to_json(full_params), "dataset": to_json(dataset_spec),
            "task": task, "seed": int(seed), "seqbench_version": __version__}


def cell_key(spec):
    """sha256 hex digest of the canonical JSON of ``spec`` (sorted keys, no spaces)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cell_seed(key):
    """A 32-bit seed derived from the key alone (``numpy.random.SeedSequence``)."""
    return int(np.random.SeedSequence(int(key, 16)).generate_state(1, dtype=np.uint32)[0])


# ================================================================================ top level
def _seeds(where, value):
    seeds = check.list_of(where, value)
    for i, seed in enumerate(seeds):
        check.integer(f"{where}[{i}]", seed, minimum=0)
    return tuple(check.distinct(where, seeds))


def _task_names(where, value):
    return check.choices(where, value, tuple(TASKS), what="task")


def _budget(where, value):
    return None if value is None else check.number(where, value, minimum=0, strict=True)


def _defaults(value):
    where = "defaults"
    check.table(where, value, _DEFAULT_KEYS)
    backend = check.choice(f"{where}.backend", value.get("backend", "loky"), BACKENDS, what="backend")
    scheduler = check.string(f"{where}.scheduler", value.get("scheduler", ""), allow_empty=True).strip() or None
    if scheduler and backend != "dask":
        check.fail(f"{where}.scheduler", f"only used with backend = 'dask' (backend is {backend!r})")
    return {"time_budget_s": _budget(f"{where}.time_budget_s", value.get("time_budget_s")),
            "backend": backend,
            "n_jobs": check.integer(f"{where}.n_jobs", value.get("n_jobs", 1), minimum=1),
            "scheduler": scheduler}


# ================================================================================= datasets
def _named_profile(where, name):
    kind = dataset_info(name)["kind"]
    profile = _SYNTHETIC_PROFILES.get(name) if kind == "synthetic" else _KIND_PROFILES.get(kind)
    if profile is None:
        check.fail(where, f"dataset {name!r} (kind {kind!r}) has no profile in seqbench.harness.suite; add one")
    return profile


def _named_dataset(where, entry):
    check.table(where, entry, _NAMED_KEYS, required=("name",))
    name = check.choice(f"{where}.name", entry["name"], list_datasets(), what="dataset")
    options = check.options(f"{where}.options", entry.get("options", {}), dataset_info(name)["options"],
                            f"dataset {name!r}")
    return DatasetEntry(check.ident(f"{where}.id", entry.get("id", name)), {"name": name, "options": options},
                        _named_profile(f"{where}.name", name))


def _corpus_paths(where, value, base_dir):
    paths = check.list_of(where, value)
    if len(paths) > 3:
        check.fail(where, f"1, 2 or 3 files (train[, valid], test), got {len(paths)}")
    for i, p in enumerate(paths):
        check.string(f"{where}[{i}]", p)
    return [os.path.normpath(os.path.join(base_dir, os.path.expanduser(p))) for p in paths]


def _corpus_dataset(where, entry, base_dir):
    check.table(where, entry, _CORPUS_KEYS, required=("id", "paths"))
    fmt = check.choice(f"{where}.format", entry.get("format", "text"), tuple(_CORPUS_OPTIONS), what="format")
    if fmt not in _FORMAT_PROFILES:
        check.fail(f"{where}.format", f"format {fmt!r} has no profile in seqbench.harness.suite; add one")
    spec = {"paths": _corpus_paths(f"{where}.paths", entry["paths"], base_dir), "format": fmt,
            "options": check.options(f"{where}.options", entry.get("options", {}), _CORPUS_OPTIONS[fmt],
                                     f"format {fmt!r}")}
    return DatasetEntry(check.ident(f"{where}.id", entry["id"]), spec, _FORMAT_PROFILES[fmt])


def _dataset(where, entry, base_dir):
    if isinstance(entry, dict) and "paths" in entry:
        if "name" in entry:
            check.fail(where, "give either name (a named dataset) or paths (your own corpus), not both")
        return _corpus_dataset(where, entry, base_dir)
    return _named_dataset(where, entry)


def _datasets(value, base_dir):
    entries = [_dataset(f"datasets[{i}]", e, base_dir) for i, e in enumerate(check.list_of("datasets", value))]
    for i, entry in enumerate(entries):
        for j, other in enumerate(entries[:i]):
            if entry.id == other.id:
                check.fail(f"datasets[{i}].id", f"duplicate id {entry.id!r} (also datasets[{j}])")
            if entry.spec == other.spec:
                check.fail(f"datasets[{i}]", f"same dataset and options as datasets[{j}] ({other.id!r})")
    return tuple(entries)


# =================================================================================== models
def _impossible(tags, task):
    """Why ``task`` can never run for a model with ``tags`` (None if some dataset kind allows it)."""
    profiles = dict.fromkeys([*_KIND_PROFILES.values(), *_SYNTHETIC_PROFILES.values(),
                              *_FORMAT_PROFILES.values()])
    reasons = [TASKS[task].applies(tags, p.stand_in()) for p in profiles]
    return None if None in reasons else "; ".join(dict.fromkeys(reasons))


def _params(where, value, key):
    params = check.mapping(where, value)
    valid = sorted(get_model_class(key)().get_params(deep=False))
    for name, item in params.items():
        if name not in valid:
            check.fail(check.at(where, name), f"unknown parameter of {key!r}{check.did_you_mean(name, valid)}; "
                                              f"valid parameters: {', '.join(valid)}")
        check.json_value(check.at(where, name), item)
    return dict(params)


def _model_tasks(where, value, suite_tasks, tags, key):
    if value is None:
        return suite_tasks
    tasks = _task_names(where, value)
    for i, task in enumerate(tasks):
        if task not in suite_tasks:
            check.fail(f"{where}[{i}]", f"task {task!r} is not among the suite's tasks ({', '.join(suite_tasks)})")
        reason = _impossible(tags, task)
        if reason:
            check.fail(f"{where}[{i}]", f"model {key!r} cannot do task {task!r}: {reason}")
    return tasks


def _model_datasets(where, value, datasets):
    if value is None:
        return None
    return check.choices(where, value, tuple(datasets), what="dataset id of this suite")


def _target(where, entry, model_id, tags, tasks, datasets):
    check.table(where, entry, _TARGET_KEYS, required=("dataset", "task", "metric", "value", "source"))
    dataset = check.choice(f"{where}.dataset", entry["dataset"], tuple(datasets), what="dataset id")
    task = check.choice(f"{where}.task", entry["task"], tasks, what="task for this model")
    reason = TASKS[task].applies(tags, datasets[dataset].profile.stand_in())
    if reason:
        check.fail(where, f"{model_id} x {dataset} x {task} does not apply ({reason})")
    tolerance = entry.get("tolerance")
    return Target(model_id, dataset, task, check.string(f"{where}.metric", entry["metric"]),
                  check.number(f"{where}.value", entry["value"]),
                  None if tolerance is None else check.number(f"{where}.tolerance", tolerance, minimum=0),
                  check.string(f"{where}.source", entry["source"]))


def _targets(where, value, model_id, tags, tasks, datasets):
    targets = [_target(f"{where}[{i}]", t, model_id, tags, tasks, datasets)
               for i, t in enumerate(check.list_of(where, value, nonempty=False))]
    check.distinct(where, [(t.dataset, t.task, t.metric) for t in targets])
    return tuple(targets)


def _model(where, entry, suite_tasks, datasets, default_budget):
    check.table(where, entry, _MODEL_KEYS, required=("id", "model"))
    model_id = check.ident(f"{where}.id", entry["id"])
    if model_id == ORACLE:
        check.fail(f"{where}.id", f"{ORACLE!r} is reserved for the generating model of synthetic data")
    key = check.string(f"{where}.model", entry["model"]).lower()
    cls = check.call(f"{where}.model", get_model_class, key)
    params = _params(f"{where}.params", entry.get("params", {}), key)
    est = check.call(f"{where}.params", make_model, key, **params)
    tags = get_tags(est)
    tasks = _model_tasks(f"{where}.tasks", entry.get("tasks"), suite_tasks, tags, key)
    budget = _budget(f"{where}.time_budget_s", entry.get("time_budget_s", default_budget))
    runs_on = _model_datasets(f"{where}.datasets", entry.get("datasets"), datasets)
    targets = _targets(f"{where}.targets", entry.get("targets", []), model_id, tags, tasks,
                       datasets if runs_on is None else {k: datasets[k] for k in runs_on})
    requires = check.choices(f"{where}.requires", entry.get("requires", []), tuple(REQUIREMENTS),
                             what="requirement", nonempty=False)
    return ModelEntry(model_id, key, params, tasks, budget, f"{cls.__module__}.{cls.__qualname__}",
                      to_json(est.get_params()), tags, targets, runs_on, requires)


def _models(value, suite_tasks, datasets, default_budget):
    entries = [_model(f"models[{i}]", e, suite_tasks, datasets, default_budget)
               for i, e in enumerate(check.list_of("models", value))]
    for i, entry in enumerate(entries):
        for j, other in enumerate(entries[:i]):
            if entry.id == other.id:
                check.fail(f"models[{i}].id", f"duplicate id {entry.id!r} (also models[{j}])")
            same = (entry.model_class, entry.full_params) == (other.model_class, other.full_params)
            shared_data = entry.datasets is None or other.datasets is None or set(entry.datasets) & set(
                other.datasets)
            if same and shared_data and set(entry.tasks) & set(other.tasks):
                check.fail(f"models[{i}]", f"same model and parameters as models[{j}] ({other.id!r}) on the "
                                           f"same tasks: their cells would coincide")
    return tuple(entries)


# =================================================================================== loading
def parse_suite(doc, *, base_dir=".", default_name="suite", path=None):
    """Validate a suite already read from TOML (a dict) and return a :class:`Suite`.

    Parameters
    ----------
    doc : dict
        The parsed TOML document.
    base_dir : str or Path
        Folder that relative corpus ``paths`` are resolved against.
    default_name : str
        The suite's name when ``doc`` has none.
    path : Path or None
        Where the suite came from (recorded on the Suite).

    Raises
    ------
    ConfigError
        The message starts with the key path of the first problem.
    """
    check.table("", doc, _TOP_KEYS, required=("datasets", "models"))
    name = check.ident("name", doc.get("name", default_name))
    description = check.string("description", doc.get("description", ""), allow_empty=True)
    seeds = _seeds("seeds", doc.get("seeds", [0]))
    tasks = _task_names("tasks", doc.get("tasks", list(CORE_TASKS)))
    defaults = _defaults(doc.get("defaults", {}))
    datasets = _datasets(doc["datasets"], str(Path(base_dir).resolve()))
    models = _models(doc["models"], tasks, {d.id: d for d in datasets}, defaults["time_budget_s"])
    return Suite(name=name, description=description, path=path, seeds=seeds, tasks=tasks,
                 datasets=datasets, models=models, **defaults)


def list_suites():
    """Names of the suites bundled in ``seqbench/suites``, sorted."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def _suite_path(name_or_path):
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.resolve()
    bundled = SUITES_DIR / f"{name_or_path}.toml"
    if check.ID.fullmatch(str(name_or_path)) and bundled.is_file():
        return bundled
    raise ConfigError(f"no suite {str(name_or_path)!r}: not a file and not a bundled suite "
                      f"(bundled: {', '.join(list_suites())})")


def load_suite(name_or_path):
    """Read and validate a suite: a path to a TOML file, or a bundled suite's name ("quick", "full").

    Returns
    -------
    Suite

    Raises
    ------
    ConfigError
        No such suite, invalid TOML, or a schema problem; the message names
        the key path and ends with the file.
    """
    path = _suite_path(name_or_path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_suite(doc, base_dir=path.parent, default_name=path.stem, path=path)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in {path})") from None


# ===================================================================================== grid
def _cell(dataset, task, model_id, model, model_class, full_params, params, seed, budget, reason, requires=()):
    spec = canonical_spec(model_class, full_params, dataset.spec, task, seed)
    key = cell_key(spec)
    return Cell(dataset=dataset.id, dataset_spec=to_json(dataset.spec), task=task, model_id=model_id,
                model=model, params=to_json(params), seed=seed, time_budget_s=budget,
                key=key, cell_seed=cell_seed(key), status="n/a" if reason else "pending", reason=reason,
                spec=spec, requires=requires)


def _model_cell(dataset, task, model, seed, reason):
    return _cell(dataset, task, model.id, model.model, model.model_class, model.full_params, model.params,
                 seed, model.time_budget_s, reason, model.requires)


def _oracle_cell(dataset, task, seed, budget):
    """The generating model of synthetic data, scored like any model (nothing to fit)."""
    return _cell(dataset, task, ORACLE, ORACLE, ORACLE, {}, {}, seed, budget, None)


def expand_cells(suite):
    """Every dataset x task x model x seed of ``suite``, in suite order.

    Returns
    -------
    list of Cell
        Pairs the model's tags or the dataset's kind rule out are kept with
        status ``"n/a"`` and the reason; the others are ``"pending"``.
    """
    cells = []
    for dataset in suite.datasets:
        stand_in = dataset.profile.stand_in()
        for task in suite.tasks:
            if task in dataset.profile.oracle_tasks:
                cells.append(_oracle_cell(dataset, task, suite.seeds[0], suite.time_budget_s))
            for model in suite.models:
                if task not in model.tasks or not model.runs_on(dataset.id):
                    continue
                reason = TASKS[task].applies(model.tags, stand_in)
                cells.extend(_model_cell(dataset, task, model, seed, reason) for seed in suite.seeds)
    _check_unique_keys(cells)
    return cells


def select_cells(cells, models=None, datasets=None):
    """The cells of the given model ids and dataset ids (None: all), in their order.

    Raises
    ------
    ConfigError
        A name that is not a model id (or dataset id) of these cells; the
        message lists the valid ones.
    """
    for what, names, field in (("model id", models, "model_id"), ("dataset id", datasets, "dataset")):
        valid = sorted({getattr(c, field) for c in cells} - {ORACLE})
        for name in names or ():
            if name not in valid and not (field == "model_id" and name == ORACLE):
                raise ConfigError(f"unknown {what} {name!r}; valid: {', '.join(valid)}")
    return [c for c in cells if (models is None or c.model_id in models)
            and (datasets is None or c.dataset in datasets)]


def _check_unique_keys(cells):
    seen = {}
    for cell in cells:
        first = seen.setdefault(cell.key, cell)
        if first is not cell:
            raise ConfigError(f"models {first.model_id!r} and {cell.model_id!r} give the same cell "
                              f"({cell.dataset} x {cell.task} seed={cell.seed}): same class and parameters")
