"""A small results store built in the test, and its rendered report (shared by the report tests).

Holds: an LM board with an oracle and three seeds per model, a tagging board,
models with learning curves (a neural-style history of dicts, an EM history of
floats), a failed and an n/a cell, a published target, and hostile strings: a
dataset id ``<script>alert(1)</script>``, a model id with quotes and an error
message with markup.
"""
from __future__ import annotations

import hashlib

from seqbench.harness.store import Store

XSS_DATASET = "<script>alert(1)</script>"
QUOTED_MODEL = "kn\"3'q"
EVIL_ERROR = 'shape mismatch <img src=x onerror="window.__xss=1"> at y[4]'
VERSIONS = {"seqbench": "0.1.0", "torch": "2.13.0+cpu", "hmmlearn": "0.3.3", "numpy": "2.4.6", "python": "3.11.7"}
MACHINE = {"os": "Linux-6.1-x86_64", "cpu": "Test CPU @ 2.0GHz", "architecture": "x86_64", "logical_cores": 2,
           "usable_cores": 2, "memory_gib": 24.0, "accelerator": None}
TARGET = {"model_id": "kn3", "dataset": "ptb", "task": "lm", "metric": "perplexity", "value": 148.3,
          "tolerance": 2.0, "source": "Mikolov (2012), Table 4.1"}
TARGET_MISSED = {"model_id": "lstm", "dataset": "ptb", "task": "lm", "metric": "perplexity", "value": 114.5,
                 "tolerance": 3.0, "source": "Zaremba et al. (2014)"}
DATASET_INFO = {
    "synth": {"name": "synthetic-hmm", "kind": "synthetic", "synthetic": True, "source": "generated",
              "licence": "generated data (no licence needed)", "n_tokens": {"train": 2400, "valid": 600, "test": 600},
              "n_sequences": {"train": 40, "valid": 10, "test": 10}, "oov_rate": {"valid": 0.0, "test": 0.0},
              "split": "independent draws"},
    "ptb": {"name": "ptb", "kind": "lm", "source": "ptb_mikolov", "licence": "research use only",
            "n_tokens": {"train": 929589, "valid": 73760, "test": 82430},
            "n_sequences": {"train": 42068, "valid": 3370, "test": 3761},
            "oov_rate": {"valid": 0.047, "test": 0.058}, "split": "Mikolov's standard split"},
    XSS_DATASET: {"name": XSS_DATASET, "kind": "tagging", "source": f"user corpus {XSS_DATASET}",
                  "licence": "unknown", "n_tokens": {"train": 100, "test": 20}, "oov_rate": {"test": 0.1},
                  "split": "user files"},
}
# (dataset, task, model_id, model, seed) -> metrics
RESULTS = {
    ("synth", "lm", "oracle", "oracle", 0): {"perplexity": 10.0, "nll_per_token": 2.302585},
    ("synth", "lm", "kn3", "ngram", 0): {"perplexity": 12.0},
    ("synth", "lm", "kn3", "ngram", 1): {"perplexity": 13.0},
    ("synth", "lm", "kn3", "ngram", 2): {"perplexity": 14.0},
    ("synth", "lm", QUOTED_MODEL, "ngram", 0): {"perplexity": 20.0},
    ("synth", "lm", "lstm", "lstm", 0): {"perplexity": 11.0},
    ("synth", "lm", "hmm", "hmm", 0): {"perplexity": 10.5, "nll_per_token": 2.351375},
    ("ptb", "lm", "kn3", "ngram", 0): {"perplexity": 148.28},
    ("ptb", "lm", "lstm", "lstm", 0): {"perplexity": 130.0},
    ("synth", "tagging", "oracle", "oracle", 0): {"accuracy": 0.66},
    ("synth", "tagging", "tagger2", "ngram", 0): {"accuracy": 0.59, "accuracy_known": 0.6},
    (XSS_DATASET, "tagging", "tagger2", "ngram", 0): {"accuracy": 0.9, "accuracy_known": 0.95,
                                                     "accuracy_unknown": 0.5},
}
LSTM_HISTORY = [{"epoch": e, "loss": 5.0 - e, "tokens_seen": 1000 * e, "seconds": 1.5 * e} for e in (1, 2, 3)]
HMM_HISTORY = [-3000.0, -2500.0, -2400.0, -2390.0]


def _key(*parts):
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _row(dataset, task, model_id, model, seed, status="ok"):
    return {
        "key": _key(dataset, task, model_id, seed), "dataset": dataset, "task": task, "model_id": model_id,
        "model": model, "seed": seed, "cell_seed": 1000 + seed, "status": status,
        "spec": {"dataset": {"name": dataset}, "params": {"order": 3}, "task": task, "seed": seed},
        "metrics": {}, "fit_seconds": None, "eval_seconds": None, "tokens_per_s": None, "n_parameters": None,
        "peak_rss_mb": 512.0, "versions": VERSIONS, "threads": 1, "device": "cpu",
        "git_revision": "0123456789abcdef0123456789abcdef01234567", "dataset_info": {},
        "started": "2026-01-01T10:00:00+00:00", "finished": "2026-01-01T10:05:00+00:00", "warnings": [],
    }


def rows():
    """Every row of the fixture store, as the harness would have written them."""
    out = []
    for (dataset, task, model_id, model, seed), metrics in RESULTS.items():
        row = _row(dataset, task, model_id, model, seed)
        fit = 0.0 if model == "oracle" else {"ngram": 0.2, "lstm": 30.0, "hmm": 4.0}[model] * (1 + seed)
        row.update(metrics=metrics, fit_seconds=fit, eval_seconds=0.5, tokens_per_s=1200.0 * (seed + 1),
                   n_parameters={"lstm": 250_000, "hmm": 4000}.get(model),
                   dataset_info={**DATASET_INFO[dataset], "evaluated": {"split": "test", "n_tokens": 600}})
        if model == "lstm":
            row["history"] = LSTM_HISTORY
        if model == "hmm":
            row["history"] = HMM_HISTORY
        out.append(row)
    failed = _row("ptb", "lm", "hmm", "hmm", 0, status="failed")
    failed.update(error_type="ValueError", error_message=EVIL_ERROR, traceback="Traceback ...")
    na = _row("ptb", "tagging", "kn3", "ngram", 0, status="n/a")
    na.update(error_message="ptb has no tags: tagging does not apply")
    return out + [failed, na]


def build_store(tmp_path):
    """Write the fixture store to ``tmp_path / "reports/fixture/results.sqlite"``; return its path."""
    path = tmp_path / "reports" / "fixture" / "results.sqlite"
    with Store(path) as store:
        for row in rows():
            store.put(row)
        run = store.begin_run({"suite": "fixture", "description": "report test suite",
                               "suite_path": "/suites/fixture.toml", "suite_toml": 'name = "fixture"\n',
                               "suite_sha256": "ab" * 32, "targets": [TARGET, TARGET_MISSED],
                               "backend": "sequential", "n_jobs": 1, "scheduler": None, "versions": VERSIONS,
                               "git_revision": "0123456789abcdef0123456789abcdef01234567", "machine": MACHINE},
                              "2026-01-01T10:00:00+00:00")
        store.end_run(run, {"n_total": len(RESULTS) + 2, "n_ok": len(RESULTS), "n_failed": 1, "n_na": 1},
                      "2026-01-01T10:06:00+00:00")
    return path


def render(tmp_path):
    """Build the fixture store and write its report; returns the report's index.html path."""
    from seqbench.report import write_report

    return write_report(build_store(tmp_path))
