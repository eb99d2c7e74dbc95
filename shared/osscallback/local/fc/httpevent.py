"""FC 3.0 HTTP triggers in built-in runtimes: the HTTP request as an event, the handler's answer as the response.

FC 3.0 has no WSGI for built-in runtimes. Per the official "HTTP trigger" page ("Use an HTTP trigger to invoke a
function", FC 3.0), a call to a function URL becomes a JSON event::

    {"version": "v1", "rawPath": "/example", "body": "Hello FC!", "isBase64Encoded": false,
     "headers": {"Header1": "value1", "Header2": "value1,value2"},
     "queryParameters": {"parameter1": "value1", "parameter2": "value1,value2"},
     "requestContext": {"accountId", "domainName", "domainPrefix",
                        "http": {"method", "path", "protocol", "sourceIp", "userAgent"},
                        "requestId", "time": "2023-09-05T06:41:11Z", "timeEpoch": "1693896071895"}}

- ``rawPath`` is the path as sent (URL-encoded); ``requestContext.http.path`` is the decoded path;
- header keys are canonicalised (first letter of each ``-``-separated word upper-case, as FC 3.0 does), and
  repeated headers, like repeated query parameters, are joined with commas; query values are decoded;
- ``body`` is the body as text, or base64 with ``isBase64Encoded: true`` when it is binary (not UTF-8, or a
  content type that is not textual).

The handler returns ``{"statusCode", "headers", "body", "isBase64Encoded"}``, which becomes the HTTP response
(a base64 ``body`` is decoded). Anything else it returns is sent as the body of a 200 (a string as is, other JSON
values as JSON) — what a handler that forgets the envelope gets.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded",
               "application/javascript", "application/x-yaml", "application/yaml")


def canonical_header(name: str) -> str:
    """``x-oss-pub-key-url`` → ``X-Oss-Pub-Key-Url`` (Go's ``CanonicalMIMEHeaderKey``, which FC 3.0 applies)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _is_text(content_type: str, body: bytes) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media and not (media.startswith(_TEXT_TYPES) or media.endswith(("+json", "+xml"))):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def to_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    source_ip: str,
    request_id: str,
    account_id: str,
    domain: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The FC 3.0 HTTP event for one request."""
    joined: dict[str, str] = {}
    for name, value in headers:
        key = canonical_header(name)
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    text = _is_text(joined.get("Content-Type", ""), body)
    stamp = time.time() if now is None else now
    return {
        "version": "v1",
        "rawPath": raw_path or "/",
        "body": body.decode("utf-8") if text else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": not text,
        "headers": joined,
        "queryParameters": query,
        "requestContext": {
            "accountId": account_id,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method.upper(),
                "path": unquote(raw_path or "/"),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("User-Agent", ""),
            },
            "requestId": request_id,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)),
            "timeEpoch": str(int(stamp * 1000)),
        },
    }


def from_result(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` for what the handler returned."""
    doc = result
    if isinstance(result, bytes | bytearray | str):
        try:
            doc = json.loads(result)
        except (ValueError, UnicodeDecodeError):
            doc = None
    if isinstance(doc, Mapping) and "statusCode" in doc:
        try:
            status = int(doc["statusCode"])
        except (TypeError, ValueError):
            raise ValueError(f"statusCode must be a number, got {doc['statusCode']!r}") from None
        headers_in = doc.get("headers") or {}
        if not isinstance(headers_in, Mapping):
            raise ValueError("headers must be an object of header names to values")
        headers = [(str(k), str(v)) for k, v in headers_in.items()]
        body_in = doc.get("body")
        if body_in is None:
            body = b""
        elif doc.get("isBase64Encoded"):
            body = base64.b64decode(str(body_in))
        elif isinstance(body_in, str):
            body = body_in.encode("utf-8")
        else:
            body = json.dumps(body_in, ensure_ascii=False).encode("utf-8")
        return status, headers, body
    if result is None:
        return 200, [], b""
    if isinstance(result, bytes | bytearray):
        return 200, [], bytes(result)
    if isinstance(result, str):
        return 200, [], result.encode("utf-8")
    return 200, [("Content-Type", "application/json")], json.dumps(result, ensure_ascii=False).encode("utf-8")


__all__ = ["canonical_header", "from_result", "to_event"]
