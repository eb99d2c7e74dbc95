"""The hot path's shortcuts say exactly what the straightforward code said: the log line is ``json.dumps``'s, the
key-URL answers are remembered only when trusted, request ids stay unique."""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osscallback.callback.core import RequestIds, log_line
from osscallback.callback.signature import RESOLVED_CACHE_SIZE, KeyUrlPolicy
from osscallback.errors import CallbackRejected

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
records = st.dictionaries(st.text(), scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(), scalars,
                                                                                               max_size=2), max_size=8)


@settings(max_examples=2000, deadline=None)
@given(record=records)
def test_log_line_is_json_dumps(record: dict[str, Any]) -> None:
    assert log_line(record) == json.dumps(record, ensure_ascii=False)


def test_log_line_of_a_real_record() -> None:
    record = {"request_id": "abc", "status": 200, "outcome": "ok", "bucket": "b", "object": "dir/中文 \"q\"\n.txt",
              "latency_ms": 0.123, "duplicate": True}
    assert log_line(record) == json.dumps(record, ensure_ascii=False)
    assert json.loads(log_line(record)) == record


def test_request_ids_are_32_hex_and_unique() -> None:
    new_request_id = RequestIds()
    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len({RequestIds()()[:16] for _ in range(100)}) == 100  # a random prefix per generator


def test_request_ids_differ_after_a_fork() -> None:
    new_request_id = RequestIds()
    parent = new_request_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id after the fork
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert child[:16] != parent[:16] and child != new_request_id()


def _b64(url: str) -> str:
    import base64

    return base64.b64encode(url.encode()).decode()


def test_resolve_remembers_only_trusted_key_urls() -> None:
    policy = KeyUrlPolicy()
    header = _b64("http://gosspublic.alicdn.com/callback_pub_key_v1.pem")
    first = policy.resolve(header)
    assert first == ("http://gosspublic.alicdn.com/callback_pub_key_v1.pem",
                     "https://gosspublic.alicdn.com/callback_pub_key_v1.pem")
    assert policy.resolve(header) is first  # remembered
    for evil in ("http://evil.example/k.pem", "http://gosspublic.alicdn.com.evil.example/k.pem"):
        for _ in range(2):  # refused every time, never remembered
            with pytest.raises(CallbackRejected) as caught:
                policy.resolve(_b64(evil))
            assert (caught.value.status, caught.value.code) == (403, "UntrustedPubKeyUrl")
    with pytest.raises(CallbackRejected) as caught:
        policy.resolve("%%%")
    assert (caught.value.status, caught.value.code) == (400, "InvalidPubKeyUrl")
    with pytest.raises(CallbackRejected) as caught:
        policy.resolve(None)
    assert caught.value.code == "MissingPubKeyUrl"
    assert set(policy._resolved) == {header}


def test_resolve_cache_is_bounded() -> None:
    policy = KeyUrlPolicy()
    for i in range(RESOLVED_CACHE_SIZE * 3):
        policy.resolve(_b64(f"https://gosspublic.alicdn.com/k{i}.pem"))
        assert len(policy._resolved) <= RESOLVED_CACHE_SIZE


def test_log_line_is_skipped_when_info_is_off(make_app, signer, caplog: pytest.LogCaptureFixture) -> None:
    from osscallback.callback.core import CallbackRequest, normalize_headers
    from osscallback.testing import form_body

    app = make_app()
    signed = signer.sign("http://cb.example.com/cb", form_body({"bucket": "b", "object": "o"}))
    request = CallbackRequest("POST", (("/cb", ""),), normalize_headers(signed.headers), signed.body)
    caplog.set_level(logging.WARNING, logger="osscallback")
    assert app.handle(request).status == 200
    assert not [r for r in caplog.records if "latency_ms" in r.getMessage()]
    caplog.set_level(logging.INFO, logger="osscallback")
    assert app.handle(request).status == 200
    lines = [json.loads(r.getMessage()) for r in caplog.records if "latency_ms" in r.getMessage()]
    assert len(lines) == 1 and lines[0]["status"] == 200 and lines[0]["object"] == "o"


environ_keys = st.sampled_from(["HTTP_HOST", "HTTP_AUTHORIZATION", "HTTP_X_OSS_PUB_KEY_URL", "HTTP_CONTENT_TYPE",
                                "HTTP_CONTENT_LENGTH", "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_x_a", "HTTP_X_A",
                                "HTTP_X-A", "REQUEST_METHOD", "HTTP_", "wsgi.input"]) | st.text(max_size=8)


@settings(max_examples=1000, deadline=None)
@given(environ=st.dictionaries(environ_keys, st.text(max_size=5) | st.integers(), max_size=10))
def test_wsgi_headers_are_normalize_headers_of_the_environ(environ: dict[str, Any]) -> None:
    """The one-pass header collection says what the straightforward one (pairs, then normalize_headers) said."""
    from osscallback.callback.core import normalize_headers
    from osscallback.callback.wsgi import _headers

    pairs = [(k[5:].replace("_", "-"), v) for k, v in environ.items() if k.startswith("HTTP_")]
    if environ.get("CONTENT_TYPE"):
        pairs.append(("content-type", environ["CONTENT_TYPE"]))
    if environ.get("CONTENT_LENGTH"):
        pairs.append(("content-length", environ["CONTENT_LENGTH"]))
    assert _headers(environ) == normalize_headers(pairs)
