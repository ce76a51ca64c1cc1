"""Saving, loading and pickling neural estimators: a ``state_dict`` plus JSON, never a pickled module.

A saved file is ``torch.save`` of a plain dict (readable with
``torch.load(path, weights_only=True)``)::

    {"format": "seqbench-neural/1", "class": "lstm",        # registry key (or module:qualname)
     "params": "<JSON of get_params()>", "fitted": "<JSON of the fitted attributes>",
     "state_dict": {name: tensor}}

Loading builds the estimator from its parameters, restores the fitted
attributes, rebuilds the network from them (``_build_net``) and loads the
weights. Pickling (``pickle``, ``joblib``, ``clone`` of a fitted model's
copies) goes through the same ``state_dict``.
"""
from __future__ import annotations

import importlib
import json

import numpy as np
import torch

from ..exceptions import ConfigError

__all__ = ["save_estimator", "load_estimator", "encode", "decode", "FORMAT"]

FORMAT = "seqbench-neural/1"


def encode(value):
    """A JSON-able form of parameters and fitted attributes (arrays, numpy scalars, Vocab)."""
    from ..data.vocab import Vocab

    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Vocab):
        return {"__vocab__": {"itos": list(value.itos), "counts": value.counts.tolist(),
                              "n_known": value.n_known, "specials": list(value.specials)}}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ConfigError(f"cannot save a value of type {type(value).__name__} ({value!r:.60}); "
                      f"give parameters as plain numbers, strings, lists or a seqbench Vocab")


def decode(value):
    """Inverse of :func:`encode`."""
    from ..data.vocab import Vocab

    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.asarray(value["__ndarray__"], dtype=value["dtype"])
        if "__vocab__" in value:
            v = value["__vocab__"]
            return Vocab(v["itos"], v["counts"], n_known=v["n_known"], specials=v["specials"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _fitted(est):
    return {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_") and k != "module_"}


def _class_name(cls):
    return getattr(cls, "_registry_key", None) or f"{cls.__module__}:{cls.__qualname__}"


def _resolve_class(name):
    if ":" in name:
        module, qualname = name.split(":", 1)
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    from ..registry import get_model_class

    return get_model_class(name)


def save_estimator(est, path):
    """Write a fitted estimator to ``path`` (see the module docstring)."""
    params = est.get_params(deep=False)
    if not isinstance(params.get("random_state"), (int, type(None))):
        params["random_state"] = None  # a numpy Generator is not saved; the loaded model is already fitted
    blob = {"format": FORMAT, "class": _class_name(type(est)),
            "params": json.dumps(encode(params)), "fitted": json.dumps(encode(_fitted(est))),
            "state_dict": {k: v.detach().cpu() for k, v in est.module_.state_dict().items()}}
    torch.save(blob, path)


def load_estimator(cls, path):
    """Read an estimator written by :func:`save_estimator`.

    Parameters
    ----------
    cls : type
        The class ``load`` was called on; the file's class must be it or a subclass of it.
    path : str or path-like

    Returns
    -------
    estimator
    """
    blob = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a seqbench neural model file (format {FORMAT!r})")
    klass = _resolve_class(blob["class"])
    if not issubclass(klass, cls):
        raise ConfigError(f"{path} holds a {klass.__name__}, not a {cls.__name__}")
    est = klass(**decode(json.loads(blob["params"])))
    restore(est, decode(json.loads(blob["fitted"])), blob["state_dict"])
    return est


def restore(est, fitted, state_dict):
    """Set the fitted attributes, rebuild the network and load its weights."""
    for name, value in fitted.items():
        setattr(est, name, value)
    est.module_ = est._rebuild_net(state_dict)
