"""Fixtures for the local FC host: the template's real functions plus small fixture functions, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from osscallback.local.fc import FCCredentials, FunctionSpec, LocalFCHost, load_specs
from osscallback.local.fc.spec import source_code_dirs
from osscallback.testing import KeyServer
from tests.support.fc import FIXTURES, TEMPLATE, TEMPLATE_ENV, TIMEOUT, LogLines


@pytest.fixture(scope="session")
def credentials() -> FCCredentials:
    return FCCredentials("local-test-key-id", "local-test-key-secret")


def fixture_specs() -> list[FunctionSpec]:
    echo = FIXTURES / "echo"
    return [
        FunctionSpec("tests", "echo", "index.handler", echo, timeout=TIMEOUT, env={"FROM_TEMPLATE": "yes"}),
        FunctionSpec("tests", "web", "index.http", echo, timeout=TIMEOUT, http_methods=("GET", "POST")),
        FunctionSpec("tests", "broken", "index.handler", FIXTURES / "broken", timeout=TIMEOUT),
    ]


@pytest.fixture(scope="module")
def record_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the fixture functions' ``record`` op (and a destination's record) is written: one JSON line each."""
    return tmp_path_factory.mktemp("sink") / "records.jsonl"


@pytest.fixture(scope="module")
def log_lines() -> LogLines:
    return LogLines()


@pytest.fixture(scope="module")
def fc_host(credentials: FCCredentials, key_server: KeyServer, log_lines: LogLines) -> Iterator[LocalFCHost]:
    """template.fc2.yml's functions (run from functions/<name>/) and the fixture functions, behind one host."""
    specs = []
    for spec in load_specs(TEMPLATE, TEMPLATE_ENV, code_dirs=source_code_dirs(TEMPLATE)):
        if spec.name == "callback":  # trust the local key server, as the local stack does for the local OSS
            # and keep its idempotency store in memory and its confirmation off: the template's oss:// store and
            # confirmation HEAD are the region's OSS (tests/local/stack confirms against the local OSS)
            spec = spec.with_env({"CALLBACK_KEY_URL_PREFIXES": key_server.prefix, "CALLBACK_IDEMPOTENCY_STORE": "memory",
                                  "CALLBACK_CONFIRM": "none"})
        if spec.name == "upload":
            spec = spec.with_env({"OSS_ENDPOINT": "http://127.0.0.1:9", "UPLOAD_ALLOWED_ROOTS": str(spec.code_dir)})
        specs.append(spec)
    specs += fixture_specs()
    host = LocalFCHost(
        specs,
        credentials=credentials,
        env_overrides=lambda fc: {"CALLBACK_URL": fc.url_for("callback")},
        log_sink=log_lines,
        stop_grace=2,
    )
    with host:
        yield host
