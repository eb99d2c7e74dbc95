"""Fetching and caching OSS callback public keys.

The key URL comes from the request, so the fetch is hardened: only URLs the :class:`~osscallback.callback.signature.
KeyUrlPolicy` returns are fetched; one plain GET over ``http.client`` (which never follows redirects), a whole-fetch
deadline (not just a per-read socket timeout, so a slow-loris key server cannot hold a request for long), and a
size cap on the PEM. Keys are cached per URL in a bounded LRU with a TTL; concurrent misses for one URL share a
single fetch (no stampede when many callbacks arrive on a cold instance); a failed fetch is never cached.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import load_public_key
from osscallback.errors import CallbackRejected

DEFAULT_FETCH_TIMEOUT = 2.0
DEFAULT_MAX_KEY_BYTES = 16 * 1024
DEFAULT_TTL_SECONDS = 3600.0
DEFAULT_MAX_ENTRIES = 64


class KeyFetchError(CallbackRejected):
    """The public key could not be fetched or parsed: answered 502, since the fault is upstream of us."""

    def __init__(self, message: str) -> None:
        super().__init__(502, "PubKeyFetchFailed", message)


def fetch_pem(url: str, *, timeout: float = DEFAULT_FETCH_TIMEOUT, max_bytes: int = DEFAULT_MAX_KEY_BYTES) -> bytes:
    """GET ``url`` (already vetted by the key URL policy) and return its body, within ``timeout`` seconds overall.

    Anything but a 200 answer, including a redirect, is a failure; so is a body over ``max_bytes``.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = parts.path or "/"
    deadline = time.monotonic() + timeout
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/x-pem-file, */*", "User-Agent": "osscallback"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise KeyFetchError(f"The public key URL answered HTTP {resp.status}; redirects are not followed.")
        length = resp.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            raise KeyFetchError(f"The public key is larger than {max_bytes} bytes.")
        chunks: list[bytes] = []
        total = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KeyFetchError(f"Fetching the public key took longer than {timeout:g} s.")
            if conn.sock is not None:
                conn.sock.settimeout(remaining)
            chunk = resp.read1(4096) if hasattr(resp, "read1") else resp.read(4096)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise KeyFetchError(f"The public key is larger than {max_bytes} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)
    except KeyFetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise KeyFetchError(f"Fetching the public key failed: {exc.__class__.__name__}: {exc}") from None
    finally:
        conn.close()


@dataclass
class _Entry:
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

    def get(self, url: str) -> rsa.RSAPublicKey:
        """The public key at ``url``, fetched at most once per TTL however many threads ask at once."""
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
            pem = self._fetch(url)
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
