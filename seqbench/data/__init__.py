"""Datasets: frozen vocabularies, train/valid/test splits, corpus readers, named sets.

``load_dataset(name)`` returns :class:`Splits` (``.train/.valid/.test`` with
``.X`` and ``.y``, ``.vocab``, ``.tagset``, ``.info``); the vocabulary is always
built on the training part only. ``load_corpus(paths, format=...)`` does the
same for your own files.
"""
from .fetch import data_root, fetch
from .named import list_datasets, load_corpus, load_dataset
from .splits import Split, Splits
from .vocab import Vocab

__all__ = ["Vocab", "Split", "Splits", "load_dataset", "load_corpus", "list_datasets", "fetch", "data_root"]
