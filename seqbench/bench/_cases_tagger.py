"""Supervised tagging peer cases: seqbench ``HMM`` against NLTK's ``HiddenMarkovModelTagger`` and ``TnT``.

Data: ``treebank-pos`` (needs the corpus under ``$SEQBENCH_DATA``; 45 tags,
76k training tokens, 9.2k test tokens; ``quick``: the first 300 training
and 50 test sentences). Every contender gets the same sentences: seqbench
the dataset's ids, NLTK the same words as strings.

- ``tagger-hmm-fit`` / ``tagger-hmm-tag``: the same model on both sides:
  ``HMM(order=1, tagger_smoothing="additive")`` with pseudocounts 0.1
  against ``HiddenMarkovModelTrainer(states, symbols).train_supervised``
  with ``LidstoneProbDist(0.1)``, given seqbench's tag and word lists so
  that both count the same bins. Agreement: the share of sentences whose
  Viterbi tags are identical (must be 1). NLTK's per-sentence Viterbi tags
  the first 200 test sentences only (all in ``quick``);
- ``tagger-tnt-fit`` / ``tagger-tnt-tag``: ``HMM(order=2, vocab=...)``
  (seqbench's TnT) against ``nltk.tag.tnt.TnT`` (NLTK's defaults). The two
  TnTs differ in their unknown-word models and NLTK's beam, so agreement
  is the tagging accuracy of both on the same sentences, recorded and not
  judged.
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


LIDSTONE = 0.1


def nltk_hmm_train(sents, states=None, symbols=None):
    """NLTK's supervised HMM tagger with Lidstone(0.1) estimates (bins: the given or the seen tags and words)."""
    from nltk.probability import LidstoneProbDist
    from nltk.tag.hmm import HiddenMarkovModelTrainer

    lidstone = lambda fd, bins: LidstoneProbDist(fd, LIDSTONE, bins)  # noqa: E731
    trainer = HiddenMarkovModelTrainer(states and list(states), symbols and list(symbols))
    return trainer.train_supervised(sents, estimator=lidstone)


def _nltk_hmm_same_bins(ds):
    """NLTK's Lidstone HMM trainer over seqbench's tag list and vocabulary (the same bins as HMM)."""
    return lambda sents: nltk_hmm_train(sents, ds.tagset.itos, ds.vocab.itos)


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

    if order == 1:  # the Lidstone model, as NLTK's trainer
        return HMM(order=1, vocab=ds.vocab, tagger_smoothing="additive", emission_pseudocount=LIDSTONE,
                   transition_pseudocount=LIDSTONE).fit(Xtr, ytr)
    return HMM(order=order, vocab=ds.vocab).fit(Xtr, ytr)


def _label(order):
    return "HMM(order=1) additive" if order == 1 else f"HMM(order={order})"


def _peer_trainer(order, peer_train, ds):
    return peer_train(ds) if order == 1 else peer_train  # order 1: NLTK gets seqbench's bins


def _fit_case(order, peer_name, peer_train, seed, quick):
    Xtr, ytr, _, _, ds, train, _, description = tagging_data(quick)
    n = sum(map(len, Xtr))
    train_peer = _peer_trainer(order, peer_train, ds)
    return Prepared(description, [
        Contender(f"seqbench {_label(order)}.fit", "seqbench", lambda: _seqbench(order, ds, Xtr, ytr), n),
        Contender(peer_name, "nltk", lambda: train_peer(train), n, requires=("nltk",), install=NLTK),
    ])


def _tag_case(order, peer_name, peer_train, n_peer, seed, quick):
    Xtr, ytr, Xte, yte, ds, train, test, description = tagging_data(quick)
    ours = _seqbench(order, ds, Xtr, ytr)
    sub = test[:n_peer]
    n = len(sub)
    stoi = ds.tagset.stoi
    train_peer = _peer_trainer(order, peer_train, ds)
    peer = {}

    def theirs():
        return [[t for _, t in peer["model"].tag(words)] for words in sub]

    def both():
        mine = ours.predict(Xte[:n])
        predicted = [np.array([stoi.get(t, -1) for t in s]) for s in theirs()]
        peer["accuracy"] = (accuracy(yte[:n], mine), accuracy(yte[:n], predicted))
        return mine, predicted

    def same_tags():  # the same model: every sentence gets the same Viterbi tags
        mine, predicted = both()
        return 1.0, float(np.mean([np.array_equal(a, b) for a, b in zip(mine, predicted)]))

    def accuracies():  # different models: the accuracies are recorded, not judged
        both()
        return peer["accuracy"]

    if order == 1:
        check = dict(agree=same_tags, rtol=0.0, what=f"share of the {n} sentences tagged identically")
    else:
        check = dict(agree=accuracies, rtol=None,
                     what=f"tagging accuracy on the {n} sentences the peer tags (different models)")
    return Prepared(description, [
        Contender(f"seqbench {_label(order)}.predict", "seqbench", lambda: ours.predict(Xte),
                  sum(map(len, Xte)), metrics=lambda: {"accuracy": accuracy(yte, ours.predict(Xte))}),
        Contender(peer_name, "nltk", theirs, sum(map(len, sub)), requires=("nltk",), install=NLTK,
                  prepare=lambda: peer.setdefault("model", train_peer(train)), **check,
                  metrics=lambda: dict(zip(("seqbench_accuracy", "accuracy"), peer["accuracy"]))),
    ])


@case("tagger-hmm-fit", "tagger", "fit", "token", "supervised bigram HMM tagger training (Lidstone 0.1)")
def _hmm_fit(seed, quick):
    return _fit_case(1, "NLTK HiddenMarkovModelTrainer (Lidstone 0.1)", _nltk_hmm_same_bins, seed, quick)


@case("tagger-hmm-tag", "tagger", "tag", "token", "Viterbi tagging with the same bigram HMM tagger")
def _hmm_tag(seed, quick):
    return _tag_case(1, "NLTK HiddenMarkovModelTagger.tag", _nltk_hmm_same_bins,
                     QUICK_TEST if quick else NLTK_HMM_SENTENCES, seed, quick)


@case("tagger-tnt-fit", "tagger", "fit", "token", "supervised trigram HMM tagger training")
def _tnt_fit(seed, quick):
    return _fit_case(2, "NLTK TnT.train", nltk_tnt_train, seed, quick)


@case("tagger-tnt-tag", "tagger", "tag", "token", "tagging with a trigram HMM tagger")
def _tnt_tag(seed, quick):
    return _tag_case(2, "NLTK TnT.tag", nltk_tnt_train, None, seed, quick)
