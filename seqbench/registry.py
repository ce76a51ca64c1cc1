"""Model registry: ``@register("key")``, ``make_model``, ``list_models``."""
from __future__ import annotations

import importlib

from .base import get_tags
from .exceptions import ConfigError

__all__ = ["register", "make_model", "list_models", "get_model_class"]

_REGISTRY: dict[str, type] = {}


def register(key):
    """Class decorator: make a model available as ``make_model(key)``."""

    def deco(cls):
        if key in _REGISTRY and _REGISTRY[key] is not cls:
            raise ConfigError(f"model key {key!r} is already registered to {_REGISTRY[key].__name__}")
        _REGISTRY[key] = cls
        cls._registry_key = key
        return cls

    return deco


def _load_all():
    importlib.import_module("seqbench.models")


def get_model_class(name):
    """The class registered under ``name`` (keys are case-insensitive)."""
    _load_all()
    key = name.lower()
    if key not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[key]


def make_model(name, **params):
    """Instantiate the model registered under ``name`` with keyword parameters."""
    cls = get_model_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for model {name!r}: {exc}") from None


def list_models(**tag_filters):
    """Registered model keys, sorted, optionally filtered by tag values.

    Examples
    --------
    >>> list_models(tagger=True)  # doctest: +SKIP
    ['hmm', 'ngram']
    """
    _load_all()
    keys = []
    for key, cls in sorted(_REGISTRY.items()):
        tags = get_tags(cls())
        for name, value in tag_filters.items():
            if not hasattr(tags, name):
                raise ConfigError(f"unknown tag {name!r} in list_models filter")
        if all(getattr(tags, k) == v for k, v in tag_filters.items()):
            keys.append(key)
    return keys
