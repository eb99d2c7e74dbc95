"""Fixtures of the delivery tests: a real redis-server, a local OSS holding the markers, a key server and signer,
and the store settings of each shared backend."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from delivery_kit import FIXTURES, RedisServer, oss_store_env

from osscallback.local.oss import LocalOSS
from osscallback.testing import KeyServer, OssSigner

BUCKET = "examplebucket"

if str(FIXTURES) not in sys.path:  # the counting action, importable in-process too
    sys.path.insert(0, str(FIXTURES))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture()
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


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


@pytest.fixture(scope="session")
def key_server() -> Iterator[KeyServer]:
    with KeyServer() as server:
        yield server


@pytest.fixture()
def signer(key_server: KeyServer) -> OssSigner:
    return OssSigner(key_server.private_key, key_server.key_url)
