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
