"""Test kit: sign callbacks exactly as OSS does and serve the public key over real HTTP on 127.0.0.1.

Shipped in the library (as moto ships its mocks) so users can test their own callback actions without a cloud
account, and so our tests, benchmarks and hardening suites share one faithful OSS stand-in.

``KeyServer`` counts fetches and can misbehave on purpose (redirect, slow drip, oversized or non-PEM body) for
the key-URL attack tests. Given a TLS context it serves HTTPS; :class:`LocalCA` makes the certificates (a throwaway
certificate authority, trusted only by the clients a test hands its context or its PEM to), so the HTTPS key fetch
is tested with real handshakes and real certificate checks. Clients that hang up mid-answer (a timed-out fetch, a
refused certificate) are normal in those tests and are not reported.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import ssl
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import callback_headers, public_pem
from osscallback.keygen import OSS_KEY_BITS, generate_private_key

__all__ = [
    "KEY_PATH",
    "HttpAnswer",
    "KeyServer",
    "KeyServerBehaviour",
    "LocalCA",
    "OssSigner",
    "SignedCallback",
    "form_body",
    "post",
]

KEY_PATH = "/callback_pub_key_v1.pem"


@dataclass
class KeyServerBehaviour:
    """How the key server answers: normal by default; tests flip these to attack the fetcher."""

    redirect_to: str | None = None
    delay_seconds: float = 0.0
    drip_bytes_per_second: float = 0.0  # > 0: send the body slowly (slow-loris)
    body: bytes | None = None  # override the PEM (oversized, non-PEM...)
    status: int = 200


#: What a client hanging up looks like to a server: expected when fetches time out or refuse a certificate.
_HANG_UPS = (ConnectionError, ssl.SSLError, TimeoutError)


class _QuietServer(ThreadingHTTPServer):
    """Threaded HTTP server that says nothing when a client hangs up, and does the TLS handshake (if any) in the
    request's thread, so a slow or failing handshake never blocks the accept loop."""

    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            request.settimeout(10)
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], _HANG_UPS):
            return
        super().handle_error(request, client_address)


class KeyServer:
    """Serves a PEM public key on 127.0.0.1 (HTTPS with ``tls``) and counts GETs per path."""

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.private_key = private_key or generate_private_key(OSS_KEY_BITS)  # OSS's own key size: 512 bits
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
                    try:
                        self.wfile.write(body)
                    except _HANG_UPS:
                        return

        self._server = _QuietServer((host, port), Handler)
        self._server.tls = tls
        self.scheme = "https" if tls is not None else "http"
        self.port = self._server.server_address[1]
        self.host = host
        self._thread: threading.Thread | None = None

    @property
    def prefix(self) -> str:
        """The trusted-prefix value that admits this server's keys (``CALLBACK_KEY_URL_PREFIXES``)."""
        return f"{self.scheme}://{self.host}:{self.port}/"

    @property
    def key_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{KEY_PATH}"

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


class LocalCA:
    """A throwaway certificate authority for HTTPS tests: it issues server certificates for any names, and only
    clients given :meth:`client_context` (or :attr:`pem`, e.g. as ``SSL_CERT_FILE``) trust it."""

    def __init__(self, name: str = "osscallback test CA") -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._serialization, self._oid = x509, hashes, serialization, NameOID
        self._key = generate_private_key(2048)  # TLS, not OSS signing: OpenSSL's security level wants 2048
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.pem: bytes = self._cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, names: Iterable[str]) -> tuple[bytes, bytes]:
        """A server certificate (PEM) and its private key (PEM) for these DNS names or IP addresses."""
        x509, NameOID = self._x509, self._oid  # noqa: N806 - cryptography's name
        names = list(names)
        alt: list[Any] = []
        for n in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        key = generate_private_key(2048)  # a TLS server key: 2048 bits, as OpenSSL's default security level wants
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, self._hashes.SHA256())
        )
        enc = self._serialization
        key_pem = key.private_bytes(enc.Encoding.PEM, enc.PrivateFormat.PKCS8, enc.NoEncryption())
        return cert.public_bytes(enc.Encoding.PEM), key_pem

    def server_context(self, names: Iterable[str], directory: str | Path) -> ssl.SSLContext:
        """A TLS server context presenting a certificate for ``names`` (files written under ``directory``)."""
        cert_pem, key_pem = self.issue(names)
        cert_file, key_file = Path(directory) / "server.crt", Path(directory) / "server.key"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context (certificates and host names checked) that trusts only this CA."""
        context = ssl.create_default_context(cadata=self.pem.decode("ascii"))
        return context


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
