"""FC 3.0 HTTP events and FC 2.0 environ details, through the same core."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest

from osscallback.callback.fc3 import make_fc3_handler
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.testing import OssSigner, form_body
from tests.support import ROOT


def fc3_event(signed, *, base64_body: bool, method: str = "POST") -> bytes:
    parts = urlsplit(signed.url)
    query = dict(p.split("=", 1) for p in parts.query.split("&")) if parts.query else {}
    body = base64.b64encode(signed.body).decode() if base64_body else signed.body.decode()
    event = {
        "version": "v1",
        "rawPath": parts.path,
        "body": body,
        "isBase64Encoded": base64_body,
        "headers": {k.title(): v for k, v in signed.headers.items()},
        "queryParameters": query,
        "requestContext": {"http": {"method": method, "path": parts.path}, "requestId": "1-abc"},
    }
    return json.dumps(event).encode()


@pytest.mark.parametrize("base64_body", [False, True])
def test_fc3_event_valid(make_app, signer: OssSigner, base64_body: bool) -> None:
    handler = make_fc3_handler(make_app())
    signed = signer.sign("https://x.cn-hangzhou.fcapp.run/cb/%E4%B8%AD?app=demo", form_body({"bucket": "b", "object": "中 文"}))
    result = handler(fc3_event(signed, base64_body=base64_body), None)
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"])["object"] == "中 文"
    assert result["headers"]["Content-Type"] == "application/json"
    assert result["headers"]["Content-Length"] == str(len(result["body"].encode()))


def test_fc3_forged_body_is_403(make_app, signer: OssSigner) -> None:
    handler = make_fc3_handler(make_app())
    signed = signer.sign("https://x.fcapp.run/cb", form_body({"bucket": "b", "object": "o"}))
    signed.body = form_body({"bucket": "b", "object": "forged"})
    result = handler(fc3_event(signed, base64_body=True), None)
    assert result["statusCode"] == 403


@pytest.mark.parametrize("event", [b"not json", b"[]", json.dumps({"headers": "x"}).encode(), json.dumps({"body": 5}).encode()])
def test_fc3_malformed_events_are_400(make_app, event: bytes) -> None:
    result = make_fc3_handler(make_app())(event, None)
    assert 400 <= result["statusCode"] < 500
    assert "error" in json.loads(result["body"])


def test_fc3_bad_base64_and_oversize(make_app, signer: OssSigner) -> None:
    handler = make_fc3_handler(make_app(CALLBACK_MAX_BODY_BYTES="50"))
    signed = signer.sign("https://x.fcapp.run/cb", form_body({"bucket": "b", "object": "o" * 100}))
    assert handler(fc3_event(signed, base64_body=True), None)["statusCode"] == 413
    event = json.loads(fc3_event(signed, base64_body=True))
    event["body"] = "@@@"
    assert handler(json.dumps(event).encode(), None)["statusCode"] == 400


def test_fc3_get_is_405(make_app, signer: OssSigner) -> None:
    signed = signer.sign("https://x.fcapp.run/cb", b"bucket=b")
    result = make_fc3_handler(make_app())(fc3_event(signed, base64_body=False, method="GET"), None)
    assert result["statusCode"] == 405


def _environ(signed, *, path_info: str, fc_request_uri: str | None) -> dict:
    parts = urlsplit(signed.url)
    env = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": parts.query,
        "CONTENT_TYPE": signed.headers["Content-Type"],
        "CONTENT_LENGTH": str(len(signed.body)),
        "HTTP_AUTHORIZATION": signed.headers["Authorization"],
        "HTTP_X_OSS_PUB_KEY_URL": signed.headers["x-oss-pub-key-url"],
        "wsgi.input": io.BytesIO(signed.body),
    }
    if fc_request_uri is not None:
        env["fc.request_uri"] = fc_request_uri
    return env


def _call(handler, environ) -> tuple[str, bytes]:
    status: list[str] = []
    body = b"".join(handler(environ, lambda s, h: status.append(s)))
    return status[0], body


def test_fc2_environ_request_uri_vs_path_info(make_app, signer: OssSigner) -> None:
    handler = make_wsgi_handler(make_app())
    signed = signer.sign("https://1.cn-hangzhou.fc.aliyuncs.com/2016-08-15/proxy/svc/cb/a%20b?k=v", b"bucket=b&object=o")
    full = "/2016-08-15/proxy/svc/cb/a%20b?k=v"
    assert _call(handler, _environ(signed, path_info="/a b", fc_request_uri=full))[0].startswith("200")
    # Without fc.request_uri only PATH_INFO is known, which is not what OSS signed behind the proxy path.
    assert _call(handler, _environ(signed, path_info="/a b", fc_request_uri=None))[0].startswith("403")
    # On a custom domain PATH_INFO is the whole path (percent-decoded by the server): that verifies.
    plain = signer.sign("https://cb.example.com/a%20b%2Bc%25?k=v", b"bucket=b&object=o")
    assert _call(handler, _environ(plain, path_info="/a b+c%", fc_request_uri=None))[0].startswith("200")


def test_duplicate_callback_runs_action_once(key_server, signer: OssSigner) -> None:
    from osscallback.callback.core import CallbackApp, CallbackConfig

    calls: list[str] = []
    lock = threading.Lock()

    def action(event):
        with lock:
            calls.append(event.idempotency_key)
        return {"n": len(calls)}

    app = CallbackApp(CallbackConfig(key_url_prefixes=(key_server.prefix,), response_template="echo"), action=action)
    handler = make_wsgi_handler(app)
    with_req = signer.sign("http://h/cb", b"bucket=b&object=o&reqId=REQ-1")
    without = signer.sign("http://h/cb", b"bucket=b&object=o2")
    answers = []
    for signed in (with_req, with_req, without, without):
        status, body = _call(handler, _environ(signed, path_info="/cb", fc_request_uri=None))
        assert status.startswith("200")
        answers.append(json.loads(body)["action"])
    assert calls[0].startswith("reqId:REQ-1:") and calls[1].startswith("sha256:") and len(calls) == 2
    assert answers == [{"n": 1}, {"n": 1}, {"n": 2}, {"n": 2}]


def test_action_failure_is_json_500(key_server, signer: OssSigner) -> None:
    from osscallback.callback.core import CallbackApp, CallbackConfig

    def action(event):
        raise RuntimeError("boom")

    app = CallbackApp(CallbackConfig(key_url_prefixes=(key_server.prefix,)), action=action)
    status, body = _call(make_wsgi_handler(app), _environ(signer.sign("http://h/cb", b"bucket=b"), path_info="/cb", fc_request_uri=None))
    assert status.startswith("500")
    assert json.loads(body)["error"] == "ActionFailed"


def test_callback_function_import_does_not_pull_oss2() -> None:
    code = (
        "import sys; sys.path.insert(0, 'functions/callback'); import index; "
        "assert callable(index.handler) and callable(index.handler_fc3); "
        "print('oss2' in sys.modules, 'fc2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False", out.stderr


def test_as_dict_matches_dataclasses_asdict() -> None:
    """The hand-built dict (a hot path) must stay exactly what dataclasses.asdict would give."""
    from dataclasses import asdict

    from osscallback.callback.body import parse_body

    body = parse_body(b'{"bucket":"b","object":"o","size":"3","imageInfo":{"height":1,"width":2,"format":"png"},'
                      b'"x:k":"v","other":{"nested":[1,2]}}', "application/json")
    assert body.as_dict() == asdict(body)
