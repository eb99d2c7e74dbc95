"""The policy endpoint's two FC transports over :class:`~osscallback.upload.browser.app.PolicyApp`, as the callback
function has them (``callback/wsgi.py``, ``callback/fc3.py``): FC 2.0's WSGI handler and FC 3.0's HTTP event.

No request body is ever read: every route is a GET (or a preflight), so nothing here can wait on a client.

- FC 2.0: ``PATH_INFO`` is what follows ``/2016-08-15/proxy/<service>/<function>``; the path the browser asked for
  (for the page's trailing-slash redirect) is ``environ['fc.request_uri']``, else ``REQUEST_URI``.
- FC 3.0: ``rawPath`` is the function URL's path, which is also what the browser asked for.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from osscallback.upload.browser.app import HttpRequest, HttpResponse, PolicyApp

StartResponse = Callable[..., Any]
_REASONS = {200: "OK", 204: "No Content", 308: "Permanent Redirect", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


def _wsgi_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def wsgi_request(environ: Mapping[str, Any]) -> HttpRequest:
    uri = environ.get("fc.request_uri") or environ.get("REQUEST_URI") or ""
    public = urlsplit(str(uri)).path if uri else str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return HttpRequest(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=str(environ.get("PATH_INFO") or "/"),
        headers=_wsgi_headers(environ),
        query=dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)),
        public_path=public or "/",
        context=environ.get("fc.context"),
    )


def make_wsgi_handler(app: PolicyApp) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """FC 2.0: ``handler(environ, start_response)``."""

    def handler(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = app.handle(wsgi_request(environ))
        start_response(f"{response.status} {_REASONS.get(response.status, 'Error')}", response.headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else response.body]

    return handler


def event_request(event: Any, context: Any = None) -> HttpRequest | HttpResponse:
    """FC 3.0's HTTP event as a request; an event that is not one is answered 400 at once."""
    if isinstance(event, (bytes, bytearray, str)):
        try:
            event = json.loads(event)
        except (ValueError, UnicodeDecodeError, RecursionError):
            event = None
    http = (event.get("requestContext") or {}).get("http") if isinstance(event, dict) else None
    if not isinstance(event, dict) or not isinstance(http, Mapping):
        body = json.dumps({"ok": False, "error": "InvalidEvent", "message": "not an FC 3.0 HTTP event"}).encode()
        return HttpResponse(400, [("Content-Type", "application/json")], body)
    raw_path = str(event.get("rawPath") or http.get("path") or "/")
    headers_in, query_in = event.get("headers"), event.get("queryParameters")
    headers: Mapping[str, Any] = headers_in if isinstance(headers_in, Mapping) else {}
    query: Mapping[str, Any] = query_in if isinstance(query_in, Mapping) else {}
    path = unquote(raw_path)
    return HttpRequest(
        method=str(http.get("method") or "GET"),
        path=path,
        headers={str(k).lower(): str(v) for k, v in headers.items()},
        query={str(k): str(v[0] if isinstance(v, list) and v else v) for k, v in query.items()},
        public_path=path,
        context=context,
    )


def event_response(response: HttpResponse) -> dict[str, Any]:
    try:
        return {"statusCode": response.status, "headers": dict(response.headers),
                "body": response.body.decode("utf-8"), "isBase64Encoded": False}
    except UnicodeDecodeError:
        return {"statusCode": response.status, "headers": dict(response.headers),
                "body": base64.b64encode(response.body).decode("ascii"), "isBase64Encoded": True}


def make_fc3_handler(app: PolicyApp) -> Callable[[Any, Any], dict[str, Any]]:
    """FC 3.0: ``handler(event, context)`` with an HTTP trigger's event."""

    def handler(event: Any, context: Any = None) -> dict[str, Any]:
        request = event_request(event, context)
        if isinstance(request, HttpResponse):
            return event_response(request)
        return event_response(app.handle(request))

    return handler
