"""Named datasets (``load_dataset``, ``list_datasets``) and user corpora (``load_corpus``).

Every loader returns :class:`~seqbench.data.splits.Splits` whose vocabulary
was built on the training part only, so every model is scored on the same ids.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ..exceptions import ConfigError, DatasetUnavailableError
from . import loaders
from .build import char_splits, lm_splits, split_by_order, split_train_valid, tagging_splits
from .continuous import SERIES, load_series
from .splits import cut_points
from .fetch import fetch, load_sources, locate
from .vocab import DEFAULT_SPECIALS

__all__ = ["load_dataset", "list_datasets", "dataset_info", "load_corpus"]

PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class _Entry:
    loader: object          # callable(**options) -> Splits
    options: dict           # option name -> default
    kind: str
    description: str


_DATASETS: dict[str, _Entry] = {}
_FILE_OPTIONS = {"root": None, "download": False}


def _dataset(name, kind, description, files=True, **options):
    """Register ``loader(**options)`` under ``name``; file datasets also take ``root`` and ``download``."""
    def deco(loader):
        _DATASETS[name] = _Entry(loader, {**options, **(_FILE_OPTIONS if files else {})}, kind, description)
        return loader
    return deco


def list_datasets(kind=None):
    """Names of the registered datasets, sorted.

    Parameters
    ----------
    kind : str or None
        Keep only one kind: "lm", "tagging", "continuous" or "synthetic".

    Returns
    -------
    list of str
    """
    return sorted(n for n, e in _DATASETS.items() if kind is None or e.kind == kind)


def dataset_info(name):
    """What a named dataset is and which options it takes.

    Returns
    -------
    dict
        ``name``, ``kind``, ``description`` and ``options`` (option -> default;
        ``None`` when a synthetic generator accepts any keyword).
    """
    entry = _entry(name)
    return {"name": name, "kind": entry.kind, "description": entry.description, "options": _options(name)}


def _options(name):
    entry = _entry(name)
    return dict(entry.options) if entry.options is not None else _synthetic_options(name)


def _entry(name):
    if name not in _DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; valid names: {', '.join(list_datasets())}")
    return _DATASETS[name]


def load_dataset(name, **options):
    """Load a named dataset.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    **options
        Dataset options (``dataset_info(name)["options"]`` lists them). File datasets
        take ``root`` (data folder; default ``$SEQBENCH_DATA`` or
        ``<repo>/datasets``) and ``download`` (fetch missing files first;
        default False, so a benchmark never touches the network unasked).

    Returns
    -------
    Splits

    Raises
    ------
    ConfigError
        Unknown name or option (the message lists the valid ones).
    DatasetUnavailableError
        The files are not on disk; the message says what to put where.
    """
    entry, valid = _entry(name), _options(name)
    unknown = sorted(set(options) - set(valid)) if valid is not None else []
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} for dataset {name!r}; valid options: "
                          f"{', '.join(sorted(valid)) or '(none)'}")
    chosen = {**(valid or {}), **options}
    splits = entry.loader(**chosen) if entry.options is not None else entry.loader(**options)
    recorded = {k: v for k, v in chosen.items() if k != "root" and v is not inspect.Parameter.empty}
    splits.info = {"name": name, **splits.info}
    splits.info.setdefault("options", recorded)
    return splits


def _files(name, relpaths, root, download):
    """Paths of a dataset's files, fetching missing ones first when ``download``."""
    if download:
        fetch(name, root=root)
    return locate(name, relpaths, root=root)


def _meta(name):
    """Source, licence and citation of a dataset from ``datasets/sources.toml``."""
    entry = load_sources().get(name, {})
    return {k: entry.get(k, "see datasets/README.md") for k in ("source", "licence", "citation")}


# -- language modelling -------------------------------------------------------------------
@_dataset("ptb", "lm", "Penn Treebank (Mikolov): word-level LM, closed 10k vocabulary", stream=False)
def _ptb(stream, root, download):
    paths = _files("ptb", [f"ptb_mikolov/ptb.{k}.txt" for k in PARTS], root, download)
    sentences = {k: list(loaders.read_text(p)) for k, p in zip(PARTS, paths)}
    info = {**_meta("ptb"), "split": "standard Mikolov train/valid/test",
            "files": [str(p) for p in paths]}
    splits = lm_splits(sentences, info)
    splits.info["vocabulary"] += ("; the text's literal '<unk>' is the <unk> special; 10,000 Mikolov types "
                                  "(9,999 words incl. <unk>, plus <eos>) + <bos> (context only)")
    if stream:  # one running text per part: a recurrent LM carries its state across sentences (Zaremba et al.)
        for _, part in splits:
            part.X = [np.concatenate(part.X)]
        splits.info["n_sequences"] = {k: 1 for k in PARTS}
        splits.info["preprocessing"] += ("; stream=True: each part is ONE sequence, the sentences joined in "
                                         "order (the first token is predicted from the start symbol alone)")
    return splits


@_dataset("tiny-shakespeare", "lm", "Tiny Shakespeare: character-level LM, 90/5/5 by position",
          specials=("<unk>",))
def _tiny_shakespeare(specials, root, download):
    (path,) = _files("tiny-shakespeare", ["tiny_shakespeare/input.txt"], root, download)
    return char_splits(loaders.read_chars(path), {**_meta("tiny-shakespeare"), "files": [str(path)]},
                       specials=tuple(specials))


# -- tagging ------------------------------------------------------------------------------
def _tagging(parts, info, min_count):
    """``parts``: dict part -> list of ``(words, tags, ...)`` sentences -> tagging ``Splits``."""
    words = {k: [s[0] for s in v] for k, v in parts.items()}
    tags = {k: [s[1] for s in v] for k, v in parts.items()}
    return tagging_splits(words, tags, info, min_count=min_count)


@_dataset("ud-ewt", "tagging", "UD English-EWT v2.16: POS tagging (upos or xpos)", tags="upos", min_count=1)
def _ud_ewt(tags, min_count, root, download):
    if tags not in ("upos", "xpos"):
        raise ConfigError(f"tags must be 'upos' or 'xpos', got {tags!r}")
    paths = _files("ud-ewt", [f"ud_english_ewt/en_ewt-ud-{k}.conllu" for k in ("train", "dev", "test")],
                   root, download)
    parts = {k: list(loaders.read_conllu(p, tags=tags)) for k, p in zip(PARTS, paths)}
    info = {"split": "standard UD train/dev/test (dev is valid)", "tags": tags,
            "files": [str(p) for p in paths],
            "preprocessing": "syntactic words only (multiword-token ranges and empty nodes skipped); "
                             f"{tags.upper()} tags; words as given"}
    return _tagging(parts, {**_meta("ud-ewt"), **info}, min_count)


@_dataset("conll2000-pos", "tagging", "CoNLL-2000 (WSJ): POS tagging, standard train/test", min_count=1)
def _conll2000_pos(min_count, root, download):
    (path,) = _files("conll2000-pos", ["nltk_data/corpora/conll2000.zip"], root, download)
    parts = split_train_valid(list(loaders.read_conll2000_zip(path, "train")), "conll2000 train")
    parts["test"] = list(loaders.read_conll2000_zip(path, "test"))
    info = {"split": "standard train (WSJ 15-18) / test (WSJ 20); valid = last 10% of train sentences",
            "files": [str(path)], "preprocessing": "POS column (chunk tags ignored); words as given"}
    return _tagging(parts, {**_meta("conll2000-pos"), **info}, min_count)


@_dataset("treebank-pos", "tagging", "NLTK Penn Treebank WSJ sample: POS tagging, -NONE- dropped", min_count=1,
          valid=True)
def _treebank_pos(min_count, valid, root, download):
    """``valid=False``: no valid part, the whole first 90% trains (3,522 sentences): the 90/10 split of
    the NLTK figures (TnT 94.96%, Lidstone HMM 89.37%). The test part is the same either way."""
    (path,) = _files("treebank-pos", ["nltk_data/corpora/treebank.zip"], root, download)
    sentences = list(loaders.read_treebank_zip(path))
    cut = cut_points(len(sentences), (90,))[0]  # first 90% of sentences: the train part
    if not isinstance(valid, bool):
        raise ConfigError(f"valid must be true or false, got {valid!r}")
    parts = split_train_valid(sentences[:cut], "treebank train part") if valid else {
        "train": sentences[:cut], "valid": []}
    parts["test"] = sentences[cut:]
    held_out = "valid = last 10% of the train part" if valid else "no valid part (NLTK's 90/10 split)"
    info = {"split": "sentence order (files wsj_0001..0199 sorted): first 90% train part / last 10% test; "
                     + held_out,
            "files": [str(path)],
            "preprocessing": "leaves of treebank/combined/*.mrg; -NONE- traces and empty elements dropped"}
    return _tagging(parts, {**_meta("treebank-pos"), **info}, min_count)


# -- continuous ---------------------------------------------------------------------------
def _register_series(name):
    options = {"missing": "interpolate"} if name == "co2" else {}
    _dataset(name, "continuous", f"statsmodels '{name}' series, standardised, 72/8/20 by time",
             files=False, **options)(lambda **kw: load_series(name, **kw))


for _name in SERIES:
    _register_series(_name)


# -- generated (synthetic data with an oracle, probe data; modules imported lazily) -------
# name -> (module of seqbench.data, generator function, description)
_GENERATED = {
    "synthetic-hmm": ("synthetic", "synthetic_hmm", "includes the true model (oracle)"),
    "synthetic-lgssm": ("synthetic", "synthetic_lgssm", "includes the true model (oracle)"),
    "probe-lag": ("probe_lag", "lag_sweep_data", "lag-sweep probe: token t is fixed by token t-k"),
    "probe-adding": ("probe_memory", "adding_problem", "adding problem: sum of two marked values"),
    "probe-copy": ("probe_memory", "copy_memory", "copy-memory task: recall 10 symbols after T blanks"),
    "probe-order": ("probe_memory", "temporal_order", "temporal order: class set by two distant markers"),
    "probe-transduction": ("probe_transduction", "transduction_data", "copy / reverse of random sequences "
                           "(encoder-decoder transduction)"),
    "pcfg-substitution": ("pcfg", "pcfg_substitution", "critical source: recursive substitution grammar "
                          "(power-law mutual information)"),
    "pcfg-brackets": ("pcfg", "pcfg_brackets", "critical source: nested brackets at the branching threshold"),
}


def _synthetic_function(name):
    module, function, _ = _GENERATED[name]
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)


def _synthetic_options(name):
    """Keyword parameters of the generator with their defaults (None if it takes ``**kwargs``)."""
    params = inspect.signature(_synthetic_function(name)).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return {p.name: p.default for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _load_synthetic(name, **options):
    return _synthetic_function(name)(**options)


for _name, (_module, _function, _what) in _GENERATED.items():
    _DATASETS[_name] = _Entry(partial(_load_synthetic, _name), None, "synthetic",
                              f"generated by seqbench.data.{_module}.{_function}; {_what}")


# -- user corpora -------------------------------------------------------------------------
_CORPUS_OPTIONS = {
    "text": {"min_count": 1, "max_size": None, "specials": DEFAULT_SPECIALS, "name": None},
    "conllu": {"tags": "upos", "min_count": 1, "name": None},
    "tagged": {"sep": "\t", "min_count": 1, "name": None},
}


def _read_corpus(path, format, options):
    if format == "text":
        return list(loaders.read_text(path))
    if format == "conllu":
        return list(loaders.read_conllu(path, tags=options["tags"]))
    return list(loaders.read_tagged(path, sep=options["sep"]))


def load_corpus(paths, format="text", **options):
    """Load your own corpus as ``Splits``, without writing code.

    Parameters
    ----------
    paths : str, Path or list of them
        1 path: split 90/5/5 by sentence order; 2 paths: train and test, with
        the last 10% of train sentences as valid; 3 paths: train, valid, test.
        ``.gz`` files are read through gzip.
    format : {"text", "conllu", "tagged"}
        "text": one sentence per line, whitespace tokens -> language modelling
        (closed vocab on train, unknown words -> ``<unk>``, ``<eos>`` appended).
        "conllu" (option ``tags="upos"|"xpos"``) and "tagged" (``word<TAB>tag``
        lines, blank line between sentences; option ``sep``) -> tagging, built
        exactly like the named tagging sets.
    **options
        ``min_count`` (all), ``max_size`` and ``specials`` (text), ``tags``
        (conllu), ``sep`` (tagged), ``name`` (recorded in info).

    Returns
    -------
    Splits
    """
    if format not in _CORPUS_OPTIONS:
        raise ConfigError(f"unknown corpus format {format!r}; valid formats: {', '.join(_CORPUS_OPTIONS)}")
    valid = _CORPUS_OPTIONS[format]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} for format {format!r}; valid options: "
                          f"{', '.join(sorted(valid))}")
    opts = {**valid, **options}
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not 1 <= len(paths) <= 3:
        raise ConfigError(f"load_corpus takes 1, 2 or 3 paths (train[, valid], test), got {len(paths)}")
    for p in paths:
        if not Path(p).is_file():
            raise DatasetUnavailableError(f"corpus file {p} does not exist")
    read = [_read_corpus(p, format, opts) for p in paths]
    if len(paths) == 1:
        parts, how = split_by_order(read[0], str(paths[0])), "one file split 90/5/5 by sentence order"
    elif len(paths) == 2:
        parts = {**split_train_valid(read[0], str(paths[0])), "test": read[1]}
        how = "train/test files; valid = last 10% of the train sentences"
    else:
        parts, how = dict(zip(PARTS, read)), "train/valid/test files"
    info = {"name": opts["name"] or Path(paths[0]).name, "source": [str(p) for p in paths],
            "licence": "user data", "split": how, "format": format}
    if format == "text":
        return lm_splits(parts, info, min_count=opts["min_count"], max_size=opts["max_size"],
                         specials=tuple(opts["specials"]))
    if format == "conllu":
        info["tags"] = opts["tags"]
    return _tagging(parts, info, opts["min_count"])
