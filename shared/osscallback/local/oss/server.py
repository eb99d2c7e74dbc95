"""The local OSS's HTTP side: a threaded HTTP/1.1 server that parses requests the way OSS's front end does.

Why the standard library's ``ThreadingHTTPServer`` rather than a WSGI server: the signature covers the key as
sent, and a callback to a server on the same machine must never wait for a free worker. Here every connection
gets its own thread (an upload blocked on its callback cannot starve the callback's key fetch), the raw request
target is at hand (path-style, virtual-host-style and absolute-form ``http://bucket.host/key`` requests sent
through a proxy), and request bodies, ``Content-Length`` or ``Transfer-Encoding: chunked``, are streamed to disk in
bounded chunks.

Addressing:

* path style ``http://127.0.0.1:<port>/<bucket>/<key>`` (what oss2 does for IP endpoints);
* virtual-host style ``Host: <bucket>.<host>`` where ``<host>`` is an IP address, ``localhost`` or one of the
  configured domains, or ``<bucket>`` is an existing bucket;
* CNAME style: a host configured to map to a bucket (oss2's ``is_cname=True``).

The callback public key is served at :data:`PUB_KEY_PATH` on any host; ``__oss__`` can never be a bucket name.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import secrets
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from osscallback.local.oss.api import BodyReader, Operations, Request, Response
from osscallback.local.oss.auth import SignedRequest, authenticate
from osscallback.local.oss.xmlresp import OSSError, error_header, error_xml

log = logging.getLogger("osscallback.local.oss.server")

PUB_KEY_PATH = "/__oss__/callback_pub_key_v1.pem"
#: Unread request body we still read (and drop) to keep a connection usable after an early error answer.
MAX_DRAIN = 8 * 1024 * 1024
#: Methods whose OSS operations take no request body.
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
#: A connection that sends nothing for this many seconds (idle keep-alive, or stalled mid-request) is closed.
KEEP_ALIVE_TIMEOUT = 120


class IncompleteBody(Exception):
    """The client sent fewer body bytes than announced (or a broken chunked body)."""


class _LengthReader(BodyReader):
    def __init__(self, rfile: Any, length: int) -> None:
        self._rfile = rfile
        self.length = length
        self._left = length

    @property
    def done(self) -> bool:
        return self._left == 0

    def read(self, n: int) -> bytes:
        if self._left <= 0:
            return b""
        data = self._rfile.read(min(n, self._left))
        if not data:
            raise IncompleteBody(f"body ended {self._left} bytes early")
        self._left -= len(data)
        return bytes(data)


class _ChunkedReader(BodyReader):
    length = None

    def __init__(self, rfile: Any) -> None:
        self._rfile = rfile
        self._chunk_left = 0
        self.done = False

    def _line(self) -> bytes:
        line = self._rfile.readline(4096)
        if not line.endswith(b"\n"):
            raise IncompleteBody("broken chunked encoding")
        return bytes(line)

    def read(self, n: int) -> bytes:
        if self.done:
            return b""
        if self._chunk_left == 0:
            size_text = self._line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise IncompleteBody("bad chunk size") from None
            if size == 0:
                while self._line() not in (b"\r\n", b"\n"):  # trailers
                    pass
                self.done = True
                return b""
            self._chunk_left = size
        data = self._rfile.read(min(n, self._chunk_left))
        if not data:
            raise IncompleteBody("chunked body ended early")
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and self._line().strip():
            raise IncompleteBody("missing CRLF after chunk")
        return bytes(data)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def request_id() -> str:
    """24 upper-case hex characters, like OSS's ``x-oss-request-id``."""
    return secrets.token_hex(12).upper()


class Router:
    """Maps a Host header and a raw path to (bucket, raw key path) as OSS's addressing rules do."""

    def __init__(self, ops: Operations, domains: tuple[str, ...] = (), cnames: Mapping[str, str] | None = None) -> None:
        self.ops = ops
        self.domains = tuple(d.lower() for d in domains)
        self.cnames = {k.lower(): v for k, v in (cnames or {}).items()}

    def route(self, host: str, raw_path: str) -> tuple[str, str]:
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        hostname = hostname.lower().rstrip(".")
        path = raw_path[1:] if raw_path.startswith("/") else raw_path
        if hostname in self.cnames:
            return self.cnames[hostname], path
        if "." in hostname and not _is_ip(hostname):
            first, rest = hostname.split(".", 1)
            if rest in ("localhost", *self.domains) or _is_ip(rest) or self.ops.store.bucket_exists(first):
                return first, path
        bucket, _, key = path.partition("/")
        return unquote(bucket), key


class LocalOSSHTTPServer(ThreadingHTTPServer):
    """One thread per connection; remembers open connections so ``stop()`` can close keep-alive ones."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        ops: Operations,
        router: Router,
        pem: bytes,
        request_timeout: float = KEEP_ALIVE_TIMEOUT,
    ) -> None:
        self.ops = ops
        self.request_timeout = request_timeout
        self.router = router
        self.pem = pem
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        super().__init__(address, RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = None  # set per server in setup(): LocalOSSHTTPServer.request_timeout
    server: LocalOSSHTTPServer

    def setup(self) -> None:
        # Every read and write on the connection is bounded: a client that stalls mid-headers or mid-body, or
        # idles on a keep-alive connection, is disconnected after this many seconds, never waited on forever.
        self.request.settimeout(self.server.request_timeout)
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, Nagle + delayed ACK add ~40 ms a request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return "AliyunOSS"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle()

    do_HEAD = do_GET  # noqa: N815
    do_PUT = do_GET  # noqa: N815
    do_POST = do_GET  # noqa: N815
    do_DELETE = do_GET  # noqa: N815
    do_OPTIONS = do_GET  # noqa: N815

    # --- request ---------------------------------------------------------------------------------------------

    def _body_reader(self) -> _LengthReader | _ChunkedReader:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return _ChunkedReader(self.rfile)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return _LengthReader(self.rfile, 0)
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            raise OSSError(400, "InvalidArgument", "Invalid Content-Length.")
        return _LengthReader(self.rfile, length)

    def _handle(self) -> None:
        rid = request_id()
        host = self.headers.get("Host", "")
        body: _LengthReader | _ChunkedReader | None = None
        req: Request | None = None
        method = self.command
        try:
            target = self.path
            if target.startswith(("http://", "https://")):  # absolute form: sent through a proxy
                parts = urlsplit(target)
                host = host or parts.netloc
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            raw_path, _, raw_query = target.partition("?")
            raw_path = raw_path.split("#", 1)[0]
            if raw_path == PUB_KEY_PATH and method in ("GET", "HEAD"):
                self._send(Response(200, {"Content-Type": "application/x-pem-file"}, self.server.pem), rid, host)
                return
            body = self._body_reader()
            if method in BODYLESS_METHODS and not body.done:
                # A body these operations never read: answer at once, as OSS does, rather than wait for it (oss2
                # sends Content-Length with no body when that header is among a presigned URL's signed headers).
                # Where such a request ends is unknown, so the connection closes after the answer.
                self.close_connection = True
                body = _LengthReader(self.rfile, 0)
            if method in ("PUT", "POST") and body.length == 0 and "content-length" not in self.headers:
                if method == "PUT":
                    raise OSSError(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
            bucket, raw_key = self.server.router.route(host, raw_path)
            try:
                key = unquote(raw_key, errors="strict")
            except UnicodeDecodeError:
                raise OSSError(400, "InvalidObjectName", "The object name is not valid UTF-8.") from None
            query = parse_qsl(raw_query, keep_blank_values=True)
            headers = {k.lower(): v for k, v in self.headers.items()}
            req = Request(
                method=method,
                host=host,
                bucket=bucket,
                key=key,
                query=query,
                headers=headers,
                body=body,
                client_ip=self.client_address[0],
                request_id=rid,
                endpoint=f"http://{host}",
            )
            is_post_object = method == "POST" and bucket and not key and "authorization" not in headers
            is_post_object = is_post_object and headers.get("content-type", "").lower().startswith("multipart/")
            if not is_post_object:
                cred = authenticate(
                    SignedRequest(method, bucket, key, headers, query),
                    self.server.ops.credentials,
                    accepted=self.server.ops.backend.accepted_versions(bucket),
                )
                req.access_key_id = cred.access_key_id if cred is not None else ""
            response = self.server.ops.handle(req)
        except OSSError as err:
            response = self._error_response(err, rid, host)
        except IncompleteBody as exc:
            log.info("request %s: %s", rid, exc)
            self.close_connection = True
            response = self._error_response(
                OSSError(
                    400,
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
                ),
                rid,
                host,
            )
        except Exception:
            log.exception("request %s failed", rid)
            response = self._error_response(
                OSSError(500, "InternalError", "We encountered an internal error. Please try again."), rid, host
            )
        if req is not None:
            cors = self._cors_headers(req)
            vary = cors.pop("Vary", "")
            response.headers.update(cors)
            if vary:  # beside a gzip answer's Vary: Accept-Encoding
                response.headers["Vary"] = ", ".join(filter(None, (response.headers.get("Vary"), vary)))
        if body is not None and not body.done:
            self._drain(body)
        try:
            self._send(response, rid, host)
        finally:
            if response.file is not None:
                response.file.close()

    def _cors_headers(self, req: Request) -> dict[str, str]:
        """The bucket's CORS headers, on every answer (200, 203, errors): a browser reads none without them."""
        try:
            return self.server.ops.cors_headers(req)
        except Exception:
            log.exception("request %s: CORS headers failed", req.request_id)
            return {}

    def _drain(self, body: _LengthReader | _ChunkedReader) -> None:
        left = MAX_DRAIN
        try:
            while left > 0 and (chunk := body.read(min(left, 256 * 1024))):
                left -= len(chunk)
        except (IncompleteBody, OSError):
            self.close_connection = True
            return
        if not body.done:
            self.close_connection = True

    def _error_response(self, err: OSSError, rid: str, host: str) -> Response:
        body = error_xml(err, rid, host)
        headers = {"Content-Type": "application/xml", **err.headers}
        if err.ec:
            headers["x-oss-ec"] = err.ec
        if self.command == "HEAD":
            headers["x-oss-err"] = error_header(body)
        return Response(err.status, headers, body)

    # --- response --------------------------------------------------------------------------------------------

    def _send(self, resp: Response, rid: str, host: str) -> None:
        head = self.command == "HEAD"
        self.send_response(resp.status)
        headers = dict(resp.headers)
        headers["x-oss-request-id"] = rid
        headers["x-oss-server-time"] = "0"
        chunked = resp.stream is not None and not head
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        elif "Content-Length" not in headers:
            headers["Content-Length"] = str(resp.length if resp.file is not None else len(resp.body))
        if self.close_connection:
            headers["Connection"] = "close"
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if head or resp.status in (204, 304):
            return
        try:
            if resp.stream is not None:
                for chunk in resp.stream:
                    if chunk:
                        self.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            elif resp.file is not None and resp.length:
                self.connection.sendfile(resp.file, resp.offset, resp.length)
            elif resp.body:
                self.wfile.write(resp.body)
        except OSError:
            self.close_connection = True
