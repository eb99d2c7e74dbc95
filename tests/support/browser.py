"""Headless Chromium for the inspector tests: Debian's ``chromium`` and ``chromium-driver``, driven by Selenium.

Both paths are given explicitly, so Selenium Manager never looks for (or downloads) a browser or a driver; the
flags keep Chromium from reaching the network on its own, and each run gets a fresh profile directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.inspector import wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


@contextmanager
def chromium(width: int = 1500, height: int = 1000) -> Iterator[webdriver.Chrome]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            raise AssertionError(f"{path} is missing: apt-get install chromium chromium-driver (.ci/run does)")
    profile = tempfile.mkdtemp(prefix="osscb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # keep the page's console (errors, failed loads such as a missing favicon) for console_errors()
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: WebDriver, picture: Path, tmp_path: Path) -> None:
    """The page from its top as a PNG, kept in ``tmp_path`` under ``picture``'s name; with
    ``OSSCB_UPDATE_SCREENSHOT`` set it also replaces ``picture`` (the docs' image)."""
    driver.execute_script("window.scrollTo(0, 0)")
    png = driver.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    (tmp_path / picture.name).write_bytes(png)
    if os.environ.get("OSSCB_UPDATE_SCREENSHOT"):
        picture.parent.mkdir(parents=True, exist_ok=True)
        picture.write_bytes(png)


def console_errors(driver: WebDriver, url: str) -> list[str]:
    """Open ``url`` afresh and return what its console logged as errors (Chromium's browser log at SEVERE: failed
    loads such as a missing favicon, CSP refusals, uncaught exceptions) once the page and its icon are loaded.

    The browser asks for the icon after the load event, so the log is read once the icon's request is in the
    resource timings (where a 404 for /favicon.ico is too), or after 3 s if a cached icon was not asked for."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", what="the page")
    icon = "return performance.getEntriesByType('resource').some(e => /favicon/.test(e.name))"
    try:
        wait_for(lambda: driver.execute_script(icon), timeout=3, what="the icon")
    except AssertionError:
        pass  # the browser used the icon it had: nothing was asked for, so nothing failed
    return [f"{e['level']}: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]
