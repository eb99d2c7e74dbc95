"""Fixtures for the callback function: a real key server, an OSS-style signer, the function under waitress."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.httpserver import WSGIServer
from osscallback.testing import KeyServer, OssSigner


@pytest.fixture(scope="session")
def key_server() -> Iterator[KeyServer]:
    with KeyServer() as server:
        yield server


@pytest.fixture()
def signer(key_server: KeyServer) -> OssSigner:
    return OssSigner(key_server.private_key, key_server.key_url)


@pytest.fixture()
def make_app(key_server: KeyServer) -> Callable[..., CallbackApp]:
    """Build a CallbackApp from env-style settings, trusting the local key server's prefix."""

    def build(**env: str) -> CallbackApp:
        settings = {"CALLBACK_KEY_URL_PREFIXES": key_server.prefix}
        settings.update(env)
        return CallbackApp.from_env(settings)

    return build


@pytest.fixture()
def serve() -> Iterator[Callable[[Any], WSGIServer]]:
    """Serve a WSGI app under waitress on 127.0.0.1 for the duration of a test."""
    servers: list[WSGIServer] = []

    def start(wsgi_app: Any) -> WSGIServer:
        server = WSGIServer(wsgi_app, threads=8).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture()
def callback_server(make_app: Callable[..., CallbackApp], serve: Callable[[Any], WSGIServer]) -> WSGIServer:
    return serve(make_wsgi_handler(make_app()))


@pytest.fixture()
def log_records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="osscallback")
    return caplog
