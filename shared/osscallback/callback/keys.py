"""Fetching and caching OSS callback public keys.

The key URL comes from the request, so the fetch is hardened: only URLs the :class:`~osscallback.callback.signature.
KeyUrlPolicy` returns are fetched; OSS's key over HTTPS with the platform's certificate store and host-name check
(``ssl.create_default_context``; ``SSL_CERT_FILE`` picks another bundle); one GET that never follows redirects; one
deadline for the whole fetch (connect, TLS, headers and body: a slow-loris key server cannot hold a request for
long); and a size cap on the PEM, counted while reading whatever the framing (Content-Length, chunked or
close-delimited). Keys are cached per URL in a bounded LRU with a TTL; concurrent misses for one URL share a single
fetch (no stampede when many callbacks arrive on a cold instance); a failed fetch is never cached.

The GET is a few lines over :mod:`socket` rather than :mod:`http.client`, which imports the ``email`` package (a
third of the callback function's cold-start budget) to parse headers; a key fetch needs only a status line,
``Content-Length`` and ``Transfer-Encoding``. :mod:`ssl` is imported only when an HTTPS key is first fetched.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import load_public_key
from osscallback.errors import CallbackRejected

if TYPE_CHECKING:
    import ssl

DEFAULT_FETCH_TIMEOUT = 2.0
DEFAULT_MAX_KEY_BYTES = 16 * 1024
DEFAULT_TTL_SECONDS = 3600.0
DEFAULT_MAX_ENTRIES = 64
#: Longest status line plus headers we read from a key host: a CDN's are well under 2 KiB.
MAX_HEADER_BYTES = 16 * 1024


class KeyFetchError(CallbackRejected):
    """The public key could not be fetched or parsed: answered 502, since the fault is upstream of us."""

    def __init__(self, message: str) -> None:
        super().__init__(502, "PubKeyFetchFailed", message)


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """The TLS settings of every HTTPS key fetch: certificates and host names verified against the platform's CA
    store. Built once per process (loading the CA store is the costly part), on the first HTTPS fetch."""
    import ssl

    return ssl.create_default_context()


class _Timeout(Exception):
    pass


class _Response:
    """Reads one HTTP/1.x response from a socket, within an overall deadline."""

    def __init__(self, sock: Any, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buf = b""
        self.eof = False

    def _fill(self) -> bool:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _Timeout
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(16384)
        except TimeoutError:
            raise _Timeout from None
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def line(self, limit: int) -> bytes:
        """One CRLF- (or LF-) terminated line, without its terminator."""
        while True:
            end = self.buf.find(b"\n")
            if end >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 1 :]
                return line.rstrip(b"\r")
            if len(self.buf) > limit:
                raise ValueError("header line too long")
            if not self._fill():
                raise ValueError("the connection closed before the headers ended")

    def take(self, size: int) -> bytes:
        """Exactly ``size`` bytes (fewer only at end of stream)."""
        while len(self.buf) < size and self._fill():
            pass
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def some(self) -> bytes:
        """Whatever is buffered or arrives next; empty at end of stream."""
        if not self.buf and not self._fill():
            return b""
        data, self.buf = self.buf, b""
        return data


def _too_large(max_bytes: int) -> KeyFetchError:
    return KeyFetchError(f"The public key is larger than {max_bytes} bytes.")


def _read_body(resp: _Response, headers: dict[str, str], max_bytes: int) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        total = 0
        while True:
            size_text = resp.line(1024).split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16 or size_text.strip(b"0123456789abcdefABCDEF"):
                raise ValueError("bad chunk size")
            size = int(size_text, 16)
            if size == 0:
                return b"".join(chunks)
            total += size
            if total > max_bytes:
                raise _too_large(max_bytes)
            chunk = resp.take(size)
            if len(chunk) < size:
                raise ValueError("the connection closed inside a chunk")
            chunks.append(chunk)
            if resp.take(2) != b"\r\n":
                raise ValueError("bad chunked framing")
    length_text = headers.get("content-length")
    if length_text is not None:
        length_text = length_text.strip()
        if not length_text.isascii() or not length_text.isdigit():
            raise ValueError(f"bad Content-Length {length_text[:40]!r}")
        if len(length_text) > 18 or int(length_text) > max_bytes:
            raise _too_large(max_bytes)
        length = int(length_text)
        body = resp.take(length)
        if len(body) < length:
            raise ValueError(f"the body ended after {len(body)} of {length} bytes")
        return body
    data = b""
    while True:  # close-delimited
        chunk = resp.some()
        if not chunk:
            return data
        data += chunk
        if len(data) > max_bytes:
            raise _too_large(max_bytes)


def _ascii_host(host: str) -> str | bytes:
    """An ASCII host name as bytes: socket and ssl encode a ``str`` host with the ``idna`` codec, whose import
    (``stringprep``, ``unicodedata``) is a millisecond or two of the first callback; for ASCII it changes nothing."""
    return host.encode("ascii") if host.isascii() else host


def _connect(address: tuple[str, int], timeout: float) -> socket.socket:
    host, port = address
    return socket.create_connection((_ascii_host(host), port), timeout)  # type: ignore[arg-type]


def fetch_pem(
    url: str,
    *,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_KEY_BYTES,
    tls: ssl.SSLContext | None = None,
    connect: Callable[[tuple[str, int], float], socket.socket] = _connect,
) -> bytes:
    """GET ``url`` (already vetted by the key URL policy) and return its body, within ``timeout`` seconds overall.

    ``https`` URLs are fetched with ``tls`` (default: :func:`default_tls_context`, certificates verified); the
    certificate must name the URL's host. Anything but a 200 answer, including a redirect, is a failure; so is a
    body over ``max_bytes``. ``connect`` opens the TCP connection (tests route a real host name to 127.0.0.1 with
    it; the TLS host-name check still applies to the URL's host).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    path = parts.path or "/"
    deadline = time.monotonic() + timeout
    sock: Any = None
    try:
        sock = connect((host, port), timeout)
        if secure:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            sock = (tls or default_tls_context()).wrap_socket(sock, server_hostname=_ascii_host(host))
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: application/x-pem-file, */*\r\n"
            "User-Agent: osscallback\r\nConnection: close\r\n\r\n"
        )
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sock.sendall(request.encode("ascii"))
        resp = _Response(sock, deadline)
        status_line = resp.line(MAX_HEADER_BYTES).decode("latin-1")
        version, _, rest = status_line.partition(" ")
        status_text = rest[:3]
        if not version.startswith("HTTP/1.") or not status_text.isdigit():
            raise ValueError(f"not an HTTP answer: {status_line[:60]!r}")
        headers: dict[str, str] = {}
        seen = len(status_line)
        while True:
            line = resp.line(MAX_HEADER_BYTES)
            seen += len(line)
            if seen > MAX_HEADER_BYTES:
                raise ValueError("the answer's headers are too long")
            if not line:
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), value.strip())
        if status_text != "200":
            raise KeyFetchError(f"The public key URL answered HTTP {int(status_text)}; redirects are not followed.")
        return _read_body(resp, headers, max_bytes)
    except KeyFetchError:
        raise
    except _Timeout:
        raise KeyFetchError(f"Fetching the public key took longer than {timeout:g} s.") from None
    except (OSError, ValueError) as exc:
        # ssl.SSLError (a certificate that does not verify, or no TLS at all) is an OSError too.
        raise KeyFetchError(f"Fetching the public key failed: {exc.__class__.__name__}: {exc}") from None
    finally:
        if sock is not None:
            sock.close()


class _Entry(NamedTuple):  # internal; a NamedTuple costs a fraction of a dataclass at import (cold start)
    key: rsa.RSAPublicKey
    expires: float


class _Flight:
    """One fetch in progress; everyone who asked for the URL meanwhile gets its outcome, success or failure."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.key: rsa.RSAPublicKey | None = None
        self.error: KeyFetchError | None = None


class PublicKeyCache:
    """A bounded, thread-safe, TTL'd cache of parsed public keys, keyed by canonical key URL.

    ``fetcher`` is injectable so the same cache can count or route fetches in tests and benchmarks; by default
    it is :func:`fetch_pem` with the configured time and size limits.
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        fetch_timeout: float = DEFAULT_FETCH_TIMEOUT,
        max_key_bytes: int = DEFAULT_MAX_KEY_BYTES,
        fetcher: Callable[[str], bytes] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max(1, max_entries)
        self._fetch = fetcher or (lambda url: fetch_pem(url, timeout=fetch_timeout, max_bytes=max_key_bytes))
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        # The fetch in progress per URL: concurrent misses wait for it instead of each fetching (no stampede),
        # and share its failure too, so a stalled key host costs one timeout, not one per waiting request.
        self._inflight: dict[str, _Flight] = {}
        self.fetches = 0  # how many fetches were started: for tests, benchmarks and logs

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _lookup(self, url: str) -> rsa.RSAPublicKey | None:
        entry = self._entries.get(url)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            del self._entries[url]
            return None
        self._entries.move_to_end(url)
        return entry.key

    def get(self, url: str, fetch_url: str | None = None) -> rsa.RSAPublicKey:
        """The public key named ``url``, fetched from ``fetch_url`` (default: ``url``) at most once per TTL however
        many threads ask at once; cached under ``url``, the name the callback gave."""
        with self._lock:
            key = self._lookup(url)
            if key is not None:
                return key
            flight = self._inflight.get(url)
            leader = flight is None
            if flight is None:
                flight = self._inflight[url] = _Flight()
                self.fetches += 1
        if not leader:
            flight.done.wait()
            if flight.key is None:
                raise flight.error or KeyFetchError("Fetching the public key failed.")
            return flight.key
        try:
            pem = self._fetch(fetch_url or url)
            try:
                flight.key = load_public_key(pem)
            except ValueError as exc:
                raise KeyFetchError(f"The public key URL did not serve an RSA public key: {exc}") from None
            with self._lock:
                self._entries[url] = _Entry(flight.key, self._clock() + self.ttl)
                self._entries.move_to_end(url)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return flight.key
        except KeyFetchError as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                if self._inflight.get(url) is flight:
                    del self._inflight[url]
            flight.done.set()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
