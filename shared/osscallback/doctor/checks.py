"""The doctor's checks, in the order OSS meets them (the package docstring lists them): each appends a
:class:`~osscallback.doctor.report.Check`; a failed prerequisite leaves the checks that need it not run."""

from __future__ import annotations

import base64
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Sequence

from osscallback.callback.signature import sign, string_to_sign
from osscallback.doctor.report import FAIL, OSS_TIMEOUT, PASS, WARN, Check, Probe, Report
from osscallback.doctor.target import Resolver, classify_addresses, default_resolver, parse_target
from osscallback.doctor.wire import certificate_names, is_json, name_matches, read_answer
from osscallback.keygen import generate_private_key

#: Answers slower than this share of the budget pass with a warning: a cold start may push them over.
SLOW_SHARE = 0.6
FC2_PROXY_PREFIX = "/2016-08-15/proxy/"
#: The forged callback's key URL: a look-alike of OSS's key host that a prefix-string check would let through.
FORGED_KEY_URL = "http://gosspublic.alicdn.com.osscallback-doctor.invalid/callback_pub_key_v1.pem"
PROBE_BODY = b"bucket=osscallback-doctor&object=doctor%2Fprobe.txt&size=0&mimeType=text%2Fplain"
USER_AGENT = "osscallback-doctor"


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
        names = certificate_names(der)
        if names and not any(name_matches(n, host) for n in names):
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
        if is_json(probe.body):
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
        bad = [p for p in answered if not is_json(p.body)]
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
            body, too_large = read_answer(sock, resp, deadline)
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



def diagnose(url: str, *, timeout: float = OSS_TIMEOUT, resolver: Resolver = default_resolver) -> Report:
    """Check ``url`` as OSS would call it (see the module docstring for the checks)."""
    return Doctor(url, timeout=timeout, resolver=resolver).run()
