"""Tagging: token accuracy overall and on known / unknown words (``predict`` after ``fit(X, y)``)."""
from __future__ import annotations

import time

import numpy as np

from ..base import get_tags
from ..metrics import perplexity, token_accuracy_by_known
from .probes import probe_data

NAME = "tagging"


def applies(tags, splits) -> str | None:
    if probe_data(splits):
        return probe_data(splits)
    if not tags.tagger:
        return "model is not a tagger"
    if splits.train.y is None:
        return "dataset has no tags"
    return None


def fit(est, splits):
    if "vocab" in est.get_params() and est.get_params()["vocab"] is None and splits.vocab is not None:
        est.set_params(vocab=splits.vocab)  # lets the model read the strings of unknown words
    return est.fit(splits.train.X, splits.train.y)


def _known_masks(X, splits):
    vocab = splits.vocab
    if vocab is not None and hasattr(vocab, "is_known"):
        return [np.asarray(vocab.is_known(x), dtype=bool) for x in X]
    seen = np.zeros(max(int(x.max()) for x in X + splits.train.X) + 1, dtype=bool)
    seen[np.concatenate(splits.train.X)] = True
    return [seen[x] for x in X]


def evaluate(est, splits, split="test"):
    """Token accuracy on one split, split by whether the word occurred in training."""
    part = getattr(splits, split)
    t0 = time.perf_counter()
    pred = est.predict(part.X)
    seconds = time.perf_counter() - t0
    acc = token_accuracy_by_known(part.y, pred, _known_masks(part.X, splits))
    n = sum(len(x) for x in part.X)
    result = {
        "accuracy": acc["overall"],
        "accuracy_known": acc["known"],
        "accuracy_unknown": acc["unknown"],
        "n_tokens": n,
        "n_unknown": acc["n_unknown"],
        "eval_seconds": seconds,
        "tokens_per_s": n / seconds if seconds > 0 else float("inf"),
    }
    if get_tags(est).tagger_density:  # a supervised density (HMM): its perplexity with the tags marginalised
        result["perplexity"] = perplexity(est.score_tokens(part.X))
    return result
