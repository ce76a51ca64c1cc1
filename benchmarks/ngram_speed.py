"""Speed of seqbench's n-gram model against NLTK and KenLM on Penn Treebank (Mikolov).

Run: ``SEQBENCH_DATA=/path/to/datasets .venv/bin/python benchmarks/ngram_speed.py``
(reads ``$SEQBENCH_DATA/ptb_mikolov/ptb.{train,test}.txt.gz``).

Part 1, the first 300k tokens of PTB train at order 3, side by side:
fit tokens/s of seqbench and of ``nltk.lm.KneserNeyInterpolated`` (fed by
``padded_everygram_pipeline``); scoring tokens/s on PTB test of seqbench,
of KenLM (``kenlm.Model`` on the ARPA file written by ``NGram.to_arpa``,
``full_scores`` per sentence) and of NLTK (``logscore`` of a sample of
trigrams, extrapolated). Part 2, full PTB train: fit and scoring seconds and
test perplexity of modified Kneser-Ney at orders 3 and 5.

NLTK's and seqbench's models differ in padding and lowest-order details (see
``seqbench.models.ngram``); NLTK is timed on its own conventions, only for speed.
"""
from __future__ import annotations

import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _timing import timed
from seqbench.models import NGram

N_FIT_TOKENS = 300_000
NLTK_SCORE_SAMPLE = 300
NLTK_SCORE_BUDGET_S = 60.0


def read_ptb(split):
    """Sentences of a PTB split as lists of str, each ending with ``<eos>``."""
    root = Path(os.environ.get("SEQBENCH_DATA", Path(__file__).resolve().parents[1] / "datasets"))
    path = root / "ptb_mikolov" / f"ptb.{split}.txt.gz"
    if not path.exists():
        sys.exit(f"missing {path}: set SEQBENCH_DATA to the folder holding ptb_mikolov/")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [line.split() + ["<eos>"] for line in fh]


def first_tokens(sentences, n):
    """Whole sentences from the start until at least ``n`` tokens."""
    out, total = [], 0
    for s in sentences:
        if total >= n:
            break
        out.append(s)
        total += len(s)
    return out




def nltk_fit(sentences, order):
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    text, vocab = padded_everygram_pipeline(order, sentences)
    lm = KneserNeyInterpolated(order)
    lm.fit(text, vocab)
    return lm


def nltk_score_rate(lm, test_sentences, order):
    """Tokens/s of ``lm.logscore`` over a sample of test trigrams (stops after a time budget)."""
    rng = np.random.default_rng(0)
    padded = [["<s>"] * (order - 1) + s for s in test_sentences]
    picks = rng.integers(0, len(padded), size=NLTK_SCORE_SAMPLE)
    n, t0 = 0, time.perf_counter()
    for i in picks:
        s = padded[i]
        t = int(rng.integers(order - 1, len(s)))
        lm.logscore(s[t], s[t - order + 1: t])
        n += 1
        if time.perf_counter() - t0 > NLTK_SCORE_BUDGET_S:
            break
    return n / (time.perf_counter() - t0), n


def kenlm_score(path, test_sentences):
    import kenlm

    model = kenlm.Model(str(path))
    lines = [" ".join(s) for s in test_sentences]

    def run():
        return sum(p for line in lines for p, _, _ in model.full_scores(line, bos=True, eos=False))

    return timed(run, repeat=3)


def main():
    train, test = read_ptb("train"), read_ptb("test")
    vocab = sorted({w for s in train for w in s})
    stoi = {w: i for i, w in enumerate(vocab)}
    encode = lambda sents: [np.array([stoi[w] for w in s], dtype=np.int64) for s in sents]  # noqa: E731
    X_train, X_test = encode(train), encode(test)
    n_test = sum(len(s) for s in test)

    small = first_tokens(train, N_FIT_TOKENS)
    X_small = X_train[: len(small)]
    n_small = sum(len(s) for s in small)
    print(f"PTB: vocabulary {len(vocab)}, train {sum(map(len, train)):,} tokens, test {n_test:,} tokens")
    print(f"part 1: order 3 on the first {n_small:,} train tokens ({len(small)} sentences)\n")

    t_sb_fit, model = timed(lambda: NGram(order=3, vocab=vocab).fit(X_small), repeat=3)
    t_sb_score, scores = timed(lambda: model.score_tokens(X_test), repeat=3)
    print("fitting NLTK KneserNeyInterpolated(3) ...", flush=True)
    t_nltk_fit, lm = timed(lambda: nltk_fit(small, 3))
    nltk_rate, n_nltk = nltk_score_rate(lm, test, 3)
    with tempfile.TemporaryDirectory() as tmp:
        arpa = Path(tmp) / "ptb3.arpa"
        t_arpa, _ = timed(lambda: model.to_arpa(arpa))
        t_kenlm, kenlm_total = kenlm_score(arpa, test)
    sb_total = float(np.concatenate(scores).sum()) / np.log(10)

    rows = [
        ("fit", "seqbench NGram(3)", n_small / t_sb_fit, t_sb_fit),
        ("fit", "NLTK KneserNeyInterpolated(3)", n_small / t_nltk_fit, t_nltk_fit),
        ("score", "seqbench score_tokens", n_test / t_sb_score, t_sb_score),
        ("score", "KenLM full_scores (ARPA from to_arpa)", n_test / t_kenlm, t_kenlm),
        ("score", f"NLTK logscore ({n_nltk} trigrams, extrapolated)", nltk_rate, n_test / nltk_rate),
    ]
    print(f"\n{'task':<6} {'implementation':<46} {'tokens/s':>14} {'seconds':>10}")
    for task, name, rate, sec in rows:
        print(f"{task:<6} {name:<46} {rate:>14,.0f} {sec:>10.3f}")
    print(f"\nfit:   seqbench / NLTK  = {t_nltk_fit / t_sb_fit:,.1f}x")
    print(f"score: seqbench / KenLM = {t_kenlm / t_sb_score:.2f}x  (KenLM is {t_sb_score / t_kenlm:.2f}x faster)")
    print(f"score: seqbench / NLTK  = {(n_test / t_sb_score) / nltk_rate:,.0f}x")
    print(f"to_arpa: {t_arpa:.2f} s; test log10 total seqbench {sb_total:.3f} vs KenLM {kenlm_total:.3f}")

    print("\npart 2: modified Kneser-Ney on the full PTB train\n")
    print(f"{'order':>5} {'fit s':>8} {'fit tok/s':>12} {'score s':>8} {'score tok/s':>12} {'test ppl':>9}")
    n_train = sum(map(len, X_train))
    for order in (3, 5):
        t_fit, m = timed(lambda: NGram(order=order, vocab=vocab).fit(X_train))
        t_score, s = timed(lambda: m.score_tokens(X_test), repeat=3)
        ppl = float(np.exp(-np.concatenate(s).sum() / n_test))
        print(f"{order:>5} {t_fit:>8.2f} {n_train / t_fit:>12,.0f} {t_score:>8.3f} "
              f"{n_test / t_score:>12,.0f} {ppl:>9.2f}")
    print("\nreference (Mikolov 2012, Table 4.1): KN3 148.3, KN5 141.2")


if __name__ == "__main__":
    main()
