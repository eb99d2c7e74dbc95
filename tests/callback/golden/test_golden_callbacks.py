"""Callbacks that OSS itself signed, through both deployed entry points, against OSS's real 512-bit key.

Each file in ``requests/`` is one request OSS sent, copied from a public source (OSS's Callback documentation, an
open-source project's test or README, an issue on OSS's own SDK); ``README.md`` beside them says where each comes
from and what it proves. Nothing here is signed by us: if our string-to-sign or key handling drifts from what OSS
does, these fail.

The function is ``functions/callback/index.py`` loaded from its code directory as FC loads it, with the production
key policy (only ``gosspublic.alicdn.com``). The requests name OSS's key URL, which the function fetches over
HTTPS; ``gosspublic.alicdn.com`` cannot be reached from a test, so a loopback HTTPS server with a certificate for
that host (issued by a throwaway CA) serves OSS's public key, pinned below. Only the TCP connection is routed (the
``connect`` hook of ``fetch_pem``); TLS, the certificate chain and the host-name check are real. No network.

- FC 2.0: ``index.handler`` (WSGI) under waitress, over real HTTP, and with the environ FC 2.0 builds
  (``fc.request_uri``);
- FC 3.0: ``index.handler_fc3`` with the HTTP event FC 3.0 builds (``rawPath``, ``queryParameters`` as a dict, no
  raw query string, base64 body).

A copy with one byte changed in the body, the path, the query (where there is one) or the signature gets 403.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import itertools
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest

from osscallback.callback.keys import PublicKeyCache, fetch_pem
from osscallback.callback.signature import load_public_key, string_to_sign, verify
from osscallback.local.httpserver import WSGIServer
from osscallback.testing import KeyServer, LocalCA
from tests.support import ROOT

INDEX = ROOT / "functions" / "callback" / "index.py"
REQUESTS = Path(__file__).resolve().parent / "requests"
OSS_HOST = "gosspublic.alicdn.com"
OSS_KEY_PATH = "/callback_pub_key_v1.pem"

#: OSS's callback public key (``callback_pub_key_v1.pem``, 512-bit RSA, e=65537), as pinned by projects that verify
#: OSS callbacks, e.g. cloudreve/Cloudreve pkg/filesystem/driver/oss/callback_test.go and
#: alphasnow/aliyun-oss-appserver-go callback_test.go. Every request in requests/ verifies against it.
OSS_CALLBACK_PUB_KEY_V1 = b"""-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKs/JBGzwUB2aVht4crBx3oIPBLNsjGs
C0fTXv+nvlmklvkcolvpvXLTjaxUHR3W9LXxQ2EHXAJfCB+6H2YF1k8CAwEAAQ==
-----END PUBLIC KEY-----
"""


@dataclass(frozen=True)
class Golden:
    """One recorded request: what OSS sent, and what our function must answer."""

    name: str
    path: str
    query: str
    body: bytes
    headers: tuple[tuple[str, str], ...]  # as the source shows them, plus the inferred ones (see README)
    expect: dict[str, Any]

    @classmethod
    def load(cls, file: Path) -> Golden:
        doc = json.loads(file.read_text(encoding="utf-8"))
        headers = [(str(k), str(v)) for k, v in doc["headers"]]
        headers += [(str(k), str(v)) for k, v, _why in doc["inferred_headers"]]
        assert doc["method"] == "POST"
        return cls(doc["name"], doc["path"], doc["query"], doc["body"].encode("utf-8"), tuple(headers), doc["expect"])

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers if k.lower() == name.lower())

    def with_header(self, name: str, value: str) -> Golden:
        return replace(self, headers=tuple((k, value if k.lower() == name.lower() else v) for k, v in self.headers))

    @property
    def target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")


GOLDEN = [Golden.load(f) for f in sorted(REQUESTS.glob("*.json"))]
IDS = [g.name for g in GOLDEN]


def _flip(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by another of the same kind (same length)."""
    old = text[index]
    new = {"9": "8", "Z": "Y", "z": "y"}.get(old) or (chr(ord(old) + 1) if old.isalnum() else "x" if old != "x" else "y")
    return text[:index] + new + text[index + 1 :]


def tampered(golden: Golden) -> Iterator[tuple[str, Golden]]:
    """One-byte changes to each signed part, and to the signature itself."""
    yield "body", replace(golden, body=_flip(golden.body.decode(), len(golden.body) // 2).encode())
    yield "path", replace(golden, path=_flip(golden.path, 1))
    if golden.query:
        yield "query", replace(golden, query=_flip(golden.query, len(golden.query) - 1))
    yield "signature", golden.with_header("authorization", _flip(golden.header("authorization"), 10))


TAMPERED = [(g, part, t) for g in GOLDEN for part, t in tampered(g)]


def test_the_set_is_not_empty_and_each_request_verifies_against_osss_key() -> None:
    """The recorded requests verify with the documented string to sign, before any adapter is involved."""
    assert len(GOLDEN) >= 5, "the golden set lost its requests"
    key = load_public_key(OSS_CALLBACK_PUB_KEY_V1)
    assert key.key_size == 512
    for golden in GOLDEN:
        signature = base64.b64decode(golden.header("authorization"))
        assert len(signature) == 64, golden.name  # a 512-bit key's signature
        assert verify(key, signature, string_to_sign(golden.path, golden.query, golden.body)), golden.name
    for golden, part, bad in TAMPERED:
        signature = base64.b64decode(bad.header("authorization"))
        assert not verify(key, signature, string_to_sign(bad.path, bad.query, bad.body)), (golden.name, part)


# -- OSS's key host on loopback -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oss_key_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """HTTPS on 127.0.0.1 with a certificate for gosspublic.alicdn.com, serving OSS's real public key."""
    ca = LocalCA()
    server = KeyServer(tls=ca.server_context([OSS_HOST], tmp_path_factory.mktemp("oss-key-host")))
    server.behaviour.body = OSS_CALLBACK_PUB_KEY_V1  # OSS's key, not the kit's own
    server.start()

    def connect(address: tuple[str, int], timeout: float) -> socket.socket:
        if address != (OSS_HOST, 443):
            raise OSError(f"no network in tests: refused to connect to {address}")
        return socket.create_connection(("127.0.0.1", server.port), timeout)

    yield {"server": server, "tls": ca.client_context(), "connect": connect}
    server.stop()


@dataclass
class Function:
    """The deployed callback function module, with the URLs its key cache fetched."""

    module: ModuleType
    fetched: list[str]


_loads = itertools.count()


@pytest.fixture()
def function(oss_key_host: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Function:
    """``functions/callback/index.py`` loaded as FC loads it: production key policy, the ``log`` action and the
    ``echo`` answer (so the answer shows what the action and the parser saw), a fresh in-memory store."""
    for name in ("CALLBACK_KEY_URL_PREFIXES", "CALLBACK_IDEMPOTENCY_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CALLBACK_ACTION", "log")
    monkeypatch.setenv("CALLBACK_RESPONSE_TEMPLATE", "echo")
    spec = importlib.util.spec_from_file_location(f"golden_callback_index_{next(_loads)}", INDEX)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fetched: list[str] = []

    def fetcher(url: str) -> bytes:
        fetched.append(url)
        return fetch_pem(url, tls=oss_key_host["tls"], connect=oss_key_host["connect"])

    module.app.keys = PublicKeyCache(fetcher=fetcher)  # the real fetch, TCP routed to the loopback key host
    return Function(module, fetched)


# -- the adapters ---------------------------------------------------------------------------------------------------


def call_fc2_http(function: Function, golden: Golden) -> tuple[int, dict[str, Any]]:
    """FC 2.0's WSGI handler under waitress, over real HTTP, with the recorded request line, headers and body."""
    with WSGIServer(function.module.handler, threads=2) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("POST", golden.target, body=golden.body, headers=dict(golden.headers))
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()


def call_fc2_environ(function: Function, golden: Golden) -> tuple[int, dict[str, Any]]:
    """FC 2.0's WSGI handler with the environ FC 2.0 builds: the full request URI in ``fc.request_uri``."""
    import io

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(golden.path, encoding="latin-1"),
        "QUERY_STRING": golden.query,
        "CONTENT_LENGTH": str(len(golden.body)),
        "wsgi.input": io.BytesIO(golden.body),
        "fc.request_uri": golden.target,
    }
    for name, value in golden.headers:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            environ.setdefault(f"HTTP_{key}", value)
    status: list[str] = []
    body = b"".join(function.module.handler(environ, lambda s, h: status.append(s)))
    return int(status[0].split()[0]), json.loads(body)


def fc3_event(golden: Golden) -> bytes:
    """The HTTP event FC 3.0 hands ``handler_fc3``: no raw query string, only ``queryParameters``."""
    return json.dumps({
        "version": "v1",
        "rawPath": golden.path,
        "headers": dict(golden.headers),
        "queryParameters": dict(parse_qsl(golden.query, keep_blank_values=True)),
        "body": base64.b64encode(golden.body).decode("ascii"),
        "isBase64Encoded": True,
        "requestContext": {"http": {"method": "POST", "path": unquote(golden.path)}, "requestId": "1-golden"},
    }).encode()


def call_fc3(function: Function, golden: Golden) -> tuple[int, dict[str, Any]]:
    result = function.module.handler_fc3(fc3_event(golden), None)
    assert result["headers"]["Content-Length"] == str(len(result["body"].encode()))
    return result["statusCode"], json.loads(result["body"])


ADAPTERS: dict[str, Callable[[Function, Golden], tuple[int, dict[str, Any]]]] = {
    "fc2-http": call_fc2_http,
    "fc2-environ": call_fc2_environ,
    "fc3-event": call_fc3,
}


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("golden", GOLDEN, ids=IDS)
def test_golden_callback_verifies(function: Function, oss_key_host: dict[str, Any], golden: Golden,
                                  adapter: str) -> None:
    status, answer = ADAPTERS[adapter](function, golden)
    expect = golden.expect
    assert status == expect["status"], answer
    if status == 200:
        assert answer["Status"] == "OK"
        assert answer["action"] == {"logged": True}  # the configured action ran
        for field, value in expect.get("callback", {}).items():
            assert answer["callback"][field] == value, (field, answer["callback"])
    else:
        # Verified, then refused for what the body is: never a signature failure.
        assert answer["error"] == expect["error"], answer
    # OSS's key came from its HTTPS URL (whatever scheme the header names), once.
    assert function.fetched == [f"https://{OSS_HOST}{OSS_KEY_PATH}"]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(("golden", "part", "bad"), TAMPERED,
                         ids=[f"{g.name}-{part}" for g, part, _ in TAMPERED])
def test_tampered_golden_callback_is_403(function: Function, golden: Golden, part: str, bad: Golden,
                                         adapter: str) -> None:
    status, answer = ADAPTERS[adapter](function, bad)
    assert (status, answer["error"]) == (403, "SignatureDoesNotMatch"), (part, answer)
