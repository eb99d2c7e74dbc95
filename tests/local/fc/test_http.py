"""HTTP-triggered functions behind FC 2.0's proxy URLs (and the short path), through the WSGI handler."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from osscallback.local.fc import LocalFCHost
from osscallback.testing import KeyServer, OssSigner, SignedCallback, form_body, post
from tests.support.fc import SERVICE, request

CALLBACK_FIELDS = {"bucket": "local-bucket", "object": "photos/a b+c.jpg", "size": "3", "mimeType": "image/jpeg"}


def test_callback_via_proxy_path_verifies_signature_over_full_path(fc_host: LocalFCHost,
                                                                  key_server: KeyServer) -> None:
    url = fc_host.url_for("callback") + "notify?source=oss"
    assert urlsplit(url).path == f"/2016-08-15/proxy/{SERVICE}/callback/notify"
    signer = OssSigner(key_server.private_key, key_server.key_url)
    answer = post(signer.sign(url, form_body(CALLBACK_FIELDS)))
    assert answer.status == 200, answer.body
    assert json.loads(answer.body) == {"Status": "OK", "bucket": "local-bucket", "object": "photos/a b+c.jpg"}
    assert answer.headers["x-fc-request-id"]
    assert answer.headers["content-type"] == "application/json"


def test_forged_callback_via_proxy_path_is_refused(fc_host: LocalFCHost, key_server: KeyServer) -> None:
    signer = OssSigner(key_server.private_key, key_server.key_url)
    url = fc_host.url_for("callback") + "notify"
    # signed over the path the function sees in PATH_INFO, not the one requested: must not verify
    signed = signer.sign(fc_host.endpoint + "/notify", form_body(CALLBACK_FIELDS))
    answer = post(SignedCallback(url, signed.body, signed.headers))
    assert answer.status == 403
    assert json.loads(answer.body)["error"] == "SignatureDoesNotMatch"
    # a tampered body fails too
    good = signer.sign(url, form_body(CALLBACK_FIELDS))
    tampered = post(SignedCallback(url, good.body.replace(b"size=3", b"size=4"), good.headers))
    assert tampered.status == 403


def test_callback_via_short_path(fc_host: LocalFCHost, key_server: KeyServer) -> None:
    url = fc_host.url_for("callback", proxy=False)
    assert urlsplit(url).path == "/callback/"
    signer = OssSigner(key_server.private_key, key_server.key_url)
    answer = post(signer.sign(url, form_body(CALLBACK_FIELDS)))
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["object"] == "photos/a b+c.jpg"


def test_wsgi_environ_is_fc_shaped(fc_host: LocalFCHost) -> None:
    url = fc_host.url_for("web") + "a/b%20c?x=1&y=%2F"
    status, headers, body = request(url, "POST", b"hello", {"X-Custom": "kept",
                                                           "X-Localfc-Request-Uri": "/forged"})
    assert status == 200
    doc = json.loads(body)
    assert doc["request_uri"] == "/2016-08-15/proxy/tests/web/a/b%20c?x=1&y=%2F"  # raw, as sent
    assert doc["path_info"] == "/a/b c"
    assert doc["query"] == "x=1&y=%2F"
    assert doc["method"] == "POST"
    assert doc["body"] == "hello"
    assert doc["custom"] == "kept"
    assert doc["internal"] == []  # nothing of the host's plumbing (nor a forged copy) reaches the function
    assert doc["function"] == "web" and doc["service"] == "tests"
    assert doc["request_id"] == headers["x-fc-request-id"]
    assert headers["x-echo"] == "yes"
    assert "via" not in headers


def test_proxy_root_and_short_path(fc_host: LocalFCHost) -> None:
    status, _, body = request(fc_host.endpoint + "/2016-08-15/proxy/tests/web")
    assert status == 200 and json.loads(body)["path_info"] == "/"
    status, _, body = request(fc_host.url_for("web", proxy=False) + "deep/path?q")
    assert status == 200
    doc = json.loads(body)
    assert (doc["path_info"], doc["request_uri"], doc["query"]) == ("/deep/path", "/web/deep/path?q", "q")


def test_method_not_in_trigger_is_refused(fc_host: LocalFCHost) -> None:
    status, headers, body = request(fc_host.url_for("callback"), "GET")
    assert status == 403
    assert headers["x-fc-error-type"] == "FcCommonError"
    assert "POST" in json.loads(body)["ErrorMessage"]


def test_unknown_and_non_http_functions(fc_host: LocalFCHost) -> None:
    status, _, body = request(fc_host.endpoint + "/2016-08-15/proxy/tests/nothing/")
    assert status == 404 and json.loads(body)["ErrorCode"] == "FunctionNotFound"
    status, _, _ = request(fc_host.endpoint + "/2016-08-15/proxy/tests/echo/")  # an event function
    assert status == 404
    status, _, _ = request(fc_host.endpoint + "/nothing/")
    assert status == 404


def test_http_function_exception_is_502(fc_host: LocalFCHost) -> None:
    status, headers, body = request(fc_host.url_for("web") + "?raise")
    assert status == 502
    assert headers["x-fc-error-type"] == "UnhandledInvocationError"
    doc = json.loads(body)
    assert doc["errorMessage"] == "http boom" and doc["errorType"] == "RuntimeError"


def test_index_lists_functions(fc_host: LocalFCHost) -> None:
    status, _, body = request(fc_host.endpoint + "/")
    assert status == 200
    functions = {f["function"]: f for f in json.loads(body)["functions"]}
    assert functions["callback"]["url"] == fc_host.url_for("callback")
    assert functions["upload"]["kind"] == "event"
    assert functions["upload"]["invoke_url"].endswith(f"/2016-08-15/services/{SERVICE}/functions/upload/invocations")
