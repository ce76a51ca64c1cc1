"""Accuracy of seqbench's supervised HMM tagging core on the test splits of the three tagging datasets.

Run: ``SEQBENCH_DATA=/path/to/datasets .venv/bin/python benchmarks/hmm_tagger_accuracy.py``
(reads ``treebank-pos``, ``conll2000-pos`` and ``ud-ewt``). ``HMMTaggerCore``
orders 1 and 2, Viterbi and posterior decoding, accuracy overall / known /
unknown words. Speed and accuracy against NLTK's HMM tagger and TnT:
``seqbench bench peers --only tagger``.
"""
from __future__ import annotations

from seqbench.data import load_dataset
from seqbench.metrics import token_accuracy_by_known
from seqbench.models._hmm_tagger import HMMTaggerCore


def accuracy(ds, pred_ids):
    """Overall / known / unknown accuracy on the test split."""
    known = [ds.vocab.is_known(x) for x in ds.test.X]
    return token_accuracy_by_known(ds.test.y, pred_ids, known)


def fmt(acc):
    return f"{acc['overall'] * 100:6.2f} {acc['known'] * 100:6.2f} {acc['unknown'] * 100:6.2f}"


def main():
    print("accuracy of HMMTaggerCore on the test splits (overall / known / unknown %)\n")
    print(f"{'dataset':<15} {'order':>5} {'viterbi':>22} {'posterior':>22}")
    for name, opts in (("treebank-pos", {}), ("conll2000-pos", {}), ("ud-ewt", {"tags": "upos"})):
        ds = load_dataset(name, **opts)
        for order in (1, 2):
            core = HMMTaggerCore(order, len(ds.tagset), ds.vocab.n_known, words=ds.vocab.itos)
            core.fit(ds.train.X, ds.train.y)
            vit, post = (accuracy(ds, core.predict(ds.test.X, d)) for d in ("viterbi", "posterior"))
            print(f"{name:<15} {order:>5}   {fmt(vit)}   {fmt(post)}")


if __name__ == "__main__":
    main()
