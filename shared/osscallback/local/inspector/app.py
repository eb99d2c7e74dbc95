"""The inspector's HTTP side: the page, its script and stylesheet, and the JSON API, as one WSGI app.

Routes::

    GET  /                               the page (static/index.html)
    GET  /static/<file>                  dom.js, inspector.js, deadletters.js, inspector.css, favicon.svg
    GET  /api/callbacks[?since=V]        newest first; with since=V and nothing new: {"version": V, "changed": false}
    GET  /api/callbacks/<id>             one callback, whole
    POST /api/callbacks/<id>/replay      send it again, identical; answers the new record (201)
    POST /api/callbacks/<id>/resend      {"body"?: str, "path"?: str, "resign"?: bool}: edit and send (201)
    GET  /api/events                     OSS-trigger events delivered to functions, newest first
    GET  /api/dead-letters               the backstop's dead letters (reason, attempts, event), oldest first
    POST /api/dead-letters/<id>/redeliver   the event through the backstop again; removed once delivered

The page is served with a strict Content-Security-Policy (scripts and styles from this origin only, no inline
code), so even a missed escape could not run a script; the page itself escapes everything by building the DOM with
``textContent``. The API only answers requests whose ``Host`` is this server's loopback address (no DNS
rebinding), and its POSTs only take ``application/json`` from this origin, which a cross-site form cannot send.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.local.inspector import views
from osscallback.local.inspector.deadletters import LETTER_ID, DeadLetterSource
from osscallback.local.inspector.history import CallbackHistory
from osscallback.local.oss.callbacks import CallbackRecord, CallbackResendError, CallbackSender

STATIC_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "inspector.js": "text/javascript; charset=utf-8",
    "inspector.css": "text/css; charset=utf-8",
    "deadletters.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    # the page's icon (<link rel="icon">): without one the browser asks for /favicon.ico and logs its 404 as an error
    "favicon.svg": "image/svg+xml",
}
SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]
MAX_REQUEST_BODY = 2 * 1024 * 1024
_ROUTE = re.compile(r"^/api/callbacks/([0-9a-f]{32})(?:/(replay|resend))?$")
_LETTER_ROUTE = re.compile(r"^/api/dead-letters/([^/]+)/redeliver$")

StartResponse = Callable[..., Any]


class _HttpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _static(name: str) -> bytes:
    return resources.files("osscallback.local.inspector").joinpath("static").joinpath(name).read_bytes()


class InspectorApp:
    """WSGI app over a :class:`CallbackHistory` and, once attached, the local OSS's :class:`CallbackSender`."""

    def __init__(self, history: CallbackHistory, allowed_hosts: Callable[[], Iterable[str]]) -> None:
        self.history = history
        self.sender: CallbackSender | None = None
        self.dead_letters: DeadLetterSource | None = None  # the local stack's (Inspector.watch_dead_letters)
        self._allowed_hosts = allowed_hosts

    @property
    def public_key(self) -> rsa.RSAPublicKey | None:
        return self.sender.private_key.public_key() if self.sender is not None else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, headers, body = self._route(environ)
        except _HttpError as err:
            status, headers, body = err.status, [], _json({"error": err.code, "message": err.message})
            headers.append(("Content-Type", "application/json"))
        headers = [*headers, *SECURITY_HEADERS, ("Content-Length", str(len(body)))]
        start_response(f"{status} {_REASONS.get(status, 'Unknown')}", headers)
        return [body]

    def _route(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        host = (environ.get("HTTP_HOST") or "").lower()
        if host not in {h.lower() for h in self._allowed_hosts()}:
            raise _HttpError(421, "MisdirectedRequest", "the inspector answers only on its own loopback address")
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO") or "/"
        if path in ("/", "/index.html"):
            return self._file(method, "index.html")
        if path.startswith("/static/"):
            return self._file(method, path[len("/static/") :])
        if path == "/api/callbacks":
            self._method(method, "GET")
            return self._list(environ)
        if path == "/api/events":
            self._method(method, "GET")
            events = [views.event_view(e) for e in self.history.events()]
            return _ok({"version": self.history.version, "events": events})
        if path.startswith("/api/dead-letters"):
            return self._dead_letters(environ, method, path, host)
        match = _ROUTE.match(path)
        if match is None:
            raise _HttpError(404, "NotFound", f"no such page: {path[:200]}")
        record_id, action = match.groups()
        entry = self.history.get(record_id)
        if entry is None:
            raise _HttpError(404, "NoSuchCallback", "no callback with that id (the history keeps the newest only)")
        if action is None:
            self._method(method, "GET")
            return _ok(views.detail(entry, self.history, self.public_key))
        self._method(method, "POST")
        self._same_origin(environ, host)
        args = _json_body(environ)
        again = self._send_again(entry.record, action, args)
        created = self.history.get(again.id)
        if created is None:  # pragma: no cover - the sender's observer adds it before returning
            created = self.history.add(again)
        return 201, [("Content-Type", "application/json")], _json(views.detail(created, self.history, self.public_key))

    def _dead_letters(self, environ: dict[str, Any], method: str, path: str,
                      host: str) -> tuple[int, list[tuple[str, str]], bytes]:
        source = self.dead_letters
        if path == "/api/dead-letters":
            self._method(method, "GET")
            return _ok({"dead_letters": source.list() if source is not None else []})
        match = _LETTER_ROUTE.match(path)
        if match is None or not LETTER_ID.match(match.group(1)):
            raise _HttpError(404, "NotFound", f"no such page: {path[:200]}")
        self._method(method, "POST")
        self._same_origin(environ, host)
        if source is None:
            raise _HttpError(503, "NoLocalStack", "the inspector is not attached to a local stack's dead letters")
        return _ok(source.redeliver(match.group(1)))

    def _send_again(self, record: CallbackRecord, action: str, args: dict[str, Any]) -> CallbackRecord:
        sender = self.sender
        if sender is None:
            raise _HttpError(503, "NoLocalOSS", "the inspector is not attached to a running local OSS")
        try:
            if action == "replay":
                return sender.replay(record)
            body = args.get("body")
            path = args.get("path")
            resign = args.get("resign", True)
            if body is not None and not isinstance(body, str):
                raise _HttpError(400, "InvalidArgument", "body must be a string")
            if path is not None and not isinstance(path, str):
                raise _HttpError(400, "InvalidArgument", "path must be a string")
            if not isinstance(resign, bool):
                raise _HttpError(400, "InvalidArgument", "resign must be true or false")
            return sender.resend(
                record, body=body.encode("utf-8") if body is not None else None, target=path, resign=resign
            )
        except CallbackResendError as exc:
            raise _HttpError(400, "CannotResend", str(exc)) from None

    def _list(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        version = self.history.version
        since = _query(environ).get("since")
        if since is not None and since == str(version):
            return _ok({"version": version, "changed": False})
        rows = [views.summary(e, self.history) for e in self.history.entries()]
        return _ok({"version": version, "changed": True, "callbacks": rows})

    @staticmethod
    def _file(method: str, name: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if method not in ("GET", "HEAD"):
            raise _HttpError(405, "MethodNotAllowed", "use GET")
        content_type = STATIC_TYPES.get(name)
        if content_type is None:
            raise _HttpError(404, "NotFound", "no such file")
        return 200, [("Content-Type", content_type)], _static(name)

    @staticmethod
    def _method(method: str, allowed: str) -> None:
        if method != allowed:
            raise _HttpError(405, "MethodNotAllowed", f"use {allowed}")

    @staticmethod
    def _same_origin(environ: dict[str, Any], host: str) -> None:
        content_type = (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            raise _HttpError(415, "UnsupportedMediaType", "send application/json")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin.lower() != f"http://{host}":
            raise _HttpError(403, "CrossOrigin", "requests from other origins are refused")


def _query(environ: dict[str, Any]) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(environ.get("QUERY_STRING") or ""))


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _HttpError(400, "InvalidArgument", "bad Content-Length") from None
    if length > MAX_REQUEST_BODY:
        raise _HttpError(413, "BodyTooLarge", f"at most {MAX_REQUEST_BODY} bytes")
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _HttpError(400, "InvalidArgument", "the body is not JSON") from None
    if not isinstance(doc, dict):
        raise _HttpError(400, "InvalidArgument", "the body must be a JSON object")
    return doc


def _json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _ok(doc: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Content-Type", "application/json")], _json(doc)


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
    503: "Service Unavailable",
}
