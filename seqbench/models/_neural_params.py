"""Parameters shared by the neural families: defaults, the verbatim-storing helper, the checks done in ``fit``."""
from __future__ import annotations

import numbers

import numpy as np

from ..exceptions import ConfigError
from ._char_encoder import CHAR_ENCODERS
from ._torch import LR_SCHEDULES, OPTIMIZERS, TrainConfig

__all__ = ["TRAIN_DEFAULTS", "store_params", "train_config", "is_int", "is_real"]

TRAIN_DEFAULTS = {
    "batch_size": 32, "max_epochs": 10, "max_tokens": None, "time_budget_s": None,
    "optimizer": "adamw", "lr": None, "weight_decay": 0.01, "lr_schedule": "constant", "warmup_steps": 0,
    "lr_decay": 0.5, "lr_decay_start": 0, "clip_norm": 5.0, "valid_fraction": 0.1, "patience": 3,
    "stateful": False, "bptt": None, "init_range": None,
    "random_state": None, "device": "cpu", "n_threads": 1,
}
DEFAULT_LR = {"adamw": 1e-3, "sgd": 1.0}
# parameters the base reads when a family declares them, and their values when it does not
INPUT_DEFAULTS = {"embedding_dim": 64, "dropout": 0.0, "char_encoder": None, "char_dim": 32, "vocab": None,
                  "word_dropout": "auto"}


def store_params(est, params):
    """``__init__`` helper: store every argument (``locals()``) verbatim under its own name."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)


def is_int(value, low):
    """An integer (not a bool) >= ``low``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low


def is_real(value, low, high=np.inf, *, low_open=False, high_open=False):
    """A finite number (not a bool) in ``[low, high]``, either end open on request."""
    if not (isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)):
        return False
    return (value > low if low_open else value >= low) and (value < high if high_open else value <= high)


def _optional(check):
    return lambda v: v is None or check(v)


_CHECKS = [  # name, test, what is expected
    ("batch_size", lambda v: is_int(v, 1), "an integer >= 1"),
    ("max_epochs", _optional(lambda v: is_int(v, 1)), "None or an integer >= 1"),
    ("max_tokens", _optional(lambda v: is_int(v, 1)), "None or an integer >= 1"),
    ("time_budget_s", _optional(lambda v: is_real(v, 0, low_open=True)), "None or a number > 0"),
    ("optimizer", lambda v: v in OPTIMIZERS, f"one of {OPTIMIZERS}"),
    ("lr", _optional(lambda v: is_real(v, 0, low_open=True)), "None or a number > 0"),
    ("weight_decay", lambda v: is_real(v, 0), "a number >= 0"),
    ("lr_schedule", lambda v: v in LR_SCHEDULES, f"one of {LR_SCHEDULES}"),
    ("warmup_steps", lambda v: is_int(v, 0), "an integer >= 0"),
    ("lr_decay", lambda v: is_real(v, 0, 1, low_open=True, high_open=True), "a number in (0, 1)"),
    ("lr_decay_start", lambda v: is_int(v, 0), "an integer >= 0"),
    ("clip_norm", _optional(lambda v: is_real(v, 0, low_open=True)), "None or a number > 0"),
    ("valid_fraction", lambda v: is_real(v, 0, 1, high_open=True), "a number in [0, 1)"),
    ("patience", _optional(lambda v: is_int(v, 1)), "None or an integer >= 1"),
    ("stateful", lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    ("bptt", _optional(lambda v: is_int(v, 1)), "None or an integer >= 1"),
    ("init_range", _optional(lambda v: is_real(v, 0, low_open=True)), "None or a number > 0"),
    ("n_threads", lambda v: is_int(v, 1), "an integer >= 1"),
    ("embedding_dim", lambda v: is_int(v, 1), "an integer >= 1"),
    ("dropout", lambda v: is_real(v, 0, 1, high_open=True), "a number in [0, 1)"),
    ("char_encoder", lambda v: v is None or v in CHAR_ENCODERS, f"None or one of {CHAR_ENCODERS}"),
    ("char_dim", lambda v: is_int(v, 2), "an integer >= 2"),
    ("word_dropout", lambda v: v in ("auto", "frequency") or is_real(v, 0, 1, high_open=True),
     "'auto', 'frequency' or a number in [0, 1)"),
]


def param(est, name):
    """A shared parameter's value: the family's, else the default of :data:`INPUT_DEFAULTS`."""
    return getattr(est, name, INPUT_DEFAULTS.get(name))


def train_config(est):
    """Check the shared parameters of ``est``; return the training loop's :class:`TrainConfig`.

    Raises
    ------
    ConfigError
        Naming the parameter, what it must be and what it is.
    """
    for name, ok, expected in _CHECKS:
        value = param(est, name)
        if not ok(value):
            raise ConfigError(f"{name} must be {expected}, got {value!r}")
    if est.max_epochs is None and est.max_tokens is None and est.time_budget_s is None:
        raise ConfigError("set at least one budget: max_epochs, max_tokens or time_budget_s")
    if param(est, "char_encoder") is not None and param(est, "vocab") is None:
        raise ConfigError(f"char_encoder={est.char_encoder!r} reads word strings: give vocab (a Vocab "
                          f"or a sequence of str, one per id)")
    return TrainConfig(
        optimizer=est.optimizer, lr=float(est.lr if est.lr is not None else DEFAULT_LR[est.optimizer]),
        weight_decay=float(est.weight_decay), lr_schedule=est.lr_schedule, warmup_steps=est.warmup_steps,
        lr_decay=float(est.lr_decay), lr_decay_start=est.lr_decay_start, clip_norm=est.clip_norm,
        max_epochs=est.max_epochs,
        max_tokens=est.max_tokens, time_budget_s=est.time_budget_s, patience=est.patience)
