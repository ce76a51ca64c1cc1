"""Supervised tagging peer cases: seqbench ``HMM`` against NLTK's ``HiddenMarkovModelTagger`` and ``TnT``.

Data: ``treebank-pos`` (needs the corpus under ``$SEQBENCH_DATA``; 45 tags,
76k training tokens, 9.2k test tokens; ``quick``: the first 300 training
and 50 test sentences). Every contender gets the same sentences: seqbench
the dataset's ids, NLTK the same words as strings.

- ``tagger-hmm-fit`` / ``tagger-hmm-tag``: ``HMM(order=1, vocab=...)``
  against ``HiddenMarkovModelTrainer().train_supervised`` with Lidstone 0.1
  emissions; NLTK's per-sentence Viterbi tags the first 200 test sentences
  only (all in ``quick``);
- ``tagger-tnt-fit`` / ``tagger-tnt-tag``: ``HMM(order=2, vocab=...)``
  against ``nltk.tag.tnt.TnT`` (no unknown-word model).

The models differ (seqbench has a suffix model of unknown words), so
agreement is the tagging accuracy of both on the same sentences, recorded
and not judged.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .peers import Contender, Prepared, Unavailable, case

NLTK_HMM_SENTENCES = 200
QUICK_TRAIN, QUICK_TEST = 300, 50
NLTK = "pip install 'seqbench[peers]' (nltk)"


@lru_cache(maxsize=2)
def tagging_data(quick):
    """``(X_train, y_train, X_test, y_test, vocab, train_words, test_words, description)`` of treebank-pos."""
    from ..data import load_dataset
    from ..exceptions import DatasetUnavailableError

    try:
        ds = load_dataset("treebank-pos")
    except DatasetUnavailableError as exc:
        raise Unavailable(f"treebank-pos is not available: {exc}") from None
    n_train, n_test = (QUICK_TRAIN, QUICK_TEST) if quick else (len(ds.train.X), len(ds.test.X))
    Xtr, ytr, Xte, yte = ds.train.X[:n_train], ds.train.y[:n_train], ds.test.X[:n_test], ds.test.y[:n_test]
    itos, tags = ds.vocab.itos, ds.tagset.itos
    train = [[(itos[w], tags[t]) for w, t in zip(x, y)] for x, y in zip(Xtr, ytr)]
    test = [[itos[w] for w in x] for x in Xte]
    description = (f"treebank-pos: {len(ds.tagset)} tags, {sum(map(len, Xtr)):,} training tokens "
                   f"({len(Xtr)} sentences), {sum(map(len, Xte)):,} test tokens ({len(Xte)} sentences)")
    return Xtr, ytr, Xte, yte, ds, train, test, description


def nltk_hmm_train(sents):
    """NLTK's supervised HMM tagger with Lidstone(0.1) estimates."""
    from nltk.probability import LidstoneProbDist
    from nltk.tag.hmm import HiddenMarkovModelTrainer

    lidstone = lambda fd, bins: LidstoneProbDist(fd, 0.1, bins)  # noqa: E731
    return HiddenMarkovModelTrainer().train_supervised(sents, estimator=lidstone)


def nltk_tnt_train(sents):
    from nltk.tag.tnt import TnT

    tagger = TnT()
    tagger.train(sents)
    return tagger


def accuracy(y_true, y_pred):
    """Token accuracy over a list of tag arrays."""
    return float(np.mean(np.concatenate(y_true) == np.concatenate(y_pred)))


def _seqbench(order, ds, Xtr, ytr):
    from ..models import HMM

    return HMM(order=order, vocab=ds.vocab).fit(Xtr, ytr)


def _fit_case(order, peer_name, peer_train, seed, quick):
    Xtr, ytr, _, _, ds, train, _, description = tagging_data(quick)
    n = sum(map(len, Xtr))
    return Prepared(description, [
        Contender(f"seqbench HMM(order={order}).fit", "seqbench", lambda: _seqbench(order, ds, Xtr, ytr), n),
        Contender(peer_name, "nltk", lambda: peer_train(train), n, requires=("nltk",), install=NLTK),
    ])


def _tag_case(order, peer_name, peer_train, n_peer, seed, quick):
    Xtr, ytr, Xte, yte, ds, train, test, description = tagging_data(quick)
    ours = _seqbench(order, ds, Xtr, ytr)
    sub = test[:n_peer]
    stoi = ds.tagset.stoi
    peer = {}

    def theirs():
        return [[t for _, t in peer["model"].tag(words)] for words in sub]

    def agree():
        predicted = [np.array([stoi.get(t, -1) for t in s]) for s in theirs()]
        n = len(sub)
        peer["accuracy"] = (accuracy(yte[:n], ours.predict(Xte[:n])), accuracy(yte[:n], predicted))
        return peer["accuracy"]

    return Prepared(description, [
        Contender(f"seqbench HMM(order={order}).predict", "seqbench", lambda: ours.predict(Xte),
                  sum(map(len, Xte)), metrics=lambda: {"accuracy": accuracy(yte, ours.predict(Xte))}),
        Contender(peer_name, "nltk", theirs, sum(map(len, sub)), requires=("nltk",), install=NLTK,
                  prepare=lambda: peer.setdefault("model", peer_train(train)), agree=agree, rtol=None,
                  what=f"tagging accuracy on the {len(sub)} sentences the peer tags (different models)",
                  metrics=lambda: dict(zip(("seqbench_accuracy", "accuracy"), peer["accuracy"]))),
    ])


@case("tagger-hmm-fit", "tagger", "fit", "token", "supervised bigram HMM tagger training")
def _hmm_fit(seed, quick):
    return _fit_case(1, "NLTK HiddenMarkovModelTrainer (Lidstone 0.1)", nltk_hmm_train, seed, quick)


@case("tagger-hmm-tag", "tagger", "tag", "token", "Viterbi tagging with a bigram HMM tagger")
def _hmm_tag(seed, quick):
    return _tag_case(1, "NLTK HiddenMarkovModelTagger.tag", nltk_hmm_train,
                     QUICK_TEST if quick else NLTK_HMM_SENTENCES, seed, quick)


@case("tagger-tnt-fit", "tagger", "fit", "token", "supervised trigram HMM tagger training")
def _tnt_fit(seed, quick):
    return _fit_case(2, "NLTK TnT.train", nltk_tnt_train, seed, quick)


@case("tagger-tnt-tag", "tagger", "tag", "token", "tagging with a trigram HMM tagger")
def _tnt_tag(seed, quick):
    return _tag_case(2, "NLTK TnT.tag", nltk_tnt_train, None, seed, quick)
