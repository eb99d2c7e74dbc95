"""The inspector page in a real browser (headless Chromium via Selenium) over the whole local stack.

An oss2 upload shows as verified; Replay bumps the replay count while the callback function's action ran once
(counted from the function's own log lines, not trusted from an answer); an object key holding ``<script>`` and
an ``onerror`` image shows as text and runs nothing; a re-send with the old signature is refused at the signature.
The test's browser also takes docs/INSPECTOR.md's screenshot: ``OSSCB_UPDATE_SCREENSHOT=1`` writes docs/img/inspector.png.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from osscallback.local.stack import LocalStack
from osscallback.upload.templates import build_callback
from tests.support import ROOT
from tests.support.browser import chromium, screenshot
from tests.support.inspector import wait_for

SCREENSHOT = ROOT / "docs" / "img" / "inspector.png"
HELLO = "inspector/hello world.txt"
EVIL = 'inspector/<script>window.pwned=1</script><img src=x onerror="window.pwned=2">.txt'


class FunctionLog:
    """The functions' log lines, as the local FC host forwards them, parsed where they are JSON."""

    def __init__(self) -> None:
        self.docs: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, function: str, line: str) -> None:
        _, sep, rest = line.partition("[INFO] ")
        if not sep:
            return
        try:
            doc = json.loads(rest)
        except ValueError:
            return
        if isinstance(doc, dict):
            with self._lock:
                self.docs.append(doc)

    def action_runs(self, key: str) -> int:
        with self._lock:
            return sum(1 for d in self.docs if d.get("action") == "log" and (d.get("callback") or {}).get("object") == key)

    def answered(self, key: str) -> int:
        """Callback requests for ``key`` the function answered 200 (one JSON line per request)."""
        with self._lock:
            return sum(1 for d in self.docs if "outcome" in d and d.get("object") == key and d.get("status") == 200)


@pytest.fixture(scope="module")
def functions_log() -> FunctionLog:
    return FunctionLog()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, functions_log: FunctionLog) -> Iterator[LocalStack]:
    with LocalStack(data_dir=tmp_path_factory.mktemp("oss"), log_sink=functions_log,
                    env={"CALLBACK_ACTION": "log"}) as running:
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with chromium() as browser:
        yield browser


def _upload(stack: LocalStack, key: str, url: str | None = None) -> int:
    info = stack.info()
    bucket = oss2.Bucket(oss2.Auth(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket)
    spec = build_callback("json-full", {"callback_url": url or info.callback_url}, {"x:user": "browser-test"})
    return int(bucket.put_object(key, b"hello from the browser test", headers=spec.headers()).status)


# The page's rows, read in one script call so a poll that updates the table cannot interleave with the reads.
_ROWS_JS = """
return Array.from(document.querySelectorAll('#callbacks tbody tr')).map(tr => {
  const cells = {};
  for (const td of tr.cells) cells[td.className.replace('c-', '')] = td.textContent;
  return {id: tr.dataset.id, cells: cells};
});
"""


def _row(driver: WebDriver, key: str, kind: str = "upload") -> dict[str, str] | None:
    for row in driver.execute_script(_ROWS_JS):
        cells = row["cells"]
        is_upload = not cells["operation"].startswith(("replay", "re-send"))
        if cells["object"] == key and is_upload == (kind == "upload"):
            return {**cells, "id": row["id"]}
    return None


def _cell(driver: WebDriver, key: str, name: str) -> str:
    row = _row(driver, key)
    return row[name] if row is not None else ""


def _click(driver: WebDriver, row: dict[str, str]) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#callbacks tr[data-id="{row["id"]}"]').click()


def test_an_oss2_upload_shows_verified_and_replay_runs_no_action(stack: LocalStack, driver: WebDriver,
                                                                 functions_log: FunctionLog) -> None:
    info = stack.info()
    assert info.inspector_url
    driver.get(info.inspector_url)
    wait_for(lambda: "live" in driver.find_element(By.ID, "status").text, what="the page to poll")
    assert _upload(stack, HELLO) == 200

    row = wait_for(lambda: _row(driver, HELLO), what="the upload to appear without a reload")
    assert row["verification"] == "verified: every check passed"
    assert (row["operation"], row["bucket"], row["url"]) == ("PutObject", info.bucket, info.callback_url)
    assert (row["status"], row["uploader"], row["replays"]) == ("200", "200", "0")
    assert row["latency"].endswith(" ms") and row["number"] == "#1"
    wait_for(lambda: functions_log.action_runs(HELLO) == 1, what="the action's log line")

    _click(driver, row)
    wait_for(lambda: driver.find_element(By.ID, "details").is_displayed(), what="the details view")
    assert json.loads(driver.find_element(By.ID, "d-callback").text)["callbackUrl"] == info.callback_url
    assert json.loads(driver.find_element(By.ID, "d-callback-var").text) == {"x:user": "browser-test"}
    sent = driver.find_element(By.CSS_SELECTOR, "#d-tries pre").text
    assert sent.startswith("POST /2016-08-15/proxy/") and "Authorization: " in sent and "x-oss-pub-key-url: " in sent
    assert "Signature matches this request: yes" in driver.find_element(By.ID, "d-tries").text

    driver.find_element(By.ID, "replay").click()
    wait_for(lambda: _cell(driver, HELLO, "replays") == "1", what="the replay count to go up")
    wait_for(lambda: functions_log.answered(HELLO) == 2, what="the function to answer the replay")
    assert functions_log.action_runs(HELLO) == 1  # the replay was verified and answered, the action did not rerun
    replay = wait_for(lambda: _row(driver, HELLO, kind="replay"), what="the replay's own row")
    assert replay["verification"] == "verified: every check passed" and replay["operation"] == "replay of #1"
    assert "replayed as #" in driver.find_element(By.ID, "e-result").text


def test_a_key_with_script_shows_as_text(stack: LocalStack, driver: WebDriver) -> None:
    assert _upload(stack, EVIL) == 200
    row = wait_for(lambda: _row(driver, EVIL), what="the upload with the hostile key")
    assert row["object"] == EVIL
    shown = driver.find_element(By.CSS_SELECTOR, f'#callbacks tr[data-id="{row["id"]}"]')
    assert shown.find_elements(By.TAG_NAME, "script") == [] and shown.find_elements(By.TAG_NAME, "img") == []
    _click(driver, row)
    wait_for(lambda: EVIL in driver.find_element(By.ID, "d-title").text, what="its details")
    assert driver.find_elements(By.CSS_SELECTOR, "main script, main img") == []
    assert driver.execute_script("return window.pwned === undefined") is True


def test_a_resend_with_the_old_signature_is_refused(stack: LocalStack, driver: WebDriver,
                                                    functions_log: FunctionLog) -> None:
    _click(driver, wait_for(lambda: _row(driver, HELLO), what="the first upload"))
    wait_for(lambda: HELLO in driver.find_element(By.ID, "d-title").text, what="its details")
    body = driver.find_element(By.ID, "e-body")
    tampered = body.get_attribute("value").replace('"size":"27"', '"size":"1"')
    assert tampered != body.get_attribute("value")
    body.clear()
    body.send_keys(tampered)
    driver.find_element(By.ID, "e-keep").click()
    driver.find_element(By.ID, "resend").click()
    result = wait_for(lambda: driver.find_element(By.ID, "e-result").text.startswith("re-sent") and
                      driver.find_element(By.ID, "e-result").text, what="the re-send's outcome")
    assert "403" in result and "refused at signature: SignatureDoesNotMatch" in result
    assert functions_log.action_runs(HELLO) == 1
    # An unreachable callback, for the screenshot's sake too: the uploader got 203 with OSS's message.
    port = stack.oss.port  # the local OSS answers XML, not a callback: OSS reports it as an error status
    assert _upload(stack, "inspector/callback-fails.txt", f"http://127.0.0.1:{port}/not-a-callback") == 203
    failed = wait_for(lambda: _row(driver, "inspector/callback-fails.txt"), what="the failed callback")
    assert failed["uploader"].startswith("203 CallbackFailed: Error status : ")


def test_the_screenshot(stack: LocalStack, driver: WebDriver, tmp_path: Path) -> None:
    """docs/INSPECTOR.md's picture, taken by this browser: the list and the details of the replayed upload."""
    _click(driver, wait_for(lambda: _row(driver, HELLO), what="the first upload"))
    wait_for(lambda: HELLO in driver.find_element(By.ID, "d-title").text, what="its details")
    screenshot(driver, SCREENSHOT, tmp_path)
