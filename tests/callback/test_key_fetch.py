"""The key fetch's own HTTP reading (Content-Length, chunked, close-delimited) and the PEM loader, over real sockets.

The fetch is a few lines over ``socket`` instead of ``http.client`` (cold start), so its framing is proven here
against raw answers as a CDN could send them; the hardening suite covers the hostile ones (endless, slow, huge).
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.keys import KeyFetchError, fetch_pem
from osscallback.callback.signature import load_public_key, pem_public_key_loader, public_pem
from osscallback.keygen import generate_private_key


class RawServer:
    """Answers every connection with fixed bytes after reading the request head."""

    def __init__(self, answer: bytes) -> None:
        self.requests: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                outer.requests.append(data)
                self.request.sendall(answer)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/callback_pub_key_v1.pem"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def pem() -> bytes:
    return public_pem(generate_private_key())


@pytest.fixture()
def raw() -> Iterator[list[RawServer]]:
    servers: list[RawServer] = []
    yield servers
    for s in servers:
        s.close()


def _serve(raw: list[RawServer], answer: bytes) -> RawServer:
    server = RawServer(answer)
    raw.append(server)
    return server


def _chunked(body: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += f"{len(piece):X};ext=1\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\nX-Trailer: t\r\n\r\n"


@pytest.mark.parametrize("framing", ["content-length", "chunked", "chunked-1-byte", "close-delimited", "lf-only"])
def test_framings_yield_the_exact_pem(raw: list[RawServer], pem: bytes, framing: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-pem-file\r\n"
    answer = {
        "content-length": head + f"Content-Length: {len(pem)}\r\n\r\n".encode() + pem,
        "chunked": head + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(pem, 100),
        "chunked-1-byte": head + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(pem, 1),
        "close-delimited": head + b"Connection: close\r\n\r\n" + pem,
        "lf-only": b"HTTP/1.0 200 OK\nContent-Length: " + str(len(pem)).encode() + b"\n\n" + pem,
    }[framing]
    server = _serve(raw, answer)
    assert fetch_pem(server.url) == pem
    request = server.requests[0]
    assert request.startswith(b"GET /callback_pub_key_v1.pem HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in request and b"\r\nConnection: close\r\n" in request


@pytest.mark.parametrize("answer, message", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nshort", "ended after 5 of 500 bytes"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", "larger than 16384 bytes"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeXX0\r\n\r\n", "bad chunked framing"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "closed inside a chunk"),
    (b"HTTP/1.1 200 OK\r\nContent-Le", "closed before the headers ended"),
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP answer"),
    (b"HTTP/1.1 302 Found\r\nLocation: http://evil.example/\r\nContent-Length: 0\r\n\r\n", "HTTP 302"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 20000 + b"\r\n\r\n", "too long"),
])
def test_broken_answers_are_key_fetch_errors(raw: list[RawServer], answer: bytes, message: str) -> None:
    server = _serve(raw, answer)
    with pytest.raises(KeyFetchError) as caught:
        fetch_pem(server.url, timeout=5)
    assert caught.value.status == 502 and caught.value.code == "PubKeyFetchFailed"
    assert message in caught.value.message, caught.value.message


def test_refused_connection_is_a_key_fetch_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connection refused
        with pytest.raises(KeyFetchError) as caught:
            fetch_pem(f"http://127.0.0.1:{port}/k.pem", timeout=2)
    assert "ConnectionRefusedError" in caught.value.message


def test_pem_loader_is_cryptographys_public_function() -> None:
    """The cold-path loader is the very function ``serialization.load_pem_public_key`` is (no parser of our own);
    if a cryptography release changes that, this fails and the fallback import is what runs."""
    assert pem_public_key_loader() is serialization.load_pem_public_key


@pytest.mark.parametrize("bits", [1024, 2048, 4096])
@pytest.mark.parametrize("fmt", [serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1])
def test_load_public_key_reads_what_cryptography_writes(bits: int, fmt: serialization.PublicFormat) -> None:
    key = generate_private_key(bits).public_key()
    loaded = load_public_key(key.public_bytes(serialization.Encoding.PEM, fmt))
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == key.public_numbers()
