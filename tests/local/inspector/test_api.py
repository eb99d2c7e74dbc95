"""The inspector's JSON API and page over real HTTP: list, details, replay, re-send, and what it refuses."""

from __future__ import annotations

import re
from importlib import resources
from urllib.parse import urlsplit

import oss2
import pytest

from osscallback.local.httpserver import WSGIServer
from osscallback.local.inspector import Inspector
from osscallback.upload.templates import build_callback
from tests.support.inspector import ActionCounter, call

STATIC = resources.files("osscallback.local.inspector").joinpath("static")


def _upload(bucket: oss2.Bucket, key: str, url: str) -> None:
    spec = build_callback("json-full", {"callback_url": url}, {"x:who": "api"})
    assert bucket.put_object(key, b"hello", headers=spec.headers()).status == 200


def test_list_is_newest_first_and_cheap_to_poll(inspector: Inspector, bucket: oss2.Bucket, function: WSGIServer) -> None:
    base = inspector.url
    status, _, doc = call(base + "api/callbacks")
    assert status == 200 and doc["callbacks"] == [] and doc["changed"]
    _upload(bucket, "api/first.txt", function.url + "/")
    _upload(bucket, "api/second.txt", function.url + "/")
    _, _, doc = call(base + "api/callbacks")
    rows = doc["callbacks"]
    assert [r["object"] for r in rows] == ["api/second.txt", "api/first.txt"]
    assert [r["number"] for r in rows] == [2, 1]
    row = rows[0]
    assert row["operation"] == "PutObject" and row["bucket"] == "examplebucket"
    assert row["callback_url"] == function.url + "/"
    assert row["verification"]["outcome"] == "verified" and row["status"] == 200
    assert row["uploader"] == {"status": 200, "message": ""} and row["latency_ms"] > 0
    _, _, same = call(base + f"api/callbacks?since={doc['version']}")
    assert same == {"version": doc["version"], "changed": False}
    _upload(bucket, "api/third.txt", function.url + "/")
    _, _, newer = call(base + f"api/callbacks?since={doc['version']}")
    assert newer["changed"] and newer["callbacks"][0]["object"] == "api/third.txt"


def test_details_replay_and_resend(inspector: Inspector, bucket: oss2.Bucket, function: WSGIServer,
                                   counter: ActionCounter) -> None:
    base = inspector.url
    _upload(bucket, "api/detail.txt", function.url + "/path?q=1")
    _, _, doc = call(base + "api/callbacks")
    record_id = doc["callbacks"][0]["id"]
    status, _, d = call(base + f"api/callbacks/{record_id}")
    assert status == 200
    assert d["callback"]["callbackUrl"] == function.url + "/path?q=1"
    assert d["callback_var"] == {"x:who": "api"}
    [attempt] = d["tries"]
    request = attempt["request"]
    assert request["head"].startswith("POST /path?q=1 HTTP/1.1\r\n")
    assert request["signed"]["text"] == "/path?q=1\n" + request["body"]["text"]
    assert request["signature_matches"] is True and request["own_string_to_sign"] is None
    assert attempt["answer"]["status"] == 200 and '"Status": "OK"' in attempt["answer"]["body"]["text"]

    status, _, replay = call(base + f"api/callbacks/{record_id}/replay", {})
    assert status == 201 and replay["kind"] == "replay" and replay["parent_number"] == 1
    assert replay["verification"]["outcome"] == "verified"
    assert replay["tries"][0]["request"]["head"] == request["head"]
    assert counter.runs("api/detail.txt") == 1
    _, _, d = call(base + f"api/callbacks/{record_id}")
    assert d["replays"] == 1 and [c["kind"] for c in d["children"]] == ["replay"]

    tampered = request["body"]["text"].replace("api/detail.txt", "api/someone-else.txt")
    status, _, forged = call(base + f"api/callbacks/{record_id}/resend", {"body": tampered, "resign": False})
    assert status == 201 and forged["signing"] == "kept" and forged["status"] == 403
    assert forged["verification"]["failed_check"] == "signature"
    sent = forged["tries"][0]["request"]
    assert sent["signature_matches"] is False and sent["own_string_to_sign"]["text"].endswith(tampered)
    assert counter.runs("api/someone-else.txt") == 0

    status, _, resigned = call(base + f"api/callbacks/{record_id}/resend", {"body": tampered, "path": "/elsewhere"})
    assert status == 201 and resigned["status"] == 200 and resigned["signing"] == "oss"
    assert counter.runs("api/someone-else.txt") == 1
    _, _, d = call(base + f"api/callbacks/{record_id}")
    assert (d["replays"], d["resends"]) == (1, 2)


def test_bad_requests_get_json_errors(inspector: Inspector, bucket: oss2.Bucket, function: WSGIServer) -> None:
    base = inspector.url
    _upload(bucket, "api/errors.txt", function.url + "/")
    _, _, doc = call(base + "api/callbacks")
    record_id = doc["callbacks"][0]["id"]
    resend = base + f"api/callbacks/{record_id}/resend"
    cases = [
        (call(base + "api/callbacks/" + "0" * 32), 404, "NoSuchCallback"),
        (call(base + "api/nothing"), 404, "NotFound"),
        (call(base + "static/../app.py"), 404, "NotFound"),
        (call(base + "api/callbacks", {}), 405, "MethodNotAllowed"),
        (call(base + f"api/callbacks/{record_id}/replay"), 405, "MethodNotAllowed"),
        (call(resend, {"resign": "no"}), 400, "InvalidArgument"),
        (call(resend, {"body": 1}), 400, "InvalidArgument"),
        (call(resend, {"path": "relative"}), 400, "CannotResend"),
        (call(resend, raw=b"{not json", headers={"Content-Type": "application/json"}), 400, "InvalidArgument"),
        # What a cross-site page could send: a form post, or JSON from another origin; and DNS rebinding.
        (call(resend, raw=b"body=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415,
         "UnsupportedMediaType"),
        (call(resend, {}, headers={"Origin": "http://evil.example"}), 403, "CrossOrigin"),
        (call(base + "api/callbacks", headers={"Host": f"evil.example:{urlsplit(base).port}"}), 421,
         "MisdirectedRequest"),
    ]
    for (status, headers, body), want_status, want_code in cases:
        assert (status, body["error"]) == (want_status, want_code), body
        assert headers["Content-Type"] == "application/json" and body["message"]


def test_the_page_is_self_contained_and_locked_down(inspector: Inspector) -> None:
    base = inspector.url
    status, headers, html = call(base)
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    files = sorted(p.name for p in STATIC.iterdir())
    assert {"index.html", "dom.js", "inspector.js", "deadletters.js", "inspector.css", "favicon.svg"} <= set(files)
    for name in files:
        kind = {"js": "text/javascript", "css": "text/css", "html": "text/html",
                "svg": "image/svg+xml"}[name.rsplit(".", 1)[1]]
        status, headers, _ = call(base + "static/" + name)
        assert status == 200 and headers["Content-Type"].startswith(kind), name
        # an SVG names its XML namespace with a URL; nothing is fetched from it
        text = STATIC.joinpath(name).read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), f"{name} loads something remote"
        if name.endswith(".js"):
            for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
                assert sink not in text, f"{name} uses {sink}"
    assert b"<script" in html and b"<script>" not in html  # no inline script: the CSP would refuse it


@pytest.mark.parametrize("path", ["/", "/api/callbacks"])
def test_localhost_names_are_accepted(inspector: Inspector, path: str) -> None:
    port = urlsplit(inspector.url).port
    status, _, _ = call(inspector.url.rstrip("/") + path, headers={"Host": f"localhost:{port}"})
    assert status == 200
