"""FC 3.0 HTTP triggers: a function URL per function, the request as FC 3.0's HTTP event, the answer mapped back."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from osscallback.local.fc import FCCredentials, FunctionSpec, LocalFCHost
from osscallback.local.fc.httpevent import canonical_header, from_result, to_event
from tests.support.fc import FIXTURES, LogLines, request

ECHO = FIXTURES / "echo"


@pytest.fixture(scope="module")
def host(credentials: FCCredentials) -> Iterator[LocalFCHost]:
    specs = [
        FunctionSpec("", "web3", "index.fc3", ECHO, timeout=5, http_methods=("GET", "POST", "PUT"), fc_version=3,
                     http_trigger="web3-http"),
        FunctionSpec("", "other3", "index.fc3", ECHO, timeout=5, http_methods=("GET",), fc_version=3),
        FunctionSpec("", "event3", "index.handler", ECHO, timeout=5, fc_version=3),
    ]
    with LocalFCHost(specs, credentials=credentials, log_sink=LogLines(), stop_grace=2) as fc:
        yield fc


def raw(url: str, method: str, target: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    """Send ``target`` byte for byte, with repeatable headers."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers or []:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def event_of(fc: LocalFCHost, target: str, method: str = "POST", body: bytes = b"",
             headers: list[tuple[str, str]] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    status, out_headers, data = raw(fc.url_for("web3"), method, target, body, headers)
    assert status == 200, data
    doc = json.loads(data)
    assert doc["request_id"] == out_headers["x-fc-request-id"]
    return doc["event"], out_headers


def test_each_function_has_its_own_url(host: LocalFCHost) -> None:
    web, other = host.url_for("web3"), host.url_for("other3")
    assert web != other and web.endswith("/") and not web.startswith(host.endpoint)
    with pytest.raises(Exception, match="no HTTP trigger"):
        host.url_for("event3")


def test_request_becomes_the_documented_event(host: LocalFCHost) -> None:
    body = b"bucket=b&object=a%20b.txt"
    event, headers = event_of(host, "/hook%20path/x%2Fy?a=1&b=two%20words&a=2", body=body,
                              headers=[("Content-Type", "application/x-www-form-urlencoded"),
                                       ("x-oss-pub-key-url", "aHR0cDovL2V4YW1wbGU="), ("X-Custom", "one"),
                                       ("User-Agent", "aliyun-oss-callback")])
    assert headers["x-echo"] == "fc3" and headers["content-type"] == "application/json"
    assert event["version"] == "v1"
    assert event["rawPath"] == "/hook%20path/x%2Fy"  # URL-encoded, as sent
    assert event["queryParameters"] == {"a": "1,2", "b": "two words"}  # repeated values comma-joined, decoded
    assert event["body"] == body.decode() and event["isBase64Encoded"] is False
    assert event["headers"]["X-Oss-Pub-Key-Url"] == "aHR0cDovL2V4YW1wbGU="  # canonical header keys
    assert event["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert not any(k.lower().startswith("x-localfc") for k in event["headers"])
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/hook path/x/y", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "aliyun-oss-callback"}
    assert ctx["requestId"] == headers["x-fc-request-id"] and ctx["accountId"] == host.account_id
    assert ctx["domainName"] == urlsplit(host.url_for("web3")).netloc
    assert ctx["time"].endswith("Z") and ctx["timeEpoch"].isdigit()


def test_binary_bodies_are_base64(host: LocalFCHost) -> None:
    payload = bytes(range(256))
    event, _ = event_of(host, "/", "PUT", payload, [("Content-Type", "application/octet-stream")])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == payload
    event, _ = event_of(host, "/", "PUT", "中文".encode(), [("Content-Type", "text/plain; charset=utf-8")])
    assert event["isBase64Encoded"] is False and event["body"] == "中文"


def test_repeated_headers_are_joined(host: LocalFCHost) -> None:
    event, _ = event_of(host, "/", headers=[("X-Multi", "a"), ("X-Multi", "b")])
    assert event["headers"]["X-Multi"].replace(" ", "") == "a,b"


def test_answers_are_mapped_back(host: LocalFCHost) -> None:
    url = host.url_for("web3")
    status, headers, body = request(url + "?answer=binary")
    assert (status, headers["content-type"], body) == (201, "image/png", b"\x89PNG\x00\xff")
    status, _, body = request(url + "?answer=plain")
    assert (status, body) == (200, b"just a string")
    status, headers, body = request(url + "?answer=dict")
    assert status == 200 and json.loads(body) == {"no": "envelope"}
    status, headers, body = request(url + "?answer=raise")
    assert status == 502 and headers["x-fc-error-type"] == "UnhandledInvocationError"
    assert json.loads(body)["errorMessage"] == "fc3 boom"
    status, headers, body = request(url + "?answer=invalid")
    assert status == 502 and "statusCode" in json.loads(body)["errorMessage"]


def test_methods_and_unknown_functions(host: LocalFCHost) -> None:
    status, headers, body = request(host.url_for("other3"), "POST")
    assert status == 403 and json.loads(body)["ErrorCode"] == "MethodNotAllowed"
    assert headers["x-fc-error-type"] == "FcCommonError"
    status, _, body = request(host.endpoint + "/2016-08-15/proxy//web3/")  # FC 3.0 functions have no proxy path
    assert status == 404


def test_fc3_event_function_through_the_host_invoke(host: LocalFCHost) -> None:
    doc = json.loads(host.invoke("event3", {"op": "echo", "n": 1}))
    assert doc["event"] == {"op": "echo", "n": 1} and doc["service"] == ""


def test_mapping_functions_directly() -> None:
    assert canonical_header("x-oss-PUB-key-url") == "X-Oss-Pub-Key-Url"
    event = to_event(method="get", raw_path="", raw_query="", headers=[], body=b"", source_ip="1.2.3.4",
                     request_id="r", account_id="1", domain="fn.cn-hangzhou.fcapp.run", now=1693896071.895)
    assert event["rawPath"] == "/" and event["requestContext"]["time"] == "2023-09-05T06:41:11Z"
    assert event["requestContext"]["timeEpoch"] == "1693896071895"
    assert event["requestContext"]["domainPrefix"] == "fn"
    assert from_result('{"statusCode": 204}') == (204, [], b"")
    assert from_result(None) == (200, [], b"")
    assert from_result(b"raw") == (200, [], b"raw")
