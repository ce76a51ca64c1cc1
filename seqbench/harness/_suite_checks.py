"""Checks of TOML values for suite validation: each names the key path of the problem.

Every function takes ``where`` (the key path, e.g. ``models[2].params``) and
raises :class:`~seqbench.exceptions.ConfigError` as ``"<where>: <problem>"``;
on success it returns the value.
"""
from __future__ import annotations

import difflib
import math
import re

from ..exceptions import ConfigError

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def fail(where, message):
    raise ConfigError(f"{where}: {message}")


def call(where, function, *args, **kwargs):
    """``function(*args, **kwargs)``; a ConfigError it raises is re-raised prefixed with ``where``."""
    try:
        return function(*args, **kwargs)
    except ConfigError as exc:
        message = str(exc)
    fail(where, message)


def at(where, key):
    return f"{where}.{key}" if where else key


def type_name(value):
    return type(value).__name__


def did_you_mean(name, valid):
    """`` (did you mean 'x'?)`` for the closest valid name, or ""."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def table(where, value, allowed, required=()):
    """A TOML table with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(value, dict):
        fail(where or "suite", f"expected a table, got {type_name(value)}")
    for key in value:
        if key not in allowed:
            fail(at(where, key), f"unknown key{did_you_mean(key, allowed)}; valid keys: {', '.join(allowed)}")
    for key in required:
        if key not in value:
            fail(at(where, key), "required key is missing")
    return value


def mapping(where, value):
    """A TOML table with free keys (options, params)."""
    if not isinstance(value, dict):
        fail(where, f"expected a table, got {type_name(value)}")
    return value


def list_of(where, value, nonempty=True):
    if not isinstance(value, list):
        fail(where, f"expected a list, got {type_name(value)}")
    if nonempty and not value:
        fail(where, "must not be empty")
    return value


def string(where, value, allow_empty=False):
    if not isinstance(value, str):
        fail(where, f"expected a string, got {type_name(value)}")
    if not allow_empty and not value.strip():
        fail(where, "must not be empty")
    return value


def choice(where, value, choices, what="value"):
    string(where, value)
    if value not in choices:
        fail(where, f"unknown {what} {value!r}; valid: {', '.join(choices) or '(none)'}")
    return value


def ident(where, value):
    string(where, value)
    if not ID.fullmatch(value):
        fail(where, f"{value!r} is not a valid id (letters, digits, '.', '_', '+', '-'; no spaces)")
    return value


def integer(where, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        fail(where, f"expected an integer, got {type_name(value)}")
    if value < minimum:
        fail(where, f"must be >= {minimum}, got {value}")
    return value


def number(where, value, minimum=None, strict=False):
    """A finite int or float (not a bool), optionally ``>= minimum`` (``> minimum`` if strict)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(where, f"expected a number, got {type_name(value)}")
    if not math.isfinite(value):
        fail(where, f"must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        fail(where, f"must be {'>' if strict else '>='} {minimum}, got {value}")
    return float(value)


def distinct(where, values):
    for i, value in enumerate(values):
        if value in values[:i]:
            fail(f"{where}[{i}]", f"duplicate {value!r}")
    return values


def choices(where, value, valid, what="value", nonempty=True):
    """A list of distinct names, each one of ``valid``; returned as a tuple."""
    names = list_of(where, value, nonempty=nonempty)
    for i, name in enumerate(names):
        choice(f"{where}[{i}]", name, valid, what=what)
    return tuple(distinct(where, names))


def json_value(where, value):
    """Reject TOML values JSON cannot hold (dates and times)."""
    if isinstance(value, dict):
        for key, item in value.items():
            json_value(at(where, key), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            json_value(f"{where}[{i}]", item)
    elif not (value is None or isinstance(value, (bool, int, float, str))):
        fail(where, f"{type_name(value)} values are not supported (use a string or number)")
    elif isinstance(value, float) and not math.isfinite(value):
        fail(where, f"must be finite, got {value}")
    return value


def like_default(where, value, default):
    """``value`` must have the type of an option's default (when that default has a plain type)."""
    if isinstance(default, bool):
        ok, expected = isinstance(value, bool), "a boolean"
    elif isinstance(default, int):
        ok, expected = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, expected = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif isinstance(default, str):
        ok, expected = isinstance(value, str), "a string"
    elif isinstance(default, (list, tuple)):
        ok, expected = isinstance(value, list), "a list"
    else:
        return
    if not ok:
        fail(where, f"expected {expected} (the default is {default!r}), got {type_name(value)} {value!r}")


def options(where, given, valid, owner):
    """Dataset or corpus options: known names (``valid``: name -> default; None = any), JSON values."""
    for name, value in mapping(where, given).items():
        json_value(at(where, name), value)
        if valid is None:
            continue
        if name not in valid:
            fail(at(where, name), f"unknown option of {owner}{did_you_mean(name, valid)}; "
                                  f"valid options: {', '.join(valid) or '(none)'}")
        like_default(at(where, name), value, valid[name])
    return dict(given)
