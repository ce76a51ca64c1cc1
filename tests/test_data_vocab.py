"""Vocab: deterministic ids, train-only counts, frozen, encode/decode, unseen types."""
import pickle
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqbench.data import Vocab
from seqbench.exceptions import ConfigError, UnknownSymbolError

TRAIN = [["b", "a", "c", "a"], ["c", "a", "d"]]  # a:3 c:2 b:1 d:1


def test_ids_specials_first_then_count_then_alphabetical():
    v = Vocab.build(TRAIN)
    assert v.itos == ("<unk>", "<bos>", "<eos>", "a", "c", "b", "d")
    assert (v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2)
    assert v.counts.tolist() == [0, 0, 0, 3, 2, 1, 1]
    assert len(v) == 7 and v.n_known == 7
    assert dict(v.stoi) == {t: i for i, t in enumerate(v.itos)}


def test_min_count_folds_rare_types_into_unk():
    v = Vocab.build(TRAIN, min_count=2)
    assert v.itos == ("<unk>", "<bos>", "<eos>", "a", "c")
    assert v.counts[v.unk_id] == 2  # b and d, one each
    assert v.encode(["b", "a", "zzz"]).tolist() == [0, 3, 0]


def test_max_size_counts_specials():
    v = Vocab.build(TRAIN, max_size=5)
    assert v.itos == ("<unk>", "<bos>", "<eos>", "a", "c")
    with pytest.raises(ConfigError):
        Vocab.build(TRAIN, max_size=2)


def test_literal_unk_and_eos_in_text_are_the_specials():
    v = Vocab.build([["x", "<unk>", "<eos>"], ["<unk>", "<eos>"]])
    assert v.itos == ("<unk>", "<bos>", "<eos>", "x")
    assert v.counts.tolist() == [2, 0, 2, 1]
    assert v.encode(["<unk>", "x", "<eos>"]).tolist() == [0, 3, 2]


def test_custom_and_absent_specials():
    v = Vocab.build(["hello"], specials=())
    assert v.itos == ("l", "e", "h", "o")
    assert v.unk_id is None and v.bos_id is None and v.eos_id is None
    with pytest.raises(UnknownSymbolError, match=r"tokens\[1\] = 'z'"):
        v.encode(["h", "z"])
    w = Vocab.build(["ab"], specials=("<unk>",))
    assert w.itos == ("<unk>", "a", "b") and w.eos_id is None


def test_frozen():
    v = Vocab.build(TRAIN)
    with pytest.raises(AttributeError):
        v.itos = ("x",)
    with pytest.raises(AttributeError):
        v.new_attr = 1
    with pytest.raises(TypeError):
        v.stoi["zzz"] = 9
    with pytest.raises(ValueError):
        v.counts[0] = 5
    assert isinstance(v.itos, tuple)
    assert not hasattr(v, "add") and not hasattr(v, "__dict__")


def test_encode_decode_roundtrip_and_errors():
    v = Vocab.build(TRAIN)
    ids = v.encode(["a", "d", "q"])
    assert ids.dtype == np.int64 and ids.tolist() == [3, 6, 0]
    assert v.decode(ids) == ["a", "d", "<unk>"]
    assert v.decode([]) == []
    with pytest.raises(UnknownSymbolError, match=r"ids\[1\] = 7"):
        v.decode([3, 7])
    with pytest.raises(UnknownSymbolError):
        v.decode([-1])


def test_encode_all_names_sequence_and_position():
    v = Vocab.build(TRAIN, specials=())
    out = v.encode_all([["a"], ["c", "d"]])
    assert [x.tolist() for x in out] == [[0], [1, 3]]
    with pytest.raises(UnknownSymbolError, match=r"X\[1\]\[2\] = 'q'"):
        v.encode_all([["a"], ["c", "d", "q"]])


def test_is_known():
    v = Vocab.build(TRAIN)
    assert v.is_known([0, 1, 3, 6, 7, -1]).tolist() == [False, True, True, True, False, False]


def test_with_unseen_keeps_ids_and_strings():
    v = Vocab.build(TRAIN, min_count=2)
    w = v.with_unseen([["zeta", "a", "b"], ["alpha", "zeta"]])
    assert w.itos[: len(v)] == v.itos
    assert w.itos[len(v):] == ("alpha", "b", "zeta")  # sorted; b was below min_count
    assert w.n_known == v.n_known == 5
    assert w.counts[len(v):].tolist() == [0, 0, 0]
    ids = w.encode(["zeta", "a", "nope"])
    assert ids.tolist() == [7, 3, 0]
    assert w.is_known(ids).tolist() == [False, True, False]
    assert w.decode(ids) == ["zeta", "a", "<unk>"]
    assert len(v) == 5  # the original is untouched
    assert w.with_unseen([["alpha"]]) == w


def test_pickle_eq_hash_repr():
    v = Vocab.build(TRAIN).with_unseen([["new"]])
    w = pickle.loads(pickle.dumps(v))
    assert w == v and hash(w) == hash(v)
    assert w.n_known == v.n_known and not w.counts.flags.writeable
    assert v != Vocab.build(TRAIN)
    assert v != Vocab.build(TRAIN, specials=("<unk>",))
    r = repr(v)
    assert "size=8" in r and "n_known=7" in r and "unseen=1" in r


def test_constructor_validates():
    with pytest.raises(ConfigError, match="twice"):
        Vocab(["a", "a"], [1, 1], specials=())
    with pytest.raises(ConfigError, match="not in the vocabulary"):
        Vocab(["a"], [1])
    with pytest.raises(ConfigError, match="counts has 1"):
        Vocab(["a", "b"], [1], specials=())
    with pytest.raises(ConfigError, match="min_count"):
        Vocab.build(TRAIN, min_count=-1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefg"), max_size=8), max_size=6))
def test_property_order_and_counts(seqs):
    v = Vocab.build(seqs)
    brute = Counter(t for s in seqs for t in s)
    types = v.itos[3:]
    assert set(types) == set(brute)
    # descending count, ties alphabetical: exactly the sort of (-count, token)
    assert list(types) == sorted(brute, key=lambda t: (-brute[t], t))
    assert [v.counts[v.stoi[t]] for t in types] == [brute[t] for t in types]
    for s in seqs:
        assert v.decode(v.encode(s)) == list(s)
