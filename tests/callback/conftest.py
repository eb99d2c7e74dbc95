"""Fixtures for the callback function: a real key server (tests/conftest.py), an attacker's key server, the function
under waitress, a local OSS and the shared idempotency stores (a real ``redis-server``, marker objects in the local
OSS).

Fuzz budgets (``tests.support.fuzz.fuzz``): every property test takes its example count from ``fuzz(n)``, scaled by
the profile chosen with environment variables, so a default run makes a few thousand examples in well under a
minute and a documented long run explores far more with the same tests:

- default (``osscb-ci``): the counts written next to each test;
- ``OSSCB_LONG=1`` (``osscb-long``): 25x the examples, and the load test runs its full 30 s;
- ``OSSCB_FUZZ_PROFILE=<name>`` picks a profile explicitly, ``OSSCB_FUZZ_SCALE=<float>`` overrides the factor.

The profiles are applied per test (``settings(parent=...)``), never loaded globally, so other suites that use
hypothesis keep their own defaults. No deadline: on a loaded 2-core CI machine a single slow example says nothing.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.httpserver import WSGIServer
from osscallback.local.oss import LocalOSS
from osscallback.testing import KeyServer
from tests.support.delivery import FIXTURES, oss_store_env
from tests.support.fuzz import build_app

BUCKET = "examplebucket"

if str(FIXTURES) not in sys.path:  # the counting action, importable in-process as CALLBACK_ACTION names it
    sys.path.insert(0, str(FIXTURES))


@pytest.fixture(scope="session")
def evil_server(key_server: KeyServer) -> Iterator[KeyServer]:
    """An attacker's key server serving the *same* public key: any fetch from it would verify a callback, so
    the only thing keeping it out is the policy. Its fetch count must stay zero."""
    with KeyServer(key_server.private_key) as server:
        yield server


@pytest.fixture(scope="session")
def make_app(key_server: KeyServer) -> Callable[..., CallbackApp]:
    """Build a CallbackApp from env-style settings, trusting only the local key server's prefix."""

    def build(**env: str) -> CallbackApp:
        return build_app(key_server, **env)

    return build


@pytest.fixture()
def serve() -> Iterator[Callable[..., WSGIServer]]:
    """Serve a WSGI app under waitress on 127.0.0.1 for the duration of a test."""
    servers: list[WSGIServer] = []

    def start(wsgi_app: Any, threads: int = 8) -> WSGIServer:
        server = WSGIServer(wsgi_app, threads=threads).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture()
def callback_server(make_app: Callable[..., CallbackApp], serve: Callable[..., WSGIServer]) -> WSGIServer:
    return serve(make_wsgi_handler(make_app()))


@pytest.fixture(scope="module")
def module_server(key_server: KeyServer) -> Iterator[tuple[CallbackApp, WSGIServer]]:
    """One app under waitress shared by a module's property tests (hypothesis runs many examples per test)."""
    app = build_app(key_server)
    with WSGIServer(make_wsgi_handler(app), threads=8) as server:
        yield app, server


@pytest.fixture()
def log_records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="osscallback")
    return caplog


@pytest.fixture()
def local_oss(tmp_path: Path) -> Iterator[LocalOSS]:
    with LocalOSS(tmp_path / "oss", port=0, buckets=[BUCKET], callback_timeout=1.5) as oss:
        yield oss


@pytest.fixture(params=["redis", "oss"])
def shared_store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment of each shared store (a fresh database / bucket per test)."""
    if request.param == "redis":
        return {"CALLBACK_IDEMPOTENCY_STORE": request.getfixturevalue("redis_url")}
    return oss_store_env(request.getfixturevalue("local_oss"))
