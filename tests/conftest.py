"""Fixtures more than one test folder needs: OSS's key server and signer, a real ``redis-server``, quiet logs
for the fuzz and attack modules; and the session's check that no process it started outlives it
(:mod:`tests.support.leftovers`).

Folder-specific fixtures live in each folder's conftest.py; helpers are imported from :mod:`tests.support`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from osscallback.testing import KeyServer, OssSigner
from tests.support import leftovers
from tests.support.delivery import RedisServer


def pytest_configure(config: pytest.Config) -> None:
    leftovers.become_subreaper()  # orphaned descendants stay ours, so the check below sees them


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a process the tests started is still running (and kill it, so it does not outlive us)."""
    left = leftovers.leftovers()
    if not left:
        return
    lines = [f"  {pid}: {leftovers.command(pid)}" for pid in left]
    leftovers.kill(left)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "processes the tests started were still running at the end (killed now):\n" + "\n".join(lines)
    if reporter is not None:
        reporter.write_line(message, red=True)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def key_server() -> Iterator[KeyServer]:
    """The trusted key server: the only prefix the callback apps of the tests trust (``http://127.0.0.1:<port>/``)."""
    with KeyServer() as server:
        yield server


@pytest.fixture(scope="session")
def signer(key_server: KeyServer) -> OssSigner:
    return OssSigner(key_server.private_key, key_server.key_url)


@pytest.fixture(scope="module")
def quiet_callback_logs() -> Iterator[None]:
    """Thousands of fuzz requests each log a JSON line (and bugs a traceback); keep the output readable.

    Used by the fuzz and attack modules (``pytest.mark.usefixtures``). Tests that assert on logs raise the level
    again with ``caplog``. Module-scoped, so the level is restored before any other module runs.
    """
    logger = logging.getLogger("osscallback")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(before)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture()
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, for tests that stop and restart the store (the session's is shared)."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture()
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url
