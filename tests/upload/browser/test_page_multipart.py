"""The upload page's large-file mode in a real browser (Debian's headless Chromium via Selenium) over the whole local
stack: a file of at least ``UPLOAD_MULTIPART_THRESHOLD`` goes up as an OSS multipart upload, signed by the page's
own V4 signer (static/ossv4.js) with the credentials from the policy function's ``GET /sts``, and completes with
the callback /sts hands out.

What is checked from outside the page: the requests the browser really sent (its Resource Timing entries: one
InitiateMultipartUpload, one UploadPart per part number, the ListParts of a resume), what the local OSS holds
(ListParts with the bucket owner's key, the object's bytes), and the action's runs (the counting action's log).
The signer in Chromium gives ali-oss's Authorization headers for the cases tests/upload/browser/test_ossv4.py
compares in Node. ``OSSCB_UPDATE_SCREENSHOT=1`` writes docs/img/upload-page-multipart.png.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import oss2
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from osscallback.errors import ConfigError
from osscallback.local.stack import LocalStack
from osscallback.upload.browser.app import PolicyApp
from tests.support import FIXTURES, ROOT
from tests.support.browser import chromium, screenshot
from tests.support.delivery import runs
from tests.support.inspector import wait_for
from tests.upload.browser.test_ossv4 import signatures

SCREENSHOT = ROOT / "docs" / "img" / "upload-page-multipart.png"
MiB = 1024 * 1024
THRESHOLD = MiB  # a low threshold keeps the test quick: a few MB are already "large"
PARTS = 4  # 3.5 MiB in the page's 1 MiB parts
# Interrupted uploads: 7 parts, the page sends 3 at a time, on a link slowed to 1.5 MiB/s: the first three are in
# OSS after about 2 s, the next three still on their way for about 2 s more, when the test interrupts.
SLOW_PARTS, SLOW_LINK = 7, 3 * MiB // 2

_ROW_JS = """
const li = Array.from(document.querySelectorAll('#uploads li.file'))
  .find(li => li.querySelector('.name').textContent === arguments[0]);
return li ? {state: li.dataset.state, kind: li.dataset.kind || '', mode: li.dataset.mode || '',
  message: li.querySelector('.message').textContent, answer: li.querySelector('.answer').textContent,
  parts: li.querySelector('.parts').textContent, done: Number(li.dataset.partsDone),
  total: Number(li.dataset.partsTotal), resumed: Number(li.dataset.partsResumed),
  bar: li.querySelector('progress').value} : null;
"""
# The OSS requests this page sent, from the browser's own record (Resource Timing), not from the page's code.
_SENT_JS = """
return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.startsWith(arguments[0]));
"""
_RECORDS_JS = """
return Object.keys(localStorage).filter(k => k.startsWith('osscb.multipart:'))
  .map(k => JSON.parse(localStorage.getItem(k)));
"""


@pytest.fixture(scope="module")
def action_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs") / "runs.jsonl"


def _stack(tmp: Path, log: Path, authorizer: str = "anonymous", template: str = "template.yml") -> LocalStack:
    paths = os.pathsep.join(str(FIXTURES / d) for d in ("actions", "authorizers"))
    return LocalStack(template=ROOT / template, data_dir=tmp, log_sink=lambda f, line: None, inspector=False,
                      env={"CALLBACK_ACTION": "counting_action:record", "COUNTING_ACTION_LOG": str(log),
                           "PYTHONPATH": paths, "UPLOAD_AUTHORIZER": authorizer,
                           "UPLOAD_MULTIPART_THRESHOLD": str(THRESHOLD)})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, action_log: Path) -> Iterator[LocalStack]:
    with _stack(tmp_path_factory.mktemp("oss"), action_log) as running:
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with chromium(width=1200, height=900) as browser:
        yield browser


def _file(folder: Path, name: str, size: int = PARTS * MiB - MiB // 2) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


def _network(driver: WebDriver, offline: bool = False, **throughput: int) -> None:
    """DevTools' network emulation: a slow upload link, offline, or (no arguments) back to normal."""
    chrome: Any = driver  # a Chrome WebDriver (tests/support/browser.chromium)
    if throughput or offline:
        chrome.set_network_conditions(**{"offline": offline, "latency": 0, "download_throughput": -1, **throughput})
    else:
        chrome.delete_network_conditions()


def _open(driver: WebDriver, stack: LocalStack) -> None:
    driver.get(stack.info().upload_page_url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", what="the page")


def _row(driver: WebDriver, name: str) -> dict[str, Any] | None:
    return driver.execute_script(_ROW_JS, name)


def _finished(driver: WebDriver, name: str, timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        row = _row(driver, name)
        return row if row and row["state"] in ("done", "failed") else None

    return wait_for(done, timeout=timeout, what=f"{name} to finish")


def _sent(driver: WebDriver, stack: LocalStack, key: str) -> list[dict[str, list[str]]]:
    """The query of every request the browser sent for ``key`` to the local OSS, in order."""
    url = f"{stack.oss.endpoint}/{stack.bucket}/{key}"
    return [parse_qs(urlsplit(u).query, keep_blank_values=True) for u in driver.execute_script(_SENT_JS, url)]


def _owner(stack: LocalStack) -> oss2.Bucket:
    info = stack.info()
    return oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket,
                       region=info.region)


def _object(answer: str) -> str:
    doc = json.loads(answer)
    assert doc["Status"] == "OK"
    return str(doc["object"])


def _runs_of(stack: LocalStack, log: Path, key: str) -> list[str]:
    wait_for(lambda: [r for r in runs(log) if r["object"] == key], what="the action's run")
    stack.settle()
    return [r["source"] for r in runs(log) if r["object"] == key]


def test_a_large_file_goes_up_in_parts_with_the_callback_answer(stack: LocalStack, driver: WebDriver,
                                                                 tmp_path: Path, action_log: Path) -> None:
    big = _file(tmp_path, "film.bin")
    _open(driver, stack)
    driver.get_log("browser")  # type: ignore[attr-defined]  # what loading logged is test_page.py's
    driver.find_element(By.ID, "files").send_keys(str(big))
    row = _finished(driver, big.name)
    # no CSP refusal (connect-src names the bucket's origin), no failed request, no uncaught error
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []  # type: ignore[attr-defined]
    assert (row["state"], row["mode"]) == ("done", "multipart"), row["message"]
    assert (row["done"], row["total"], row["resumed"], row["bar"]) == (PARTS, PARTS, 0, 100)
    assert row["parts"] == f"Part {PARTS} of {PARTS} done"
    key = _object(row["answer"])  # the callback function's JSON, through OSS's CompleteMultipartUpload answer
    assert key.startswith("uploads/") and key.endswith("/film.bin") and row["message"].endswith(
        f"as {key}; the callback answered:")
    sent = _sent(driver, stack, key)
    assert sent[0] == {"uploads": [""]}  # InitiateMultipartUpload
    assert sorted(int(q["partNumber"][0]) for q in sent if "partNumber" in q) == list(range(1, PARTS + 1))
    assert hashlib.md5(_owner(stack).get_object(key).read()).digest() == hashlib.md5(big.read_bytes()).digest()
    assert _runs_of(stack, action_log, key) == ["callback"]  # once, by the callback the page sent on Complete
    assert driver.execute_script(_RECORDS_JS) == []  # nothing left to resume
    assert "film.bin" not in driver.find_element(By.ID, "status").text


def test_a_large_file_behind_fc2s_proxy_url(tmp_path_factory: pytest.TempPathFactory, driver: WebDriver,
                                             tmp_path: Path) -> None:
    """FC 2.0: the page at /2016-08-15/proxy/<service>/policy/, so its /sts is that path's, not the host's root."""
    action_log = tmp_path_factory.mktemp("runs") / "runs.jsonl"
    with _stack(tmp_path_factory.mktemp("oss"), action_log, template="template.fc2.yml") as fc2:
        assert "/proxy/" in fc2.info().upload_page_url
        big = _file(tmp_path, "fc2.bin", THRESHOLD + 4096)
        _open(driver, fc2)
        driver.find_element(By.ID, "files").send_keys(str(big))
        row = _finished(driver, big.name)
        assert (row["state"], row["total"]) == ("done", 2), row["message"]
        assert _runs_of(fc2, action_log, _object(row["answer"])) == ["callback"]


def test_an_upload_interrupted_by_a_reload_resumes_without_resending_parts(stack: LocalStack, driver: WebDriver,
                                                                            tmp_path: Path, action_log: Path) -> None:
    """The upload link is slowed (DevTools' network emulation) so the page can be reloaded once a part is in OSS;
    picking the same file again lists the parts OSS holds and sends only the others."""
    big = _file(tmp_path, "resumed.bin", SLOW_PARTS * MiB - MiB // 2)
    _open(driver, stack)
    _network(driver, upload_throughput=SLOW_LINK)
    try:
        driver.find_element(By.ID, "files").send_keys(str(big))
        record = wait_for(lambda: next((r for r in driver.execute_script(_RECORDS_JS) if r["parts"]), None),
                          what="a first part in OSS")
        driver.refresh()  # the page goes away mid-upload, as a closed laptop lid or a reload
    finally:
        _network(driver)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", what="the page")
    assert driver.find_element(By.ID, "status").text == (
        "Not finished: resumed.bin (6.5 MiB). Pick the same file again to resume.")
    held = [p.part_number for p in _owner(stack).list_parts(record["key"], record["uploadId"]).parts]
    assert 1 <= len(held) < SLOW_PARTS, held  # what OSS has: some parts, not all

    driver.find_element(By.ID, "files").send_keys(str(big))
    row = _finished(driver, big.name)
    assert row["state"] == "done", row["message"]
    key = _object(row["answer"])
    assert key == record["key"] and (row["done"], row["total"]) == (SLOW_PARTS, SLOW_PARTS)
    assert row["resumed"] >= len(held) and f"({row['resumed']} resumed)" in row["parts"]
    sent = _sent(driver, stack, key)  # this page's requests only: the reload started a fresh record
    assert "uploads" not in sent[0] and sent[0]["uploadId"] == [record["uploadId"]]  # ListParts first
    resent = {int(q["partNumber"][0]) for q in sent if "partNumber" in q}
    assert resent and not resent & set(held), (resent, held)  # no finished part went twice
    assert len(resent) == SLOW_PARTS - row["resumed"]
    assert hashlib.md5(_owner(stack).get_object(key).read()).digest() == hashlib.md5(big.read_bytes()).digest()
    assert _runs_of(stack, action_log, key) == ["callback"]
    assert driver.execute_script(_RECORDS_JS) == []
    assert driver.find_element(By.ID, "status").text == ""  # the "Not finished" line is gone


def test_a_dropped_connection_is_kept_for_a_resume(stack: LocalStack, driver: WebDriver, tmp_path: Path,
                                                    action_log: Path) -> None:
    """The browser goes offline mid-upload: after its retries the page says the connection dropped and keeps the
    upload; back online, the same file resumes and completes once."""
    big = _file(tmp_path, "offline.bin", SLOW_PARTS * MiB - MiB // 2)
    _open(driver, stack)
    _network(driver, upload_throughput=SLOW_LINK)
    try:
        driver.find_element(By.ID, "files").send_keys(str(big))
        wait_for(lambda: any(r["parts"] for r in driver.execute_script(_RECORDS_JS)), what="a first part in OSS")
        _network(driver, offline=True, upload_throughput=0, download_throughput=0)
        row = _finished(driver, big.name)
    finally:
        _network(driver)
    assert (row["state"], row["kind"]) == ("failed", "interrupted"), row["message"]
    assert row["message"].startswith("The connection to OSS dropped after ") and "Pick the same file again" in row[
        "message"] and 1 <= row["done"] < SLOW_PARTS, row
    assert len(driver.execute_script(_RECORDS_JS)) == 1

    driver.find_element(By.ID, "files").send_keys(str(big))
    wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#uploads li.file")) == 2, what="a second row")
    row = _finished(driver, big.name)  # the newest row (the page prepends)
    assert row["state"] == "done" and 1 <= row["resumed"] < SLOW_PARTS, row
    screenshot(driver, tmp_path / "resumed.png", tmp_path)  # the failed row, then the resumed one
    key = _object(row["answer"])
    assert _runs_of(stack, action_log, key) == ["callback"]


def test_a_file_under_the_threshold_still_goes_by_post_object(stack: LocalStack, driver: WebDriver,
                                                              tmp_path: Path) -> None:
    small = _file(tmp_path, "note.bin", THRESHOLD - 1)
    _open(driver, stack)
    driver.find_element(By.ID, "files").send_keys(str(small))
    row = _finished(driver, small.name)
    assert (row["state"], row["mode"], row["parts"]) == ("done", "", ""), row
    key = _object(row["answer"])
    assert _sent(driver, stack, key) == []  # a PostObject goes to the bucket's URL, not the key's
    assert driver.find_element(By.ID, "limits").text == (
        "Files of 1.0 MiB or more go up in parts and can resume; smaller ones at most 10.0 MiB.")


def test_a_bucket_without_cors_is_explained(stack: LocalStack, driver: WebDriver, tmp_path: Path) -> None:
    """No answer at all from OSS (the browser withholds it): after its retries the page says what post() says."""
    page = urlsplit(stack.info().upload_page_url)
    big = _file(tmp_path, "no-cors.bin", THRESHOLD)
    stack.oss.allow_origins([])
    try:
        _open(driver, stack)
        driver.find_element(By.ID, "files").send_keys(str(big))
        row = _finished(driver, big.name)
    finally:
        stack.oss.allow_origins([f"{page.scheme}://{page.netloc}"])
    assert (row["state"], row["kind"]) == ("failed", "cors"), row
    assert f"{page.scheme}://{page.netloc}) with PUT, POST and DELETE" in row["message"]
    assert driver.execute_script(_RECORDS_JS) == []  # nothing was started


def test_the_signer_in_chromium_gives_ali_oss_signatures(stack: LocalStack, driver: WebDriver) -> None:
    """static/ossv4.js as the page loads it (Chromium's Web Crypto), on the cases test_ossv4.py signs with ali-oss."""
    expected = signatures()
    _open(driver, stack)
    script = """
    const [cases, done] = arguments;
    Promise.all(cases.map(c => OssV4.authorization(c.creds, c.region, c.method, c.bucket, c.key, c.query, c.headers)))
      .then(done, e => done('error: ' + e));
    """
    assert driver.execute_async_script(script, expected["cases"]) == expected["ali"]


def test_the_screenshot(stack: LocalStack, driver: WebDriver, tmp_path: Path) -> None:
    """A large file done in parts, the callback's answer under it."""
    _open(driver, stack)
    driver.find_element(By.ID, "files").send_keys(str(_file(tmp_path, "holiday-video.mp4")))
    assert _finished(driver, "holiday-video.mp4")["state"] == "done"
    screenshot(driver, SCREENSHOT, tmp_path)


def _sts_answer(driver: WebDriver, stack: LocalStack) -> dict[str, Any]:
    """A /sts answer in this browser's session (what the page caches in sessionStorage)."""
    _open(driver, stack)
    script = "fetch('sts').then(r => r.json()).then(arguments[0])"
    answer: dict[str, Any] = driver.execute_async_script(script)
    assert answer["ok"], answer
    return answer


def test_a_fatal_answer_from_oss_aborts_the_upload(stack: LocalStack, driver: WebDriver, tmp_path: Path) -> None:
    """A resume record whose part size is under OSS's 100 KB minimum: every part goes, and OSS refuses the
    CompleteMultipartUpload (400 EntityTooSmall), a fatal answer: the page aborts the upload (AbortMultipartUpload,
    a DELETE the bucket's CORS rule allows), forgets it, and says what OSS said."""
    small = _file(tmp_path, "small-parts.bin", THRESHOLD + 4096)
    sts = _sts_answer(driver, stack)
    key = sts["key_prefix"] + small.name
    auth = oss2.StsAuth(sts["AccessKeyId"], sts["AccessKeySecret"], sts["SecurityToken"], auth_version="v4")
    upload_id = oss2.Bucket(auth, sts["endpoint"], sts["bucket"], region=sts["region"]).init_multipart_upload(
        key).upload_id
    record = {"uploadId": upload_id, "key": key, "size": small.stat().st_size, "partSize": 90 * 1024, "parts": {}}
    driver.execute_script("sessionStorage.setItem('osscb.sts', JSON.stringify(arguments[0]));"
                          "localStorage.setItem(arguments[1], JSON.stringify(arguments[2]));", sts,
                          _record_key(small), record)
    driver.find_element(By.ID, "files").send_keys(str(small))
    row = _finished(driver, small.name)
    assert (row["state"], row["kind"]) == ("failed", "oss"), row
    assert row["message"].startswith("OSS answered 400 EntityTooSmall.") and row["total"] == 12, row
    with pytest.raises(oss2.exceptions.NoSuchUpload):  # aborted: OSS holds nothing of it
        _owner(stack).list_parts(key, upload_id)
    assert driver.execute_script(_RECORDS_JS) == []
    with pytest.raises(oss2.exceptions.NoSuchKey):
        _owner(stack).head_object(key)


def test_expired_credentials_are_fetched_again(tmp_path_factory: pytest.TempPathFactory, driver: WebDriver,
                                               tmp_path: Path) -> None:
    """The page holds credentials its clock thinks valid but OSS finds expired (403 SecurityTokenExpired, from the
    local OSS's token check): it asks /sts for new ones and the upload goes on, under an authorizer that gives
    every request the same prefix (with `anonymous` each answer has a prefix of its own: the next test)."""
    action_log = tmp_path_factory.mktemp("runs") / "runs.jsonl"
    with _stack(tmp_path_factory.mktemp("oss"), action_log, "page_authorizers:stable") as stack:
        _renewed(stack, driver, tmp_path, action_log)


def _renewed(stack: LocalStack, driver: WebDriver, tmp_path: Path, action_log: Path) -> None:
    big = _file(tmp_path, "renewed.bin", THRESHOLD + 4096)
    sts = _sts_answer(driver, stack)
    key_id, secret, token = stack.oss.issue_sts_token(ttl_seconds=0.5)
    stale = {**sts, "AccessKeyId": key_id, "AccessKeySecret": secret, "SecurityToken": token,
             "Expiration": "2999-01-01T00:00:00Z"}
    driver.execute_script("sessionStorage.setItem('osscb.sts', JSON.stringify(arguments[0]))", stale)
    wait_for(lambda: _refused(stack, key_id, secret, token), what="the token to expire")
    driver.find_element(By.ID, "files").send_keys(str(big))
    row = _finished(driver, big.name)
    assert row["state"] == "done", row["message"]
    fresh = driver.execute_script("return JSON.parse(sessionStorage.getItem('osscb.sts'))")
    assert fresh["AccessKeyId"] not in (key_id, sts["AccessKeyId"])  # fetched again
    assert _runs_of(stack, action_log, _object(row["answer"])) == ["callback"]


def test_expired_credentials_under_a_fresh_prefix_say_to_upload_again(stack: LocalStack, driver: WebDriver,
                                                                       tmp_path: Path) -> None:
    """`anonymous` hands every /sts answer a new prefix, so once the credentials a resume record was made with
    expired, new ones cannot write its key: the page starts over under the new prefix rather than failing."""
    big = _file(tmp_path, "expired.bin", THRESHOLD + 4096)
    sts = _sts_answer(driver, stack)
    driver.execute_script("sessionStorage.setItem('osscb.sts', JSON.stringify(arguments[0]))",
                          {**sts, "Expiration": "2000-01-01T00:00:00Z"})
    key = sts["key_prefix"] + big.name
    record = {"uploadId": "0123456789ABCDEF", "key": key, "size": big.stat().st_size, "partSize": MiB, "parts": {}}
    driver.execute_script("localStorage.setItem(arguments[0], JSON.stringify(arguments[1]))", _record_key(big), record)
    driver.find_element(By.ID, "files").send_keys(str(big))
    row = _finished(driver, big.name)
    # the earlier upload is out of reach of the new credentials: the page starts over under the new prefix
    assert row["state"] == "done", row["message"]
    assert _object(row["answer"]) != key and _object(row["answer"]).endswith("/expired.bin")


def _record_key(path: Path) -> str:
    """The page's localStorage name for a file's resume record: its name, size and lastModified."""
    return "osscb.multipart:" + json.dumps([path.name, path.stat().st_size, int(path.stat().st_mtime * 1000)],
                                           separators=(",", ":"))


def _refused(stack: LocalStack, key_id: str, secret: str, token: str) -> bool:
    bucket = oss2.Bucket(oss2.StsAuth(key_id, secret, token, auth_version="v4"), stack.oss.endpoint, stack.bucket,
                         region=stack.info().region)
    try:
        bucket.put_object("uploads/probe", b"")
    except oss2.exceptions.ServerError as exc:
        return exc.code == "SecurityTokenExpired"
    return False


# --- the threshold's setting (no browser) ---------------------------------------------------------------------------
_ENV = {"OSS_ENDPOINT": "https://oss-cn-hangzhou.aliyuncs.com", "OSS_BUCKET": "b", "UPLOAD_AUTHORIZER": "anonymous",
        "UPLOAD_MAX_SIZE": "1000"}
_ROLE = {"UPLOAD_STS_ROLE_ARN": "acs:ram::1:role/uploader"}


@pytest.mark.parametrize("env, threshold", [
    ({}, None),  # no /sts: PostObject only, as before
    (_ROLE, 1001),  # /sts configured: whatever PostObject's limit refuses goes in parts
    ({**_ROLE, "UPLOAD_MULTIPART_THRESHOLD": "500"}, 500),
    ({**_ROLE, "UPLOAD_MULTIPART_THRESHOLD": "off"}, None),
])
def test_the_threshold_the_page_is_given(env: dict[str, str], threshold: int | None) -> None:
    assert PolicyApp.from_env({**_ENV, **env}).multipart_threshold == threshold


@pytest.mark.parametrize("env, problem", [
    ({"UPLOAD_MULTIPART_THRESHOLD": "500"}, "needs GET /sts: set UPLOAD_STS_ROLE_ARN"),
    ({**_ROLE, "UPLOAD_MULTIPART_THRESHOLD": "0"}, "positive number of bytes, or off"),
    ({**_ROLE, "UPLOAD_MULTIPART_THRESHOLD": "5 MB"}, "not an integer"),
])
def test_a_bad_threshold_stops_the_cold_start(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        PolicyApp.from_env({**_ENV, **env})
