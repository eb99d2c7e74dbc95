"""FC 2.0 HTTP trigger adapter: a WSGI ``handler(environ, start_response)`` over :class:`~osscallback.callback.core.
CallbackApp`.

The path OSS signed is the path it requested. Behind FC 2.0's default trigger URL
(``/2016-08-15/proxy/<service>/<function>/<rest>``) ``PATH_INFO`` holds only ``<rest>``; FC passes the full
request URI in ``environ['fc.request_uri']``, so that is used when present. Otherwise the raw URI a server
exposes (``RAW_URI``/``REQUEST_URI``), else ``SCRIPT_NAME + PATH_INFO`` re-quoted (WSGI hands those over already
percent-decoded, and the signature covers the decoded path, so quoting them back is lossless).

The body is read as PEP 3333 allows and no further than the configured cap (plus one byte to tell "more was
there"): only ``CONTENT_LENGTH`` bytes, or up to end of stream when the server says the stream ends there
(``wsgi.input_terminated``, set by waitress and other servers that de-chunk). Without either, there is no body: a
server such as the standard library's ``wsgiref`` hands over the raw socket, and reading it until end of stream
would hang the worker until the client gives up. Nothing is read for a method other than POST: the core refuses
it with a 405 at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from osscallback.callback.core import CallbackApp, CallbackRequest, CallbackResponse, declared_length

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _split_uri(uri: str) -> tuple[str, str]:
    if uri.startswith(("http://", "https://")):
        parts = urlsplit(uri)
        return parts.path or "/", parts.query
    path, _, query = uri.partition("?")
    return path or "/", query


def signed_target(environ: dict[str, Any]) -> tuple[str, str]:
    """The ``(raw path, raw query)`` OSS signed, as far as this WSGI environ can tell."""
    for key in ("fc.request_uri", "RAW_URI", "REQUEST_URI"):
        uri = environ.get(key)
        if isinstance(uri, str) and uri:
            return _split_uri(uri)
    raw = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1", "replace")
    return quote(raw, safe="/") or "/", environ.get("QUERY_STRING", "")


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request headers with lower-case names, first value winning (what :func:`normalize_headers` makes of
    the ``HTTP_*`` variables, then ``CONTENT_TYPE`` and ``CONTENT_LENGTH``), in one pass over the environ."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key[:5] == "HTTP_":
            name = key[5:].replace("_", "-").lower()
            if name not in headers:
                headers[name] = value if type(value) is str else str(value)
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        value = environ.get(key)
        if value and name not in headers:
            headers[name] = str(value)
    return headers


def read_body(environ: dict[str, Any], cap: int) -> tuple[bytes, bool]:
    """Read at most ``cap`` bytes of the request body; the flag says the body was longer (or claimed to be).

    With no ``CONTENT_LENGTH`` the stream is read only if the server terminates it (``wsgi.input_terminated``,
    PEP 3333's note on reading past the length): otherwise the body is empty, never a read that could block.
    """
    stream = environ.get("wsgi.input")
    raw_length = (environ.get("CONTENT_LENGTH") or "").strip()
    if raw_length:
        length = declared_length(raw_length)
        if length is None or length < 0:
            return b"", False  # malformed length: read nothing; the core answers 400 InvalidContentLength
        if length > cap:
            return b"", True
        data = stream.read(length) if stream is not None and length else b""
        return data, False
    if stream is None or not environ.get("wsgi.input_terminated"):
        return b"", False
    data = stream.read(cap + 1)  # chunked or close-delimited: the server says the stream ends with the body
    return data[:cap], len(data) > cap


def _request_id(environ: dict[str, Any]) -> str | None:
    context = environ.get("fc.context")
    rid = getattr(context, "request_id", None) or getattr(context, "requestId", None)
    return str(rid) if rid else None


def to_request(environ: dict[str, Any], cap: int) -> CallbackRequest:
    method = environ.get("REQUEST_METHOD", "GET")
    # The method first: a GET (or anything but POST) is answered 405 by the core without touching the stream.
    body, truncated = read_body(environ, cap) if method.upper() == "POST" else (b"", False)
    return CallbackRequest(
        method=method,
        targets=(signed_target(environ),),
        headers=_headers(environ),
        body=body,
        body_truncated=truncated,
        request_id=_request_id(environ),
        context=environ.get("fc.context"),
    )


_REASONS = {
    200: "OK", 400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 409: "Conflict",
    413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable",
}


def respond(response: CallbackResponse, start_response: StartResponse) -> list[bytes]:
    start_response(f"{response.status} {_REASONS.get(response.status, 'Error')}", response.all_headers())
    return [response.body]


def make_wsgi_handler(app: Any) -> WSGIApp:
    """A WSGI callable answering OSS callbacks with ``app`` (a :class:`CallbackApp` or a stand-in)."""

    def handler(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = to_request(environ, app.config.max_body_bytes)
        return respond(app.handle(request), start_response)

    return handler


__all__ = ["CallbackApp", "make_wsgi_handler", "signed_target", "read_body", "to_request"]
