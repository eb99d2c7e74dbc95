"""The URL the doctor checks and the addresses it resolves to: what OSS can reach (IPv4, public) and how it asks
for it (request target, Host header)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from osscallback.doctor.report import FAIL, PASS, WARN, Check, DoctorError

Resolver = Callable[[str, int], Sequence[str]]


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    query: str

    @property
    def request_target(self) -> str:
        return (self.path or "/") + (f"?{self.query}" if self.query else "")

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def parse_target(url: str) -> Target:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DoctorError(f"not an absolute http:// or https:// URL: {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DoctorError(f"the URL has an invalid port: {url!r}") from None
    return Target(url.strip(), parts.scheme, parts.hostname, port, parts.path or "/", parts.query)


def default_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in the resolver's order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def classify_addresses(host: str, addresses: Sequence[str]) -> Check:
    """The ``address`` check from the resolved addresses: IPv4 needed, public expected."""
    ips = [ipaddress.ip_address(a) for a in addresses]
    v4 = [ip for ip in ips if ip.version == 4]
    shown = ", ".join(addresses[:4]) + (" …" if len(addresses) > 4 else "")
    subject = f"{host} is" if list(addresses) == [host] else f"{host} resolves to {shown}:"
    if not v4:
        return Check("address", FAIL, f"{host} resolves only to IPv6 ({shown}): OSS does not call IPv6 addresses",
                     "publish an A (IPv4) record for the host, or use FC's HTTP trigger URL")
    private = [ip for ip in v4 if not ip.is_global]
    if private:
        kinds = sorted({_kind(ip) for ip in private})
        return Check("address", WARN,
                     f"{subject} {' / '.join(kinds)}; OSS refuses to call non-public addresses",
                     "fine for the local stack; deploy behind a public address (e.g. the function's HTTP trigger URL)")
    return Check("address", PASS, f"{host} resolves to public IPv4 {shown}")


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if ip.is_loopback:
        return "loopback"
    if ip.is_private:
        return "private"
    if ip.is_link_local:
        return "link-local"
    return "not public"

