"""Test kit: sign callbacks exactly as OSS does and serve the public key over real HTTP on 127.0.0.1.

Shipped in the library (as moto ships its mocks) so users can test their own callback actions without a cloud
account, and so our tests, benchmarks and hardening suites share one faithful OSS stand-in.

``KeyServer`` counts fetches and can misbehave on purpose (redirect, slow drip, oversized or non-PEM body) for
the key-URL attack tests.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import callback_headers, generate_private_key, public_pem

KEY_PATH = "/callback_pub_key_v1.pem"


@dataclass
class KeyServerBehaviour:
    """How the key server answers: normal by default; tests flip these to attack the fetcher."""

    redirect_to: str | None = None
    delay_seconds: float = 0.0
    drip_bytes_per_second: float = 0.0  # > 0: send the body slowly (slow-loris)
    body: bytes | None = None  # override the PEM (oversized, non-PEM...)
    status: int = 200


class KeyServer:
    """Serves a PEM public key on 127.0.0.1 and counts GETs per path."""

    def __init__(self, private_key: rsa.RSAPrivateKey | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.private_key = private_key or generate_private_key(1024)
        self.pem = public_pem(self.private_key)
        self.behaviour = KeyServerBehaviour()
        self.fetches: dict[str, int] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with outer._lock:
                    outer.fetches[self.path] = outer.fetches.get(self.path, 0) + 1
                b = outer.behaviour
                if b.delay_seconds:
                    time.sleep(b.delay_seconds)
                if b.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", b.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = outer.pem if b.body is None else b.body
                self.send_response(b.status)
                self.send_header("Content-Type", "application/x-pem-file")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if b.drip_bytes_per_second > 0:
                    for i in range(len(body)):
                        try:
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(1 / b.drip_bytes_per_second)
                else:
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.host = host
        self._thread: threading.Thread | None = None

    @property
    def prefix(self) -> str:
        """The trusted-prefix value that admits this server's keys (``CALLBACK_KEY_URL_PREFIXES``)."""
        return f"http://{self.host}:{self.port}/"

    @property
    def key_url(self) -> str:
        return f"http://{self.host}:{self.port}{KEY_PATH}"

    @property
    def total_fetches(self) -> int:
        with self._lock:
            return sum(self.fetches.values())

    def start(self) -> KeyServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="key-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> KeyServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass
class SignedCallback:
    """A callback request as OSS would send it to ``url``."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path_and_query(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class OssSigner:
    """Makes callback requests signed like OSS's (MD5withRSA over ``unquote(path)[?query]\\n body``)."""

    def __init__(self, private_key: rsa.RSAPrivateKey, key_url: str) -> None:
        self.private_key = private_key
        self.key_url = key_url

    def sign(
        self,
        url: str,
        body: bytes,
        content_type: str = "application/x-www-form-urlencoded",
        *,
        host: str | None = None,
    ) -> SignedCallback:
        parts = urlsplit(url)
        headers = callback_headers(self.private_key, self.key_url, parts.path or "/", parts.query, body)
        headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
        headers["Host"] = host or parts.netloc
        headers["User-Agent"] = "aliyun-oss-callback"
        headers["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        return SignedCallback(url, body, headers)


def form_body(fields: dict[str, str]) -> bytes:
    """A form body encoded as OSS encodes substituted values (every value percent-encoded)."""
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in fields.items()).encode("utf-8")


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def post(callback: SignedCallback, *, timeout: float = 10.0, method: str = "POST") -> HttpAnswer:
    """Send a signed callback over real HTTP, as OSS does (no redirects, raw path kept byte for byte)."""
    parts = urlsplit(callback.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.putrequest(method, callback.path_and_query, skip_host=True, skip_accept_encoding=True)
        for name, value in callback.headers.items():
            conn.putheader(name, value)
        conn.endheaders(callback.body)
        resp = conn.getresponse()
        return HttpAnswer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()
