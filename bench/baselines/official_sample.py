"""Baseline (b): the approach of Alibaba's official Python callback sample server, re-implemented from SPEC §3.

The sample is a single-threaded ``http.server`` (HTTP/1.0: one connection per request) that, for every callback,
base64-decodes ``x-oss-pub-key-url``, fetches the PEM over HTTP (no cache), and verifies MD5withRSA over
``unquote(path) + query + '\\n' + body``. It checks the key URL only by prefix, has no size cap and no timeouts
worth the name; we keep its per-request key fetch, which is what costs it throughput.

Run: ``python bench/baselines/official_sample.py PORT_FILE`` — it writes its port to PORT_FILE once listening.
"""

from __future__ import annotations

import base64
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        key_url = base64.b64decode(self.headers.get("x-oss-pub-key-url", "")).decode()
        if not key_url.startswith(("http://gosspublic.alicdn.com/", "https://gosspublic.alicdn.com/",
                                   "http://127.0.0.1:")):
            self._answer(400, b'{"Status": "verify not ok"}')
            return
        pem = urllib.request.urlopen(key_url).read()  # noqa: S310 - the sample fetches on every request
        public_key = serialization.load_pem_public_key(pem)
        authorization = base64.b64decode(self.headers.get("authorization", ""))
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        path, _, query = self.path.partition("?")
        signed = unquote(path).encode() + (b"?" + query.encode() if query else b"") + b"\n" + body
        try:
            public_key.verify(authorization, signed, padding.PKCS1v15(), hashes.MD5())  # type: ignore[union-attr,call-arg]
        except InvalidSignature:
            self._answer(400, b'{"Status": "verify not ok"}')
            return
        self._answer(200, b'{"Status": "OK"}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    server = HTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()
