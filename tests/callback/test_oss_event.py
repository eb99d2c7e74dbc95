"""The OSS-event backstop: the third adapter over the callback core, sharing its store and its dedupe key.

Real uploads to the local OSS with real signed callbacks into the callback function (waitress), then the OSS
trigger event FC would deliver for the same upload (official format, built from what OSS answered the upload):
each upload's action runs exactly once whichever path arrives first, and runs through the event when the
callback failed or was never asked for. The event path never runs without a claim and fails the invocation (FC
retries it) while a callback holds the claim, while the store is down, or when the action fails; it refuses the
``memory`` store at start-up and skips its own marker objects.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest

from osscallback.callback.core import CallbackApp
from osscallback.callback.oss_event import HANDLED_EVENTS, DeliveryFailed, OssEventApp, load_event_app, parse_event
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.errors import ConfigError
from osscallback.local.httpserver import WSGIServer
from osscallback.local.oss import LocalOSS
from osscallback.upload.templates import build_callback
from tests.support.delivery import FIXTURES, MARKERS, REGION, ROOT, closed_port, oss_store_env, runs

#: The sample of FC's "trigger event formats" page (OSS triggers), as published.
OFFICIAL_SAMPLE = {
    "events": [{
        "eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": "2022-08-13T06:45:43.000Z",
        "eventVersion": "1.0",
        "oss": {"bucket": {"arn": "acs:oss:cn-hangzhou:123456789:testbucket", "name": "testbucket",
                           "ownerIdentity": "164901546557****"},
                "object": {"deltaSize": 122539, "eTag": "688A7BF4F233DC9C88A80BF985AB****", "key": "source/a.png",
                           "size": 122539},
                "ossSchemaVersion": "1.0", "ruleId": "9adac8e253828f4f7c0466d941fa3db81161****"},
        "region": "cn-hangzhou", "requestParameters": {"sourceIPAddress": "140.205.XX.XX"},
        "responseElements": {"requestId": "58F9FF2D3DF792092E12044C"},
        "userIdentity": {"principalId": "164901546557****"},
    }]
}


def event_for(bucket: str, key: str, etag: str, size: int, request_id: str,
              name: str = "ObjectCreated:PutObject") -> bytes:
    """The OSS trigger event of one stored upload, in the official format (bytes, as FC hands it over)."""
    entry = json.loads(json.dumps(OFFICIAL_SAMPLE["events"][0]))
    entry["eventName"] = name
    entry["oss"]["bucket"]["name"] = bucket
    entry["oss"]["object"].update({"key": key, "eTag": etag, "size": size, "deltaSize": size})
    entry["responseElements"]["requestId"] = request_id
    return json.dumps({"events": [entry]}).encode()


class Context:
    """FC's context as an event handler sees it (request id and the role's fresh credentials)."""

    def __init__(self, request_id: str = "fc-invocation-1", credentials: Any = None) -> None:
        self.request_id = request_id
        self.credentials = credentials


@pytest.fixture()
def wiring(local_oss: LocalOSS, key_server: Any, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., dict[str, Any]]]:
    """A callback function (waitress) and an event app over one oss:// store on the local OSS, a counting
    action, and an oss2 bucket that uploads with callbacks to that function."""
    monkeypatch.setenv("COUNTING_ACTION_LOG", str(tmp_path / "runs.jsonl"))
    servers: list[WSGIServer] = []

    def build(**extra: str) -> dict[str, Any]:
        env = {
            "CALLBACK_KEY_URL_PREFIXES": f"{key_server.prefix},{local_oss.public_key_prefix}",
            "CALLBACK_ACTION": "counting_action:record", "CALLBACK_RESPONSE_TEMPLATE": "echo",
            **oss_store_env(local_oss), **extra,
        }
        app = CallbackApp.from_env(env)
        server = WSGIServer(make_wsgi_handler(app), threads=16).start()
        servers.append(server)
        auth = oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret)
        bucket = oss2.Bucket(auth, local_oss.endpoint, local_oss.bucket, region=REGION)
        return {"app": app, "events": OssEventApp(CallbackApp.from_env(env)), "url": server.url + "/cb",
                "bucket": bucket, "log": tmp_path / "runs.jsonl", "env": env}

    yield build
    for server in servers:
        server.stop()


def _put(w: dict[str, Any], key: str, data: bytes = b"hello", url: str | None = None,
         template: str = "form-basic") -> tuple[Any, bytes]:
    """An oss2 upload with a callback: (result, the OSS trigger event OSS would send for it)."""
    spec = build_callback(template, {"callback_url": url or w["url"]})
    result = w["bucket"].put_object(key, data, headers=spec.headers())
    etag = result.etag
    return result, event_for(w["bucket"].bucket_name, key, etag, len(data), result.request_id)


def test_the_official_sample_parses() -> None:
    (entry,) = parse_event(json.dumps(OFFICIAL_SAMPLE).encode())
    assert (entry.event_name, entry.bucket, entry.key, entry.size) == ("ObjectCreated:PutObject", "testbucket",
                                                                       "source/a.png", 122539)
    assert (entry.etag, entry.request_id, entry.operation) == ("688A7BF4F233DC9C88A80BF985AB****",
                                                               "58F9FF2D3DF792092E12044C", "PutObject")
    event = entry.as_event("inv-1")
    assert event.source == "oss_event" and event.body.req_id == "58F9FF2D3DF792092E12044C"
    assert event.body.client_ip == "140.205.XX.XX" and event.event_name == "ObjectCreated:PutObject"


def test_callback_then_event_runs_once(wiring: Callable[..., dict[str, Any]]) -> None:
    w = wiring()
    result, event = _put(w, "examples/a.txt")
    assert result.status == 200
    summary = w["events"].handle(event, Context())
    assert summary["records"] == [{"bucket": "examplebucket", "object": "examples/a.txt", "outcome": "duplicate"}]
    (run,) = runs(w["log"])
    assert run["source"] == "callback"


@pytest.mark.parametrize("template", ["form-basic", "json-basic", "json-full", "image"])
def test_every_shipped_template_shares_the_key_with_the_event(wiring: Callable[..., dict[str, Any]],
                                                             template: str) -> None:
    w = wiring()
    data = (ROOT / "functions/upload/samples/photo.png").read_bytes() if template == "image" else b"x" * 7
    result, event = _put(w, f"examples/{template}/a 中文+b.bin", data, template=template)
    assert result.status == 200, result.resp.read()
    assert w["events"].handle(event, Context())["records"][0]["outcome"] == "duplicate"
    assert len(runs(w["log"])) == 1


def test_a_failed_callback_is_delivered_by_the_event_once(wiring: Callable[..., dict[str, Any]]) -> None:
    w = wiring()
    refused = f"http://127.0.0.1:{closed_port()}/cb"  # the callback function is down
    result, event = _put(w, "examples/down.txt", url=refused)
    assert result.status == 203  # OSS's CallbackFailed: the object is stored anyway
    assert w["bucket"].object_exists("examples/down.txt")
    assert w["events"].handle(event, Context())["records"][0]["outcome"] == "ran"
    assert w["events"].handle(event, Context("fc-retry"))["records"][0]["outcome"] == "duplicate"  # redelivered
    (run,) = runs(w["log"])
    assert run["source"] == "oss_event" and run["object"] == "examples/down.txt"


def test_event_first_then_the_callback_gets_the_stored_result(wiring: Callable[..., dict[str, Any]]) -> None:
    """The event may arrive before a slow callback: the callback then answers from the event's run."""
    w = wiring()
    put = w["bucket"].put_object("examples/no-callback.txt", b"abc")  # an upload with no callback at all
    event = event_for("examplebucket", "examples/no-callback.txt", put.etag, 3, put.request_id)
    assert w["events"].handle(event, Context())["records"][0]["outcome"] == "ran"
    assert [r["source"] for r in runs(w["log"])] == ["oss_event"]


def test_the_event_fails_while_a_callback_holds_the_claim(wiring: Callable[..., dict[str, Any]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A callback on another instance still runs the action (its claim is in progress): the event invocation
    fails, so FC retries it; once the callback completed, the retry is a duplicate. Never two runs."""
    w = wiring(CALLBACK_IDEMPOTENCY_WAIT="0.3")
    started = w["log"].with_name("started.jsonl")
    monkeypatch.setenv("COUNTING_ACTION_DELAY", "1")  # inside the local OSS's callback timeout (1.5 s here)
    monkeypatch.setenv("COUNTING_ACTION_STARTED", str(started))
    uploads: list[Any] = []
    uploader = threading.Thread(target=lambda: uploads.append(_put(w, "examples/slow.txt")))
    uploader.start()
    deadline = time.monotonic() + 20
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)  # until the callback's run holds its claim
    (run,) = runs(started)
    event = event_for("examplebucket", "examples/slow.txt", run["etag"], 5, run["req_id"])
    with pytest.raises(DeliveryFailed) as caught:
        w["events"].handle(event, Context())
    assert "in progress" in str(caught.value) and "retries" in str(caught.value)
    uploader.join(30)
    assert uploads[0][0].status == 200
    assert w["events"].handle(event, Context("fc-retry"))["records"][0]["outcome"] == "duplicate"
    assert [r["source"] for r in runs(w["log"])] == ["callback"]


def test_the_event_fails_when_the_store_is_down(local_oss: LocalOSS, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTING_ACTION_LOG", str(tmp_path / "runs.jsonl"))
    env = {"CALLBACK_ACTION": "counting_action:record", "ALIBABA_CLOUD_ACCESS_KEY_ID": "id",
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret",
           "CALLBACK_IDEMPOTENCY_STORE": f"oss://examplebucket/{MARKERS}?region={REGION}&endpoint="
                                         f"http://127.0.0.1:{closed_port()}"}
    events = OssEventApp.from_env(env)
    with pytest.raises(DeliveryFailed) as caught:
        events.handle(event_for("examplebucket", "examples/x.txt", "ETAG", 1, "REQ"), Context())
    assert "store unavailable" in str(caught.value)
    assert runs(tmp_path / "runs.jsonl") == []


def test_a_failed_action_fails_the_invocation_and_the_retry_runs(wiring: Callable[..., dict[str, Any]],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    w = wiring()
    put = w["bucket"].put_object("examples/flaky.txt", b"abc")
    event = event_for("examplebucket", "examples/flaky.txt", put.etag, 3, put.request_id)
    monkeypatch.setenv("COUNTING_ACTION_FAIL", "1")
    with pytest.raises(DeliveryFailed, match="the action failed: ConnectionError"):
        w["events"].handle(event, Context())
    monkeypatch.delenv("COUNTING_ACTION_FAIL")
    assert w["events"].handle(event, Context("fc-retry"))["records"][0]["outcome"] == "ran"
    assert len(runs(w["log"])) == 1


def test_markers_and_other_events_are_skipped(wiring: Callable[..., dict[str, Any]]) -> None:
    w = wiring()
    marker = event_for("examplebucket", MARKERS + "0" * 64 + ".0", "E", 100, "REQ-MARKER")
    deleted = event_for("examplebucket", "examples/gone.txt", "E", 0, "REQ-DEL", name="ObjectRemoved:DeleteObject")
    records = w["events"].handle(marker, Context())["records"] + w["events"].handle(deleted, Context())["records"]
    assert [r["outcome"] for r in records] == ["skipped", "skipped"]
    assert "marker" in records[0]["reason"]
    assert runs(w["log"]) == []
    assert set(HANDLED_EVENTS) == {"ObjectCreated:PutObject", "ObjectCreated:PostObject",
                                   "ObjectCreated:CompleteMultipartUpload"}


def test_junk_is_logged_and_dropped(wiring: Callable[..., dict[str, Any]]) -> None:
    w = wiring()
    assert w["events"].handle(b"not json", Context())["error"] == "InvalidOssEvent"
    assert w["events"].handle(b'{"triggerTime": "x"}', Context())["error"] == "InvalidOssEvent"
    half = json.loads(event_for("examplebucket", "examples/a.txt", "E", 1, ""))
    assert w["events"].handle(json.dumps(half), Context())["records"][0]["outcome"] == "skipped"


def test_the_memory_store_is_refused_naming_the_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        OssEventApp.from_env({})
    message = str(caught.value)
    assert "CALLBACK_IDEMPOTENCY_STORE=memory" in message and "twice" in message
    assert "oss://<bucket>/<prefix>" in message and "redis://" in message


def test_the_event_function_refuses_memory_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    """As deployed: functions/callback/oss_event.py logs a ConfigurationError at import, and every invocation
    fails with it (so the misconfiguration shows in FC's invocation records, not only in the logs)."""
    code = (
        "import sys, json; sys.path.insert(0, 'functions/callback'); import oss_event\n"
        "try:\n    oss_event.handler(b'{\"events\": []}', None)\nexcept Exception as e:\n"
        "    print(json.dumps({'type': type(e).__name__, 'message': str(e)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "shared")})
    failure = json.loads(out.stdout.strip().splitlines()[-1])
    assert failure["type"] == "ConfigError" and "CALLBACK_IDEMPOTENCY_STORE" in failure["message"]
    assert '"error": "ConfigurationError"' in out.stderr
    caplog.set_level(logging.ERROR, logger="osscallback.oss_event")
    assert type(load_event_app({})).__name__ == "BrokenEventApp"
    assert any("ConfigurationError" in r.getMessage() for r in caplog.records)


def test_the_event_function_never_builds_a_confirmer(redis_url: str) -> None:
    """Events are never confirmed, so with CALLBACK_CONFIRM=head beside a redis:// store the OSS-event function does
    not load oss2 (its cold start), while a bad confirmation setting is still refused at start-up."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "shared"), "CALLBACK_CONFIRM": "head",
           "FC_REGION": "cn-hangzhou", "CALLBACK_IDEMPOTENCY_STORE": redis_url}
    code = ("import sys; sys.path.insert(0, 'functions/callback'); import oss_event\n"
            "app = oss_event.load_event_app()\n"
            "print(type(app).__name__, app.app.confirmer, 'oss2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["OssEventApp", "None", "False"], out.stdout + out.stderr
    broken = load_event_app({**env, "CALLBACK_CONFIRM": "maybe"})
    assert type(broken).__name__ == "BrokenEventApp" and "CALLBACK_CONFIRM" in str(broken.error)


def test_the_event_function_runs_with_the_shared_store(local_oss: LocalOSS, tmp_path: Path) -> None:
    """The deployed entry point (functions/callback/oss_event.py) in its own process, against the local OSS."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'shared'}:{FIXTURES}",
           "CALLBACK_ACTION": "counting_action:record", "COUNTING_ACTION_LOG": str(tmp_path / "runs.jsonl"),
           **oss_store_env(local_oss)}
    event = event_for("examplebucket", "examples/p.txt", "ABC", 1, "REQ-P").decode()
    code = ("import sys; sys.path.insert(0, 'functions/callback'); import oss_event\n"
            f"print(oss_event.handler({event!r}.encode(), None))\nprint(oss_event.handler({event!r}.encode(), None))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env,
                         check=False)
    assert out.returncode == 0, out.stderr
    first, second = (json.loads(line) for line in out.stdout.strip().splitlines()[-2:])
    assert first["records"][0]["outcome"] == "ran" and second["records"][0]["outcome"] == "duplicate"
    assert [r["source"] for r in runs(tmp_path / "runs.jsonl")] == ["oss_event"]
