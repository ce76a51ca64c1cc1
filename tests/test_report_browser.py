"""The HTML report in a real (headless) browser.

Opened from ``file://``, the page must request nothing but itself, log no
console error (a Content-Security-Policy violation is one), show the hostile
dataset id ``<script>alert(1)</script>`` as text without running it, sort its
tables on a header click, and still show every table row without JavaScript.
A hand-written hostile page checks that these checks do catch what they look for.
"""
from __future__ import annotations

import base64
import hashlib
from collections import Counter
from html.parser import HTMLParser

import pytest

from _browser import chromium, console_errors, full_page_png, load, open_dialog, requests_sent
from report_fixture import XSS_DATASET, render

CSS, TAG = "css selector", "tag name"  # WebDriver locator strategies
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH = 1280
HEADERS = "const t = arguments[0]; return Array.from(t.querySelectorAll(':scope > thead th'));"
COLUMN = ("const [t, i] = arguments; return Array.from(t.querySelectorAll(':scope > tbody > tr'),"
          " r => r.cells[i].getAttribute('data-sort'));")
ROW_TEXTS = ("return Array.from(document.querySelectorAll('table.sortable'), t =>"
             " Array.from(t.querySelectorAll(':scope > tbody > tr'), r =>"
             " Array.from(r.cells, c => c.textContent.split(/\\s+/).filter(Boolean).join(' '))));")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return render(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def browser():
    with chromium(width=WIDTH) as driver:
        yield driver


@pytest.fixture
def page(browser, report):
    """The report freshly loaded in the shared browser session, logs drained before."""
    load(browser, report.as_uri())
    return browser


def foreign(urls, page_url):
    """The requested URLs that are neither the page itself nor ``data:`` URIs."""
    return [u for u in urls if u.split("#")[0] != page_url and not u.startswith("data:")]


def test_report_requests_nothing_and_logs_no_error(page, report):
    assert console_errors(page) == []
    urls = requests_sent(page)
    assert report.as_uri() in urls  # the log does record the page's own load
    assert foreign(urls, report.as_uri()) == []
    csp = page.execute_script(
        "const m = document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]'); return m && m.content;")
    assert csp and "default-src 'none'" in csp and "script-src 'sha256-" in csp


def test_hostile_dataset_id_is_text_never_run(page):
    assert open_dialog(page) is None
    assert page.execute_script("return typeof window.__xss") == "undefined"
    assert XSS_DATASET in page.find_element(TAG, "body").text
    assert page.execute_script("return document.querySelectorAll('[onerror], [onload]').length") == 0
    assert console_errors(page) == []


def _values(sort_texts):
    """The numbers of a column's ``data-sort`` texts, checking missing ("") ones come last."""
    present = [s for s in sort_texts if s != ""]
    assert sort_texts == present + [""] * (len(sort_texts) - len(present)), f"missing values not last: {sort_texts}"
    return [float(s) for s in present]


def _richest_column(driver, tables):
    """``(table, column index)`` of the numeric column to sort: two or more distinct values required;
    one with a missing value preferred, then the most distinct values, then the earliest table."""
    candidates = []
    for position, table in enumerate(tables):
        for th in driver.execute_script(HEADERS, table):
            if th.get_attribute("data-type") == "number":
                index = int(th.get_attribute("cellIndex"))
                texts = driver.execute_script(COLUMN, table, index)
                assert None not in texts, f"column {th.text!r} has a body cell without data-sort"
                distinct = len({s for s in texts if s != ""})
                if distinct >= 2:
                    candidates.append((("" in texts, distinct, -position), position, index))
    assert candidates, "no numeric column with two distinct values in any sortable table"
    _, position, index = max(candidates)
    return position, index


def test_numeric_column_sorts_both_ways(page):
    tables = page.find_elements(CSS, "table.sortable")
    position, index = _richest_column(page, tables)
    table = tables[position]
    headers = page.execute_script(HEADERS, table)
    assert {th.get_attribute("aria-sort") for th in headers} == {"none"}
    th = next(h for h in headers if int(h.get_attribute("cellIndex")) == index)
    rows_before = Counter(map(tuple, page.execute_script(ROW_TEXTS)[position]))
    for direction, expected in (("ascending", sorted), ("descending", lambda v: sorted(v, reverse=True))):
        th.find_element(TAG, "button").click()
        values = _values(page.execute_script(COLUMN, table, index))
        assert values == expected(values), f"{direction}: {values}"
        assert [h.get_attribute("aria-sort") for h in headers] == [
            direction if h == th else "none" for h in headers]
    assert Counter(map(tuple, page.execute_script(ROW_TEXTS)[position])) == rows_before
    assert console_errors(page) == []


def test_full_page_screenshot(page, tmp_path):
    """Kept under the test's tmp_path as report.png, for a person to look at."""
    png = tmp_path / "report.png"
    png.write_bytes(full_page_png(page))
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    assert int.from_bytes(data[16:20], "big") >= WIDTH  # IHDR width: the page is at least the window wide


def test_checks_catch_a_hostile_page(browser, tmp_path):
    script = "window.__xss = 1; alert('xss');"
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    hostile = tmp_path / "hostile.html"
    hostile.write_text(
        f"<!doctype html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:;"
        f" script-src 'sha256-{digest}'\"><p>x</p><img src=\"http://127.0.0.1:9/a.png\"><img src=\"other.png\">"
        f"<script>{script}</script><script>document.title = 'unhashed';</script>")
    load(browser, hostile.as_uri())
    dialog = open_dialog(browser)
    if dialog is not None:
        browser.switch_to.alert.dismiss()  # the shared session goes on with the next test
    assert dialog == "xss"
    assert browser.execute_script("return typeof window.__xss") == "number"
    assert any("Content Security Policy" in m for m in console_errors(browser))
    assert foreign(requests_sent(browser), hostile.as_uri()) == [
        "http://127.0.0.1:9/a.png", (tmp_path / "other.png").as_uri()]


class _SortableRows(HTMLParser):
    """Cell texts of every ``table.sortable`` body row, as written in the HTML source."""

    def __init__(self):
        super().__init__()
        self.tables, self._open, self._in_body, self._cell = [], [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._open.append("sortable" in (dict(attrs).get("class") or "").split())
            if self._open[-1]:
                self.tables.append([])
        elif tag == "tbody":
            self._in_body = bool(self._open and self._open[-1])
        elif tag == "tr" and self._in_body:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self._in_body:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self._open:
            self._open.pop()
        elif tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_tables_without_javascript_keep_every_row_in_order(report):
    parser = _SortableRows()
    parser.feed(report.read_text(encoding="utf-8"))
    assert parser.tables and all(parser.tables), "the report has no sortable table with rows"
    with chromium(javascript=False, width=WIDTH) as driver:
        load(driver, report.as_uri())
        table = driver.find_element(CSS, "table.sortable")
        assert table.is_displayed()
        table.find_element(CSS, "thead th button").click()  # inert without the script
        assert driver.execute_script(ROW_TEXTS) == parser.tables
        assert {th.get_attribute("aria-sort") for th in driver.execute_script(HEADERS, table)} == {"none"}
        assert console_errors(driver) == []
