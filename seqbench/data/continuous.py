"""Real univariate time series shipped with statsmodels, as continuous ``Splits``.

Each series is one sequence cut by time: train = first 72%, valid = next 8%
(train + valid = first 80%), test = last 20%. Values are standardised with the
TRAIN mean and standard deviation (both stored in ``info``).
"""
from __future__ import annotations

import numpy as np

from ..exceptions import ConfigError
from .splits import Split, Splits, cut_points

__all__ = ["SERIES", "load_series"]

# name -> (statsmodels.api.datasets module, value column, time column or None for the index)
SERIES = {
    "nile": ("nile", "volume", "year"),
    "sunspots": ("sunspots", "SUNACTIVITY", "YEAR"),
    "co2": ("co2", "co2", None),
}


def _raw_series(name):
    """The values and time labels of a statsmodels dataset."""
    import statsmodels
    import statsmodels.api as sm

    module_name, column, time_col = SERIES[name]
    module = getattr(sm.datasets, module_name)
    df = module.load_pandas().data
    values = df[column].to_numpy(dtype=np.float64)
    labels = df[time_col].to_numpy() if time_col else df.index.to_numpy()
    meta = {
        "source": f"statsmodels {statsmodels.__version__}: statsmodels.api.datasets.{module_name}"
                  f".load_pandas().data[{column!r}]",
        "licence": " ".join(module.COPYRIGHT.split()),
        "citation": " ".join(module.SOURCE.split()),
        "description": " ".join(module.DESCRSHORT.split()),
    }
    return values, labels, meta


def _label(x):
    """A JSON-friendly time label (year as int, timestamp as ISO date)."""
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return int(x)
    return str(np.datetime_as_string(x, unit="D")) if isinstance(x, np.datetime64) else str(x)


def load_series(name, missing="interpolate"):
    """Load one statsmodels series as standardised continuous splits.

    Parameters
    ----------
    name : {"nile", "sunspots", "co2"}
    missing : {"interpolate", "keep"}
        Missing observations (co2 has missing weeks): linear interpolation in
        time order, or kept as NaN (for models that accept missing values).

    Returns
    -------
    Splits
        ``X`` of each split is ``[array of shape (n_steps, 1)]`` (float64), ``y``
        is None, ``vocab`` and ``tagset`` are None.
    """
    if missing not in ("interpolate", "keep"):
        raise ConfigError(f"missing must be 'interpolate' or 'keep', got {missing!r}")
    values, labels, meta = _raw_series(name)
    nan = np.isnan(values)
    if nan.any() and missing == "interpolate":
        t = np.arange(len(values))
        values = values.copy()
        values[nan] = np.interp(t[nan], t[~nan], values[~nan])
    a, b = cut_points(len(values), (72, 80))
    mean, std = float(np.nanmean(values[:a])), float(np.nanstd(values[:a]))
    if not std > 0:
        raise ConfigError(f"series {name!r} is constant on its training part; cannot standardise")
    z = ((values - mean) / std)[:, None]
    bounds = {"train": (0, a), "valid": (a, b), "test": (b, len(values))}
    notes = "standardised: (x - train mean) / train std"
    if nan.any():
        notes += (f"; {int(nan.sum())} missing observations "
                  + ("filled by linear interpolation in time" if missing == "interpolate" else "kept as NaN"))
    info = {
        "name": name, "kind": "continuous", **meta,
        "split": f"by time: train = steps [0, {a}) (72%), valid = [{a}, {b}) (8%), "
                 f"test = [{b}, {len(values)}) (20%); one sequence per split",
        "cut_points": [a, b],
        "time_range": {k: [_label(labels[lo]), _label(labels[hi - 1])] for k, (lo, hi) in bounds.items()},
        "mean": mean, "std": std,
        "n_missing": int(nan.sum()), "missing": missing,
        "preprocessing": notes,
    }
    parts = {k: Split([np.ascontiguousarray(z[lo:hi])]) for k, (lo, hi) in bounds.items()}
    return Splits(parts["train"], parts["valid"], parts["test"], info=info)
