"""Fixtures for the upload function: the local OSS server and the callback function under waitress, wired."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest

from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.httpserver import WSGIServer
from tests.support import ROOT
from tests.support.oss_clients import v4_bucket

UPLOAD_DIR = ROOT / "functions" / "upload"


@pytest.fixture(scope="module")
def local_oss(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from osscallback.local.oss import LocalOSS

    with LocalOSS(data_dir=tmp_path_factory.mktemp("oss"), port=0, buckets=("examplebucket",)) as oss:
        yield oss


@pytest.fixture(scope="module")
def callback_server(local_oss: Any) -> Iterator[WSGIServer]:
    """The real callback function, trusting the local OSS's key URL; answers with the parsed record (echo)."""
    app = CallbackApp.from_env(
        {"CALLBACK_KEY_URL_PREFIXES": local_oss.public_key_prefix, "CALLBACK_RESPONSE_TEMPLATE": "echo"}
    )
    with WSGIServer(make_wsgi_handler(app), threads=8) as server:
        yield server


@pytest.fixture()
def env(local_oss: Any, callback_server: WSGIServer, tmp_path: Path) -> dict[str, str]:
    return {
        "OSS_ENDPOINT": local_oss.endpoint,
        "OSS_BUCKET": local_oss.bucket,
        "OSS_ACCESS_KEY_ID": local_oss.access_key_id,
        "OSS_ACCESS_KEY_SECRET": local_oss.access_key_secret,
        "OSS_REGION": local_oss.region,  # a user's settings name the region: the local OSS's endpoint names none
        "CALLBACK_URL": callback_server.url + "/callback?app=tests",
        "UPLOAD_ALLOWED_ROOTS": f"{tmp_path}:{UPLOAD_DIR}",
    }


@pytest.fixture()
def bucket(local_oss: Any) -> oss2.Bucket:
    return v4_bucket(local_oss)
