"""Input validation: every error names the sequence, the position and the value."""
import numpy as np
import pytest

from seqbench._validation import check_sequences, check_tags, from_concat, pad_batch, to_concat
from seqbench.exceptions import InvalidSequenceError, UnknownSymbolError


def test_discrete_ok_and_dtype():
    X = check_sequences([[1, 2, 3], np.array([0], dtype=np.int8), np.array([4.0, 5.0])])
    assert [x.dtype for x in X] == [np.int64] * 3
    assert [x.tolist() for x in X] == [[1, 2, 3], [0], [4, 5]]


@pytest.mark.parametrize(
    "X,exc,msg",
    [
        ([], InvalidSequenceError, "X is empty"),
        ([[1], []], InvalidSequenceError, r"X\[1\] is empty"),
        ([1, 2], InvalidSequenceError, r"X\[0\] is the number 1"),
        (np.array([1, 2]), InvalidSequenceError, "flat 1-D array"),
        ([[1, 2], [[1, 2]]], InvalidSequenceError, r"X\[1\] has shape \(1, 2\)"),
        ([[0, 1.25]], InvalidSequenceError, r"X\[0\]\[1\] = 1\.25 is not an integer"),
        ([[0, np.nan]], InvalidSequenceError, r"X\[0\]\[1\] = nan"),
        ([[0, 3, -2]], UnknownSymbolError, r"X\[0\]\[2\] = -2 is negative"),
        ([[True, False]], InvalidSequenceError, r"X\[0\] has dtype bool"),
        (["hello"], InvalidSequenceError, r"X\[0\] is str"),
        ("hello", InvalidSequenceError, "list of sequences"),
        (None, InvalidSequenceError, "list of sequences"),
    ],
)
def test_discrete_errors(X, exc, msg):
    with pytest.raises(exc, match=msg):
        check_sequences(X)


def test_vocab_range():
    check_sequences([[0, 4]], vocab_size=5)
    with pytest.raises(UnknownSymbolError, match=r"X\[1\]\[2\] = 5 is out of range; expected ids in \[0, 5\)"):
        check_sequences([[0], [1, 2, 5]], vocab_size=5)


def test_continuous():
    X = check_sequences([np.zeros((3, 2)), np.ones((1, 2))], kind="continuous")
    assert X[0].shape == (3, 2) and X[0].dtype == np.float64
    one_d = check_sequences([np.arange(4.0)], kind="continuous")
    assert one_d[0].shape == (4, 1)
    with pytest.raises(InvalidSequenceError, match=r"X\[1\] has 3 features; expected 2"):
        check_sequences([np.zeros((3, 2)), np.zeros((2, 3))], kind="continuous")
    bad = np.zeros((4, 2))
    bad[2, 1] = np.nan
    with pytest.raises(InvalidSequenceError, match=r"X\[0\]\[2, 1\] is NaN"):
        check_sequences([bad], kind="continuous")
    assert np.isnan(check_sequences([bad], kind="continuous", allow_nan=True)[0][2, 1])
    bad[2, 1] = np.inf
    with pytest.raises(InvalidSequenceError, match="infinite"):
        check_sequences([bad], kind="continuous", allow_nan=True)
    with pytest.raises(InvalidSequenceError, match="single 2-D array"):
        check_sequences(np.zeros((5, 2)), kind="continuous")


def test_tags():
    X = check_sequences([[1, 2, 3], [4, 5]])
    assert [t.tolist() for t in check_tags([[0, 1, 0], [2, 2]], X)] == [[0, 1, 0], [2, 2]]
    with pytest.raises(InvalidSequenceError, match=r"y\[1\] has 1 tags for 2 tokens"):
        check_tags([[0, 1, 0], [2]], X)
    with pytest.raises(InvalidSequenceError, match="y has 1 sequences for 2"):
        check_tags([[0, 1, 0]], X)
    with pytest.raises(UnknownSymbolError, match=r"y\[0\]\[1\] = 7 is out of range"):
        check_tags([[0, 7, 0], [2, 2]], X, n_tags=3)
    with pytest.raises(UnknownSymbolError, match=r"y\[0\]\[1\] = -1 is negative"):
        check_tags([[0, -1, 0], [2, 2]], X)
    semi = check_tags([[0, -1, 0], [-1, 2]], X, allow_unknown=True)
    assert semi[1].tolist() == [-1, 2]


def test_concat_and_pad_roundtrip():
    X = [np.array([1, 2, 3]), np.array([4]), np.array([5, 6])]
    cat, lengths = to_concat(X)
    assert cat.shape == (6, 1) and lengths.tolist() == [3, 1, 2]
    back = from_concat(cat[:, 0], lengths)
    assert [b.tolist() for b in back] == [x.tolist() for x in X]
    batch, lengths = pad_batch(X, pad_value=-1)
    assert batch.tolist() == [[1, 2, 3], [4, -1, -1], [5, 6, -1]]
    cont, _ = pad_batch([np.ones((2, 3)), np.ones((1, 3))])
    assert cont.shape == (2, 2, 3) and cont[1, 1].sum() == 0
