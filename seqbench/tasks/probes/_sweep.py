"""One fitted clone of a model per condition of a probe (lag k, length L, distance d, ...)."""
from __future__ import annotations

from sklearn.base import clone

__all__ = ["Sweep", "condition_key", "with_longest", "probe_data", "fit_unsupervised", "fit_supervised"]


def condition_key(name, value):
    """The metric-name suffix of one condition: ``condition_key("k", 4) -> "k=4"``."""
    return f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"


class Sweep:
    """Fitted models by condition, fitted in condition order.

    Parameters
    ----------
    template : estimator
        Unfitted; each condition gets ``clone(template)``.
    conditions : dict
        Condition value -> ``Splits``.
    fit : callable
        ``fit(est, splits) -> est``: how one clone is fitted (e.g.
        ``est.fit(splits.train.X)``).

    Attributes
    ----------
    models : dict
        Condition value -> fitted estimator.
    n_parameters_, device_, n_threads_, history_
        Those of the last condition's model (the largest), for the cost columns.
    """

    def __init__(self, template, conditions, fit):
        self.models = {}
        for value, splits in conditions.items():
            self.models[value] = fit(clone(template), splits)
        last = next(reversed(self.models.values()), None)
        for name in ("n_parameters_", "device_", "n_threads_", "history_"):
            setattr(self, name, getattr(last, name, None))

    def get_params(self, deep=True):
        last = next(reversed(self.models.values()))
        return last.get_params(deep=deep)

    def items(self):
        return self.models.items()


def with_longest(result, metric, name, values):
    """Copy ``metric`` at the largest condition value to ``f"{metric}_longest"`` (the headline of a sweep)."""
    if values:
        result[f"{metric}_longest"] = result[f"{metric}@{condition_key(name, max(values))}"]
    return result


def probe_data(splits):
    """The reason a core task (lm, tagging, continuous) skips a probe's dataset, else None.

    A probe's data is scored by its own task; only the critical sources of the
    MI probe (kind ``"probe-mi"``) are ordinary text to a language model too.
    """
    kind = str(splits.info.get("kind", ""))
    if kind.startswith("probe-") and kind != "probe-mi":
        return f"dataset is a probe's ({kind}); its own task scores it"
    return None


def fit_unsupervised(est, splits):
    """``est.fit(train.X)``: a density of one condition's data."""
    return est.fit(splits.train.X)


def fit_supervised(est, splits):
    """``est.fit(train.X, train.y)``: a tagger or classifier of one condition's data."""
    return est.fit(splits.train.X, splits.train.y)
