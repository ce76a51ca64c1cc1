"""The report sections of the long-dependency probes (``seqbench.tasks.probes``) and their figures."""
from __future__ import annotations

from .sections import Section, register_section
from .sweep_figures import condition_curves, sweep_figure

__all__ = ["sweep_hook"]


def _value(metrics, name):
    value = metrics.get(name)
    if value is None:
        return None
    return value[0] if isinstance(value, (tuple, list)) else value


def sweep_hook(metric, *, title, xlabel, ylabel, logx=True, logy=False, mark=None, references=()):
    """A ``Section.figures`` hook: ``metric@cond=value`` against the condition, per model, per dataset.

    Parameters
    ----------
    metric : str
        The stored name before ``@``.
    title, xlabel, ylabel : str
    logx, logy : bool
    mark : str or None
        A scalar metric drawn as a vertical line per model (e.g. ``"memory_horizon"``).
    references : sequence of (label, metric or number)
        A number is a horizontal line at that value. Scalar metrics are drawn
        as one horizontal line per dataset (e.g. a baseline;
        the first model that stored it gives the value), or, when the name has
        conditions (``"oracle_nll"`` with ``"oracle_nll@k=1"``, ...), a reference curve.
    """
    def figures(boards, fig_prefix, styles):
        panels = []
        for dataset, entries in boards:
            series = []
            for e in entries:
                _, x, y = condition_curves(e["metrics"], metric)
                if x.size:
                    series.append({"label": e["model_id"], "x": x, "y": y,
                                   "mark": _value(e["metrics"], mark) if mark else None})
            if not series:
                continue
            refs = []
            for label, name in references:
                if isinstance(name, (int, float)):
                    refs.append({"label": label, "y": float(name)})
                    continue
                for e in entries:
                    _, rx, ry = condition_curves(e["metrics"], name)
                    scalar = _value(e["metrics"], name)
                    if rx.size:
                        refs.append({"label": label, "x": rx, "y": ry})
                        break
                    if scalar is not None:
                        refs.append({"label": label, "y": float(scalar)})
                        break
            panels.append({"dataset": dataset, "xlabel": xlabel, "ylabel": ylabel, "logx": logx, "logy": logy,
                           "series": series, "references": refs})
        if not panels:
            return []
        return [sweep_figure(panels, fig_id=f"{fig_prefix}-{metric.replace('_', '-')}", title=title,
                             styles=styles)]
    return figures


register_section(Section(
    task="lag", title="Probe: lag sweep (memory horizon)", metric="memory_horizon", better="higher",
    columns=(("baseline_nll", "memoryless NLL (nats)"),),
    intro="Synthetic sequences over n symbols in which, after k random tokens, every token is a fixed "
          "permutation of the token exactly k positions back (nothing at a shorter lag tells anything about "
          "it). Each test sequence gets minimal pairs: the true sequence against a copy with one token "
          "replaced; a pair is right when the model gives the true sequence the higher log-probability "
          "(ties count half; a model that cannot see k back is right half the time). The memory horizon is "
          "the largest lag k of the sweep with pair accuracy >= 0.9. Dependent NLL is the mean -log p of the "
          "tokens that depend on the past; a memoryless model can do no better than log n.",
    limit="the analytic answer: accuracy 1 and dependent NLL 0 at every lag",
    figures=sweep_hook("accuracy", title="Minimal-pair accuracy against lag, memory horizon marked",
                       xlabel="lag k (log scale)", ylabel="pair accuracy", mark="memory_horizon")))

register_section(Section(
    task="adding", title="Probe: adding problem", metric="mse_ratio_longest", better="lower",
    columns=(("baseline_mse", "memoryless MSE"),),
    intro="T steps of (value ~ U(0, 1), marker), exactly two markers, then an answer step holding the sum of "
          "the two marked values (Hochreiter & Schmidhuber 1997). A continuous density answers with its "
          "one-step-ahead predicted mean of the answer step; MSE over the test sequences, shown as a ratio to "
          "the memoryless answer's MSE 1/6 (predicting the mean 1): 1 is no memory, 0 a perfect adder. The "
          "dashed curve is the best predictor linear in the inputs; below it a model gates the values by the "
          "markers. Headline: the ratio at the longest T.",
    limit="0 (the sum is a function of the inputs)",
    figures=sweep_hook("mse_ratio", title="Adding problem: MSE / memoryless MSE against T",
                       xlabel="sequence length T (log scale)", ylabel="MSE ratio (1 = no memory)",
                       references=(("no memory", 1.0), ("best linear predictor", "linear_mse_ratio")))))

register_section(Section(
    task="copy", title="Probe: copy memory", metric="xent_ratio_longest", better="lower",
    columns=(("copy_accuracy_longest", "copy accuracy at the longest T"),),
    intro="Ten symbols from 8, T - 1 blanks, a delimiter and ten blanks; the tagger must output blanks and then "
          "the ten symbols (Arjovsky et al. 2016). Cross-entropy per position from predict_proba, as a ratio to "
          "the memoryless strategy's 10 ln 8 / (T + 20): 1 is no memory, 0 a perfect copy. Copy accuracy is "
          "over the last ten positions (chance 1/8). Headline: the ratio at the longest T.",
    limit="0 (a perfect copy)",
    figures=sweep_hook("xent_ratio", title="Copy memory: cross-entropy / memoryless baseline against T",
                       xlabel="delay T (log scale)", ylabel="cross-entropy ratio (1 = no memory)",
                       references=(("no memory", 1.0),))))

register_section(Section(
    task="order", title="Probe: temporal order (generative vs discriminative)", metric="accuracy_longest",
    better="higher", columns=(("chance", "chance"), ("bag_of_symbols_accuracy", "order-blind best")),
    intro="Two markers, each X or Y, d steps apart among noise symbols; the class is their order "
          "(Hochreiter & Schmidhuber 1997). Discriminative rows are neural many-to-one classifiers; generative "
          "rows fit one density per class (GenerativeClassifier: n-gram, HMM or LSTM language models) and "
          "classify by Bayes' rule. Headline: accuracy at the longest distance.",
    limit="accuracy 1",
    figures=sweep_hook("accuracy", title="Temporal order: accuracy against marker distance",
                       xlabel="distance d (log scale)", ylabel="accuracy", references=(("chance", "chance"),))))

register_section(Section(
    task="mi", title="Probe: mutual-information decay", metric=None,
    columns=(("power_law_better", "power law fits better (1 = yes)"), ("power_exponent", "power exponent"),
             ("decay_length", "exponential decay length"), ("r2_power", "R² power"),
             ("r2_exponential", "R² exponential"), ("data_power_law_better", "data: power law better"),
             ("data_power_exponent", "data: exponent"), ("data_decay_length", "data: decay length")),
    intro="I(X_t; X_t+d) in nats between symbols d apart, estimated from long samples of each fitted model and "
          "from the test text itself (Miller-Madow bias correction, bootstrap intervals, a shuffled copy as the "
          "noise floor). An exponential a·exp(-d/ξ) and a power law a·d^-α are fitted in log space to the points "
          "above the floor; the better R² decides. Finite-state models (n-grams, HMMs) must decay exponentially; "
          "natural text and critical grammars decay as a power law (Lin & Tegmark 2017), and the question is "
          "which models inherit it. On synthetic HMM data the oracle's exact curve is drawn.",
    limit="the data's own curve (and, for synthetic HMM data, the generating model's exact curve)",
    figures=sweep_hook("mi", title="Mutual information against distance (log-log)",
                       xlabel="distance d (log scale)", ylabel="I(d) nats (log scale)", logy=True,
                       references=(("data", "data_mi"), ("oracle (exact)", "oracle_mi")))))

register_section(Section(
    task="context", title="Probe: context truncation (effective context)", metric="nll_full", better="lower",
    columns=(("effective_context", "effective context (tokens)"),
             ("oracle_effective_context", "oracle's effective context")),
    intro="NLL per token (nats) when each position may condition on only its last k tokens "
          "(score_tokens(max_context=k), exact for every family: n-grams back off, HMMs start the window from "
          "their marginal state distribution, neural models re-read the window). The effective context is the "
          "smallest k whose NLL is within 1% of the model's full-context NLL (Khandelwal et al. 2018 report about "
          "200 tokens for LSTM LMs). Neural rows score a fixed sample of positions. With Kneser-Ney smoothing "
          "a window shorter than the order falls to the continuation-count level, which is built for back-off, "
          "so those points overstate the loss. On synthetic HMM data the oracle's exact truncated NLL is the "
          "ceiling.",
    limit="the generating model's truncated-context NLL at each k",
    figures=sweep_hook("nll", title="NLL per token against context length", xlabel="context k (log scale)",
                       ylabel="NLL / token (nats)", mark="effective_context",
                       references=(("oracle (exact)", "oracle_nll"),))))

register_section(Section(
    task="transduction", title="Probe: the fixed context vector vs attention", metric="token_accuracy_longest",
    better="higher", columns=(("sequence_accuracy_longest", "sequence accuracy at the longest L"),),
    intro="Encoder-decoders copy or reverse random sequences of length L (teacher forcing in training, greedy "
          "decoding in predict). Without attention the decoder sees one fixed vector, the encoder's final state; "
          "mean pooling gives it the average of all encoder states; Bahdanau (additive) and Luong "
          "(multiplicative) attention learn weights over them (Bahdanau et al. 2015). Token accuracy is "
          "position-wise (a missing or extra token is wrong; chance 1 / n_symbols); sequence accuracy needs "
          "the whole output right. Headline: token accuracy at the longest L.",
    limit="accuracy 1",
    figures=sweep_hook("token_accuracy", title="Transduction token accuracy against length",
                       xlabel="sequence length L (log scale)", ylabel="token accuracy")))
