"""Servers that misbehave the ways callback endpoints do, for the doctor's tests, on 127.0.0.1.

:class:`RawServer` reads each request whole and writes back raw bytes chosen by the test, so an answer can lack
Content-Length, be chunked, be slow, be HTML, be huge, redirect, or close the connection: things a well-behaved
HTTP framework would not let a test do. It can speak TLS (certificates from ``osscallback.testing.LocalCA``) and
choose the certificate by SNI.
"""

from __future__ import annotations

import json
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from types import TracebackType

Answer = Callable[[bytes], bytes | None]  # request bytes -> raw answer (None: close without answering)


def http_answer(status: str, body: bytes, *, content_type: str = "application/json", length: bool = True,
                extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nConnection: close\r\n{extra}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def json_error(status: str, code: str) -> bytes:
    return http_answer(status, json.dumps({"error": code, "message": "test"}).encode())


class RawServer:
    """A threaded TCP server answering each request with ``answer(request)``, after ``delay`` seconds."""

    def __init__(self, answer: Answer, *, delay: float = 0.0, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.delay = delay
        self.requests: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(10)
                try:
                    if tls is not None:
                        conn = tls.wrap_socket(conn, server_side=True)
                    request = _read_request(conn)
                    outer.requests.append(request)
                    time.sleep(outer.delay)
                    raw = outer.answer(request)
                    if raw is not None:
                        conn.sendall(raw)
                except (OSError, ssl.SSLError):
                    pass
                finally:
                    conn.close()

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, scheme: str = "http", host: str = "127.0.0.1", path: str = "/") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def sni_context(default: ssl.SSLContext, by_name: dict[str, ssl.SSLContext] | None = None, *,
                require_sni: bool = False) -> ssl.SSLContext:
    """``default`` unless the client names a host in ``by_name`` (SNI); or no handshake at all without SNI."""
    others = dict(by_name or {})

    def choose(sock: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
        if server_name is None and require_sni:
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
        if server_name in others:
            sock.context = others[server_name]
        return None

    default.sni_callback = choose  # type: ignore[assignment]
    return default
