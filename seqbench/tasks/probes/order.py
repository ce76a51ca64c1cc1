"""Temporal-order probe: can a sequence classifier relate two markers ``d`` steps apart?

Data: :func:`seqbench.data.probe_memory.temporal_order` (after Hochreiter
& Schmidhuber 1997, task 6a): two markers, each ``X`` or ``Y``, at
distance ``d`` among noise symbols; one class label per sequence
(``n_classes=2``: which marker comes first; 4: which pair). The model is a
sequence classifier, ``fit(X, y)`` with ``y`` one label per sequence: the
neural many-to-one networks, or any density made a classifier by
:class:`~seqbench.models.GenerativeClassifier` (an n-gram of order ``n``
relates the markers only when ``n - 1 >= d``).

Metrics
-------
``accuracy@d=..``
    Fraction of test sequences classified right, per distance ``d``.
``chance``
    ``1 / n_classes`` (the classes are balanced).
``bag_of_symbols_accuracy``
    The best accuracy from the symbol counts alone (order ignored): 0.5
    for 2 classes (each marker occurs once), 0.75 for 4 (XX and YY are
    told by their counts, XY and YX not).
``accuracy_longest``
    ``accuracy`` at the longest distance of the sweep (the report's headline).

Applies to sequence classifiers on discrete input (``Tags.classifier``).
"""
from __future__ import annotations

import numpy as np

from ...data.probe_memory import temporal_order
from ._sweep import Sweep, condition_key, fit_supervised, with_longest

__all__ = ["NAME", "applies", "fit", "evaluate", "order_sweep", "BAG_OF_SYMBOLS_ACCURACY"]

NAME = "order"
KIND = "probe-order"
BAG_OF_SYMBOLS_ACCURACY = {2: 0.5, 4: 0.75}


def applies(tags, splits) -> str | None:
    """None when the probe applies, else the reason it does not."""
    if splits.info.get("kind") != KIND:
        return f"dataset is not the temporal-order task (kind {KIND!r})"
    if not tags.classifier:
        return "model is not a sequence classifier"
    if tags.input_kind not in ("discrete", "both"):
        return "model does not read token ids"
    return None



def fit(est, splits):
    """One clone of ``est`` fitted per distance ``d`` (``fit(X, y)``): a :class:`Sweep`."""
    return Sweep(est, splits.conditions, fit_supervised)


def evaluate(fitted, splits, split="test"):
    """Score every condition's model on its own data; see the module docstring.

    Parameters
    ----------
    fitted : Sweep
        From :func:`fit` (condition ``d`` -> fitted classifier).
    splits : Splits
        From :func:`~seqbench.data.probe_memory.temporal_order`.
    split : {"train", "valid", "test"}

    Returns
    -------
    dict
        ``accuracy@d=..``, ``chance``, ``bag_of_symbols_accuracy``,
        ``n_sequences``, ``n_tokens``.
    """
    n_classes = int(splits.info["n_classes"])
    result = {"chance": 1.0 / n_classes, "bag_of_symbols_accuracy": BAG_OF_SYMBOLS_ACCURACY[n_classes]}
    n_sequences = n_tokens = 0
    for d, est in fitted.items():
        part = getattr(splits.conditions[d], split)
        pred = np.asarray(est.predict(part.X))
        result[f"accuracy@{condition_key('d', d)}"] = float((pred == np.asarray(part.y)).mean())
        n_sequences += len(part.X)
        n_tokens += sum(len(x) for x in part.X)
    with_longest(result, "accuracy", "d", [c for c, _ in fitted.items()])
    result.update(n_sequences=n_sequences, n_tokens=n_tokens)
    return result


def order_sweep(estimator, distances=(10, 30, 100), n_classes=2, n_sequences=1000, n_test=None, random_state=0):
    """Run the temporal-order probe without the harness: generate, fit one clone per ``d``, score.

    Parameters
    ----------
    estimator : estimator
        An unfitted sequence classifier.
    distances : sequence of int
        The conditions ``d``.
    n_classes : {2, 4}
    n_sequences : int
        Training sequences per condition.
    n_test : int or None
        Test sequences per condition (default ``n_sequences // 4``).
    random_state : int
        Seed of the data.

    Returns
    -------
    dict
        As :func:`evaluate`.

    Examples
    --------
    A trigram sees two symbols back: it relates markers 2 apart, not 3.

    >>> from seqbench.models import GenerativeClassifier
    >>> from seqbench.tasks.probes.order import order_sweep
    >>> clf = GenerativeClassifier("ngram", estimator_params={"order": 3})
    >>> res = order_sweep(clf, distances=(2, 3), n_sequences=400)
    >>> res["accuracy@d=2"] > 0.95, abs(res["accuracy@d=3"] - res["chance"]) < 0.1
    (True, True)
    """
    splits = temporal_order(distances=distances, n_classes=n_classes, n_sequences=n_sequences, n_test=n_test,
                            seed=random_state)
    return evaluate(fit(estimator, splits), splits)
