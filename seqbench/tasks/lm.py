"""Language modelling: perplexity from ``score_tokens`` (natural logs, token-weighted)."""
from __future__ import annotations

import math
import time

from ..metrics import nll_per_token, perplexity
from .probes import probe_data

NAME = "lm"


def applies(tags, splits) -> str | None:
    """None when the task applies, else the reason it does not."""
    if tags.input_kind not in ("discrete", "both") or not tags.density:
        return "model is not a discrete density"
    if probe_data(splits):
        return probe_data(splits)
    if splits.info.get("kind") == "continuous":
        return "dataset is continuous"
    return None


def fit(est, splits):
    return est.fit(splits.train.X)


def evaluate(est, splits, split="test"):
    """Score one split; returns perplexity, NLL per token (nats), bits per token and throughput."""
    X = getattr(splits, split).X
    t0 = time.perf_counter()
    logprobs = est.score_tokens(X)
    seconds = time.perf_counter() - t0
    n = sum(len(x) for x in X)
    nll = nll_per_token(logprobs)
    return {
        "perplexity": perplexity(logprobs),
        "nll_per_token": nll,
        "bits_per_token": nll / math.log(2),
        "n_tokens": n,
        "eval_seconds": seconds,
        "tokens_per_s": n / seconds if seconds > 0 else float("inf"),
    }
