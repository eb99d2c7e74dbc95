"""OSS triggers: read from both template formats, matched like FC matches them, delivered asynchronously."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osscallback.deploy.fcyaml import OssTriggerConfig, load_template
from osscallback.local.fc import FCCredentials, LocalFCError, LocalFCHost, load_specs
from osscallback.local.fc.osstrigger import OssTrigger
from tests.support.fc import FIXTURES, LogLines

FC2_TEMPLATE = """
edition: 1.0.0
name: t
vars:
  bucket: ${env(OSS_BUCKET)}
services:
  created:
    component: devsapp/fc
    props:
      region: cn-hangzhou
      service: {name: svc}
      function:
        name: created
        runtime: python3.10
        codeUri: ./echo
        handler: index.handler
        environmentVariables: {RECORD_FILE: "%(records)s/created"}
        asyncConfiguration: {maxAsyncRetryAttempts: 0}
      triggers:
        - name: uploads
          type: oss
          role: acs:ram::1:role/aliyunosseventnotificationrole
          config:
            bucketName: ${vars.bucket}
            events: [oss:ObjectCreated:*]
            filter: {Key: {Prefix: in/, Suffix: .txt}}
  puts:
    component: devsapp/fc
    props:
      region: cn-hangzhou
      service: {name: svc}
      function:
        name: puts
        runtime: python3.10
        codeUri: ./echo
        handler: index.handler
        environmentVariables: {RECORD_FILE: "%(records)s/puts"}
      triggers:
        - name: put-only
          type: oss
          sourceArn: acs:oss:cn-hangzhou:123:${vars.bucket}
          config:
            events: [oss:ObjectCreated:PutObject, oss:ObjectRemoved:DeleteObject]
            filter: {Key: {Prefix: '', Suffix: ''}}
        - name: also-puts
          type: oss
          config: {bucketName: "${vars.bucket}", events: ["oss:ObjectCreated:PutObject"], filter: {Key: {}}}
  elsewhere:
    component: devsapp/fc
    props:
      region: cn-hangzhou
      service: {name: svc}
      function:
        name: elsewhere
        runtime: python3.10
        codeUri: ./echo
        handler: index.handler
        environmentVariables: {RECORD_FILE: "%(records)s/elsewhere"}
      triggers:
        - name: other-bucket
          type: oss
          config: {bucketName: other, events: ["oss:ObjectCreated:*"], filter: {Key: {Prefix: ''}}}
"""

FC3_TEMPLATE = """
edition: 3.0.0
name: t
resources:
  backstop:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: backstop
      runtime: python3.10
      code: ./echo
      handler: index.handler
      asyncInvokeConfig: {maxAsyncRetryAttempts: 5}
      triggers:
        - triggerName: uploads
          triggerType: oss
          sourceArn: acs:oss:cn-hangzhou:${config("AccountID")}:${env('OSS_BUCKET', 'bkt')}
          qualifier: LATEST
          triggerConfig:
            events: [oss:ObjectCreated:PutObject, oss:ObjectCreated:CompleteMultipartUpload]
            filter: {key: {prefix: uploads/, suffix: ''}}
"""


def record(event_name: str, key: str, bucket: str = "bkt") -> dict[str, Any]:
    """One record as the official "trigger event formats" page shows it."""
    return {
        "eventName": event_name, "eventSource": "acs:oss", "eventTime": "2025-01-01T00:00:00.000Z",
        "eventVersion": "1.0", "region": "cn-hangzhou",
        "oss": {"bucket": {"arn": f"acs:oss:cn-hangzhou:123:{bucket}", "name": bucket, "ownerIdentity": "123"},
                "object": {"deltaSize": 5, "eTag": "5D41402ABC4B2A76B9719D911017C592", "key": key, "size": 5},
                "ossSchemaVersion": "1.0", "ruleId": "rule"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"requestId": "5F0000000000000000000001"},
        "userIdentity": {"principalId": "123"},
    }


@pytest.fixture()
def templates(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "echo", tmp_path / "echo")
    (tmp_path / "records").mkdir()
    (tmp_path / "fc2.yml").write_text(FC2_TEMPLATE % {"records": tmp_path / "records"})
    (tmp_path / "fc3.yml").write_text(FC3_TEMPLATE)
    return tmp_path


def test_fc2_oss_triggers_are_read(templates: Path) -> None:
    specs = {s.name: s for s in load_specs(templates / "fc2.yml", {"OSS_BUCKET": "bkt"})}
    (uploads,) = specs["created"].oss_triggers
    assert uploads == OssTrigger("uploads", "bkt", ("oss:ObjectCreated:*",), "in/", ".txt")
    assert [t.bucket for t in specs["puts"].oss_triggers] == ["bkt", "bkt"]  # sourceArn, then bucketName
    assert specs["created"].async_retry_attempts == 0 and specs["puts"].async_retry_attempts is None
    assert specs["created"].http_methods is None


def test_fc3_oss_triggers_are_read(templates: Path) -> None:
    (fn,) = load_template(templates / "fc3.yml", {}).functions
    (trigger,) = fn.oss_triggers
    assert trigger.oss == OssTriggerConfig("bkt", ("oss:ObjectCreated:PutObject",
                                                   "oss:ObjectCreated:CompleteMultipartUpload"), "uploads/", "")
    assert trigger.qualifier == "LATEST" and fn.max_async_retry_attempts == 5


def test_a_trigger_without_bucket_is_refused(templates: Path) -> None:
    text = (templates / "fc2.yml").read_text().replace("bucketName: other, ", "")
    (templates / "nobucket.yml").write_text(text)
    with pytest.raises(LocalFCError, match="'other-bucket' names no bucket"):
        load_specs(templates / "nobucket.yml", {"OSS_BUCKET": "bkt"})


@pytest.mark.parametrize(("events", "name", "expected"), [
    (("oss:ObjectCreated:*",), "ObjectCreated:PutObject", True),
    (("oss:ObjectCreated:*",), "ObjectCreated:CompleteMultipartUpload", True),
    (("oss:ObjectCreated:*",), "ObjectRemoved:DeleteObject", False),
    (("oss:ObjectCreated:PutObject",), "ObjectCreated:PutObject", True),
    (("oss:ObjectCreated:PutObject",), "ObjectCreated:PostObject", False),
    (("ObjectCreated:PostObject",), "oss:ObjectCreated:PostObject", True),
    (("oss:ObjectCreated:PutObject",), "objectcreated:putobject", False),  # case matters
])
def test_event_names(events: tuple[str, ...], name: str, expected: bool) -> None:
    assert OssTrigger("t", "bkt", events).matches_event_name(name) is expected


@pytest.mark.parametrize(("rec", "expected"), [
    (record("ObjectCreated:PutObject", "in/a.txt"), True),
    (record("ObjectCreated:PutObject", "in/a.png"), False),  # suffix
    (record("ObjectCreated:PutObject", "out/a.txt"), False),  # prefix
    (record("ObjectCreated:PutObject", "in/a.txt", bucket="other"), False),  # bucket
    (record("ObjectRemoved:DeleteObject", "in/a.txt"), False),  # event
    ({"eventName": "ObjectCreated:PutObject"}, False),  # not an OSS record
])
def test_records(rec: dict[str, Any], expected: bool) -> None:
    assert OssTrigger("t", "bkt", ("oss:ObjectCreated:*",), "in/", ".txt").matches(rec) is expected


@pytest.fixture()
def host(templates: Path, credentials: FCCredentials) -> Iterator[LocalFCHost]:
    specs = load_specs(templates / "fc2.yml", {"OSS_BUCKET": "bkt"})
    with LocalFCHost(specs, credentials=credentials, async_backoff=0.05, log_sink=LogLines(), stop_grace=2) as fc:
        yield fc


def delivered(templates: Path, function: str) -> list[dict[str, Any]]:
    path = templates / "records" / function
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_dispatch_invokes_each_matching_function_once(host: LocalFCHost, templates: Path) -> None:
    event = {"events": [record("ObjectCreated:PutObject", "in/a.txt")]}
    queued = host.dispatch_oss_event(event)
    assert sorted((q.function, q.source) for q in queued) == [("created", "oss:uploads"), ("puts", "oss:put-only")]
    assert host.wait_async(60)
    assert all(host.async_invocation(q.request_id).ok for q in queued)  # type: ignore[union-attr]
    (created,) = delivered(templates, "created")
    assert created["event"] == event  # the official document, unchanged
    assert created["request_id"] == next(q.request_id for q in queued if q.function == "created")
    assert len(delivered(templates, "puts")) == 1  # two of its triggers match: still one invocation
    assert delivered(templates, "elsewhere") == []


def test_dispatch_filters(host: LocalFCHost, templates: Path) -> None:
    assert [q.function for q in host.dispatch_oss_event({"events": [record("ObjectCreated:PostObject",
                                                                            "in/b.txt")]})] == ["created"]
    assert [q.function for q in host.dispatch_oss_event(json.dumps(
        {"events": [record("ObjectCreated:PutObject", "x.png", bucket="other")]}))] == ["elsewhere"]
    assert host.dispatch_oss_event({"events": [record("ObjectCreated:PostObject", "in/b.png")]}) == []
    mixed = {"events": [record("ObjectCreated:PutObject", "in/c.txt"), record("ObjectCreated:PutObject", "d.txt")]}
    assert sorted(q.function for q in host.dispatch_oss_event(mixed)) == ["created", "puts"]
    assert host.wait_async(60)
    keys = sorted([r["oss"]["object"]["key"] for r in d["event"]["events"]] for d in delivered(templates, "created"))
    assert keys == [["in/b.txt"], ["in/c.txt"]]  # the mixed event reached it with only its own record
    assert [len(d["event"]["events"]) for d in delivered(templates, "puts")] == [2]


def test_a_failing_oss_invocation_follows_the_template_retries(host: LocalFCHost, templates: Path) -> None:
    (templates / "records").rename(templates / "gone")  # RECORD_FILE's directory is missing: the function raises
    (queued,) = host.dispatch_oss_event({"events": [record("ObjectCreated:PutObject", "in/e.txt")]})[:1]
    assert host.wait_async(60)
    done = host.async_invocation(queued.request_id)
    assert done is not None and done.status == "failed"
    assert len(done.attempts) == 1 + (0 if queued.function == "created" else 3)


def test_dispatch_refuses_what_is_no_event_document(host: LocalFCHost) -> None:
    with pytest.raises(ValueError, match="OSS event"):
        host.dispatch_oss_event(b"not json")
    with pytest.raises(ValueError, match="OSS event"):
        host.dispatch_oss_event("[1, 2]")
    assert host.dispatch_oss_event({"events": "nope"}) == []
