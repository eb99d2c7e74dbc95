"""OSS-trigger events in the inspector: each asynchronous delivery of an OSS event to a function, with its
attempts, from the local FC host's own records, in the API and on the page (keys escaped there too)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from osscallback.local.fc import LocalFCHost, load_specs
from osscallback.local.inspector import Inspector
from tests.support.browser import chromium
from tests.support.inspector import call, wait_for

TEMPLATE = """
edition: 1.0.0
name: t
services:
  backstop:
    component: devsapp/fc
    props:
      region: cn-hangzhou
      service: {name: svc}
      function:
        name: backstop
        runtime: python3.10
        codeUri: ./backstop
        handler: index.handler
        asyncConfiguration: {maxAsyncRetryAttempts: 1}
      triggers:
        - name: uploads
          type: oss
          role: acs:ram::1:role/aliyunosseventnotificationrole
          config: {bucketName: bkt, events: ["oss:ObjectCreated:*"], filter: {Key: {Prefix: '', Suffix: ''}}}
"""
FUNCTION = '''
import json

def handler(event, context):
    key = json.loads(event)["events"][0]["oss"]["object"]["key"]
    if "fail" in key:
        raise RuntimeError("refusing " + key)
    return "ok"
'''
EVIL = "events/<script>window.pwned=1</script>.txt"


def _event(key: str, operation: str = "PutObject") -> dict:
    return {"events": [{
        "eventName": f"ObjectCreated:{operation}", "eventSource": "acs:oss", "eventTime": "2026-01-01T00:00:00.000Z",
        "eventVersion": "1.0", "region": "cn-hangzhou",
        "oss": {"bucket": {"arn": "acs:oss:cn-hangzhou:1:bkt", "name": "bkt", "ownerIdentity": "1"},
                "object": {"deltaSize": 5, "eTag": "ABC", "key": key, "size": 5}, "ossSchemaVersion": "1.0",
                "ruleId": "r"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {"requestId": "RID"},
        "userIdentity": {"principalId": "1"}}]}


@pytest.fixture()
def host(tmp_path: Path, inspector: Inspector) -> Iterator[LocalFCHost]:
    (tmp_path / "backstop").mkdir()
    (tmp_path / "backstop" / "index.py").write_text(textwrap.dedent(FUNCTION))
    (tmp_path / "s.yml").write_text(TEMPLATE)
    fc = LocalFCHost(load_specs(tmp_path / "s.yml", {}), async_backoff=0.05, log_sink=lambda fn, line: None,
                     stop_grace=2)
    seen: list[str] = []
    fc.async_observer = lambda inv: seen.append(inv.status)  # an observer already there keeps getting called
    inspector.watch_fc(fc)
    with fc:
        fc.seen = seen  # type: ignore[attr-defined]
        yield fc


def test_deliveries_are_listed_with_their_attempts(host: LocalFCHost, inspector: Inspector) -> None:
    assert call(inspector.url + "api/events")[2]["events"] == []
    ok = host.dispatch_oss_event(_event("events/ok.txt"))
    failing = host.dispatch_oss_event(_event("events/fail.txt", "CompleteMultipartUpload"))
    assert host.invoke_async("backstop", b'{"not": "oss"}').source == "InvokeFunction"  # not an OSS event: not listed
    assert host.wait_async(60)
    status, _, doc = call(inspector.url + "api/events")
    assert status == 200
    listed = {e["request_id"]: e for e in doc["events"]}
    assert set(listed) == {ok[0].request_id, failing[0].request_id}
    good, bad = listed[ok[0].request_id], listed[failing[0].request_id]
    assert (good["event_name"], good["bucket"], good["object"]) == ("ObjectCreated:PutObject", "bkt", "events/ok.txt")
    assert (good["function"], good["trigger"], good["outcome"], good["attempts"]) == ("svc/backstop", "uploads",
                                                                                     "succeeded", 1)
    assert (bad["event_name"], bad["outcome"], bad["attempts"], bad["max_attempts"]) == (
        "ObjectCreated:CompleteMultipartUpload", "failed", 2, 2)  # the template's one retry
    assert "refusing events/fail.txt" in bad["error"]
    assert [e["number"] for e in doc["events"]] == [2, 1]  # newest first, numbered once however often updated
    assert "succeeded" in host.seen  # type: ignore[attr-defined]


def test_the_page_lists_events_as_text(host: LocalFCHost, inspector: Inspector) -> None:
    host.dispatch_oss_event(_event(EVIL))
    assert host.wait_async(60)
    with chromium() as driver:
        driver.get(inspector.url)
        row = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#events tbody tr"), what="the event row")[0]
        assert row.find_element(By.CSS_SELECTOR, ".c-object").text == EVIL
        assert row.find_element(By.CSS_SELECTOR, ".c-outcome").text == "succeeded"
        assert row.find_element(By.CSS_SELECTOR, ".c-attempts").text == "1 of 2"
        assert row.find_elements(By.TAG_NAME, "script") == []
        assert driver.execute_script("return window.pwned === undefined") is True
        assert not driver.find_element(By.ID, "events-empty").is_displayed()
