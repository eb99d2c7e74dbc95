"""``CALLBACK_CONFIRM=head`` and ``CALLBACK_ALLOWED_BUCKETS`` against a real local OSS on 127.0.0.1.

Every callback here is sent and signed by the local OSS itself, with its own key: an upload whose
``callbackBody`` writes literal values where OSS's variables would go (``etag=0000…``, ``object=missing.txt``)
makes OSS sign a callback describing an upload that did not happen, which is what a forger holding OSS's private
key could send. The callback function runs under waitress; its confirmation HEADs the same local OSS with the
function's STS credentials. The outcome is read where an operator reads it: the function's one log line per
request, and the action's own record of its runs.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest

from osscallback.callback.actions import CallbackEvent
from osscallback.callback.config import CallbackConfig
from osscallback.callback.core import CallbackApp, load_app
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.errors import ConfigError
from osscallback.local.httpserver import WSGIServer
from osscallback.local.oss import LocalOSS
from tests.support import ROOT

BUCKET = "examplebucket"
REGION = "cn-hangzhou"
FULL_BODY = "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}&reqId=${reqId}"


@pytest.fixture()
def oss(tmp_path: Path) -> Iterator[LocalOSS]:
    with LocalOSS(tmp_path / "oss", port=0, buckets=[BUCKET, "otherbucket"]) as server:
        yield server


def confirm_env(oss: LocalOSS, **extra: str) -> dict[str, str]:
    key_id, secret, token = oss.issue_sts_token()
    env = {
        "CALLBACK_KEY_URL_PREFIXES": oss.public_key_prefix,
        "CALLBACK_CONFIRM": "head",
        "CALLBACK_CONFIRM_ENDPOINT": oss.endpoint,
        "CALLBACK_ALLOWED_BUCKETS": BUCKET,
        "FC_REGION": REGION,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
        "ALIBABA_CLOUD_SECURITY_TOKEN": token,
    }
    env.update(extra)
    return env


class Function:
    """The callback function under waitress, with an action that records its runs."""

    def __init__(self, env: dict[str, str]) -> None:
        self.runs: list[CallbackEvent] = []
        self.app = CallbackApp(CallbackConfig.from_env(env), action=self._action)
        self.server = WSGIServer(make_wsgi_handler(self.app), threads=4).start()

    def _action(self, event: CallbackEvent) -> dict[str, Any]:
        self.runs.append(event)
        return {"ran": True}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/callback"


@pytest.fixture()
def function_factory() -> Iterator[Callable[[dict[str, str]], Function]]:
    started: list[Function] = []

    def start(env: dict[str, str]) -> Function:
        started.append(Function(env))
        return started[-1]

    yield start
    for fn in started:
        fn.server.stop()
        fn.app.idempotency.layer.close()


@pytest.fixture()
def lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict[str, Any]]]:
    """The callback function's per-request log lines (JSON with an ``outcome``)."""
    caplog.set_level(logging.INFO, logger="osscallback")

    def read() -> list[dict[str, Any]]:
        found = []
        for record in caplog.records:
            if record.name != "osscallback.callback":
                continue
            try:
                doc = json.loads(record.getMessage())
            except ValueError:
                continue
            if "outcome" in doc:
                found.append(doc)
        return found

    return read


def upload(oss: LocalOSS, url: str, key: str, data: bytes, body: str = FULL_BODY) -> oss2.models.PutObjectResult:
    """PutObject with a callback: the local OSS stores the object, then signs and sends the callback."""
    doc = {"callbackUrl": url, "callbackBody": body, "callbackBodyType": "application/x-www-form-urlencoded"}
    headers = {"x-oss-callback": base64.b64encode(json.dumps(doc).encode()).decode()}
    bucket = oss2.Bucket(oss2.AuthV4(oss.access_key_id, oss.access_key_secret), oss.endpoint, BUCKET, region=REGION)
    return bucket.put_object(key, data, headers=headers)


def test_a_real_upload_is_confirmed_and_its_action_runs_once(oss: LocalOSS, function_factory, lines) -> None:
    fn = function_factory(confirm_env(oss))
    result = upload(oss, fn.url, "examples/a.txt", b"hello")
    assert result.status == 200
    assert [e.body.object for e in fn.runs] == ["examples/a.txt"]
    assert fn.app.idempotency.runs == 1
    (line,) = lines()
    assert (line["status"], line["outcome"], line["confirm"]) == (200, "ok", "ok")


@pytest.mark.parametrize(
    ("body", "differs"),
    [
        ("bucket=${bucket}&object=examples/missing.txt&etag=${etag}&size=${size}", "missing"),
        ("bucket=${bucket}&object=${object}&etag=00000000000000000000000000000000&size=${size}", "ETag"),
        ("bucket=${bucket}&object=${object}&etag=${etag}&size=6", "size"),
        ("bucket=${bucket}&object=${object}&etag=00000000000000000000000000000000&size=6", "ETag and size"),
    ],
    ids=["missing-object", "wrong-etag", "wrong-size", "wrong-both"],
)
def test_a_callback_oss_cannot_confirm_gets_403_and_no_action(
    oss: LocalOSS, function_factory, lines, body: str, differs: str
) -> None:
    fn = function_factory(confirm_env(oss))
    result = upload(oss, fn.url, "examples/b.txt", b"hello", body)
    assert result.status == 203  # OSS: CallbackFailed, the object stored
    assert fn.runs == []
    assert fn.app.idempotency.runs == 0  # a refused confirmation is not a run (issue 29)
    (line,) = lines()
    assert (line["status"], line["outcome"]) == (403, "CallbackNotConfirmed")
    if differs == "missing":
        assert line["confirm"] == "missing" and "OSS has no object examplebucket/examples/missing.txt" in line["message"]
    else:
        assert line["confirm"] == "mismatch" and f"another {differs} than the callback says" in line["message"]
    # what OSS holds is never told to the sender
    assert "5d41402abc4b2a76b9719d911017c592" not in line["message"].lower()


def test_a_callback_naming_another_bucket_gets_403_before_any_oss_request(oss: LocalOSS, function_factory,
                                                                           lines) -> None:
    # The HEAD would fail if it were tried: the confirmation endpoint is a closed port.
    fn = function_factory(confirm_env(oss, CALLBACK_CONFIRM_ENDPOINT="http://127.0.0.1:9"))
    result = upload(oss, fn.url, "examples/c.txt", b"hello", FULL_BODY.replace("${bucket}", "otherbucket"))
    assert result.status == 203 and fn.runs == []
    (line,) = lines()
    assert (line["status"], line["outcome"], line["bucket"]) == (403, "BucketNotAllowed", "otherbucket")


def test_oss_unreachable_for_the_confirmation_is_503_and_no_action(oss: LocalOSS, function_factory, lines) -> None:
    fn = function_factory(confirm_env(oss, CALLBACK_CONFIRM_ENDPOINT="http://127.0.0.1:9"))
    result = upload(oss, fn.url, "examples/d.txt", b"hello")
    assert result.status == 203 and fn.runs == [] and fn.app.idempotency.runs == 0
    (line,) = lines()
    assert (line["status"], line["outcome"], line["confirm"]) == (503, "ConfirmUnavailable", "unavailable")
    assert "did not answer" in line["message"]


def test_oss_refusing_the_confirmation_is_503_and_no_action(oss: LocalOSS, function_factory, lines) -> None:
    env = confirm_env(oss, ALIBABA_CLOUD_ACCESS_KEY_SECRET="not-the-secret")
    fn = function_factory(env)
    result = upload(oss, fn.url, "examples/e.txt", b"hello")
    assert result.status == 203 and fn.runs == []
    (line,) = lines()
    assert (line["status"], line["outcome"]) == (503, "ConfirmUnavailable")
    assert "refused" in line["message"] and "403" in line["message"]


def test_a_replay_of_a_delivered_upload_gets_the_stored_answer_without_a_head(oss: LocalOSS, function_factory,
                                                                            lines) -> None:
    """The first delivery was confirmed; a byte-identical replay takes the store's short cut, even once the
    object is gone (an action may move it), and the action does not run again."""
    fn = function_factory(confirm_env(oss))
    sent: list[Any] = []
    oss.callback_sender.add_observer(sent.append)
    assert upload(oss, fn.url, "examples/f.txt", b"hello").status == 200
    bucket = oss2.Bucket(oss2.AuthV4(oss.access_key_id, oss.access_key_secret), oss.endpoint, BUCKET, region=REGION)
    bucket.delete_object("examples/f.txt")
    import requests

    (record,) = sent
    sent_request = record.last.request  # the callback exactly as the local OSS sent it
    headers = {k: v for k, v in sent_request.headers if k.lower() not in ("host", "content-length")}
    replay = requests.post(fn.url, data=sent_request.body, headers=headers, timeout=10)
    assert replay.status_code == 200
    assert len(fn.runs) == 1
    assert (fn.app.idempotency.runs, fn.app.idempotency.duplicates) == (1, 1)
    assert [(d["outcome"], d.get("confirm"), d.get("duplicate")) for d in lines()] == [
        ("ok", "ok", None), ("ok", "replay", True)]


def test_an_oss_event_is_not_confirmed(oss: LocalOSS, function_factory) -> None:
    """The OSS-event path runs the action with confirmation on and nothing to HEAD (endpoint closed)."""
    from osscallback.callback.oss_event import OssEventApp

    store = f"oss://{BUCKET}/.osscallback/idempotency/?region={REGION}&endpoint={oss.endpoint}"
    env = confirm_env(oss, CALLBACK_CONFIRM_ENDPOINT="http://127.0.0.1:9", CALLBACK_IDEMPOTENCY_STORE=store)
    runs: list[CallbackEvent] = []
    core = CallbackApp(CallbackConfig.from_env(env), action=runs.append)
    assert core.confirmer is not None and core.confirmer.head.client is core.idempotency.layer.oss_client  # one client
    app = OssEventApp(core)
    event = {"events": [{
        "eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "region": REGION,
        "oss": {"bucket": {"name": BUCKET}, "object": {"key": "examples/g.txt", "eTag": "ABC", "size": 5}},
        "responseElements": {"requestId": "5C1B138A109F4E405B2D8F2A"},
    }]}
    assert app.handle(event)["records"][0]["outcome"] == "ran"
    assert len(runs) == 1


def test_bad_settings_are_config_errors() -> None:
    for env, needle in [
        ({"CALLBACK_CONFIRM": "get"}, "CALLBACK_CONFIRM='get'"),
        ({"CALLBACK_CONFIRM": "head"}, "FC_REGION"),
        ({"CALLBACK_CONFIRM": "head", "FC_REGION": REGION, "CALLBACK_CONFIRM_TIMEOUT": "2"}, "0.1 to 1.5"),
        ({"CALLBACK_CONFIRM": "head", "FC_REGION": REGION, "CALLBACK_CONFIRM_ENDPOINT": "ftp://x"}, "http(s)"),
        ({"CALLBACK_ALLOWED_BUCKETS": "good-bucket,Bad_Bucket"}, "'Bad_Bucket'"),
    ]:
        with pytest.raises(ConfigError, match=None) as caught:
            CallbackApp.from_env(env)
        assert needle in str(caught.value)
    assert load_app({"CALLBACK_CONFIRM": "sometimes"}).handle  # a BrokenApp answering 500, not a crash


def _modules_after(env: dict[str, str]) -> str:
    code = (
        "import os, sys; sys.path.insert(0, 'functions/callback'); os.environ.update(" + repr(env) + "); "
        "import index; print(type(index.app).__name__, 'oss2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_confirm_none_keeps_oss2_off_the_cold_path() -> None:
    assert _modules_after({"CALLBACK_CONFIRM": "none", "CALLBACK_ALLOWED_BUCKETS": BUCKET}) == "CallbackApp False"


def test_confirm_head_imports_oss2_only_then() -> None:
    env = {"CALLBACK_CONFIRM": "head", "FC_REGION": REGION}
    assert _modules_after(env) == "CallbackApp True"
