"""Long-dependency probes: tasks that measure how far back a model uses information.

Every probe is a task module (the protocol of :mod:`seqbench.tasks`):

``NAME``
    The task's name in suites (``"lag"``, ``"mi"``, ``"context"``, ...).
``applies(tags, splits) -> str | None``
    None when the probe applies to this model and dataset, else the reason.
``fit(est, splits) -> object``
    Fits the unfitted ``est``; a sweep fits one clone per condition of
    ``splits.conditions`` and returns them together as a :class:`Sweep`.
``evaluate(fitted, splits, split="test") -> dict``
    Flat metrics: name -> float (per condition as ``"accuracy@k=4"``), counts
    as ``"n_*"`` ints, plus ``eval_seconds`` / ``tokens_per_s`` when measured.

Probe datasets are synthetic, generated from a seed (``seqbench.data.probes``),
with one ``Splits`` per condition in ``splits.conditions``.
"""
from ._sweep import Sweep, condition_key, probe_data

__all__ = ["Sweep", "condition_key", "probe_data"]
