"""Headless Chromium for the browser tests: the one installed on this machine, never a download.

Selenium gets the browser and driver paths explicitly, so Selenium Manager never
goes online. When either is absent the test is skipped, or fails under
``CI=true`` with what to install. The session records console messages and
network events, read back (and drained) by :func:`console_errors` and
:func:`requests_sent`.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL = ("apt-get install chromium chromium-driver (Debian/Ubuntu; .ci/run does it) "
           "and pip install -e '.[test]' (selenium)")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--disable-extensions", "--disable-sync", "--metrics-recording-only", "--disable-default-apps",
         "--hide-scrollbars")  # the screenshot is then the full window width
# Pages the browser opens on its own at start-up; their requests are not the page's.
BROWSER_PAGES = ("chrome://", "chrome-untrusted://", "devtools://")


def unavailable(reason):
    """Skip the test, or fail it under ``CI=true`` (where the browser must be installed)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} -- CI=true requires it: {INSTALL}")
    pytest.skip(reason)


def find_chromium():
    """Return ``(browser, driver)`` paths found on PATH, or skip / fail via :func:`unavailable`."""
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = [name for name, path in (("chromium", browser), ("chromedriver", driver)) if path is None]
        unavailable(f"no {' or '.join(missing)} on PATH")
    return browser, driver


@contextlib.contextmanager
def chromium(*, javascript=True, width=1280, height=900):
    """Yield a headless Chromium WebDriver with a throw-away profile; quit it afterwards.

    Parameters
    ----------
    javascript : bool
        False starts the browser with page scripts disabled (WebDriver's own
        ``execute_script`` still works).
    width, height : int
        Window (viewport) size in CSS pixels.
    """
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed")
    browser, driver_path = find_chromium()
    profile = tempfile.mkdtemp(prefix="seqbench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    if not javascript:
        options.add_argument("--blink-settings=scriptEnabled=false")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    options.unhandled_prompt_behavior = "ignore"  # leave dialogs open so open_dialog sees them
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def load(driver, url):
    """Drain the logs, then open ``url``: the logs then hold this page's messages only."""
    console_errors(driver)
    requests_sent(driver)
    driver.get(url)


def console_errors(driver):
    """Console messages of level SEVERE or ERROR since the last call (CSP violations among them)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def requests_sent(driver):
    """URLs of every network request since the last call, but those of the browser's own pages."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] != "Network.requestWillBeSent":
            continue
        params = message["params"]
        if not params.get("documentURL", "").startswith(BROWSER_PAGES):
            urls.append(params["request"]["url"])
    return urls


def open_dialog(driver):
    """The text of an open alert/confirm/prompt dialog, or None when none is open."""
    from selenium.common.exceptions import NoAlertPresentException

    try:
        return driver.switch_to.alert.text
    except NoAlertPresentException:
        return None


def full_page_png(driver):
    """PNG bytes of the whole page (its full scroll width and height), not just the viewport."""
    width, height = driver.execute_script(
        "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight];")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    return base64.b64decode(shot["data"])
