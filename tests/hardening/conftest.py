"""Fixtures of the hardening suites: counting key servers, the function under waitress.

Fuzz budgets (``hardkit.fuzz``). Every property test takes its example count from ``fuzz(n)``, scaled by the
profile chosen with environment variables, so CI runs a few thousand examples in well under a minute and a
documented long run explores far more with the same tests:

- default (``osscb-ci``): the counts written next to each test;
- ``OSSCB_LONG=1`` (``osscb-long``): 25x the examples, and the load test runs its full 30 s;
- ``OSSCB_FUZZ_PROFILE=<name>`` picks a profile explicitly, ``OSSCB_FUZZ_SCALE=<float>`` overrides the factor.

The profiles are applied per test (``settings(parent=...)``), never loaded globally, so other suites that use
hypothesis keep their own defaults. No deadline: on a loaded 2-core CI machine a single slow example says nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hardkit import build_app

from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.httpserver import WSGIServer
from osscallback.testing import KeyServer, OssSigner


@pytest.fixture(scope="module", autouse=True)
def _quiet_callback_logs() -> Iterator[None]:
    """Thousands of fuzz requests each log a JSON line (and bugs a traceback); keep the output readable.

    Tests that assert on logs raise the level again with ``caplog``. Module-scoped, so the level is restored
    before any other suite runs.
    """
    logger = logging.getLogger("osscallback")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(before)


@pytest.fixture(scope="session")
def key_server() -> Iterator[KeyServer]:
    """The trusted key server: the only prefix the apps below trust (``http://127.0.0.1:<port>/``)."""
    with KeyServer() as server:
        yield server


@pytest.fixture(scope="session")
def evil_server(key_server: KeyServer) -> Iterator[KeyServer]:
    """An attacker's key server serving the *same* public key: any fetch from it would verify a callback, so
    the only thing keeping it out is the policy. Its fetch count must stay zero."""
    with KeyServer(key_server.private_key) as server:
        yield server


@pytest.fixture(scope="session")
def signer(key_server: KeyServer) -> OssSigner:
    return OssSigner(key_server.private_key, key_server.key_url)


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


@pytest.fixture(scope="module")
def module_server(key_server: KeyServer) -> Iterator[tuple[CallbackApp, WSGIServer]]:
    """One app under waitress shared by a module's property tests (hypothesis runs many examples per test)."""
    app = build_app(key_server)
    with WSGIServer(make_wsgi_handler(app), threads=8) as server:
        yield app, server
