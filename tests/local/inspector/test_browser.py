"""The inspector page in a real browser (headless Chromium via Selenium) over the whole local stack.

An oss2 upload shows as verified; Replay bumps the replay count while the callback function's action ran once
(counted from the function's own log lines, not trusted from an answer); an object key holding ``<script>`` and
an ``onerror`` image shows as text and runs nothing; a re-send with the old signature is refused at the signature;
a long callback URL takes one line, cut with an ellipsis, its whole value in the tooltip; the console stays clean.
The test's browser also takes docs/INSPECTOR.md's screenshot: ``OSSCB_UPDATE_SCREENSHOT=1`` writes docs/img/inspector.png.

Each test starts from a freshly loaded page and uploads the objects it looks at (keys of its own), so any one of
them runs alone (``-k screenshot``) or in any order; the stack and the browser are shared by the module only to
save their start-up, and the screenshot has a stack of its own so its picture is the same however it is run.
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
from tests.support.browser import chromium, console_errors, screenshot
from tests.support.inspector import wait_for
from tests.support.oss_clients import REGION

SCREENSHOT = ROOT / "docs" / "img" / "inspector.png"
HELLO = "inspector/hello world.txt"
EVIL = 'inspector/<script>window.pwned=1</script><img src=x onerror="window.pwned=2">.txt'
FAILS = "inspector/callback-fails.txt"


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


def _start(data_dir: Path, log: FunctionLog) -> LocalStack:
    return LocalStack(template=ROOT / "template.fc2.yml", data_dir=data_dir, log_sink=log,  # FC 2.0 proxy paths
                      env={"CALLBACK_ACTION": "log"})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, functions_log: FunctionLog) -> Iterator[LocalStack]:
    with _start(tmp_path_factory.mktemp("oss"), functions_log) as running:
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with chromium() as browser:
        yield browser


def _open(driver: WebDriver, stack: LocalStack) -> None:
    """The inspector loaded afresh and polling: no test starts from where another left the page."""
    url = stack.info().inspector_url
    assert url
    driver.get(url)
    wait_for(lambda: "live" in driver.find_element(By.ID, "status").text, what="the page to poll")


@pytest.fixture()
def page(stack: LocalStack, driver: WebDriver) -> WebDriver:
    _open(driver, stack)
    return driver


def _upload(stack: LocalStack, key: str, url: str | None = None) -> int:
    info = stack.info()
    bucket = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)
    spec = build_callback("json-full", {"callback_url": url or info.callback_url}, {"x:user": "browser-test"})
    return int(bucket.put_object(key, b"hello from the browser test", headers=spec.headers()).status)


def _upload_unreachable(stack: LocalStack, key: str) -> int:
    """An upload whose callback URL is the local OSS itself: it answers XML, not a callback, so OSS reports an
    error status and the uploader gets 203."""
    return _upload(stack, key, f"http://127.0.0.1:{stack.oss.port}/not-a-callback")


# The page's rows, read in one script call so a poll that updates the table cannot interleave with the reads.
_ROWS_JS = """
return Array.from(document.querySelectorAll('#callbacks tbody tr')).map(tr => {
  const cells = {};
  for (const td of tr.cells) cells[td.className.replace('c-', '').replace(' cut', '')] = td.textContent;
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


def _open_details(driver: WebDriver, key: str) -> dict[str, str]:
    """Click ``key``'s upload row; its row once the details view shows it."""
    row = wait_for(lambda: _row(driver, key), what=f"the row of {key}")
    driver.find_element(By.CSS_SELECTOR, f'#callbacks tr[data-id="{row["id"]}"]').click()
    wait_for(lambda: driver.find_element(By.ID, "details").is_displayed() and
             key in driver.find_element(By.ID, "d-title").text, what=f"the details of {key}")
    return row  # type: ignore[no-any-return]


def _replay(driver: WebDriver, key: str) -> dict[str, str]:
    """Replay the upload shown in the details view; the replay's own row."""
    def replays() -> int:  # the cell reads "1" or "1 (+1 re-sent)"
        return int(_cell(driver, key, "replays").split()[0])

    before = replays()
    driver.find_element(By.ID, "replay").click()
    wait_for(lambda: replays() == before + 1, what="the replay count to go up")
    return wait_for(lambda: _row(driver, key, kind="replay"), what="the replay's own row")  # type: ignore[no-any-return]


def _resend_tampered(driver: WebDriver) -> str:
    """Edit the shown callback's body (its size) and re-send it with the old signature; the page's outcome line."""
    body = driver.find_element(By.ID, "e-body")
    tampered = body.get_attribute("value").replace('"size":"27"', '"size":"1"')
    assert tampered != body.get_attribute("value")
    body.clear()
    body.send_keys(tampered)
    driver.find_element(By.ID, "e-keep").click()
    driver.find_element(By.ID, "resend").click()
    return wait_for(lambda: driver.find_element(By.ID, "e-result").text.startswith("re-sent") and  # type: ignore[no-any-return]
                    driver.find_element(By.ID, "e-result").text, what="the re-send's outcome")


def test_an_oss2_upload_shows_verified_and_replay_runs_no_action(stack: LocalStack, page: WebDriver,
                                                                 functions_log: FunctionLog) -> None:
    info = stack.info()
    assert _upload(stack, HELLO) == 200

    row = wait_for(lambda: _row(page, HELLO), what="the upload to appear without a reload")
    assert row["verification"] == "verified: every check passed"
    assert (row["operation"], row["bucket"], row["url"]) == ("PutObject", info.bucket, info.callback_url)
    assert (row["status"], row["uploader"], row["replays"]) == ("200", "200", "0")
    assert row["latency"].endswith(" ms") and row["number"].startswith("#")
    wait_for(lambda: functions_log.action_runs(HELLO) == 1, what="the action's log line")

    _open_details(page, HELLO)
    assert json.loads(page.find_element(By.ID, "d-callback").text)["callbackUrl"] == info.callback_url
    assert json.loads(page.find_element(By.ID, "d-callback-var").text) == {"x:user": "browser-test"}
    sent = page.find_element(By.CSS_SELECTOR, "#d-tries pre").text
    assert sent.startswith("POST /2016-08-15/proxy/") and "Authorization: " in sent and "x-oss-pub-key-url: " in sent
    assert "Signature matches this request: yes" in page.find_element(By.ID, "d-tries").text

    replay = _replay(page, HELLO)
    wait_for(lambda: functions_log.answered(HELLO) == 2, what="the function to answer the replay")
    assert functions_log.action_runs(HELLO) == 1  # the replay was verified and answered, the action did not rerun
    assert replay["verification"] == "verified: every check passed"
    assert replay["operation"] == f"replay of {row['number']}"
    assert "replayed as #" in page.find_element(By.ID, "e-result").text


def test_a_key_with_script_shows_as_text(stack: LocalStack, page: WebDriver) -> None:
    assert _upload(stack, EVIL) == 200
    row = wait_for(lambda: _row(page, EVIL), what="the upload with the hostile key")
    assert row["object"] == EVIL
    shown = page.find_element(By.CSS_SELECTOR, f'#callbacks tr[data-id="{row["id"]}"]')
    assert shown.find_elements(By.TAG_NAME, "script") == [] and shown.find_elements(By.TAG_NAME, "img") == []
    _open_details(page, EVIL)
    assert page.find_elements(By.CSS_SELECTOR, "main script, main img") == []
    assert page.execute_script("return window.pwned === undefined") is True


def test_a_resend_with_the_old_signature_is_refused(stack: LocalStack, page: WebDriver,
                                                    functions_log: FunctionLog) -> None:
    key = "inspector/re-sent with the old signature.txt"
    assert _upload(stack, key) == 200
    _open_details(page, key)
    result = _resend_tampered(page)
    assert "403" in result and "refused at signature: SignatureDoesNotMatch" in result
    assert functions_log.action_runs(key) == 1


def test_a_failed_callback_shows_what_the_uploader_got(stack: LocalStack, page: WebDriver) -> None:
    assert _upload_unreachable(stack, FAILS) == 203
    failed = wait_for(lambda: _row(page, FAILS), what="the failed callback")
    assert failed["uploader"].startswith("203 CallbackFailed: Error status : ")


# The callback URL cell: its text, tooltip, whether it is cut short (overflowing its box), and how many lines its
# text takes: the distinct tops of its text's client rects (the row's height is its tallest cell's, not this one's;
# Chromium may give an ellipsized line two rects, the whole run and the part shown, at the same top).
_URL_CELL_JS = """
const td = document.querySelector('#callbacks tr[data-id="' + arguments[0] + '"] td.c-url');
const text = document.createRange();
text.selectNodeContents(td);
const tops = new Set(Array.from(text.getClientRects()).map(r => Math.round(r.top)));
return {text: td.textContent, title: td.title, cut: td.scrollWidth > td.clientWidth,
        ellipsis: getComputedStyle(td).textOverflow, lines: tops.size};
"""


def test_a_long_callback_url_takes_one_line_and_shows_whole_in_its_tooltip(stack: LocalStack,
                                                                           page: WebDriver) -> None:
    """The issue: URLs wrapped over three lines in the list. Now one line with an ellipsis; the value itself
    (text and title, set as text and attribute only) is whole."""
    long_url = stack.info().callback_url + "?" + "&".join(f"tenant-{i}=value-{i}" for i in range(12))
    key = "inspector/long callback url.txt"
    assert _upload(stack, key, long_url) == 200
    row = wait_for(lambda: _row(page, key), what="the upload with a long callback URL")
    cell = page.execute_script(_URL_CELL_JS, row["id"])
    assert cell["text"] == cell["title"] == long_url
    assert cell["cut"] and cell["ellipsis"] == "ellipsis"
    assert cell["lines"] == 1, cell  # where it took three


def test_the_page_logs_no_console_errors(stack: LocalStack) -> None:
    """The browser's console after loading the page and its icon: a missing favicon was a 404 logged as an
    error (issue 29); the CSP refusing anything would be one too. A browser of its own: one that loaded the page
    before remembers its icon (or its 404) and does not ask again."""
    with chromium() as fresh:
        assert console_errors(fresh, stack.info().inspector_url) == []


def test_the_screenshot(tmp_path_factory: pytest.TempPathFactory, driver: WebDriver, tmp_path: Path) -> None:
    """docs/INSPECTOR.md's picture, taken by this browser on a stack of its own: two verified uploads, a replay, a
    re-send with the old signature refused, a callback that failed with 203, and the details of the first."""
    log = FunctionLog()
    with _start(tmp_path_factory.mktemp("oss"), log) as shot:
        _open(driver, shot)
        assert _upload(shot, HELLO) == 200
        _open_details(driver, HELLO)
        _replay(driver, HELLO)
        assert _upload(shot, EVIL) == 200
        _open_details(driver, HELLO)
        _resend_tampered(driver)
        assert _upload_unreachable(shot, FAILS) == 203
        wait_for(lambda: _row(driver, FAILS), what="the failed callback")
        _open_details(driver, HELLO)
        screenshot(driver, SCREENSHOT, tmp_path)
