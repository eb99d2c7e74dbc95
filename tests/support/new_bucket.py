"""A gate in front of the local OSS that answers as a bucket created today: V1 and V2 signatures refused.

Since 2025-09-01 new buckets refuse V1 ("Guidelines for upgrading V1 signatures to V4 signatures",
https://www.alibabacloud.com/help/en/oss/developer-reference/guidelines-for-upgrading-v1-signatures-to-v4-signatures):
HTTP 403 with EC 0002-00000080, "OSS no longer supports V1 signatures"
(https://help.aliyun.com/en/oss/user-guide/0002-00000080; the page gives no <Code>, AccessDenied is our guess).
V2 is refused too, as the issue's check does. The gate is independent of the local OSS's own rules (whatever they
are, a request signed V4 passes here unchanged), so a test through it shows what our code signs with. It recognises
every form a signature takes: the Authorization header (``OSS ``, ``OSS2 ``, ``OSS4-HMAC-SHA256 ``), a signed URL
(``OSSAccessKeyId``/``Signature``; ``x-oss-signature-version=OSS2`` or ``OSS4-HMAC-SHA256``) and a PostObject form
(``OSSAccessKeyId``/``Signature`` fields; ``x-oss-signature-version``).
"""

from __future__ import annotations

import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

EC = "0002-00000080"
_FORM_FIELD = re.compile(rb'name="([^"]+)"\r\n(?:[^\r\n]+\r\n)*\r\n(.*?)\r\n--', re.DOTALL)
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def signature_version(method: str, target: str, headers: Any, body: bytes) -> str | None:
    """``v1``, ``v2``, ``v4`` or ``None`` (anonymous) for one request, in any of the forms it may take."""
    auth = headers.get("Authorization", "") or ""
    for prefix, version in (("OSS4-HMAC-SHA256 ", "v4"), ("OSS2 ", "v2"), ("OSS ", "v1")):
        if auth.startswith(prefix):
            return version
    fields = {k.lower(): v for k, v in parse_qsl(urlsplit(target).query, keep_blank_values=True)}
    content_type = headers.get("Content-Type", "") or ""
    if method == "POST" and content_type.startswith("multipart/form-data"):
        fields.update({m.group(1).decode().lower(): m.group(2).decode("utf-8", "replace")
                       for m in _FORM_FIELD.finditer(body)})
    version = fields.get("x-oss-signature-version", "")
    if version == "OSS4-HMAC-SHA256":
        return "v4"
    if version == "OSS2":
        return "v2"
    if "ossaccesskeyid" in fields or "signature" in fields:
        return "v1"
    return None


def refusal(request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>AccessDenied</Code>\n'
        "  <Message>OSS no longer supports V1 signatures.</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>127.0.0.1</HostId>\n  <EC>{EC}</EC>\n"
        f"  <RecommendDoc>https://api.aliyun.com/troubleshoot?q={EC}</RecommendDoc>\n</Error>\n"
    ).encode()


class NewBucketGate:
    """``with NewBucketGate(local_oss.port) as gate:`` point a client at ``gate.endpoint``; ``gate.seen`` lists the
    signature version of every request (``None``: anonymous), ``gate.refused`` how many it turned away."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.seen: list[str | None] = []
        self.refused = 0
        self._lock = threading.Lock()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                body = self._body()
                version = signature_version(self.command, self.path, self.headers, body)
                with gate._lock:
                    gate.seen.append(version)
                    number = len(gate.seen)
                if version in ("v1", "v2"):
                    with gate._lock:
                        gate.refused += 1
                    self._answer(403, [("Content-Type", "application/xml"), ("x-oss-ec", EC)],
                                 refusal(f"GATE{number:020d}"))
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", gate.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    if body or self.command in ("PUT", "POST"):
                        headers["Content-Length"] = str(len(body))
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP | {"content-length"}]
                    self._answer(answer.status, kept, data, length=answer.getheader("Content-Length"))
                finally:
                    upstream.close()

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes,
                        length: str | None = None) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                # HEAD: the upstream's Content-Length describes the body a GET would have had
                self.send_header("Content-Length", length if self.command == "HEAD" and length else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_OPTIONS = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> NewBucketGate:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
