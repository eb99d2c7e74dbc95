"""``osscallback doctor``: check a callback endpoint the way OSS will use it, before an upload finds out.

OSS reports a broken callback only as ``203 CallbackFailed`` with one line, and the user's server often logs
nothing. The doctor makes the requests OSS makes and reads the answers the way OSS does (OSS "Callback" API
reference; SPEC §2-4), one check at a time, each ending in pass, warn or fail with one line on how to fix it:

1. ``address``: the host resolves, to IPv4 (OSS supports no IPv6: neither literals nor domains that resolve only to
   IPv6) and to public addresses (OSS calls only public ones; a private address is a warning, since it is what the
   local stack uses).
2. ``connect``: a TCP connection within the time budget; for https also ``tls`` (handshake and certificate, verified
   against the public CAs) and ``sni`` (whether the server also works without SNI, which OSS sends only when the
   callback says ``"callbackSNI": true``).
3. ``answer time``: a POST is answered within 5 s (OSS's fixed limit), timed.
4. ``POST allowed``: a 405 means the route takes only GET (OSS always POSTs).
5. ``refuses unsigned`` / ``refuses forged``: a callback without a signature, and one signed with a key that is not
   OSS's (its key URL on a look-alike host), must be refused with a JSON 4xx: proof the endpoint verifies.
6. ``answer headers``: ``Content-Length`` (OSS refuses an answer without one) and ``Content-Type: application/json``.
7. ``JSON answer``: the body is JSON and at most 3 MB. Only OSS can make the endpoint answer 200 (it holds the key),
   so these two read the refusals; an endpoint built on this bundle answers everything the same way.
8. ``FC 2.0 path``: a hint when the path is an FC 2.0 proxy path, whose signed path FC strips from ``PATH_INFO``.

A failed prerequisite (no address, no connection, no answer) stops the checks that need it; they are listed as
not run. The doctor sends nothing but these probes: two POSTs of a made-up callback body.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from osscallback.callback.signature import generate_private_key, sign, string_to_sign
from osscallback.errors import ConfigError

#: OSS waits this long for a callback's answer.
OSS_TIMEOUT = 5.0
#: Largest answer OSS accepts.
MAX_ANSWER_BYTES = 3 * 1024 * 1024
#: Answers slower than this share of the budget pass with a warning: a cold start may push them over.
SLOW_SHARE = 0.6
FC2_PROXY_PREFIX = "/2016-08-15/proxy/"
#: The forged callback's key URL: a look-alike of OSS's key host that a prefix-string check would let through.
FORGED_KEY_URL = "http://gosspublic.alicdn.com.osscallback-doctor.invalid/callback_pub_key_v1.pem"
PROBE_BODY = b"bucket=osscallback-doctor&object=doctor%2Fprobe.txt&size=0&mimeType=text%2Fplain"
USER_AGENT = "osscallback-doctor"

PASS, WARN, FAIL = "pass", "warn", "fail"

Resolver = Callable[[str, int], Sequence[str]]


class DoctorError(ConfigError):
    """The URL cannot be checked at all (not an absolute http(s) URL)."""


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``status`` pass / warn / fail, what was found, and (unless it passed) how to fix it."""

    name: str
    status: str
    summary: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "summary": self.summary, "fix": self.fix}


@dataclass(frozen=True)
class Report:
    url: str
    checks: tuple[Check, ...]
    not_run: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return sum(c.status == FAIL for c in self.checks)

    @property
    def warnings(self) -> int:
        return sum(c.status == WARN for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "failed": self.failed,
            "warnings": self.warnings,
            "checks": [c.to_json() for c in self.checks],
            "not_run": list(self.not_run),
        }


@dataclass(frozen=True)
class Probe:
    """One POST and what came back (``error`` says why nothing usable did)."""

    label: str
    elapsed: float
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    too_large: bool = False
    error: str = ""
    timed_out: bool = False

    def brief(self) -> str:
        code = ""
        try:
            doc = json.loads(self.body.decode("utf-8"))
            if isinstance(doc, dict) and isinstance(doc.get("error"), str):
                code = f" {doc['error']}"
        except (UnicodeDecodeError, ValueError, RecursionError):
            pass
        return f"HTTP {self.status}{code}"


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


class Doctor:
    """Runs the checks against one URL. ``timeout`` is OSS's budget per request (lower it only to test)."""

    def __init__(self, url: str, *, timeout: float = OSS_TIMEOUT, resolver: Resolver = default_resolver) -> None:
        self.target = parse_target(url)
        self.timeout = timeout
        self.resolver = resolver
        self.checks: list[Check] = []
        self._address = ""
        self._tls_verified = True

    def run(self) -> Report:
        not_run: tuple[str, ...] = ()
        for step in (self._resolve, self._connect, self._probe):
            stopped = step()
            if stopped:
                not_run = stopped
                break
        self._path_hint()
        return Report(self.target.url, tuple(self.checks), not_run)

    # --- 1. the address ------------------------------------------------------------------------------------------

    def _resolve(self) -> tuple[str, ...]:
        host = self.target.host
        rest = ("connect", "answer time", "POST allowed", "refuses unsigned", "refuses forged", "answer headers",
                "JSON answer")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and literal.version == 6:
            self.checks.append(Check("address", FAIL, f"{host} is an IPv6 address: OSS does not call IPv6",
                                     "use a host name with an A (IPv4) record, or an IPv4 address"))
            return rest
        try:
            addresses = list(self.resolver(host, self.target.port))
        except (OSError, UnicodeError) as exc:
            self.checks.append(Check("address", FAIL, f"{host} does not resolve: {exc}",
                                     "check the host name and its DNS records (OSS resolves it on the internet)"))
            return rest
        if not addresses:
            self.checks.append(Check("address", FAIL, f"{host} resolves to no address", "check its DNS records"))
            return rest
        check = classify_addresses(host, addresses)
        self.checks.append(check)
        if check.status == FAIL:
            return rest
        self._address = next(a for a in addresses if ipaddress.ip_address(a).version == 4)
        return ()

    # --- 2. TCP and TLS ------------------------------------------------------------------------------------------

    def _connect(self) -> tuple[str, ...]:
        rest = ("answer time", "POST allowed", "refuses unsigned", "refuses forged", "answer headers", "JSON answer")
        started = time.perf_counter()
        try:
            sock = socket.create_connection((self._address, self.target.port), timeout=self.timeout)
        except TimeoutError:
            self.checks.append(Check("connect", FAIL, f"no TCP connection to {self._address}:{self.target.port} "
                                     f"within {self.timeout:g} s", "check the firewall / security group lets the "
                                     "internet reach this port, and that the server listens on it"))
            return ("tls", *rest) if self.target.scheme == "https" else rest
        except OSError as exc:
            self.checks.append(Check("connect", FAIL, f"cannot connect to {self._address}:{self.target.port}: "
                                     f"{exc.strerror or exc}", "start the server, or fix the host/port in the URL"))
            return ("tls", *rest) if self.target.scheme == "https" else rest
        elapsed = time.perf_counter() - started
        sock.close()
        self.checks.append(Check("connect", PASS, f"TCP connection to {self._address}:{self.target.port} in "
                                 f"{elapsed * 1000:.1f} ms"))
        if self.target.scheme == "https":
            return rest if self._tls() else ()
        return ()

    def _handshake(self, context: ssl.SSLContext, server_hostname: str | None) -> tuple[ssl.SSLSocket, bytes]:
        raw = socket.create_connection((self._address, self.target.port), timeout=self.timeout)
        try:
            tls = context.wrap_socket(raw, server_hostname=server_hostname)
        except BaseException:
            raw.close()
            raise
        return tls, tls.getpeercert(binary_form=True) or b""

    def _tls(self) -> bool:
        """``tls`` and ``sni`` checks; True when TLS cannot be spoken at all (the rest is not run)."""
        host = self.target.host
        verified = ssl.create_default_context()
        try:
            tls, _ = self._handshake(verified, host)
            version, cert = tls.version(), tls.getpeercert() or {}
            tls.close()
            until = cert.get("notAfter", "?")
            self.checks.append(Check("tls", PASS, f"{version}, certificate valid for {host} (until {until})"))
        except ssl.SSLCertVerificationError as exc:
            self._tls_verified = False
            self.checks.append(Check(
                "tls", WARN, f"the certificate is not trusted for {host}: {exc.verify_message or exc.reason}",
                "use a certificate from a public CA that names this host (FC's trigger URLs have one); OSS does "
                "not document accepting others"))
        except (ssl.SSLError, OSError) as exc:
            self.checks.append(Check("tls", FAIL, f"no TLS handshake with {host}:{self.target.port}: "
                                     f"{getattr(exc, 'reason', None) or exc}",
                                     "serve TLS on this port, or use an http:// URL if the server speaks plain HTTP"))
            return True
        self._sni()
        return False

    def _sni(self) -> None:
        host = self.target.host
        plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        plain.check_hostname = False
        plain.verify_mode = ssl.CERT_NONE
        fix = ('OSS sends SNI only when asked: add "callbackSNI": true to the callback parameters, or make this '
               "host's certificate the server's default")
        try:
            tls, der = self._handshake(plain, None)
            tls.close()
        except (ssl.SSLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            self.checks.append(Check("sni", WARN, f"without SNI the handshake fails ({reason})", fix))
            return
        names = _certificate_names(der)
        if names and not any(_name_matches(n, host) for n in names):
            self.checks.append(Check("sni", WARN, f"without SNI the server shows a certificate for "
                                     f"{', '.join(names[:3])}, not {host}", fix))
            return
        self.checks.append(Check("sni", PASS, "works without SNI too (OSS's default)"))

    # --- 3-7. what the endpoint answers --------------------------------------------------------------------------

    def _probe(self) -> tuple[str, ...]:
        unsigned = self._post("unsigned", {})
        forged = self._post("forged", self._forged_headers())
        probes = (unsigned, forged)
        answered = [p for p in probes if p.status is not None]
        slowest = max(p.elapsed for p in probes)
        budget = self.timeout
        if len(answered) < len(probes):
            missing = next(p for p in probes if p.status is None)
            if missing.timed_out:
                self.checks.append(Check("answer time", FAIL, f"no answer within {budget:g} s (the {missing.label} "
                                         "POST): OSS gives up and reports 'Cost too long time'",
                                         "answer within 5 s: do slow work after answering, or make cold starts "
                                         "faster (more memory, provisioned instances)"))
            else:
                self.checks.append(Check("answer time", FAIL, f"no HTTP answer to the {missing.label} POST: "
                                         f"{missing.error}", "the server closed or broke the connection: check its "
                                         "logs for a crash on POST requests"))
            if not answered:
                return ("POST allowed", "refuses unsigned", "refuses forged", "answer headers", "JSON answer")
        elif slowest > budget * SLOW_SHARE:
            self.checks.append(Check("answer time", WARN, f"answered in {slowest:.2f} s, close to OSS's "
                                     f"{budget:g} s limit", "answer sooner: a cold start or a slow action can "
                                     "push it over; do slow work after answering"))
        else:
            self.checks.append(Check("answer time", PASS, f"POST answered in {slowest * 1000:.0f} ms "
                                     f"(OSS waits {budget:g} s)"))
        if any(p.status == 405 for p in answered):
            allow = next((p.headers.get("allow", "") for p in answered if p.status == 405), "")
            shown = f" (Allow: {allow})" if allow else ""
            self.checks.append(Check("POST allowed", FAIL, f"answers 405 Method Not Allowed to POST{shown}: the "
                                     "route takes only GET, and OSS always POSTs",
                                     "accept POST on this path (FC trigger: methods: [POST]; your framework's "
                                     "route methods)"))
            return ("refuses unsigned", "refuses forged", "answer headers", "JSON answer")
        self.checks.append(Check("POST allowed", PASS, "POST reaches the handler"))
        for probe in probes:
            if probe.status is not None:
                self.checks.append(self._refusal(probe))
        self._headers(answered)
        self._json(answered)
        return ()

    def _forged_headers(self) -> dict[str, str]:
        key = generate_private_key()  # a throwaway key of OSS's size, but not OSS's
        signed = string_to_sign(self.target.path, self.target.query, PROBE_BODY)
        return {
            "Authorization": base64.b64encode(sign(key, signed)).decode("ascii"),
            "x-oss-pub-key-url": base64.b64encode(FORGED_KEY_URL.encode("ascii")).decode("ascii"),
        }

    def _refusal(self, probe: Probe) -> Check:
        name = f"refuses {probe.label}"
        what = "a callback without a signature" if probe.label == "unsigned" else "a callback signed with a key " \
            "that is not OSS's (key URL on a look-alike host)"
        status = probe.status or 0
        if 200 <= status < 300:
            return Check(name, FAIL, f"accepted {what} with HTTP {status}: anyone can fake uploads",
                         "verify the MD5withRSA signature against OSS's key from gosspublic.alicdn.com only "
                         "(osscallback.callback does)")
        if 300 <= status < 400:
            return Check(name, FAIL, f"HTTP {status} redirect to {probe.headers.get('location', '?')}: OSS follows "
                         "no redirects", "point callbackUrl at the final URL")
        if status >= 500:
            return Check(name, FAIL, f"{probe.brief()} to {what}: a server error, not a refusal",
                         "refuse unverifiable callbacks with a 4xx before doing anything else (and never fetch a key "
                         "from an untrusted host)")
        if _is_json(probe.body):
            return Check(name, PASS, f"refused {what} with {probe.brief()}")
        return Check(name, WARN, f"refused {what} with HTTP {status}, but not with a JSON body",
                     'answer refusals as JSON, e.g. {"error": "SignatureDoesNotMatch", "message": "..."}')

    def _headers(self, answered: Sequence[Probe]) -> None:
        missing_length = [p for p in answered if "content-length" not in p.headers]
        not_json = [p for p in answered if p.headers.get("content-type", "").split(";")[0].strip().lower()
                    != "application/json"]
        if missing_length:
            how = "chunked" if "chunked" in missing_length[0].headers.get("transfer-encoding", "").lower() else \
                "close-delimited"
            self.checks.append(Check("answer headers", FAIL, f"no Content-Length ({how} answer): OSS refuses such an "
                                     "answer ('... content-length ...')",
                                     "send Content-Length with every answer (buffer the JSON, don't stream it)"))
        elif not_json:
            shown = not_json[0].headers.get("content-type") or "none"
            self.checks.append(Check("answer headers", WARN, f"Content-Type is {shown}, not application/json",
                                     "answer with Content-Type: application/json"))
        else:
            self.checks.append(Check("answer headers", PASS, "Content-Type: application/json and Content-Length"))

    def _json(self, answered: Sequence[Probe]) -> None:
        big = [p for p in answered if p.too_large]
        if big:
            self.checks.append(Check("JSON answer", FAIL, f"the answer to the {big[0].label} POST is over 3 MB: "
                                     "OSS refuses it", "keep answers small (OSS hands them to the uploader)"))
            return
        bad = [p for p in answered if not _is_json(p.body)]
        if bad:
            sample = bad[0].body[:60].decode("utf-8", "replace")
            self.checks.append(Check("JSON answer", FAIL, f"the answer to the {bad[0].label} POST is not JSON "
                                     f"({sample!r}): OSS reports 'Response body is not valid json format.'",
                                     "answer every request with a JSON body"))
            return
        size = max(len(p.body) for p in answered)
        self.checks.append(Check("JSON answer", PASS, f"valid JSON, {size} bytes (at most 3 MB); a 200 needs OSS's "
                                 "own signature: try one with `osscallback upload`"))

    def _post(self, label: str, extra: dict[str, str]) -> Probe:
        target = self.target
        started = time.monotonic()
        deadline = started + self.timeout
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            context = ssl.create_default_context()
            if not self._tls_verified:  # already reported; look at the answers anyway
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(target.host, target.port, timeout=self.timeout, context=context)
        else:
            conn = http.client.HTTPConnection(target.host, target.port, timeout=self.timeout)
        try:
            conn.putrequest("POST", target.request_target, skip_host=True, skip_accept_encoding=True)
            headers = {"Host": target.host_header, "Content-Type": "application/x-www-form-urlencoded",
                       "Content-Length": str(len(PROBE_BODY)), "User-Agent": USER_AGENT, **extra}
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders(PROBE_BODY)
            sock = conn.sock
            resp = conn.getresponse()
            got = {k.lower(): v for k, v in resp.getheaders()}
            body, too_large = _read(sock, resp, deadline)
            return Probe(label, time.monotonic() - started, resp.status, resp.reason or "", got, body, too_large)
        except TimeoutError:
            return Probe(label, time.monotonic() - started, error="timed out", timed_out=True)
        except (OSError, http.client.HTTPException) as exc:
            return Probe(label, time.monotonic() - started, error=str(exc) or type(exc).__name__)
        finally:
            conn.close()

    # --- 8. the path ---------------------------------------------------------------------------------------------

    def _path_hint(self) -> None:
        if self.target.path.startswith(FC2_PROXY_PREFIX):
            self.checks.append(Check(
                "FC 2.0 path", WARN, "an FC 2.0 proxy path: OSS signs this whole path, but FC 2.0 passes the "
                "function only the part after /proxy/<service>/<function> in PATH_INFO",
                "verify against environ['fc.request_uri'] (this bundle's handler does), or use the function's "
                "fcapp.run URL or a custom domain"))


def _read(sock: socket.socket | None, resp: http.client.HTTPResponse, deadline: float) -> tuple[bytes, bool]:
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


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


def _certificate_names(der: bytes) -> list[str]:
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


def _name_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def diagnose(url: str, *, timeout: float = OSS_TIMEOUT, resolver: Resolver = default_resolver) -> Report:
    """Check ``url`` as OSS would call it (see the module docstring for the checks)."""
    return Doctor(url, timeout=timeout, resolver=resolver).run()
