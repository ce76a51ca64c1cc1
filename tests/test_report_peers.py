"""The peers page: a peers store written in the test -> HTML tables, limits, ratio figure, provenance, index."""
import base64
import hashlib
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from _html import parse
from seqbench.bench import write_results
from seqbench.bench import peers as peers_module
from seqbench.bench.peers import ROW_KEYS, Case, Contender, Prepared
from seqbench.cli import app
from seqbench.report import write_index
from seqbench.report.peers_page import write_peers_page

EVIL_LIBRARY = "<script>alert(1)</script>"
EVIL_TRACEBACK = 'Traceback: <img src=x onerror="window.__xss=1">'
STARTED, FINISHED = "2026-01-02T03:04:05+00:00", "2026-01-02T03:05:00+00:00"
INFO = {"size": "quick", "seed": 7, "repeats": 3, "cases": ["machine-limits", "hmm-score", "neural-lstm"],
        "machine": {"cpu": "Test CPU", "logical_cores": 2}, "versions": {"seqbench": "0.1.0", "numpy": "2.0"},
        "command": "seqbench bench peers --quick --repeats 3 --seed 7", "wall_seconds": 12.5}


def _row(case, contender, library, role, unit, n_items, seconds, **values):
    """A peers row as the runner makes it; every derived number is given by hand in the test."""
    row = dict.fromkeys(ROW_KEYS)
    row.update(case=case, family=case.split("-")[0], operation="op", unit=unit, data=f"{case} data",
               contender=contender, library=library, role=role, status="ok", n_items=n_items, seconds=seconds,
               seconds_median=sorted(seconds)[len(seconds) // 2] if seconds else None,
               seconds_min=min(seconds) if seconds else None, metrics={}, note="", agreement=None)
    row.update(values)
    return row


def _agreement(max_abs, max_rel, ok, rtol=1e-10, what="total log-likelihood"):
    return {"what": what, "max_abs": max_abs, "max_rel": max_rel, "rtol": rtol, "atol": 0.0, "ok": ok}


ROWS = [
    # 4e9 FLOPs in the fastest 0.25 s: 16 GFLOP/s; 3e9 bytes in the fastest 0.5 s: 6 GB/s
    _row("machine-limits", "fp32 matmul peak (torch.mm 2048x2048)", "machine", "limit", "FLOP", 4_000_000_000,
         [0.5, 0.25, 0.4]),
    _row("machine-limits", "memory bandwidth (numpy copy)", "machine", "limit", "byte", 3_000_000_000,
         [0.5, 0.6, 0.7]),
    # seqbench: 1000 tokens in 0.2 s (5,000 tokens/s); its ratio to itself is 1
    _row("hmm-score", "seqbench HMM.score_tokens", "seqbench", "seqbench", "token", 1000, [0.3, 0.2, 0.1],
         items_per_s=5000.0, time_ratio=1.0, speedup=1.0, metrics={"accuracy": 0.91234}),
    # 1000 tokens in 0.8 s: (0.2/1000) / (0.8/1000) = 0.25
    _row("hmm-score", "hmmlearn score", "hmmlearn", "peer", "token", 1000, [0.8, 0.9, 0.7],
         items_per_s=1250.0, time_ratio=0.25, speedup=4.0, agreement=_agreement(1.5e-9, 3e-12, True)),
    # 200 tokens in 0.1 s: (0.2/1000) / (0.1/200) = 0.4
    _row("hmm-score", 'evil "peer"', EVIL_LIBRARY, "peer", "token", 200, [0.1, 0.1, 0.1],
         items_per_s=2000.0, time_ratio=0.4, speedup=2.5, agreement=_agreement(0.5, 4e-4, False)),
    # 1000 tokens in 0.05 s: (0.2/1000) / (0.05/1000) = 4
    _row("hmm-score", "fastlib score", "fastlib", "peer", "token", 1000, [0.05, 0.05, 0.05],
         items_per_s=20000.0, time_ratio=4.0, speedup=0.25, note="a sample"),
    _row("hmm-score", "ghost score", "ghostlib", "peer", "token", 1000, [], status="unavailable",
         error="ghostlib not importable: pip install ghostlib"),
    _row("hmm-score", "broken score", "brokenlib", "peer", "token", 1000, [], status="failed",
         error="RuntimeError: peer crashed", traceback=EVIL_TRACEBACK),
    # 8e9 FLOPs in 2 s = 4 GFLOP/s = 25% of 16; in 1 s = 8 GFLOP/s = 50%; ratio (2/6400)/(1/6400) = 2
    _row("neural-lstm", "seqbench LSTM.fit (1 epoch)", "seqbench", "seqbench", "token", 6400, [2.0, 2.0, 2.0],
         items_per_s=3200.0, time_ratio=1.0, speedup=1.0, flops=8e9, gflops=4.0, fraction_of_peak=0.25),
    _row("neural-lstm", "bare PyTorch loop", "torch", "peer", "token", 6400, [1.0, 1.0, 1.0],
         items_per_s=6400.0, time_ratio=2.0, speedup=0.5, flops=8e9, gflops=8.0, fraction_of_peak=0.5),
]


def _store(folder):
    path = folder / "peers" / "peers.sqlite"
    write_results(ROWS, path, info=INFO, started=STARTED, finished=FINISHED)
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("peers")
    store = _store(tmp / "reports")
    path = write_peers_page(store)
    html = path.read_text()
    root, doctype = parse(html)  # strict: a tag closed out of order raises
    return {"store": store, "path": path, "html": html, "root": root, "doctype": doctype, "tmp": tmp}


def _table(root, caption_start):
    for t in root.iter("table"):
        if t.find("caption") is not None and t.find("caption").text.startswith(caption_start):
            return t
    raise AssertionError(f"no table captioned {caption_start!r}")


def _header(table):
    return [th.text for th in table.find("thead").iter("th")]


def _rows(table):
    return {tr.find("td").text: {h: td for h, td in zip(_header(table), tr.iter("td"))}
            for tr in table.find("tbody").iter("tr")}


def _card(root, section_id):
    dl = root.find("section", id=section_id).find("dl")
    return dict(zip([n.text for n in dl.iter("dt")], [n.text for n in dl.iter("dd")]))


def test_page_is_well_formed_with_csp_and_only_the_sort_script(page):
    root, html = page["root"], page["html"]
    assert page["path"] == page["store"].with_name("index.html")
    assert page["doctype"].lower() == "doctype html" and root.find("html").attrs["lang"] == "en"
    csp = root.find("meta", **{"http-equiv": "Content-Security-Policy"}).attrs["content"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1]
    scripts = root.find_all("script")
    assert len(scripts) == 1 and html.count("<script") == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].text.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    for node in root.iter():
        assert not any(name.startswith("on") for name in node.attrs), (node.tag, node.attrs)
        for name in ("src", "href", "xlink:href", "action"):
            value = node.attrs.get(name)
            assert value is None or value.startswith("#") or value.startswith("data:"), (node.tag, value)
    assert page["path"].stat().st_mode & 0o777 == 0o644


def test_case_table_shows_the_stored_numbers(page):
    table = _table(page["root"], "hmm-score: op (hmm-score data)")
    assert _header(table) == ["contender", "library", "role", "status", "median s", "rate", "seqbench/peer",
                              "agreement", "max rel diff", "max abs diff", "notes"]
    rows = _rows(table)
    assert list(rows) == ["seqbench HMM.score_tokens", "hmmlearn score", 'evil "peer"', "fastlib score",
                          "ghost score", "broken score"]                    # the run's order
    ours, peer, evil, fast = (rows[k] for k in ("seqbench HMM.score_tokens", "hmmlearn score", 'evil "peer"',
                                                "fastlib score"))
    assert ours["rate"].text == "5,000 tokens/s" and ours["seqbench/peer"].text == "1×"
    assert ours["agreement"].text == "reference" and ours["notes"].text == "accuracy 0.9123"
    assert peer["median s"].text == "0.8" and peer["rate"].text == "1,250 tokens/s"
    assert peer["seqbench/peer"].text == "0.25×" and float(peer["seqbench/peer"].attrs["data-sort"]) == 0.25
    assert peer["agreement"].text == "agrees: total log-likelihood within rtol 1e-10"
    assert peer["max rel diff"].text == "3e-12" and peer["max abs diff"].text == "1.5e-09"
    assert evil["seqbench/peer"].text == "0.4×" and evil["agreement"].text.startswith("DIFFERS")
    assert fast["seqbench/peer"].text == "4×" and fast["notes"].text == "a sample"
    assert rows["ghost score"]["status"].text == "unavailable"
    assert rows["broken score"]["notes"].text == "RuntimeError: peer crashed"
    classes = [tr.attrs["class"] for tr in table.find("tbody").iter("tr")]
    assert classes == ["ok", "ok", "failed", "ok", "unavailable", "failed"]  # a disagreement is drawn as a failure


def test_machine_limits_and_fraction_of_peak(page):
    root = page["root"]
    card = _card(root, "limits")
    assert card["fp32 matmul peak"].startswith("16 GFLOP/s (fp32 matmul peak (torch.mm 2048x2048)")
    assert card["memory bandwidth"].startswith("6 GB/s")
    fractions = _table(root, "Rows with matrix-product FLOPs")
    assert [[td.text for td in tr.iter("td")] for tr in fractions.find("tbody").iter("tr")] == [
        ["neural-lstm", "seqbench LSTM.fit (1 epoch)", "4", "25%"], ["neural-lstm", "bare PyTorch loop", "8", "50%"]]
    neural = _rows(_table(root, "neural-lstm"))
    assert neural["bare PyTorch loop"]["of peak"].text == "50%"
    assert neural["bare PyTorch loop"]["seqbench/peer"].text == "2×"


def test_ratio_figure_has_one_dot_per_case_and_peer(page):
    figure = page["root"].find("figure", id="fig-ratios")
    svg = figure.find("svg")
    assert svg.attrs["role"] == "img"
    desc = svg.find("desc").text
    # ok peers only: the unavailable and failed ones have no ratio, seqbench's own rows are the 1 line
    assert ("hmm-score, hmmlearn score: 0.25; hmm-score, evil \"peer\": 0.4; hmm-score, fastlib score: 4; "
            "neural-lstm, bare PyTorch loop: 2.") in desc
    assert "seqbench is faster in 2 of 4 comparisons" in desc
    labels = [t.text for t in svg.iter("text")]
    assert "hmm-score: hmmlearn score" in labels and "1×" in labels


def test_unavailable_peers_with_install_hint_failures_and_provenance(page):
    root = page["root"]
    rows = _rows(_table(root, "Contenders that could not run here"))
    assert rows["hmm-score"]["contender"].text == "ghost score"
    assert rows["hmm-score"]["install"].text == "pip install ghostlib"
    assert root.find("section", id="failures").find("pre").text == EVIL_TRACEBACK
    prov = _card(root, "provenance")
    assert prov["command"] == INFO["command"]
    assert prov["run"] == f"1: {STARTED} to {FINISHED}, 12.5 s"
    assert (prov["sizes"], prov["seed"]) == ("quick", "7") and prov["repeats"].startswith("3")
    assert prov["machine"] == "cpu: Test CPU; logical cores: 2"
    assert prov["versions"] == "numpy 2.0, seqbench 0.1.0"


def test_hostile_library_name_is_text_never_markup(page):
    html, root = page["html"], page["root"]
    assert EVIL_LIBRARY not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert EVIL_LIBRARY in [td.text for td in root.iter("td")]
    assert "<img" not in html and EVIL_TRACEBACK in root.find("body").text
    outside_svg = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    assert 'evil &#34;peer&#34;' in outside_svg and 'evil "peer"' not in outside_svg


def test_same_store_renders_byte_identical_here_and_in_a_fresh_interpreter(page, tmp_path):
    again = write_peers_page(page["store"], tmp_path / "a.html").read_bytes()
    assert again == page["path"].read_bytes()
    code = ("from seqbench.report.peers_page import write_peers_page; "
            f"write_peers_page({str(page['store'])!r}, {str(tmp_path / 'b.html')!r})")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "b.html").read_bytes() == again


def test_index_lists_the_peers_page(page):
    index = write_index(page["tmp"] / "reports")
    root, _ = parse(index.read_text())
    rows = [[td.text for td in tr.iter("td")] for tr in root.find("table", id="reports").find("tbody").iter("tr")]
    assert len(rows) == 1
    suite, finished, ok, failed, unavailable, na, headline = rows[0]
    assert (suite, finished, ok, failed, unavailable, na) == ("peers", FINISHED, "8", "1", "1", "0")
    assert "hmm-score vs 3 peers: 0.25× to 4×" in headline and "neural-lstm vs 1 peer: 2×" in headline
    assert root.find("a").attrs["href"] == "peers/index.html"


def test_cli_report_peers(page, tmp_path):
    reports = page["tmp"] / "reports"
    runner = CliRunner()
    res = runner.invoke(app, ["report", "--peers", "--reports-dir", str(reports), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "index.html").read_bytes() == page["path"].read_bytes()
    res = runner.invoke(app, ["report", "--reports-dir", str(reports)])  # every report: the peers page too
    assert res.exit_code == 0 and f"wrote {page['path']}" in res.output, res.output
    res = runner.invoke(app, ["report", "--peers", "--reports-dir", str(tmp_path / "none")])
    assert res.exit_code == 2 and "no peers store" in res.output


def test_bench_peers_writes_the_page_and_the_index(tmp_path, monkeypatch):
    ours = Contender("ours", "seqbench", lambda: None, n_items=10)
    peer = Contender("their <b>op</b>", "peerlib", lambda: None, n_items=10, agree=lambda: (1.0, 1.0))
    fake = Case("fake-op", "fake", "op", "token", lambda seed, quick: Prepared("ten items", [ours, peer]))
    monkeypatch.setattr(peers_module, "all_cases", lambda: [fake])
    store = tmp_path / "reports" / "peers" / "peers.sqlite"
    code = peers_module.main(quick=True, repeats=1, store=store, seed=3, echo=lambda *a: None)
    assert code == 0
    root, _ = parse(store.with_name("index.html").read_text())
    rows = _rows(_table(root, "fake-op"))
    assert list(rows) == ["ours", "their <b>op</b>"] and rows["ours"]["seqbench/peer"].text == "1×"
    assert _card(root, "provenance")["command"] == (f"seqbench bench peers --quick --repeats 1 --seed 3 "
                                                    f"--store {store}")
    assert "peers/index.html" in (tmp_path / "reports" / "index.html").read_text()
