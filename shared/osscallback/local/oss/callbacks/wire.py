"""One callback POST on the wire, and OSS's verdict on the answer.

Rules followed (SPEC §1-4, OSS "Callback" API reference and the "HTTP status code 203" page): each attempt has a
5 second budget, no redirects are followed, nothing is retried; a good answer is HTTP 200 with a
``Content-Length`` of at most 3 MB and a JSON body; anything else fails with OSS's message for the case.

Plain :mod:`http.client` on purpose: it never follows redirects, lets us set ``Host`` and the raw path exactly,
and lets us bound the time and size of the answer.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from urllib.parse import urlsplit

from osscallback.local.oss.callbacks.records import (
    RECORD_ANSWER_BYTES,
    Attempt,
    Headers,
    ReceivedAnswer,
    SentRequest,
)

#: OSS waits this long for a callback answer.
CALLBACK_TIMEOUT = 5.0
#: Largest callback answer OSS accepts.
MAX_ANSWER_BYTES = 3 * 1024 * 1024
#: Longest a failed answer's body is read for the record, once OSS's verdict is made.
RECORD_READ_SECONDS = 1.0

# OSS's CallbackFailed messages ("HTTP status code 203" troubleshooting page). Where real OSS answers were captured,
# they win over that page's spelling: the connect failure reads "Error status : -1.OSS can not connect to your
# callbackUrl, please check it." (lower-case "status", a final period) in ali-oss's test/callback.test.js and in
# cloudreve/cloudreve#2100, while the troubleshooting page writes "Error Status".
MSG_CONNECT = "Error status : -1.OSS can not connect to your callbackUrl, please check it."
MSG_TIMEOUT = "Cost too long time"
MSG_NOT_JSON = "Response body is not valid json format."
MSG_LENGTH = "Error Status : 400.User server return too long content-length value"
MSG_IMAGE = "Get image info failed"
# A TLS handshake that fails: what OSS answered when an https callback host needed SNI and OSS sent none
# (cloudreve/cloudreve#448, #1693 and #1896: "Error status : 502." behind Cloudflare and, 2026-03-28, a Let's Encrypt
# host; OSS's Callback reference: callbackSNI, default false).
MSG_TLS = "Error status : 502."


def msg_status(status: int) -> str:
    return f"Error status : {status}."


class _HTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection that names the host in its ClientHello (SNI) only when asked, as OSS's callback client
    does: by default OSS sends no SNI, and ``"callbackSNI": true`` turns it on (OSS, "Callback" API reference)."""

    def __init__(self, host: str, port: int | None, *, timeout: float, context: ssl.SSLContext, sni: bool) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls = context
        self._sni = sni

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # the TCP connection; the handshake below, with or without SNI
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self.host if self._sni else None)


class _Failed(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def deliver(request: SentRequest, timeout: float, max_answer: int) -> tuple[Attempt, bytes]:
    """POST one request within the time budget; the attempt as recorded, and the whole answer when it is good."""
    started = time.perf_counter()
    answer: ReceivedAnswer | None = None
    try:
        answer, body = _post(request, timeout, max_answer)
    except _Failed as failure:
        captured = failure.__cause__
        if isinstance(captured, _Captured):
            answer = captured.answer
        latency = ms_since(started)
        return Attempt(request.url, False, failure.message, failure.status, request, answer, latency), b""
    return Attempt(request.url, True, "", 200, request, answer, ms_since(started)), body


def _post(request: SentRequest, timeout: float, max_answer: int) -> tuple[ReceivedAnswer, bytes]:
    url = request.url
    parts = urlsplit(url if "://" in url else "http://" + url)
    if not parts.hostname:
        raise _Failed(MSG_CONNECT)
    try:
        port = parts.port
    except ValueError:
        raise _Failed(MSG_CONNECT) from None
    deadline = time.monotonic() + timeout
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # local development targets use self-signed certificates
        conn = _HTTPSConnection(parts.hostname, port, timeout=timeout, context=context, sni=request.sni)
    else:
        conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    try:
        conn.putrequest(request.method, request.target, skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers:
            conn.putheader(name, value)
        conn.endheaders(request.body)
        sock = conn.sock  # kept: http.client drops conn.sock when the answer says "Connection: close"
        if sock is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
        resp = conn.getresponse()
        return _read_answer(sock, resp, deadline, max_answer)
    except _Failed:
        raise
    except TimeoutError:
        raise _Failed(MSG_TIMEOUT) from None
    except ssl.SSLError:  # the TLS handshake failed (a server that needs SNI refuses a ClientHello without it)
        raise _Failed(MSG_TLS) from None
    except (OSError, http.client.HTTPException):
        raise _Failed(MSG_CONNECT) from None
    finally:
        conn.close()


def _read_answer(
    sock: socket.socket | None, resp: http.client.HTTPResponse, deadline: float, max_answer: int
) -> tuple[ReceivedAnswer, bytes]:
    head = (resp.status, resp.reason or "", tuple(resp.getheaders()))
    length_header = resp.getheader("Content-Length")
    if resp.status != 200:
        # OSS's verdict is already made; read a little of the answer for the record, within the same budget.
        raise _Failed(msg_status(resp.status), resp.status) from _Captured(
            _record(head, *_read_some(sock, resp, deadline, RECORD_ANSWER_BYTES))
        )
    if length_header is None:  # not read: without a length, reading could only wait for the server to close
        raise _Failed(MSG_LENGTH) from _Captured(_record(head, b"", True))
    try:
        length = int(length_header)
    except ValueError:
        raise _Failed(MSG_LENGTH) from _Captured(_record(head, b"", False))
    if length < 0 or length > max_answer:
        raise _Failed(MSG_LENGTH) from _Captured(_record(head, b"", length > 0))
    chunks: list[bytes] = []
    received = 0
    while received < length:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failed(MSG_TIMEOUT) from _Captured(_record(head, b"".join(chunks), True))
        if sock is not None:
            sock.settimeout(remaining)
        chunk = resp.read(min(64 * 1024, length - received))
        if not chunk:
            raise _Failed(MSG_CONNECT) from _Captured(_record(head, b"".join(chunks), True))
        chunks.append(chunk)
        received += len(chunk)
    answer = b"".join(chunks)
    recorded = _record(head, answer, False)
    try:
        json.loads(answer.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _Failed(MSG_NOT_JSON) from _Captured(recorded)
    return recorded, answer


def _read_some(
    sock: socket.socket | None, resp: http.client.HTTPResponse, deadline: float, limit: int
) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of an answer whose verdict is made, for the record only; never raises.

    Read only when the answer says how long it is (or is chunked), and for at most a second: recording must
    not make the uploader wait noticeably longer than OSS would.
    """
    if resp.getheader("Content-Length") is None and not resp.chunked:
        return b"", True
    deadline = min(deadline, time.monotonic() + RECORD_READ_SECONDS)
    chunks: list[bytes] = []
    received = 0
    try:
        while received < limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"".join(chunks), True
            if sock is not None:
                sock.settimeout(remaining)
            chunk = resp.read1(min(64 * 1024, limit - received))
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
            received += len(chunk)
    except (OSError, http.client.HTTPException, ValueError):
        return b"".join(chunks), True
    return b"".join(chunks), True


class _Captured(Exception):
    """Carries the answer seen so far on a failed attempt (chained as the ``_Failed``'s cause)."""

    def __init__(self, answer: ReceivedAnswer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _record(head: tuple[int, str, Headers], body: bytes, truncated: bool) -> ReceivedAnswer:
    status, reason, headers = head
    if len(body) > RECORD_ANSWER_BYTES:
        body, truncated = body[:RECORD_ANSWER_BYTES], True
    return ReceivedAnswer(status, reason, headers, body, truncated)


def ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
