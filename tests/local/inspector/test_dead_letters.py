"""The inspector lists the backstop's dead letters (reason, attempts, event) with a Redeliver button: a real local
stack over a real ``redis-server`` that is stopped while an upload arrives (every retry fails, the dead-letters
function keeps the event), then started again, and the page in headless Chromium redelivers it: the action runs
once, the dead letter goes. A key holding markup shows as text. The API refuses what the page never sends."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest
from selenium.webdriver.common.by import By

from osscallback.local.stack import LocalStack
from osscallback.upload.templates import build_callback
from tests.support.browser import chromium
from tests.support.delivery import FIXTURES, RedisServer, runs
from tests.support.inspector import wait_for
from tests.support.oss_clients import REGION

EVIL = 'examples/<img src=x onerror="window.pwned=1">dead.txt'
_ROWS_JS = """
return Array.from(document.querySelectorAll('#dead-letters tbody tr')).map(tr => {
  const cells = {};
  for (const td of tr.cells) cells[td.className.replace('c-', '')] = td.textContent;
  return {id: tr.dataset.id, cells: cells};
});
"""


@pytest.fixture()
def stack(tmp_path: Path, redis: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(FIXTURES), os.environ.get("PYTHONPATH")) if p))
    env = {"CALLBACK_ACTION": "counting_action:record", "COUNTING_ACTION_LOG": str(tmp_path / "runs.jsonl"),
           "CALLBACK_IDEMPOTENCY_CLAIM_TTL": "2", "CALLBACK_IDEMPOTENCY_WAIT": "0.2"}
    with LocalStack(data_dir=tmp_path / "oss", log_sink=lambda fn, line: None, store=redis.url, async_backoff=0.02,
                    env=env) as running:
        yield running


def _post(url: str, content_type: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_dead_letter_is_listed_and_redelivered_from_the_page(stack: LocalStack, redis: RedisServer,
                                                               tmp_path: Path) -> None:
    info = stack.info()
    redis.stop()
    bucket = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)
    spec = build_callback("form-basic", {"callback_url": info.callback_url})
    assert bucket.put_object(EVIL, b"x", headers=spec.headers()).status == 203
    stack.settle(timeout=60)
    with urllib.request.urlopen(info.inspector_url + "api/dead-letters", timeout=30) as resp:
        (listed,) = json.loads(resp.read())["dead_letters"]
    assert listed["uploads"] == [f"{info.bucket}/{EVIL}"] and listed["attempts"] == 9
    assert json.loads(listed["event"])["events"][0]["oss"]["object"]["key"] == EVIL

    with chromium() as driver:
        driver.get(info.inspector_url)
        (row,) = wait_for(lambda: driver.execute_script(_ROWS_JS), what="the dead letter's row")
        cells = row["cells"]
        assert cells["uploads"] == f"{info.bucket}/{EVIL}"  # markup in a key is text
        assert cells["attempts"] == "9" and "idempotency store unavailable" in cells["reason"]
        assert row["id"] == listed["id"]
        assert driver.execute_script("return window.pwned === undefined && !document.querySelector('#dead-letters img')")

        redis.restart()
        driver.find_element(By.CSS_SELECTOR, f'#dead-letters tr[data-id="{row["id"]}"] button.redeliver').click()
        result = wait_for(lambda: driver.find_element(By.ID, "dead-letters-result").text, what="the result")
        assert result.startswith("redelivered ") and "action ran 1, already delivered 0" in result
        wait_for(lambda: not driver.execute_script(_ROWS_JS), what="the dead letter to go")
        assert driver.execute_script("return window.pwned === undefined")
    (run,) = runs(tmp_path / "runs.jsonl")
    assert run["object"] == EVIL and run["source"] == "oss_event"
    # the same dead letter again: already removed
    status, doc = _post(info.inspector_url + f"api/dead-letters/{listed['id']}/redeliver")
    assert status == 200 and doc["outcome"] == "gone"
    assert len(runs(tmp_path / "runs.jsonl")) == 1


def test_the_api_refuses_what_the_page_never_sends(stack: LocalStack) -> None:
    base = stack.info().inspector_url
    assert _post(base + "api/dead-letters/x.json/redeliver", "text/plain")[0] == 415  # a cross-site form's type
    assert _post(base + "api/dead-letters/..%2Fidempotency%2Fx/redeliver")[0] == 404
    assert _post(base + "api/dead-letters")[0] == 405
