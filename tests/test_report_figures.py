"""Report figures: byte-stable inline SVG, unique ids, accessible, literal user strings, styles."""
import hashlib
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markupsafe import Markup
from matplotlib.figure import Figure

from seqbench.report import figures
from seqbench.report.figures import learning_curves, quality_cost_scatter, style_for, svg_inline

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
EVIL = "<script>alert(1)</script>"
ROOT = Path(__file__).resolve().parents[1]

# One input for both figures, run here and in a fresh interpreter (different hash seed).
BUILD = '''
from seqbench.report.figures import learning_curves, quality_cost_scatter
curves = [
    {"label": "kn3", "loss": [5.1, 4.9, 4.5, 4.2], "ylabel": "training loss (nats/token)",
     "tokens": [3e5, 6e5, 9e5, 1.2e6], "seconds": [0.9, 1.8, 2.6, 3.4]},
    {"label": "lstm", "loss": [6.0, 5.0, 4.4, 4.0], "ylabel": "training loss (nats/token)",
     "tokens": [3e5, 6e5, 9e5, 1.2e6], "seconds": [10.0, 20.0, 30.0, 40.0]},
]
panels = [
    {"dataset": "ptb", "metric": "perplexity", "better": "lower",
     "points": [{"label": "kn3", "cost": 1.2, "value": 150.0}, {"label": "lstm", "cost": 300.0, "value": 110.0}]},
    {"dataset": "treebank", "metric": "accuracy", "better": "higher",
     "points": [{"label": "hmm", "cost": 0.5, "value": 0.93}, {"label": "lstm", "cost": 80.0, "value": 0.96}]},
]
svgs = [learning_curves(curves, fig_id="lc", title="Learning curves").svg,
        quality_cost_scatter(panels, fig_id="qc", title="Quality against cost").svg]
'''


def build():
    ns = {}
    exec(BUILD, ns)
    return ns["svgs"]


@pytest.fixture(scope="module")
def built():
    return build()


@pytest.fixture
def captured(monkeypatch):
    """The Figure objects the builders hand to svg_inline, for inspecting what was drawn."""
    figs = []
    real = figures.svg_inline

    def spy(fig, **kwargs):
        figs.append(fig)
        return real(fig, **kwargs)

    monkeypatch.setattr(figures, "svg_inline", spy)
    return figs


def texts(svg):
    """The content of every <text> element, as a reader of the parsed SVG sees it."""
    return ["".join(t.itertext()) for t in ET.fromstring(str(svg)).iter(SVG + "text")]


def references(root):
    """Every id referenced from an attribute: (xlink:)href="#id" and url(#id)."""
    refs = []
    for el in root.iter():
        for name, value in el.attrib.items():
            if name in (XLINK_HREF, "href") and value.startswith("#"):
                refs.append(value[1:])
            refs += re.findall(r"url\(#([^)]+)\)", value)
    return refs


def curve(label, loss, **extra):
    return {"label": label, "loss": loss, "ylabel": "training loss (nats/token)", **extra}


def test_same_input_gives_same_bytes_here_and_in_a_fresh_interpreter(built):
    assert build() == built
    script = BUILD + "\nimport sys\nsys.stdout.write('\\n=====\\n'.join(svgs))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout
    assert hashlib.sha256(out.encode()).hexdigest() == \
        hashlib.sha256("\n=====\n".join(built).encode()).hexdigest()


def test_no_prolog_comments_or_timestamps(built):
    for svg in built:
        assert isinstance(svg, Markup)
        assert svg.startswith("<svg ")
        assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<!--" not in svg
        assert not re.search(r"\d{4}-\d{2}-\d{2}", svg)


def test_two_figures_in_one_document_parse_and_share_no_id(built):
    doc = ET.fromstring("<div>" + "".join(built) + "</div>")
    all_ids = []
    for svg_el, prefix in zip(doc, ("lc-", "qc-")):
        ids = [el.get("id") for el in svg_el.iter() if el.get("id")]
        assert ids and all(i.startswith(prefix) for i in ids)
        assert len(ids) == len(set(ids))
        refs = references(svg_el)
        assert any("url(#" in (el.get("clip-path") or "") for el in svg_el.iter())  # clip paths exist
        assert refs and set(refs) <= set(ids)
        all_ids += ids
    assert len(all_ids) == len(set(all_ids))


def test_figures_with_equal_geometry_get_distinct_ids():
    one = curve("a", [2.0, 1.0])
    first, second = (learning_curves([one], fig_id=f, title="t").svg for f in ("one", "two"))
    ids = [re.findall(r'\sid="([^"]+)"', s) for s in (first, second)]
    assert [i.removeprefix("one-") for i in ids[0]] == [i.removeprefix("two-") for i in ids[1]]
    assert not set(ids[0]) & set(ids[1])


def test_svg_element_is_accessible_and_scales():
    title, desc = 'Loss <b> & "more"', "kn3's loss falls from 5 to 4 <fast>"
    fig = svg_inline(Figure(figsize=(2, 1)), fig_id="f1", title=title, desc=desc)
    assert (fig.id, fig.title, fig.desc) == ("f1", title, desc)
    root = ET.fromstring(str(fig.svg))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "f1-title f1-desc"
    style = root.get("style").replace(" ", "")
    assert "max-width:100%" in style and "height:auto" in style
    first, second = list(root)[:2]
    assert (first.tag, first.get("id"), first.text) == (SVG + "title", "f1-title", title)
    assert (second.tag, second.get("id"), second.text) == (SVG + "desc", "f1-desc", desc)
    assert "<b>" not in fig.svg and "<fast>" not in fig.svg
    # matplotlib's page-wide CSS rule is scoped to this figure
    assert root.find(f"{SVG}defs/{SVG}style").text.startswith("#f1-svg *")


@pytest.mark.parametrize("bad", ["", "1fig", "fig id", 'a"b', "a.b", None])
def test_bad_fig_id_is_refused(bad):
    with pytest.raises(ValueError, match="fig_id"):
        svg_inline(Figure(figsize=(1, 1)), fig_id=bad, title="t", desc="d")


@pytest.mark.parametrize("label", [EVIL, "$x^2$", "a_b", 'Tom & "Jerry\'s"', "id=\"x\" url(#p1)"])
def test_user_labels_are_escaped_and_shown_literally(label):
    lc = learning_curves([curve(label, [3.0, 2.0])], fig_id="lc", title=label)
    qc = quality_cost_scatter([{"dataset": label, "metric": "m", "better": "lower",
                                "points": [{"label": label, "cost": 2.0, "value": 1.0}]}],
                              fig_id="qc", title="t")
    for fig in (lc, qc):
        assert label in texts(fig.svg)  # one text element holding exactly the label: no mathtext
        assert "<script" not in fig.svg


def test_log_axis_ticks_are_plain_text():
    qc = quality_cost_scatter([{"dataset": "d", "metric": "m", "better": "lower",
                                "points": [{"label": "a", "cost": 0.01, "value": 1.0},
                                           {"label": "b", "cost": 500.0, "value": 2.0}]}],
                              fig_id="qc", title="t")
    labels = texts(qc.svg)
    assert "1" in labels and "100" in labels
    assert not any("$" in t or "mathdefault" in t for t in labels)


def test_learning_curves_one_line_per_curve_per_panel(captured):
    result = learning_curves([
        curve("both", [5.0, 4.0, 3.0], tokens=[10, 20, 30], seconds=[1.0, 2.0, 3.0]),
        curve("tokens only", [6.0, 5.0, 4.0], tokens=[10, 20, 30]),
    ], fig_id="lc", title="t")
    (fig,) = captured
    tok, sec = fig.axes
    assert (tok.get_title(), sec.get_title()) == ("loss vs tokens seen", "loss vs seconds")
    assert [line.get_label() for line in tok.get_lines()] == ["both", "tokens only"]
    assert [line.get_label() for line in sec.get_lines()] == ["both"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["both", "tokens only"]
    assert list(sec.get_lines()[0].get_xdata()) == [1.0, 2.0, 3.0]
    assert "tokens only: loss 6.00 -> 4.00 over 3 points, 30 tokens." in result.desc


def test_learning_curves_fall_back_to_iteration_and_drop_non_finite(captured):
    result = learning_curves([curve("kn3", [5.0, float("nan"), 4.0, float("inf"), 3.5])],
                             fig_id="lc", title="t")
    (fig,) = captured
    (ax,) = fig.axes
    assert ax.get_xlabel() == "iteration"
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [1.0, 3.0, 5.0]
    assert list(line.get_ydata()) == [5.0, 4.0, 3.5]
    assert result.desc == "kn3: loss 5.00 -> 3.50 over 3 points."


def test_learning_curves_desc_has_the_key_numbers():
    loss = [5.1, 5.0, 4.9, 4.8, 4.7, 4.6, 4.5, 4.4, 4.3, 4.2]
    result = learning_curves([curve("kn3", loss, tokens=[1.2e5 * (i + 1) for i in range(10)],
                                    seconds=[0.34 * (i + 1) for i in range(10)])], fig_id="lc", title="t")
    assert result.desc == "kn3: loss 5.10 -> 4.20 over 10 points, 1.2M tokens, 3.4 s."


def test_learning_curves_refuse_empty_and_mismatched_input():
    with pytest.raises(ValueError, match="at least one curve"):
        learning_curves([], fig_id="lc", title="t")
    with pytest.raises(ValueError, match="tokens has 2 values for 3 losses"):
        learning_curves([curve("a", [3.0, 2.0, 1.0], tokens=[1, 2])], fig_id="lc", title="t")


def test_scatter_drops_points_without_positive_cost_and_wraps_columns(captured):
    pts = [{"label": "kn3", "cost": 2.0, "value": 150.0}, {"label": "free", "cost": 0.0, "value": 1.0},
           {"label": "neg", "cost": -1.0, "value": 1.0}, {"label": "none", "cost": None, "value": 1.0},
           {"label": "lstm", "cost": 100.0, "value": 110.0}]
    panels = [{"dataset": f"d{i}", "metric": "perplexity", "better": "lower", "points": pts} for i in range(4)]
    result = quality_cost_scatter(panels, fig_id="qc", title="t")
    (fig,) = captured
    assert len(fig.axes) == 6  # 2 rows x 3 columns, the last two blank
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(visible) == 4
    for ax in visible:
        assert ax.get_xscale() == "log"
        assert sorted(line.get_xdata()[0] for line in ax.get_lines()) == [2.0, 100.0]
        assert ax.get_ylabel() == "perplexity (lower is better)"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["kn3", "lstm"]
    assert result.desc.count("3 point(s) without a positive fit time") == 4


def test_scatter_desc_names_best_and_cheapest():
    panels = [
        {"dataset": "ptb", "metric": "perplexity", "better": "lower",
         "points": [{"label": "kn3", "cost": 1.5, "value": 150.0}, {"label": "lstm", "cost": 300.0, "value": 110.0},
                    {"label": "gru", "cost": 200.0, "value": 120.0}]},
        {"dataset": "wsj", "metric": "accuracy", "better": "higher",
         "points": [{"label": "hmm", "cost": 0.5, "value": 0.93}, {"label": "lstm", "cost": 80.0, "value": 0.96}]},
    ]
    desc = quality_cost_scatter(panels, fig_id="qc", title="t").desc
    assert "ptb, perplexity (lower is better): best lstm 110 in 300 s; cheapest kn3 150 in 1.5 s." in desc
    assert "wsj, accuracy (higher is better): best lstm 0.96 in 80 s; cheapest hmm 0.93 in 0.5 s." in desc


def test_scatter_refuses_empty_input_and_unknown_direction():
    with pytest.raises(ValueError, match="at least one panel"):
        quality_cost_scatter([], fig_id="qc", title="t")
    with pytest.raises(ValueError, match="better must be"):
        quality_cost_scatter([{"dataset": "d", "metric": "m", "better": "up", "points": []}],
                             fig_id="qc", title="t")


def luminance(hex_colour):
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_style_for_neighbours_differ_in_marker_dash_and_lightness():
    labels = [f"m{i}" for i in range(20)]
    styles = style_for(labels)
    assert list(styles) == labels and style_for(labels) == styles
    first = [styles[f"m{i}"] for i in range(8)]
    assert len({(s["marker"], s["linestyle"]) for s in first}) == 8
    assert len({s["color"] for s in first}) == 8
    for a, b in zip(labels, labels[1:]):
        sa, sb = styles[a], styles[b]
        assert re.fullmatch(r"#[0-9A-Fa-f]{6}", sa["color"])
        assert sa["marker"] != sb["marker"] and sa["linestyle"] != sb["linestyle"]
        assert abs(luminance(sa["color"]) - luminance(sb["color"])) >= 40
    assert styles["m8"] == styles["m0"]  # cycles
    assert all(luminance(s["color"]) < 200 for s in first)  # none too pale to print on white


def test_style_for_keeps_the_first_style_of_a_repeated_label():
    styles = style_for(["a", "b", "a", "c"])
    assert list(styles) == ["a", "b", "c"]
    assert styles == style_for(["a", "b", "c"])
