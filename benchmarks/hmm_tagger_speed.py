"""Speed and accuracy of seqbench's supervised HMM tagging core against NLTK's HMM tagger and TnT.

Run: ``SEQBENCH_DATA=/path/to/datasets .venv/bin/python benchmarks/hmm_tagger_speed.py``
(reads the ``treebank-pos``, ``conll2000-pos`` and ``ud-ewt`` datasets).

Part 1, ``treebank-pos`` (45 tags, 76k training tokens, 9.2k test tokens),
the same sentences and tokens for every implementation, each timing the
median of 3 interleaved runs:

- training tokens/s of ``HMMTaggerCore(order=1)`` (with and without word
  strings, i.e. with and without the suffix-based unknown-word model) vs
  ``nltk.tag.hmm.HiddenMarkovModelTrainer().train_supervised`` (Lidstone
  0.1 emissions, no unknown-word model), and of ``HMMTaggerCore(order=2)``
  vs ``nltk.tag.tnt.TnT``;
- tagging tokens/s of the same pairs; NLTK's HMM tagger is timed on the
  first ``NLTK_HMM_SENTENCES`` test sentences (it runs a per-sentence numpy
  Viterbi), everything else on the whole test split;
- test accuracy overall / known / unknown words of all of them.

Part 2: accuracy of ``HMMTaggerCore`` orders 1 and 2 (Viterbi and posterior
decoding) on the test split of all three tagging datasets.
"""
from __future__ import annotations

import time

import numpy as np

from seqbench.data import load_dataset
from seqbench.metrics import token_accuracy_by_known
from seqbench.models._hmm_tagger import HMMTaggerCore

REPEAT = 3
NLTK_HMM_SENTENCES = 200


def timed_call(fn):
    """Wall time of one call of ``fn``, and its result."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def as_nltk(split, vocab, tagset):
    return [[(vocab.itos[w], tagset.itos[t]) for w, t in zip(x, y)] for x, y in zip(split.X, split.y)]


def nltk_hmm_train(sents):
    from nltk.probability import LidstoneProbDist
    from nltk.tag.hmm import HiddenMarkovModelTrainer

    return HiddenMarkovModelTrainer().train_supervised(
        sents, estimator=lambda fd, bins: LidstoneProbDist(fd, 0.1, bins))


def nltk_tnt_train(sents):
    from nltk.tag.tnt import TnT

    tagger = TnT()
    tagger.train(sents)
    return tagger


def nltk_tag(tagger, sents):
    return [[t for _, t in tagger.tag([w for w, _ in s])] for s in sents]


def accuracy(ds, pred_ids, n_sent=None):
    """Overall / known / unknown accuracy on the first ``n_sent`` test sentences."""
    n = len(pred_ids) if n_sent is None else n_sent
    known = [ds.vocab.is_known(x) for x in ds.test.X[:n]]
    return token_accuracy_by_known(ds.test.y[:n], pred_ids, known)


def fmt(acc):
    return f"{acc['overall'] * 100:6.2f} {acc['known'] * 100:6.2f} {acc['unknown'] * 100:6.2f}"


def part1():
    ds = load_dataset("treebank-pos")
    vocab, tagset, K = ds.vocab, ds.tagset, len(ds.tagset)
    train, test = as_nltk(ds.train, vocab, tagset), as_nltk(ds.test, vocab, tagset)
    sub = test[:NLTK_HMM_SENTENCES]
    n_train = sum(map(len, ds.train.X))
    n_test, n_sub = sum(map(len, ds.test.X)), sum(map(len, sub))
    print(f"treebank-pos: {K} tags, train {n_train:,} tokens, test {n_test:,} tokens "
          f"(NLTK HMM tagging timed on {len(sub)} sentences, {n_sub:,} tokens)\n")

    def core(order, words):
        return HMMTaggerCore(order, K, vocab.n_known, words=words)

    fits = {
        "seqbench order 1, no strings": lambda: core(1, None).fit(ds.train.X, ds.train.y),
        "seqbench order 1": lambda: core(1, vocab.itos).fit(ds.train.X, ds.train.y),
        "NLTK HMM (Lidstone 0.1)": lambda: nltk_hmm_train(train),
        "seqbench order 2": lambda: core(2, vocab.itos).fit(ds.train.X, ds.train.y),
        "NLTK TnT": lambda: nltk_tnt_train(train),
    }
    fit_times, models = {k: [] for k in fits}, {}
    for _ in range(REPEAT):  # interleaved
        for name, fn in fits.items():
            sec, models[name] = timed_call(fn)
            fit_times[name].append(sec)

    tags = {
        "seqbench order 1, no strings": (lambda: models["seqbench order 1, no strings"].predict(ds.test.X), n_test),
        "seqbench order 1": (lambda: models["seqbench order 1"].predict(ds.test.X), n_test),
        "seqbench order 1 posterior": (lambda: models["seqbench order 1"].predict(ds.test.X, "posterior"), n_test),
        "NLTK HMM (Lidstone 0.1)": (lambda: nltk_tag(models["NLTK HMM (Lidstone 0.1)"], sub), n_sub),
        "seqbench order 2": (lambda: models["seqbench order 2"].predict(ds.test.X), n_test),
        "seqbench order 2 posterior": (lambda: models["seqbench order 2"].predict(ds.test.X, "posterior"), n_test),
        "NLTK TnT": (lambda: nltk_tag(models["NLTK TnT"], test), n_test),
    }
    tag_times, outputs = {k: [] for k in tags}, {}
    for _ in range(REPEAT):
        for name, (fn, _) in tags.items():
            sec, outputs[name] = timed_call(fn)
            tag_times[name].append(sec)

    print(f"{'':<30} {'train tok/s':>12} {'tag tok/s':>12} {'acc':>6} {'known':>6} {'unk':>6}")
    tag_id = tagset.stoi
    rate = {}
    for name, (_, n) in tags.items():
        base = name.replace(" posterior", "")
        train_rate = n_train / np.median(fit_times[base])
        rate[name] = (train_rate, n / np.median(tag_times[name]))
        out = outputs[name]
        if name.startswith("NLTK HMM"):  # accuracy on the whole test split (tagged once, not timed)
            out = nltk_tag(models[base], test)
        pred = [np.array([tag_id[t] for t in s]) if isinstance(s, list) else s for s in out]
        print(f"{name:<30} {train_rate:>12,.0f} {rate[name][1]:>12,.0f} {fmt(accuracy(ds, pred))}")

    hmm, tnt = rate["NLTK HMM (Lidstone 0.1)"], rate["NLTK TnT"]
    print("\nratios (seqbench / NLTK), targets: training >= 5x, tagging >= 50x NLTK's HMM")
    for name in ("seqbench order 1, no strings", "seqbench order 1", "seqbench order 1 posterior"):
        print(f"  {name:<30} training {rate[name][0] / hmm[0]:6.1f}x   tagging {rate[name][1] / hmm[1]:7.1f}x"
              "   (vs NLTK HMM)")
    for name in ("seqbench order 2", "seqbench order 2 posterior"):
        print(f"  {name:<30} training {rate[name][0] / tnt[0]:6.1f}x   tagging {rate[name][1] / tnt[1]:7.1f}x"
              "   (vs NLTK TnT)")


def part2():
    print("\naccuracy of HMMTaggerCore on the test splits (overall / known / unknown %)\n")
    print(f"{'dataset':<15} {'order':>5} {'viterbi':>22} {'posterior':>22}")
    for name, opts in (("treebank-pos", {}), ("conll2000-pos", {}), ("ud-ewt", {"tags": "upos"})):
        ds = load_dataset(name, **opts)
        for order in (1, 2):
            core = HMMTaggerCore(order, len(ds.tagset), ds.vocab.n_known, words=ds.vocab.itos)
            core.fit(ds.train.X, ds.train.y)
            vit, post = (accuracy(ds, core.predict(ds.test.X, d)) for d in ("viterbi", "posterior"))
            print(f"{name:<15} {order:>5}   {fmt(vit)}   {fmt(post)}")


if __name__ == "__main__":
    part1()
    part2()
