"""Reading what a callback endpoint sends back, as OSS reads it: the answer within the deadline and at most 3 MB,
whether it is JSON, and which host names the server's certificate is for."""

from __future__ import annotations

import http.client
import json
import socket
import time

from osscallback.doctor.report import MAX_ANSWER_BYTES


def read_answer(sock: socket.socket | None, resp: http.client.HTTPResponse, deadline: float) -> tuple[bytes, bool]:
    """The answer's body, at most 3 MB (+1 byte to know it is more), within the deadline."""
    chunks: list[bytes] = []
    received = 0
    while received <= MAX_ANSWER_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if sock is not None:
            sock.settimeout(remaining)
        chunk = resp.read1(min(64 * 1024, MAX_ANSWER_BYTES + 1 - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks), received > MAX_ANSWER_BYTES


def is_json(body: bytes) -> bool:
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


def certificate_names(der: bytes) -> list[str]:
    """The DNS names a certificate is for (subjectAltName, else the subject's common name)."""
    if not der:
        return []
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        if names:
            return names
    except x509.ExtensionNotFound:
        pass
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def name_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host
