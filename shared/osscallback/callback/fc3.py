"""FC 3.0 HTTP trigger adapter: ``handler(event, context)`` over :class:`~osscallback.callback.core.CallbackApp`.

FC 3.0's built-in runtimes have no WSGI: an HTTP trigger passes a JSON event (``version``, ``rawPath``,
``headers``, ``queryParameters``, ``body``, ``isBase64Encoded``, ``requestContext``) and takes back
``{"statusCode", "headers", "body", "isBase64Encoded"}``. ``rawPath`` is the URL-encoded path, which is what
the signature needs. The raw query string is not in the event, only a parsed dict, so the query OSS signed is
rebuilt (in the given order, then sorted); the signature must still match one rebuild exactly, so nothing is
weakened. Prefer callback URLs without a query string (use ``x:`` variables) on FC 3.0.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from osscallback.callback.core import CallbackRequest, CallbackResponse, error_response, normalize_headers


def _query_candidates(params: Any) -> list[str]:
    if not isinstance(params, Mapping) or not params:
        return [""]
    items = [(str(k), v) for k, v in params.items()]

    def build(pairs: list[tuple[str, Any]]) -> str:
        parts = []
        for key, value in pairs:
            values = value if isinstance(value, list) else [value]
            for one in values:
                parts.append(f"{quote(key, safe='')}={quote(str(one), safe='')}" if one != "" else quote(key, safe=""))
        return "&".join(parts)

    candidates = [build(items)]
    sorted_query = build(sorted(items))
    if sorted_query not in candidates:
        candidates.append(sorted_query)
    return candidates


def _decode_event(event: Any) -> dict[str, Any] | None:
    if isinstance(event, (bytes, bytearray)):
        try:
            event = json.loads(event)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
    elif isinstance(event, str):
        try:
            event = json.loads(event)
        except (ValueError, RecursionError):
            return None
    return event if isinstance(event, dict) else None


def to_request(event: dict[str, Any], cap: int, context: Any = None) -> CallbackRequest | CallbackResponse:
    """Translate an FC 3.0 HTTP event; a malformed event is answered with a 400 directly."""
    context_in = event.get("requestContext") or {}
    http = context_in.get("http") or {} if isinstance(context_in, Mapping) else None
    if not isinstance(context_in, Mapping) or not isinstance(http, Mapping):
        return error_response(400, "InvalidEvent", "The HTTP event's requestContext is malformed.")
    method = str(http.get("method") or event.get("httpMethod") or "GET")
    raw_path = event.get("rawPath") or http.get("path") or "/"
    headers_in = event.get("headers") or {}
    if not isinstance(headers_in, Mapping) or not isinstance(raw_path, str):
        return error_response(400, "InvalidEvent", "The HTTP event's headers or path are malformed.")
    headers = normalize_headers({str(k): str(v) for k, v in headers_in.items()})
    body_in = event.get("body") or ""
    truncated = False
    if not isinstance(body_in, str):
        return error_response(400, "InvalidEvent", "The HTTP event's body is not a string.")
    if event.get("isBase64Encoded"):
        if len(body_in) > (cap + 3) // 3 * 4 + 4:
            body, truncated = b"", True
        else:
            try:
                body = base64.b64decode(body_in, validate=True)
            except (binascii.Error, ValueError):
                return error_response(400, "InvalidEvent", "The HTTP event's body is not valid base64.")
    else:
        body = body_in.encode("utf-8")
    if len(body) > cap:
        body, truncated = b"", True
    raw_query = event.get("rawQueryString")
    queries = [raw_query] if isinstance(raw_query, str) else _query_candidates(event.get("queryParameters"))
    request_id = getattr(context, "request_id", None) or context_in.get("requestId")
    return CallbackRequest(
        method=method,
        targets=tuple((raw_path, q) for q in queries),
        headers=headers,
        body=body,
        body_truncated=truncated,
        request_id=str(request_id) if request_id else None,
        context=context,
    )


def to_event_response(response: CallbackResponse) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": dict(response.all_headers()),
        "body": response.body.decode("utf-8"),
        "isBase64Encoded": False,
    }


def make_fc3_handler(app: Any) -> Any:
    """An FC 3.0 ``handler(event, context)`` answering OSS callbacks with ``app``."""

    def handler(event: Any, context: Any = None) -> dict[str, Any]:
        decoded = _decode_event(event)
        if decoded is None:
            return to_event_response(error_response(400, "InvalidEvent", "The HTTP event is not a JSON object."))
        request = to_request(decoded, app.config.max_body_bytes, context)
        if isinstance(request, CallbackResponse):
            return to_event_response(request)
        return to_event_response(app.handle(request))

    return handler
