"""OSS's public key is fetched over HTTPS with certificate checks, whatever scheme the header names.

OSS sends ``x-oss-pub-key-url: base64("http://gosspublic.alicdn.com/...")``; the same host serves the same path over
HTTPS. ``gosspublic.alicdn.com`` cannot be reached from a test, so its stand-ins run on 127.0.0.1: an HTTPS key
server presenting a certificate for ``gosspublic.alicdn.com`` issued by a throwaway CA (:class:`LocalCA`), and a
plain-HTTP key server serving an attacker's key on what would be port 80. Only the TCP connection is routed to them
(the ``connect`` hook of :func:`fetch_pem`); the TLS handshake, the certificate chain and the host-name check are
real. Plain HTTP stays possible only for an explicit local-development override prefix, logged loudly.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osscallback.callback.config import CallbackConfig
from osscallback.callback.core import CallbackApp, CallbackRequest, normalize_headers
from osscallback.callback.keys import PublicKeyCache, default_tls_context, fetch_pem
from osscallback.callback.signature import KeyUrlPolicy
from osscallback.testing import KeyServer, LocalCA, OssSigner, form_body
from tests.support import ROOT

OSS_HOST = "gosspublic.alicdn.com"
OSS_KEY_HTTP = f"http://{OSS_HOST}/callback_pub_key_v1.pem"
OSS_KEY_HTTPS = f"https://{OSS_HOST}/callback_pub_key_v1.pem"


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA()


@pytest.fixture()
def oss_key_host(ca: LocalCA, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The key host's stand-ins: HTTPS with a certificate for gosspublic.alicdn.com (port "443"), and an evil
    plain-HTTP server on port "80" serving another key (it must never be asked)."""
    genuine = KeyServer(tls=ca.server_context([OSS_HOST], tmp_path)).start()
    evil_http = KeyServer().start()
    route = {(OSS_HOST, 443): ("127.0.0.1", genuine.port), (OSS_HOST, 80): ("127.0.0.1", evil_http.port)}

    def connect(address: tuple[str, int], timeout: float) -> socket.socket:
        return socket.create_connection(route[address], timeout)

    yield {"genuine": genuine, "evil_http": evil_http, "connect": connect}
    genuine.stop()
    evil_http.stop()


def _app(fetcher: Any) -> CallbackApp:
    """The default configuration (trusts only gosspublic.alicdn.com, over http:// and https:// key URLs)."""
    return CallbackApp(CallbackConfig(), key_cache=PublicKeyCache(fetcher=fetcher))


def _request(signer: OssSigner) -> CallbackRequest:
    signed = signer.sign("https://cb.example.com/callback", form_body({"bucket": "b", "object": "o.txt"}))
    return CallbackRequest("POST", (("/callback", ""),), normalize_headers(signed.headers), signed.body)


def test_policy_fetches_oss_keys_over_https() -> None:
    policy = KeyUrlPolicy()
    assert policy.fetch_url(policy.check(OSS_KEY_HTTP)) == OSS_KEY_HTTPS
    assert policy.fetch_url(policy.check(OSS_KEY_HTTPS)) == OSS_KEY_HTTPS
    local = KeyUrlPolicy(["http://127.0.0.1:8080/"])
    assert local.fetch_url(local.check("http://127.0.0.1:8080/k.pem")) == "http://127.0.0.1:8080/k.pem"


@pytest.mark.parametrize("named", [OSS_KEY_HTTP, OSS_KEY_HTTPS], ids=["header-names-http", "header-names-https"])
def test_oss_key_is_fetched_over_https_and_cached_under_the_named_url(oss_key_host: dict[str, Any], ca: LocalCA,
                                                                      named: str) -> None:
    genuine: KeyServer = oss_key_host["genuine"]
    fetched: list[str] = []

    def fetcher(url: str) -> bytes:
        fetched.append(url)
        return fetch_pem(url, tls=ca.client_context(), connect=oss_key_host["connect"])

    app = _app(fetcher)
    answer = app.handle(_request(OssSigner(genuine.private_key, named)))
    assert answer.status == 200, answer.body
    assert fetched == [OSS_KEY_HTTPS]
    assert genuine.fetches == {"/callback_pub_key_v1.pem": 1}
    assert oss_key_host["evil_http"].total_fetches == 0  # nothing ever went over plain HTTP
    assert app.keys._entries.keys() == {named}  # cached under the URL the header names
    assert app.handle(_request(OssSigner(genuine.private_key, named))).status == 200
    assert genuine.total_fetches == 1


def test_a_key_swapped_on_plain_http_is_never_used(oss_key_host: dict[str, Any], ca: LocalCA) -> None:
    """The attacker's plain-HTTP server signs with its own key; the function never asks it, so its forgery fails."""
    evil: KeyServer = oss_key_host["evil_http"]
    app = _app(functools.partial(fetch_pem, tls=ca.client_context(), connect=oss_key_host["connect"]))
    answer = app.handle(_request(OssSigner(evil.private_key, OSS_KEY_HTTP)))
    assert (answer.status, answer.json["error"]) == (403, "SignatureDoesNotMatch")
    assert evil.total_fetches == 0


def test_certificate_is_verified_by_default(oss_key_host: dict[str, Any]) -> None:
    """The default TLS context trusts the platform's CA store, not the test CA: the handshake is refused."""
    genuine: KeyServer = oss_key_host["genuine"]
    app = _app(functools.partial(fetch_pem, connect=oss_key_host["connect"]))
    answer = app.handle(_request(OssSigner(genuine.private_key, OSS_KEY_HTTP)))
    assert (answer.status, answer.json["error"]) == (502, "PubKeyFetchFailed")
    assert "SSLCertVerificationError" in answer.json["message"], answer.json
    assert len(app.keys) == 0
    assert default_tls_context().check_hostname and default_tls_context().verify_mode.name == "CERT_REQUIRED"


def test_certificate_for_another_host_is_refused(ca: LocalCA, tmp_path: Path) -> None:
    """A certificate from a trusted CA that names another host does not pass for gosspublic.alicdn.com."""
    wrong = KeyServer(tls=ca.server_context(["cdn.example.com"], tmp_path)).start()
    try:
        def connect(address: tuple[str, int], timeout: float) -> socket.socket:
            return socket.create_connection(("127.0.0.1", wrong.port), timeout)

        app = _app(functools.partial(fetch_pem, tls=ca.client_context(), connect=connect))
        answer = app.handle(_request(OssSigner(wrong.private_key, OSS_KEY_HTTP)))
        assert (answer.status, answer.json["error"]) == (502, "PubKeyFetchFailed")
        assert "certificate" in answer.json["message"].lower(), answer.json
    finally:
        wrong.stop()


def test_plain_http_only_for_a_loud_local_override(key_server: KeyServer, signer: OssSigner,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="osscallback")
    app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": key_server.prefix})
    before = key_server.total_fetches
    assert app.handle(_request(signer)).status == 200
    assert key_server.total_fetches == before + 1  # fetched from the override, over plain HTTP as it says
    warnings = [json.loads(r.getMessage())["message"] for r in caplog.records if "UntrustedKeyUrlPrefix" in
                r.getMessage()]
    assert len(warnings) == 1
    assert "LOCAL DEVELOPMENT OVERRIDE" in warnings[0] and "over plain HTTP" in warnings[0]


def test_https_override_uses_the_platform_store_end_to_end(ca: LocalCA, tmp_path: Path) -> None:
    """The deployed entry point, in a fresh interpreter, with an HTTPS key host trusted through ``SSL_CERT_FILE``
    (what the platform's CA store is to ``ssl.create_default_context``): no test hook, a real verified fetch."""
    server = KeyServer(tls=ca.server_context(["127.0.0.1"], tmp_path)).start()
    try:
        (tmp_path / "ca.pem").write_bytes(ca.pem)
        signed = OssSigner(server.private_key, server.key_url).sign(
            "http://cb.example.com/callback", form_body({"bucket": "b", "object": "o.txt"}))
        script = (
            "import io, json, sys, index\n"
            "headers, body = json.loads(sys.argv[1]), sys.argv[2].encode()\n"
            "env = {'REQUEST_METHOD': 'POST', 'PATH_INFO': '/callback', 'QUERY_STRING': '', 'wsgi.input': io.BytesIO(body),"
            " 'CONTENT_LENGTH': str(len(body)), 'CONTENT_TYPE': headers['Content-Type'],"
            " 'HTTP_AUTHORIZATION': headers['Authorization'], 'HTTP_X_OSS_PUB_KEY_URL': headers['x-oss-pub-key-url']}\n"
            "out = []\n"
            "answer = b''.join(index.handler(env, lambda status, h: out.append(status)))\n"
            "print(out[0], answer.decode())\n"
        )
        env = {**os.environ, "SSL_CERT_FILE": str(tmp_path / "ca.pem"), "CALLBACK_KEY_URL_PREFIXES": server.prefix}
        env.pop("SSL_CERT_DIR", None)
        run = subprocess.run([sys.executable, "-c", script, json.dumps(signed.headers), signed.body.decode()],
                             cwd=ROOT / "functions" / "callback", env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("200 OK"), run.stdout + run.stderr
        assert server.total_fetches == 1
        # Without the CA in SSL_CERT_FILE the same fetch is refused: the store really is what decides.
        env.pop("SSL_CERT_FILE")
        run = subprocess.run([sys.executable, "-c", script, json.dumps(signed.headers), signed.body.decode()],
                             cwd=ROOT / "functions" / "callback", env=env, capture_output=True, text=True, timeout=60)
        assert run.stdout.startswith("502"), run.stdout + run.stderr
        assert "SSLCertVerificationError" in run.stdout
    finally:
        server.stop()
