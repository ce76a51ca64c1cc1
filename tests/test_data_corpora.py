"""Named datasets on the real corpora: published counts, nltk as oracle, standardisation.

Each test needs files under the data root ($SEQBENCH_DATA); it skips when they
are absent, unless CI=true, where it fails.
"""
import gzip
import hashlib
import json
import os

import numpy as np
import pytest

from seqbench.data import data_root, fetch, load_dataset
from seqbench.data.fetch import find_file, load_sources
from seqbench.data.loaders import read_conllu
from seqbench.exceptions import ConfigError

pytestmark = pytest.mark.corpus


def need(*relpaths):
    """Paths of the given corpus files under the data root; skip (or fail on CI) when missing."""
    root = data_root()
    found = [find_file(root, p) for p in relpaths]
    missing = [p for p, f in zip(relpaths, found) if f is None]
    if missing:
        msg = f"corpus files {missing} not under {root} (set SEQBENCH_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return found


@pytest.fixture(scope="module")
def ud():
    need(*(f"ud_english_ewt/en_ewt-ud-{k}.conllu" for k in ("train", "dev", "test")))
    return load_dataset("ud-ewt")


def test_ptb_published_counts():
    need(*(f"ptb_mikolov/ptb.{k}.txt" for k in ("train", "valid", "test")))
    ds = load_dataset("ptb")
    assert ds.info["n_tokens"] == {"train": 929_589, "valid": 73_760, "test": 82_430}
    assert ds.info["n_sequences"] == {"train": 42_068, "valid": 3_370, "test": 3_761}
    v = ds.vocab
    # Mikolov's 10,000 types (9,999 words incl. <unk>, plus <eos>) and <bos>
    assert len(v) == 10_001 and v.itos[:3] == ("<unk>", "<bos>", "<eos>")
    assert v.counts[v.unk_id] == 45_020 and v.counts[v.eos_id] == 42_068 and v.counts[v.bos_id] == 0
    # a closed vocabulary: the only unknown tokens of valid are the literal <unk>s (3,485)
    assert round(ds.info["oov_rate"]["valid"] * 73_760) == 3_485
    assert all(x[-1] == v.eos_id for x in ds.test.X[:100])
    assert not any((x == v.bos_id).any() for x in ds.train.X)
    assert v.decode(ds.train.X[1])[:5] == ["pierre", "<unk>", "N", "years", "old"]


def test_sources_checksums_match_local_copies():
    """sources.toml gives sha256 of the downloaded (uncompressed) bytes; a .gz copy must decompress to them."""
    for name, entry in load_sources().items():
        for spec in entry["files"]:
            (path,) = need(spec["path"])
            data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == spec["sha256"], spec["path"]
            assert len(data) == spec["bytes"]
        assert fetch(name) == [find_file(data_root(), f["path"]) for f in entry["files"]]  # nothing to download


def test_ud_ewt_counts(ud):
    assert ud.info["n_sequences"] == {"train": 12_544, "valid": 2_001, "test": 2_077}
    assert ud.info["n_tokens"] == {"train": 204_577, "valid": 25_147, "test": 25_094}
    assert sorted(ud.tagset.itos) == sorted("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT "
                                            "SCONJ SYM VERB X".split())
    v = ud.vocab
    assert v.n_known < len(v)  # dev/test words unseen in train keep their strings
    assert v.is_known(np.concatenate(ud.train.X)).all()  # min_count=1: every train word is known
    unseen = np.concatenate(ud.test.X)
    unseen = unseen[unseen >= v.n_known]
    assert len(unseen) and not set(v.decode(unseen)) & set(v.itos[: v.n_known])


def test_conllu_reader_against_plain_column_parse():
    """Independent oracle: the integer-ID lines of the dev file, split on tabs."""
    (path,) = need("ud_english_ewt/en_ewt-ud-dev.conllu")
    sents, cur = [], []
    with (gzip.open(path, "rt", encoding="utf-8") if path.name.endswith(".gz") else open(path)) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if cols[0].isdigit():
                cur.append((cols[1], cols[3], cols[4]))
            elif not line.strip() and cur:
                sents.append(cur)
                cur = []
    assert [list(zip(w, t)) for w, t in read_conllu(path)] == [[(a, b) for a, b, _ in s] for s in sents]
    assert [t for _, t in read_conllu(path, tags="xpos")] == [[c for _, _, c in s] for s in sents]


def test_ud_ewt_xpos_option(ud):
    ds = load_dataset("ud-ewt", tags="xpos")
    assert len(ds.tagset) == 49 and "NN" in ds.tagset and "HYPH" in ds.tagset
    assert ds.vocab == ud.vocab and all(np.array_equal(a, b) for a, b in zip(ds.test.X, ud.test.X))


@pytest.fixture
def nltk_reader(monkeypatch):
    """``nltk_reader(name)``: nltk's own reader over the zip under the data root (the oracle)."""
    nltk = pytest.importorskip("nltk")
    from nltk.corpus.reader import BracketParseCorpusReader, ConllChunkCorpusReader

    monkeypatch.setattr(nltk.data, "path", [str(data_root() / "nltk_data")] + list(nltk.data.path))

    def reader(name):
        need(f"nltk_data/corpora/{name}.zip")
        if name == "treebank":
            return BracketParseCorpusReader(nltk.data.find("corpora/treebank.zip/treebank/combined/"),
                                            r"wsj_.*\.mrg")
        return ConllChunkCorpusReader(nltk.data.find("corpora/conll2000.zip/conll2000/"), r".*\.txt",
                                      ("NP", "VP", "PP"))

    return reader


def test_treebank_pos_matches_nltk(nltk_reader):
    ref = [[(w, t) for w, t in s if t != "-NONE-"] for s in nltk_reader("treebank").tagged_sents()]
    assert len(ref) == 3_914 and sum(map(len, ref)) == 94_084
    ds = load_dataset("treebank-pos")
    # 3,914 sentences: test = last 3914 - 3914*90//100 = 392; train part 3,522 -> valid = 3522 - 3169 = 353
    assert ds.info["n_sequences"] == {"train": 3_169, "valid": 353, "test": 392}
    mine = [list(zip(ds.vocab.decode(x), ds.tagset.decode(y)))
            for part in (ds.train, ds.valid, ds.test) for x, y in zip(part.X, part.y)]
    assert mine == ref
    assert len(ds.tagset) == 45 and "-NONE-" not in ds.tagset
    # valid=False: NLTK's 90/10 split, the first 3,522 sentences train and the same 392 test
    flat = load_dataset("treebank-pos", valid=False)
    assert flat.info["n_sequences"] == {"train": 3_522, "valid": 0, "test": 392}
    assert [list(zip(flat.vocab.decode(x), flat.tagset.decode(y))) for x, y in zip(flat.train.X, flat.train.y)] \
        == ref[:3_522]
    assert [flat.vocab.decode(x) for x in flat.test.X] == [[w for w, _ in s] for s in ref[3_522:]]
    with pytest.raises(ConfigError, match="valid must be true or false"):
        load_dataset("treebank-pos", valid="no")


def test_conll2000_pos_matches_nltk(nltk_reader):
    reader = nltk_reader("conll2000")
    train, test = reader.tagged_sents("train.txt"), reader.tagged_sents("test.txt")
    assert (len(train), len(test)) == (8_936, 2_012)
    ds = load_dataset("conll2000-pos")
    assert ds.info["n_sequences"] == {"train": 8_042, "valid": 894, "test": 2_012}  # 8936*90//100 = 8042
    assert sum(ds.info["n_tokens"][k] for k in ("train", "valid")) == 211_727
    assert ds.info["n_tokens"]["test"] == 47_377
    got = [list(zip(ds.vocab.decode(x), ds.tagset.decode(y))) for x, y in zip(ds.test.X, ds.test.y)]
    assert got == [list(s) for s in test]
    assert ds.tagset.decode([0])[0] == "NN"  # the most frequent train tag comes first
    assert ds.tagset.counts.sum() == 190_717  # train part only


def test_tiny_shakespeare_split():
    (path,) = need("tiny_shakespeare/input.txt")
    text = path.read_text(encoding="utf-8")
    ds = load_dataset("tiny-shakespeare")
    # 1,115,394 characters: cuts at 1115394*90//100 and 1115394*95//100
    assert ds.info["cut_points"] == [1_003_854, 1_059_624]
    assert [len(s.X) for s in (ds.train, ds.valid, ds.test)] == [1, 1, 1]
    assert [len(s.X[0]) for s in (ds.train, ds.valid, ds.test)] == [1_003_854, 55_770, 55_770]
    assert len(ds.vocab) == 66 and ds.vocab.itos[0] == "<unk>"  # 65 characters + <unk>
    decoded = "".join("".join(ds.vocab.decode(s.X[0])) for s in (ds.train, ds.valid, ds.test))
    assert decoded == text
    assert ds.vocab.itos[1] == " "  # the most frequent character


@pytest.mark.parametrize("name,column", [("nile", "volume"), ("sunspots", "SUNACTIVITY")])
def test_continuous_standardised_with_train_stats(name, column):
    import statsmodels.api as sm

    raw = getattr(sm.datasets, name).load_pandas().data[column].to_numpy()
    ds = load_dataset(name)
    n = len(raw)
    a, b = n * 72 // 100, n * 80 // 100
    assert [s.X[0].shape for s in (ds.train, ds.valid, ds.test)] == [(a, 1), (b - a, 1), (n - b, 1)]
    mean, std = raw[:a].mean(), raw[:a].std()
    assert ds.info["mean"] == pytest.approx(mean) and ds.info["std"] == pytest.approx(std)
    z = np.concatenate([s.X[0][:, 0] for s in (ds.train, ds.valid, ds.test)])
    np.testing.assert_allclose(z * std + mean, raw, rtol=1e-12)
    assert abs(ds.train.X[0].mean()) < 1e-12 and ds.train.X[0].std() == pytest.approx(1.0)
    assert ds.vocab is None and ds.tagset is None and ds.train.y is None
    json.dumps(ds.info)


def test_co2_missing_weeks():
    import statsmodels.api as sm

    raw = sm.datasets.co2.load_pandas().data["co2"].to_numpy()
    keep = load_dataset("co2", missing="keep")
    z = np.concatenate([s.X[0][:, 0] for s in (keep.train, keep.valid, keep.test)])
    assert np.isnan(z).sum() == np.isnan(raw).sum() == 59
    filled = load_dataset("co2")
    zf = np.concatenate([s.X[0][:, 0] for s in (filled.train, filled.valid, filled.test)])
    assert not np.isnan(zf).any()
    x = zf * filled.info["std"] + filled.info["mean"]
    # week 6 is a single missing week between 5 and 7: linear interpolation is their midpoint
    assert np.isnan(raw[6]) and not np.isnan(raw[5]) and not np.isnan(raw[7])
    assert x[6] == pytest.approx((raw[5] + raw[7]) / 2)
    ok = ~np.isnan(raw)
    np.testing.assert_allclose(x[ok], raw[ok], rtol=1e-12)
