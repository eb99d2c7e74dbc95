"""The upload page in a real browser (Debian's headless Chromium via Selenium, tests/support/browser.py) over the
whole local stack: the page on the local FC host's origin, the local OSS on another, as in production.

A real file uploads with progress events, the page shows the callback's JSON, and the action ran once (counted by
the action itself, tests/support/fixtures/actions/counting_action.py); on a bucket without CORS the page explains
the CORS failure and never reports the upload done; a callback URL that refuses connections gives OSS's 203
CallbackFailed and the page's message with OSS's own words; a file over the policy's limit shows the size message
(OSS's EntityTooLarge); a file named like markup shows as text and runs nothing; an authorizer that refuses shows
its 403; the browser's own file control is hidden behind the page's button, and the page says what was chosen
and how it went; the console stays clean (no favicon 404). The bucket's CORS rule for the page's origin is what the stack sets, as `osscallback local` does
(LocalOSS.allow_origins, the PutBucketCors rule DEPLOY.md gives for a deployed bucket).
The test's browser also takes the README's screenshot: ``OSSCB_UPDATE_SCREENSHOT=1`` writes docs/img/upload-page.png.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from osscallback.local.stack import LocalStack
from tests.support import FIXTURES, ROOT
from tests.support.browser import chromium, console_errors, screenshot
from tests.support.delivery import runs
from tests.support.inspector import wait_for

SCREENSHOT = ROOT / "docs" / "img" / "upload-page.png"
LIMIT = 256 * 1024
EVIL = "<img src=x onerror=window.pwned=1>.txt"

# Every row of the page, read in one script call: name, state, failure kind, message, answer, progress events.
_ROWS_JS = """
return Array.from(document.querySelectorAll('#uploads li.file')).map(li => ({
  name: li.querySelector('.name').textContent, state: li.dataset.state, kind: li.dataset.kind || '',
  message: li.querySelector('.message').textContent, answer: li.querySelector('.answer').textContent,
  progress: Number(li.dataset.progressEvents), html: li.innerHTML,
}));
"""


def _stack(tmp: Path, log: Path, **env: str) -> LocalStack:
    paths = os.pathsep.join(str(FIXTURES / d) for d in ("actions", "authorizers"))
    return LocalStack(data_dir=tmp, log_sink=lambda f, line: None, inspector=False,
                      env={"CALLBACK_ACTION": "counting_action:record", "COUNTING_ACTION_LOG": str(log),
                           "PYTHONPATH": paths, "UPLOAD_AUTHORIZER": "anonymous", "UPLOAD_MAX_SIZE": str(LIMIT),
                           # PostObject for every file, so one over the limit meets EntityTooLarge (with /sts
                           # configured, the default sends it in parts: test_page_multipart.py)
                           "UPLOAD_MULTIPART_THRESHOLD": "off", **env})


@pytest.fixture(scope="module")
def action_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs") / "runs.jsonl"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, action_log: Path) -> Iterator[LocalStack]:
    with _stack(tmp_path_factory.mktemp("oss"), action_log) as running:
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with chromium(width=1200, height=900) as browser:
        yield browser


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("files")
    (folder / "photo.bin").write_bytes(os.urandom(200 * 1024))
    (folder / "too big.bin").write_bytes(b"x" * (LIMIT + 1024))
    (folder / EVIL).write_bytes(b"markup in the name")
    (folder / "no-cors.txt").write_bytes(b"the bucket will not let the page read this")
    (folder / "callback-down.txt").write_bytes(b"stored, but nobody answers the callback")
    (folder / "refused.txt").write_bytes(b"the authorizer says no")
    return folder


def _open(driver: WebDriver, stack: LocalStack) -> None:
    url = stack.info().upload_page_url
    assert urlsplit(url).netloc != urlsplit(stack.oss.endpoint).netloc  # two origins, as deployed
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", what="the page")


def _pick(driver: WebDriver, path: Path) -> dict[str, Any]:
    """Choose ``path`` in the page's file input; the row once it is done or failed."""
    driver.find_element(By.ID, "files").send_keys(str(path))

    def finished() -> dict[str, Any] | None:
        row = next((r for r in driver.execute_script(_ROWS_JS) if r["name"] == path.name), None)
        return row if row and row["state"] in ("done", "failed") else None

    return wait_for(finished, what=f"{path.name} to finish")  # type: ignore[no-any-return]


def test_a_file_uploads_with_progress_and_the_callback_answer(stack: LocalStack, driver: WebDriver, files: Path,
                                                               action_log: Path) -> None:
    _open(driver, stack)
    row = _pick(driver, files / "photo.bin")
    assert row["state"] == "done", row["message"]
    assert row["progress"] >= 1  # XHR upload progress reached the page
    answer = json.loads(row["answer"])  # the callback function's JSON, through OSS, shown as it came
    assert answer["Status"] == "OK" and answer["object"].startswith("uploads/")
    assert answer["object"].endswith("/photo.bin") and answer["bucket"] == stack.bucket
    assert driver.find_element(By.CSS_SELECTOR, "#uploads progress").get_attribute("value") == "100"
    wait_for(lambda: [r for r in runs(action_log) if r["object"] == answer["object"]], what="the action's run")
    stack.settle()
    assert [r["source"] for r in runs(action_log) if r["object"] == answer["object"]] == ["callback"]  # once


# The file control: the native input's drawn box, the label that stands for it, and the page's own line.
_PICKER_JS = """
const input = document.getElementById('files'), label = document.querySelector('label.pick');
const box = input.getBoundingClientRect(), button = label.getBoundingClientRect();
return {input: [box.width, box.height], label: label.textContent, labelFor: label.htmlFor,
        inLabel: label.contains(input), button: [button.width, button.height],
        chosen: document.getElementById('chosen').textContent};
"""


def test_the_file_control_is_the_pages_own_and_says_what_was_chosen(stack: LocalStack, driver: WebDriver,
                                                                      files: Path) -> None:
    """The issue: Chromium's "Choose Files / No file chosen" showed inside the styled button, and still said "No
    file chosen" after an upload. The input is now visually hidden (1 px, clipped: still focusable and labelled),
    the label is the button, and #chosen says what was picked, then how it went."""
    _open(driver, stack)
    before = driver.execute_script(_PICKER_JS)
    assert before["input"][0] <= 1 and before["input"][1] <= 1, before  # not drawn
    assert (before["label"], before["labelFor"], before["inLabel"]) == ("Choose files", "files", False)
    assert before["button"][0] > 50 and before["chosen"] == "No files chosen yet."
    _pick(driver, files / "photo.bin")
    wait_for(lambda: driver.execute_script(_PICKER_JS)["chosen"] == "Uploaded photo.bin (200.0 KiB).",
             what="the chosen line to say how it went")
    _pick(driver, files / "too big.bin")
    wait_for(lambda: driver.execute_script(_PICKER_JS)["chosen"] == "Not uploaded: too big.bin (257.0 KiB) (see below).",
             what="the chosen line to follow the next file")


def test_the_page_logs_no_console_errors(stack: LocalStack) -> None:
    """The console after loading the page and its icon: a missing favicon was a 404 logged as an error (issue 29).
    A browser of its own: one that loaded the page before remembers its icon (or its 404) and does not ask again."""
    with chromium() as fresh:
        assert console_errors(fresh, stack.info().upload_page_url) == []


def test_a_name_with_markup_shows_as_text(stack: LocalStack, driver: WebDriver, files: Path) -> None:
    _open(driver, stack)
    row = _pick(driver, files / EVIL)
    assert row["name"] == EVIL and row["state"] == "done", row["message"]
    assert json.loads(row["answer"])["object"].endswith("/" + EVIL)
    assert "<img" not in row["html"]  # escaped: &lt;img ...
    assert driver.find_elements(By.CSS_SELECTOR, "#uploads img, #uploads script") == []
    assert driver.execute_script("return window.pwned === undefined") is True


def test_a_file_over_the_limit_shows_the_size_message(stack: LocalStack, driver: WebDriver, files: Path) -> None:
    _open(driver, stack)
    row = _pick(driver, files / "too big.bin")
    assert (row["state"], row["kind"]) == ("failed", "too-large"), row["message"]
    assert row["message"].startswith("The file is larger than the policy allows (at most 256.0 KiB).")


def test_a_bucket_without_cors_is_explained(stack: LocalStack, driver: WebDriver, files: Path) -> None:
    page = urlsplit(stack.info().upload_page_url)
    stack.oss.allow_origins([])  # DeleteBucketCors: a bucket nobody configured for the page
    try:
        _open(driver, stack)
        row = _pick(driver, files / "no-cors.txt")
        assert (row["state"], row["kind"]) == ("failed", "cors")
        assert "CORS" in row["message"] and f"{page.scheme}://{page.netloc}" in row["message"]
        assert row["answer"] == "" and "Uploaded" not in row["message"]
    finally:
        stack.oss.allow_origins([f"{page.scheme}://{page.netloc}"])


def test_the_screenshot(stack: LocalStack, driver: WebDriver, files: Path, tmp_path: Path) -> None:
    """The README's picture, taken by this browser: one upload done with the callback's answer, one refused."""
    _open(driver, stack)
    _pick(driver, files / "too big.bin")
    _pick(driver, files / "photo.bin")
    screenshot(driver, SCREENSHOT, tmp_path)


def _refusing_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_callback_shows_the_203_message(tmp_path_factory: pytest.TempPathFactory, driver: WebDriver,
                                                   files: Path) -> None:
    log = tmp_path_factory.mktemp("runs") / "runs.jsonl"
    dead = f"http://127.0.0.1:{_refusing_port()}/callback"
    with _stack(tmp_path_factory.mktemp("oss"), log, CALLBACK_URL=dead) as running:
        _open(driver, running)
        row = _pick(driver, files / "callback-down.txt")
    assert (row["state"], row["kind"]) == ("failed", "callback"), row["message"]
    assert row["message"].startswith("Stored, but the callback failed. OSS said: ")
    assert "Fix: make the callback URL reachable from OSS" in row["message"]


def test_a_refusing_authorizer_shows_its_403(tmp_path_factory: pytest.TempPathFactory, driver: WebDriver,
                                             files: Path) -> None:
    log = tmp_path_factory.mktemp("runs") / "runs.jsonl"
    with _stack(tmp_path_factory.mktemp("oss"), log, UPLOAD_AUTHORIZER="page_authorizers:closed") as running:
        _open(driver, running)
        row = _pick(driver, files / "refused.txt")
    assert (row["state"], row["kind"]) == ("failed", "policy-denied")
    assert row["message"] == ("The policy endpoint refused (403 UploadRefused): Uploads are closed for maintenance.")
    assert row["progress"] == 0 and runs(log) == []


def test_an_expired_policy_is_explained(tmp_path_factory: pytest.TempPathFactory, driver: WebDriver,
                                        files: Path) -> None:
    """A policy valid for one second, and an upload link slowed (DevTools' network emulation) so the form reaches
    OSS after that: OSS's 403 'Policy expired', and the page's line for it."""
    log = tmp_path_factory.mktemp("runs") / "runs.jsonl"
    slow = files / "slow.bin"
    slow.write_bytes(b"s" * (96 * 1024))
    with _stack(tmp_path_factory.mktemp("oss"), log, UPLOAD_POLICY_EXPIRES="1") as running:
        _open(driver, running)
        driver.set_network_conditions(offline=False, latency=0, download_throughput=-1,  # type: ignore[attr-defined]
                                      upload_throughput=32 * 1024)
        try:
            row = _pick(driver, slow)
        finally:
            driver.delete_network_conditions()  # type: ignore[attr-defined]
    assert (row["state"], row["kind"]) == ("failed", "expired"), row["message"]
    assert row["message"].startswith("The upload policy expired before the upload reached OSS. OSS said: ")
    assert "Policy expired" in row["message"] and runs(log) == []
