"""Test kit for the local OSS: a callback receiver that verifies OSS signatures on its own.

The receiver deliberately does NOT use ``osscallback.callback.signature``: it fetches the PEM from the URL in
``x-oss-pub-key-url`` and checks MD5withRSA over ``unquote(path)[?query]\\n body`` (SPEC §3) with ``cryptography``
directly, so a bug shared by the local OSS's signer and the library's verifier cannot hide.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


@dataclass
class Received:
    """One callback request as the receiver saw it."""

    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    key_url: str

    @property
    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Behaviour:
    """How the receiver answers. Defaults: 200 with a JSON body naming what it verified."""

    status: int = 200
    body: bytes | None = None  # None: a JSON echo
    content_length: bool = True  # False: no Content-Length, close-delimited body
    delay: float = 0.0
    oversize: int = 0  # > 0: a JSON body of at least this many bytes


def verify_independently(key_url: str, signature: bytes, path: str, query: str, body: bytes) -> bool:
    with urllib.request.urlopen(key_url, timeout=5) as resp:  # noqa: S310 - test fetch from 127.0.0.1
        pem = resp.read()
    key = serialization.load_pem_public_key(pem)
    assert isinstance(key, rsa.RSAPublicKey)
    data = unquote_to_bytes(path) + (b"?" + query.encode("latin-1") if query else b"") + b"\n" + body
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.MD5())
    except InvalidSignature:
        return False
    return True


class Receiver:
    """A callback server on 127.0.0.1 that verifies every request and records it."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.behaviour = Behaviour()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                target = urlsplit(self.path)
                key_url = base64.b64decode(self.headers.get("x-oss-pub-key-url", "")).decode()
                signature = base64.b64decode(self.headers.get("Authorization", ""))
                verified = verify_independently(key_url, signature, target.path, target.query, body)
                rec = Received(
                    target.path, target.query, {k.lower(): v for k, v in self.headers.items()}, body, verified, key_url
                )
                with outer._lock:
                    outer.received.append(rec)
                b = outer.behaviour
                if b.delay:
                    time.sleep(b.delay)
                if b.body is not None:
                    answer = b.body
                elif b.oversize:
                    answer = json.dumps({"pad": "x" * b.oversize}).encode()
                else:
                    answer = json.dumps({"verified": verified, "path": target.path, "n": len(outer.received)}).encode()
                try:
                    self.send_response(b.status)
                    self.send_header("Content-Type", "application/json")
                    if b.content_length:
                        self.send_header("Content-Length", str(len(answer)))
                    else:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def last(self) -> Received:
        with self._lock:
            return self.received[-1]

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def b64json(doc: Any) -> str:
    return base64.b64encode(json.dumps(doc, ensure_ascii=False).encode("utf-8")).decode("ascii")


@dataclass
class CallbackSpec:
    url: str
    body: str = "bucket=${bucket}&object=${object}&etag=${etag}&size=${size}"
    body_type: str = "application/x-www-form-urlencoded"
    host: str | None = None
    variables: dict[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, str]:
        doc = {"callbackUrl": self.url, "callbackBody": self.body, "callbackBodyType": self.body_type}
        if self.host:
            doc["callbackHost"] = self.host
        return doc

    def headers(self) -> dict[str, str]:
        h = {"x-oss-callback": b64json(self.document())}
        if self.variables:
            h["x-oss-callback-var"] = b64json(self.variables)
        return h


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def cli_local_oss(data_dir: Path, *flags: str) -> Iterator[dict[str, str]]:
    """``osscallback local oss --json`` in a process of its own, as a user starts it: its one JSON line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "osscallback.cli", "local", "oss", "--json", "--data-dir", str(data_dir), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
