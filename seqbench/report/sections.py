"""What the report shows for each task type: its headline metric, columns and explanation.

A task's section appears when the store holds results of that task. A new task
(e.g. a long-dependency probe) registers its :class:`Section` here with
:func:`register_section`; a task without one still gets a generic section that
lists every metric it stored (no best-first order, no headline).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Section", "register_section", "section_for", "SECTIONS"]


@dataclass(frozen=True)
class Section:
    """How to present one task.

    Attributes
    ----------
    task : str
        The task name (a key of ``seqbench.tasks.TASKS``).
    title : str
        Section heading.
    metric : str or None
        The headline metric: leaderboards are ordered by it. None: no order, no headline.
    better : {"lower", "higher"} or None
        Which direction of ``metric`` is better.
    columns : tuple of (str, str)
        ``(metric name, column label)`` pairs shown after the headline metric, when stored.
    intro : str
        One paragraph: units and definitions.
    limit : str
        What the ``oracle`` row means for this task (the limit other rows are a ratio to).
    figures : callable or None
        The task's own figures, drawn after its leaderboards:
        ``figures(boards, fig_prefix, styles) -> list of FigureSVG`` where ``boards``
        is a list of ``(dataset id, entries)``; an entry holds ``model_id``,
        ``model``, ``seeds``, ``metrics`` (name -> (mean, sd)) and ``rows`` (the
        stored rows it averages, with any extra fields the task wrote);
        ``fig_prefix`` starts every figure id; ``styles`` maps model ids to the
        page's markers and colours (:func:`seqbench.report.figures.style_for`).
    """

    task: str
    title: str
    metric: str | None = None
    better: str | None = None
    columns: tuple = field(default_factory=tuple)
    intro: str = ""
    limit: str = "the generating model of the synthetic data"
    figures: Callable | None = None


SECTIONS: dict[str, Section] = {}


def register_section(section):
    """Register (or replace) the presentation of ``section.task``; returns it."""
    if section.better not in (None, "lower", "higher"):
        raise ValueError(f"Section({section.task!r}).better is {section.better!r}; expected 'lower' or 'higher'")
    SECTIONS[section.task] = section
    return section


def section_for(task):
    """The registered section of ``task``, else a generic one."""
    return SECTIONS.get(task) or Section(task=task, title=f"Task {task}",
                                         intro="Every metric the task stored, averaged over seeds.")


register_section(Section(
    task="lm", title="Language modelling", metric="perplexity", better="lower",
    columns=(("nll_per_token", "NLL / token (nats)"), ("bits_per_token", "bits / token")),
    intro="Perplexity = exp(total negative log-likelihood / total predicted tokens) on the test split, "
          "natural logs, summed over tokens (never a mean of per-sequence means). <eos> is predicted and "
          "counted; <bos> is context only. Every model is scored on the dataset's own vocabulary ids.",
    limit="the generating model's perplexity: exp of the entropy rate, the lowest any model can reach "
          "in expectation"))

register_section(Section(
    task="tagging", title="Tagging", metric="accuracy", better="higher",
    columns=(("accuracy_known", "known words"), ("accuracy_unknown", "unknown words"),
             ("perplexity", "word perplexity (tags marginalised)")),
    intro="Token accuracy of the predicted tags on the test split. Known words are those seen in "
          "training; unknown words are scored separately because they show the unknown-word model. "
          "A tagger that is also a density over words (a supervised HMM) reports its word perplexity too.",
    limit="the generating model's own decoding of the hidden states"))

register_section(Section(
    task="continuous", title="Continuous sequences", metric="nll_per_step", better="lower",
    columns=(("mse", "one-step MSE"), ("coverage", "90% interval coverage"),
             ("state_mse", "state MSE (after a linear map fitted on train)")),
    intro="NLL per step = minus the summed log-density of each observation given the past, divided by the "
          "number of time steps with an observed value (natural logs, summed over dimensions; a density, so it "
          "can be negative). One-step MSE and the coverage of the central 90% predictive interval are per "
          "observed scalar. Real series (nile, sunspots, co2) are standardised with the training part's "
          "statistics; the model is fitted on the first 80% and scores the rest as the series' continuation. "
          "On synthetic data the state MSE compares smoothed states with the true ones, after the least-squares "
          "linear map from the model's states to the true states fitted on train (a latent space is only "
          "identified up to such a map); the oracle needs none.",
    limit="the true linear-Gaussian system: its NLL per step is the entropy rate, and its smoother gives the "
          "best possible state estimate"))

from . import probe_sections  # noqa: E402,F401  (registers the probes' sections; needs the names above)
