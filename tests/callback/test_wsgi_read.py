"""The FC 2.0 WSGI adapter reads the body as PEP 3333 allows, so no request can hang a worker.

Under the standard library's ``wsgiref.simple_server`` ``wsgi.input`` is the raw socket: reading it with no
``Content-Length`` blocks until the client gives up. The adapter checks the method first and reads only
``CONTENT_LENGTH`` bytes unless the server sets ``wsgi.input_terminated`` (waitress does).
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from osscallback.callback.wsgi import make_wsgi_handler, read_body
from osscallback.testing import OssSigner, form_body

#: Far longer than any answer takes; a read that hangs waits for the client, i.e. until this runs out.
CLIENT_TIMEOUT = 20.0


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadedWSGIServer(WSGIServer):
    """wsgiref serves one request at a time; a hung one would block the others, so each gets a thread."""

    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        threading.Thread(target=self._handle, args=(request, client_address), daemon=True).start()

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


@pytest.fixture()
def wsgiref_url(make_app) -> Iterator[tuple[str, int]]:
    server = make_server("127.0.0.1", 0, make_wsgi_handler(make_app()), server_class=_ThreadedWSGIServer,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()
    server.server_close()


def _exchange(address: tuple[str, int], head: str, body: bytes = b"") -> tuple[int, dict[str, Any], float]:
    """Send a request and keep the connection open (as a client awaiting its answer does); read the answer."""
    started = time.monotonic()
    with socket.create_connection(address, timeout=CLIENT_TIMEOUT) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    took = time.monotonic() - started
    status_line, _, rest = data.partition(b"\r\n")
    answer = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(answer), took


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
def test_non_post_without_content_length_is_405_at_once(wsgiref_url: tuple[str, int], method: str) -> None:
    head = f"{method} /callback HTTP/1.1\r\nHost: cb.example.com\r\n"
    status, answer, took = _exchange(wsgiref_url, head)
    assert status == 405
    assert answer["error"] == "MethodNotAllowed"
    assert took < CLIENT_TIMEOUT / 2  # answered, not timed out: the stream was never read


def test_bodyless_post_without_content_length_is_answered_at_once(wsgiref_url: tuple[str, int], signer) -> None:
    status, answer, took = _exchange(wsgiref_url, "POST /callback HTTP/1.1\r\nHost: cb.example.com\r\n")
    assert (status, answer["error"]) == (400, "MissingAuthorization")
    assert took < CLIENT_TIMEOUT / 2
    # Signed like OSS's but sent with no Content-Length: the body is empty to the function, which refuses it.
    signed = signer.sign("http://cb.example.com/callback", b"")
    head = "POST /callback HTTP/1.1\r\nHost: cb.example.com\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in signed.headers.items() if k not in ("Content-Length", "Host"))
    status, answer, took = _exchange(wsgiref_url, head)
    assert (status, answer["error"]) == (400, "InvalidCallbackBody")
    assert took < CLIENT_TIMEOUT / 2


def test_signed_post_with_content_length_verifies_under_wsgiref(wsgiref_url: tuple[str, int],
                                                                 signer: OssSigner) -> None:
    body = form_body({"bucket": "examplebucket", "object": "dir/a b.txt"})
    signed = signer.sign("http://cb.example.com/callback?app=1", body)
    head = "POST /callback?app=1 HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    status, answer, _ = _exchange(wsgiref_url, head, body)
    assert status == 200
    assert answer == {"Status": "OK", "bucket": "examplebucket", "object": "dir/a b.txt"}


class _Unreadable(io.RawIOBase):
    """A stream that must not be read: reading it is what hangs under wsgiref."""

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("the adapter read a stream it had no length for")


def test_read_body_follows_pep_3333() -> None:
    assert read_body({"wsgi.input": _Unreadable()}, 100) == (b"", False)
    assert read_body({"wsgi.input": _Unreadable(), "CONTENT_LENGTH": ""}, 100) == (b"", False)
    assert read_body({"wsgi.input": _Unreadable(), "CONTENT_LENGTH": "0"}, 100) == (b"", False)
    # The server terminates the stream (waitress, de-chunked bodies): read up to the cap, plus one to tell more.
    terminated = {"wsgi.input": io.BytesIO(b"x" * 150), "wsgi.input_terminated": True}
    assert read_body(terminated, 100) == (b"x" * 100, True)
    assert read_body({"wsgi.input": io.BytesIO(b"abc"), "wsgi.input_terminated": True}, 100) == (b"abc", False)
    # A declared length is read exactly, never past it.
    stream = io.BytesIO(b"abcdef")
    assert read_body({"wsgi.input": stream, "CONTENT_LENGTH": "3"}, 100) == (b"abc", False)
    assert stream.read() == b"def"


def test_get_never_touches_the_stream(make_app) -> None:
    handler = make_wsgi_handler(make_app())
    statuses: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "CONTENT_LENGTH": "10", "wsgi.input": _Unreadable(),
               "wsgi.input_terminated": True}
    body = b"".join(handler(environ, lambda s, h: statuses.append(s)))
    assert statuses == ["405 Method Not Allowed"]
    assert json.loads(body)["error"] == "MethodNotAllowed"
