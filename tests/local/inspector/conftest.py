"""Fixtures for the inspector tests: a local OSS whose callbacks are recorded, the real callback function, oss2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest

from osscallback.local.httpserver import WSGIServer
from osscallback.local.inspector import Inspector
from osscallback.local.oss import LocalOSS
from osscallback.local.oss.callbacks import CallbackRecord
from tests.support.inspector import ActionCounter, serve_function
from tests.support.oss_clients import REGION


@pytest.fixture()
def records() -> list[CallbackRecord]:
    return []


@pytest.fixture()
def inspector() -> Iterator[Inspector]:
    with Inspector() as running:
        yield running


@pytest.fixture()
def local_oss(tmp_path: Path, records: list[CallbackRecord], inspector: Inspector) -> Iterator[LocalOSS]:
    # The default 512-bit signing key: OSS's own size (callback_pub_key_v1.pem), and quick to make.
    oss = LocalOSS(
        tmp_path / "oss", callback_timeout=3, callback_observers=[records.append, inspector.observe]
    )
    with oss:
        inspector.attach(oss.callback_sender)
        yield oss


@pytest.fixture()
def counter() -> ActionCounter:
    return ActionCounter()


@pytest.fixture()
def function(local_oss: LocalOSS, counter: ActionCounter) -> Iterator[WSGIServer]:
    server = serve_function(local_oss, counter)
    yield server
    server.stop()


@pytest.fixture()
def bucket(local_oss: LocalOSS) -> oss2.Bucket:
    return oss2.Bucket(oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint,
                       local_oss.bucket, region=REGION)
