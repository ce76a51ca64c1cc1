"""The HTML report of a small store built in the test: structure, numbers, escaping, stability."""
import base64
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _html import parse
from report_fixture import EVIL_ERROR, QUOTED_MODEL, RESULTS, XSS_DATASET, build_store, render
from seqbench.cli import app
from seqbench.report import write_index, write_report
from seqbench.report import render as render_module


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    path = render(tmp)
    html = path.read_text()
    root, doctype = parse(html)
    return {"path": path, "html": html, "root": root, "doctype": doctype, "store": path.with_name("results.sqlite")}


def _table(root, caption):
    for t in root.iter("table"):
        if t.find("caption") is not None and t.find("caption").text == caption:
            return t
    raise AssertionError(f"no table captioned {caption!r}")


def _header(table):
    return [th.text for th in table.find("thead").iter("th")]


def _body_rows(table):
    return [[td.text for td in tr.iter() if td.tag in ("td", "th")] for tr in table.find("tbody").iter("tr")]


def test_parses_with_doctype_lang_title_and_csp(report):
    root, html = report["root"], report["html"]
    assert report["doctype"].lower() == "doctype html"
    assert root.find("html").attrs["lang"] == "en"
    assert root.find("title").text == "seqbench report: fixture"
    csp = root.find("meta", **{"http-equiv": "Content-Security-Policy"}).attrs["content"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1]
    scripts = root.find_all("script")
    assert len(scripts) == 1  # the sorting script; nothing injected
    digest = base64.b64encode(hashlib.sha256(scripts[0].text.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp  # only that exact script may run
    assert html.count("<script") == 1


def test_one_leaderboard_row_per_model_with_mean_spread_and_ratio(report):
    rows = _body_rows(_table(report["root"], "Language modelling on synth"))
    models = [r[0] for r in rows]
    expected = sorted({m for (d, t, m, _, _) in RESULTS if (d, t) == ("synth", "lm")})
    assert sorted(models) == expected and len(models) == len(set(models))
    # best first by perplexity (lower is better): the means 10, 10.5, 11, (12+13+14)/3, 20
    assert models == ["oracle", "hmm", "lstm", "kn3", QUOTED_MODEL]
    kn3 = rows[models.index("kn3")]
    assert kn3[2] == "3" and kn3[3] == "13" and kn3[4] == "1"  # 3 seeds, mean 13, sample sd 1
    head = _header(_table(report["root"], "Language modelling on synth"))
    assert kn3[head.index("ratio to oracle")] == "1.300×"  # 13 / 10
    # every other metric the oracle has is compared with it too: NLL as excess nats over the oracle's
    column = head.index("NLL / token (nats): excess vs oracle")
    assert rows[models.index("hmm")][column] == "+0.0488"  # 2.351375 - 2.302585
    assert rows[0][column] == "+0.0000" and kn3[column] == ""  # the oracle itself; kn3 stored no NLL
    tagging = _body_rows(_table(report["root"], "Tagging on synth"))
    head = _header(_table(report["root"], "Tagging on synth"))
    assert tagging[1][0] == "tagger2" and tagging[1][head.index("ratio to oracle")] == f"{0.59 / 0.66:.3f}×"


def test_failed_and_na_cells_are_visible_with_their_reason(report):
    ptb = _body_rows(_table(report["root"], "Language modelling on ptb"))
    failed = [r for r in ptb if r[0] == "hmm"]
    assert len(failed) == 1 and failed[0][-1] == f"failed (seed 0): ValueError: {EVIL_ERROR}"
    # ptb has no tags, so no tagging board: its n/a cell is listed with its reason in the section's n/a table
    na = _body_rows(_table(report["root"], "Tagging: datasets where the task applies to no model"))
    assert na == [["ptb", "kn3", "ngram", "0", "ptb has no tags: tagging does not apply"]]
    assert all(t.find("caption").text != "Tagging on ptb" for t in report["root"].iter("table"))


def test_hostile_strings_are_escaped_never_markup(report):
    html, root = report["html"], report["root"]
    assert XSS_DATASET not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert XSS_DATASET in root.find("body").text  # shown as text
    outside_svg = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)  # SVG text may hold quotes unescaped
    assert 'kn&#34;3&#39;q' in outside_svg and QUOTED_MODEL not in outside_svg
    assert QUOTED_MODEL in [n.text for n in root.iter("td")]
    assert "<img" not in html
    for node in root.iter():
        assert not any(name.startswith("on") for name in node.attrs), (node.tag, node.attrs)


def test_no_external_url_anywhere(report):
    root = report["root"]
    for node in root.iter():
        for name in ("src", "href", "xlink:href", "action", "poster", "data"):
            value = node.attrs.get(name)
            if value is not None:
                assert value.startswith("#") or value.startswith("data:"), (node.tag, name, value)
    values = [v for n in root.iter() for k, v in n.attrs.items() if not k.startswith("xmlns") and v]
    assert not [v for v in values if re.search(r"https?://|//[a-z]", v)]


def test_headline_and_reproduction_panel(report):
    text = " ".join(report["root"].find("section", id="headline").text.split())
    assert "On synth: best model hmm, perplexity 10.5, 1.050× the limit 10" in text
    assert "On ptb: best model lstm, perplexity 130 (no known limit for this dataset)" in text
    rows = {r[0]: r for r in _body_rows(_table(report["root"], "Published figures and seqbench's"))}
    assert rows["kn3"][4:9] == ["148.3", "2", "148.28", "-0.02", "within tolerance"]
    assert rows["lstm"][4:9] == ["114.5", "3", "130", "+15.5", "outside tolerance (worse than published)"]


def test_reproduction_verdict_knows_which_way_is_better():
    from seqbench.report.build import reproduction_verdict

    assert reproduction_verdict("accuracy", 0.0138, 0.01) == ("outside tolerance (better than published)", "ok")
    assert reproduction_verdict("accuracy", -0.02, 0.01) == ("outside tolerance (worse than published)", "failed")
    assert reproduction_verdict("nll_per_token", -0.2, 0.1) == ("outside tolerance (better than published)", "ok")
    assert reproduction_verdict("perplexity", 0.5, 1.0) == ("within tolerance", "ok")
    assert reproduction_verdict("f1", 0.5, 0.1) == ("outside tolerance", "failed")  # direction unknown
    assert reproduction_verdict("perplexity", 9.0, None) == ("no tolerance stated", "ok")


def test_figures_are_accessible_and_tables_have_header_cells(report):
    root = report["root"]
    figures = root.find_all("figure")
    # learning curves: ptb (lstm loss), synth (hmm log-likelihood, lstm loss); scatter: lm and tagging
    assert len(figures) == 5
    for fig in figures:
        svg = fig.find("svg")
        assert svg.attrs["role"] == "img"
        title_id, desc_id = svg.attrs["aria-labelledby"].split()
        assert svg.find("title", id=title_id).text.strip() and svg.find("desc", id=desc_id).text.strip()
        assert fig.find("figcaption").text.strip()
    captions = [" ".join(f.find("figcaption").text.split()) for f in figures]
    assert ("Language modelling on synth: training log-likelihood (nats) during training. "
            "hmm: log-likelihood -3000.00 -> -2390.00 over 4 points.") in captions  # HMM_HISTORY's ends
    assert any(c.endswith("lstm: loss 4.00 -> 2.00 over 3 points, 3k tokens, 4.5 s.") for c in captions)
    ids = [n.attrs["id"] for n in root.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids)), "duplicate id in the page"
    for t in root.find_all("table"):
        head = t.find("thead")
        assert head is not None and head.find_all("th") and not head.find_all("td")
        assert all(th.attrs.get("scope") == "col" for th in head.find_all("th"))


def test_cost_table_dataset_cards_and_provenance(report):
    root = report["root"]
    cost = _body_rows(_table(root, "Language modelling: cost per model and dataset"))
    assert sorted((r[0], r[1]) for r in cost) == sorted(
        {(d, m) for (d, t, m, _, _) in RESULTS if t == "lm" and m != "oracle"})
    lstm = next(r for r in cost if r[:2] == ["ptb", "lstm"])
    assert lstm[2:6] == ["250,000", "30", "1,200", "512"]
    sizes = _body_rows(_table(root, "ptb: sizes and out-of-vocabulary rate"))
    assert sizes[2] == ["test", "82,430", "3,761", "5.80%"]
    card = root.find("section", id="provenance").find("dl")
    terms = [n for n in card.iter() if n.tag in ("dt", "dd")]
    prov = {dt.text: " ".join(dd.text.split()) for dt, dd in zip(terms[::2], terms[1::2])}
    assert "cpu: Test CPU @ 2.0GHz" in prov["machine"] and "logical cores: 2" in prov["machine"]
    assert prov["git revision"] == "0123456789abcdef0123456789abcdef01234567 (14 cells)"
    assert prov["threads per cell"] == "1 (14 cells)" and prov["device"] == "cpu (14 cells)"
    assert prov["suite file"].startswith("/suites/fixture.toml sha256 abab")
    assert "torch 2.13.0+cpu" in prov["versions"]


def test_byte_identical_renders_in_and_across_processes(report, tmp_path):
    store = report["store"]
    again = write_report(store, tmp_path / "a.html").read_bytes()
    assert again == report["path"].read_bytes()
    code = ("import sys; from seqbench.report import write_report; "
            f"write_report({str(store)!r}, {str(tmp_path / 'b.html')!r})")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "b.html").read_bytes() == again


def test_interrupted_render_keeps_the_previous_report(report, tmp_path, monkeypatch):
    out = tmp_path / "index.html"
    write_report(report["store"], out)
    before = out.read_bytes()

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(render_module, "_figures", broken)
    with pytest.raises(KeyboardInterrupt):
        write_report(report["store"], out)
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["index.html"]
    assert out.stat().st_mode & 0o777 == 0o644  # readable by others, like any written page


def test_index_lists_every_report_with_counts_and_headline(tmp_path):
    build_store(tmp_path)
    index = write_index(tmp_path / "reports")
    root, _ = parse(index.read_text())
    rows = _body_rows(root.find("table", id="reports"))
    assert len(rows) == 1
    suite, finished, ok, failed, unavailable, na, headline = rows[0]
    assert (suite, ok, failed, unavailable, na) == ("fixture", str(len(RESULTS)), "1", "0", "1")
    assert finished == "2026-01-01T10:05:00+00:00"
    assert "Language modelling: ptb lstm 130; synth hmm 10.5 (1.050× the limit)" in headline
    assert root.find("a").attrs["href"] == "fixture/index.html"


def test_cli_report_store_and_out(tmp_path, monkeypatch):
    store = build_store(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["report", "--store", str(store), "--out", str(tmp_path / "elsewhere")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "elsewhere" / "index.html").is_file() and "KiB in" in res.output
    assert (tmp_path / "reports" / "index.html").is_file()
    res = runner.invoke(app, ["report", "--store", str(store), "--suite", "fixture"])
    assert res.exit_code == 2 and "not both" in res.output
    res = runner.invoke(app, ["report", "--store", str(tmp_path / "nope.sqlite")])
    assert res.exit_code == 2 and "no results store" in res.output


def test_a_new_task_gets_its_own_section_and_figures(tmp_path, monkeypatch):
    """A later task (e.g. a probe) registers a Section with its own figure; an unregistered one is generic."""
    from matplotlib.figure import Figure

    from report_fixture import _row
    from seqbench.harness.store import Store
    from seqbench.report import sections
    from seqbench.report.figures import svg_inline

    seen = {}

    def horizon_figure(boards, prefix, styles):
        seen["boards"] = [(d, sorted(e["model_id"] for e in entries)) for d, entries in boards]
        fig = Figure()
        fig.add_subplot().plot([1, 2, 4], [1.0, 0.9, 0.5], **{k: styles["lstm"][k] for k in ("color", "marker")})
        return [svg_inline(fig, fig_id=f"{prefix}-0", title="accuracy against lag", desc="lstm holds to lag 2")]

    monkeypatch.setitem(sections.SECTIONS, "lagprobe", sections.Section(
        task="lagprobe", title="Lag probe", metric="horizon", better="higher", figures=horizon_figure))
    path = tmp_path / "reports" / "probe" / "results.sqlite"
    with Store(path) as store:
        for i, (task, model_id, metrics) in enumerate([("lagprobe", "lstm", {"horizon": 2.0}),
                                                       ("lagprobe", "kn3", {"horizon": 4.0}),
                                                       ("mystery", "kn3", {"zeta": 0.25, "alpha": 3.0})]):
            row = _row("synth", task, model_id, "ngram", 0)
            row.update(metrics=metrics, fit_seconds=1.0 + i)
            store.put(row)
    root, _ = parse(write_report(path).read_text())
    assert seen["boards"] == [("synth", ["kn3", "lstm"])]
    assert root.find("figure", id="fig-task-0-own-0").find("figcaption").text == (
        "accuracy against lag. lstm holds to lag 2")
    lag = _body_rows(_table(root, "Lag probe on synth"))
    assert [r[0] for r in lag] == ["kn3", "lstm"]  # higher horizon first
    mystery = _table(root, "Task mystery on synth")
    labels = [th.text for th in mystery.find("thead").iter("th")]
    assert labels == ["model", "estimator", "seeds", "alpha", "± sd", "zeta", "± sd", "status"]
    headline = " ".join(root.find("section", id="headline").text.split())
    assert "best model kn3, horizon 4" in headline and "mystery" not in headline


def test_rows_outside_the_latest_runs_grid_are_left_out(tmp_path):
    """A suite edited between runs: only the cells of the latest run's grid are its results."""
    from report_fixture import _row
    from seqbench.harness.store import Store

    path = tmp_path / "reports" / "s" / "results.sqlite"
    old, new = _row("synth", "lm", "kn3", "ngram", 0), _row("synth", "lm", "kn3", "ngram", 1)
    old.update(metrics={"perplexity": 99.0})
    new.update(metrics={"perplexity": 12.0})
    with Store(path) as store:
        store.put(old)
        store.put(new)
        store.begin_run({"suite": "s", "cell_keys": [new["key"]]}, "2026-01-02T00:00:00+00:00")
    root, _ = parse(write_report(path).read_text())
    rows = _body_rows(_table(root, "Language modelling on synth"))
    assert [r[:4] for r in rows] == [["kn3", "ngram", "1", "12"]]  # one seed, the current one
    assert "1 older rows of cells no longer in the suite" in " ".join(root.find("header").text.split())
