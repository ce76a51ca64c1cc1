"""Corpus readers on small hand-written files (plain and gzip)."""
import gzip
import zipfile

import pytest

from seqbench.data import loaders
from seqbench.exceptions import ConfigError, InvalidSequenceError


def _write(path, text):
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["c.txt", "c.txt.gz"])
def test_read_text_plain_and_gzip(tmp_path, name):
    p = _write(tmp_path / name, " the cat <unk>\n\n  sat  down \n")
    assert list(loaders.read_text(p)) == [["the", "cat", "<unk>"], ["sat", "down"]]


def test_read_chars_keeps_newlines(tmp_path):
    p = _write(tmp_path / "s.txt.gz", "ab\nc é\n")
    assert loaders.read_chars(p) == "ab\nc é\n"


def test_read_tagged(tmp_path):
    p = _write(tmp_path / "t.tsv", "The\tDT\ndog\tNN\n\n\nRuns\tVBZ\n")
    assert list(loaders.read_tagged(p)) == [(["The", "dog"], ["DT", "NN"]), (["Runs"], ["VBZ"])]


def test_read_tagged_malformed_line_names_file_and_line(tmp_path):
    p = _write(tmp_path / "bad.tsv", "The\tDT\n\ndog NN\n")
    with pytest.raises(InvalidSequenceError, match=r"bad\.tsv, line 3: .*word<TAB>tag.*'dog NN'"):
        list(loaders.read_tagged(p))
    q = _write(tmp_path / "empty_tag.tsv", "The\t\n")
    with pytest.raises(InvalidSequenceError, match="line 1"):
        list(loaders.read_tagged(q))


CONLLU = """# sent_id = s1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tit\tit\tPRON\tPRP\t_\t_\t_\t4:obj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = s2
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_

"""


@pytest.mark.parametrize("name", ["u.conllu", "u.conllu.gz"])
def test_read_conllu_skips_ranges_and_empty_nodes(tmp_path, name):
    p = _write(tmp_path / name, CONLLU)
    assert list(loaders.read_conllu(p)) == [
        (["I", "do", "n't", "know", "."], ["PRON", "AUX", "PART", "VERB", "PUNCT"]),
        (["Yes"], ["INTJ"]),
    ]
    assert [t for _, t in loaders.read_conllu(p, tags="xpos")] == [["PRP", "VBP", "RB", "VB", "."], ["UH"]]


def test_read_conllu_missing_tag_and_bad_option(tmp_path):
    p = _write(tmp_path / "u.conllu", "# sent_id = a\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n\n")
    with pytest.raises(InvalidSequenceError, match=r"sentence 1 .*word 1 'Hi' has no XPOS"):
        list(loaders.read_conllu(p, tags="xpos"))
    with pytest.raises(ConfigError):
        list(loaders.read_conllu(p, tags="lemma"))


MRG_1 = """( (S
    (NP-SBJ (NNP Pierre) (NNP Vinken) )
    (VP (MD will) (-NONE- *-1) )
    (. .) ))
( (S (NP (PRP It)) (VP (VBZ is) (-NONE- *T*)) (. .) ))
"""
MRG_2 = "( (NP (-NONE- *U*) ))\n( (S (NP (-LRB- -LRB-) (CD 3) (-RRB- -RRB-)) ))\n"


def test_read_treebank_zip_sorted_files_and_none_dropped(tmp_path):
    p = tmp_path / "treebank.zip"
    with zipfile.ZipFile(p, "w") as zf:  # written out of order on purpose
        zf.writestr("treebank/combined/wsj_0002.mrg", MRG_2)
        zf.writestr("treebank/combined/wsj_0001.mrg", MRG_1)
        zf.writestr("treebank/combined/README", "(not a tree)")
        zf.writestr("treebank/tagged/wsj_0001.pos", "[ x/NN ]")
    assert list(loaders.read_treebank_zip(p)) == [
        (["Pierre", "Vinken", "will", "."], ["NNP", "NNP", "MD", "."]),
        (["It", "is", "."], ["PRP", "VBZ", "."]),
        # the all-trace tree of wsj_0002 has no real token left and is dropped
        (["-LRB-", "3", "-RRB-"], ["-LRB-", "CD", "-RRB-"]),
    ]
    kept = list(loaders.read_treebank_zip(p, drop_none=False))
    assert kept[0][1] == ["NNP", "NNP", "MD", "-NONE-", "."] and kept[0][0][3] == "*-1"
    assert len(kept) == 4


def test_read_treebank_zip_unbalanced(tmp_path):
    p = tmp_path / "treebank.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("treebank/combined/wsj_0001.mrg", "( (S (NN x) )\n")
    with pytest.raises(InvalidSequenceError, match="wsj_0001.mrg: unbalanced"):
        list(loaders.read_treebank_zip(p))


def test_read_conll2000_zip(tmp_path):
    p = tmp_path / "conll2000.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("conll2000/train.txt", "He PRP B-NP\nran VBD B-VP\n\nOK UH O\n")
        zf.writestr("conll2000/test.txt", "Hi UH O\nthere RB\n")
    assert list(loaders.read_conll2000_zip(p, "train")) == [
        (["He", "ran"], ["PRP", "VBD"], ["B-NP", "B-VP"]), (["OK"], ["UH"], ["O"])]
    with pytest.raises(InvalidSequenceError, match=r"conll2000/test\.txt, line 2: .*word POS chunk"):
        list(loaders.read_conll2000_zip(p, "test"))
    with pytest.raises(ConfigError):
        list(loaders.read_conll2000_zip(p, "dev"))
