"""oss2's client-side errors read as what happened and what to check, wherever an upload runs: the upload function
(``handle_event``), the ``upload`` command, and events run through ``osscallback local`` / ``invoke``.

oss2 raises ``RequestError`` (status -2) when it cannot reach the endpoint and ``ClientError`` (status -1) for an
invalid bucket name; neither carries a code or message, so they used to read ``OSS -2 : `` and ``OSS -1 : ``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from osscallback.upload.uploader import handle_event
from tests.support import ROOT

CLI = [sys.executable, "-m", "osscallback.cli"]
BAD_BUCKET = "bucket name 'b' is invalid (3 to 63 lowercase letters, digits or -)"


@pytest.fixture()
def closed_endpoint() -> Iterator[str]:
    """An endpoint on 127.0.0.1 where nothing listens (the port stays bound, so nothing else takes it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def _env(endpoint: str, bucket: str = "examplebucket") -> dict[str, str]:
    return {"OSS_ENDPOINT": endpoint, "OSS_BUCKET": bucket, "OSS_ACCESS_KEY_ID": "id", "OSS_ACCESS_KEY_SECRET": "secret",
            "OSS_REGION": "cn-hangzhou",
            "CALLBACK_URL": "http://127.0.0.1:1/callback"}


def test_upload_function_unreachable_endpoint(closed_endpoint: str) -> None:
    result = handle_event({"action": "put", "key": "k.txt", "content": "x"}, None, _env(closed_endpoint))
    assert (result["ok"], result["error"]) == (False, "RequestError")
    assert result["message"] == f"cannot connect to OSS endpoint {closed_endpoint} (connection refused)"


def test_upload_function_unknown_host() -> None:
    result = handle_event({"action": "put", "key": "k.txt", "content": "x"}, None, _env("http://oss.invalid"))
    assert result["message"] == "cannot connect to OSS endpoint http://oss.invalid (host name not found)"


def test_upload_function_invalid_bucket_name(closed_endpoint: str) -> None:
    result = handle_event({"action": "put", "key": "k.txt", "content": "x"}, None, _env(closed_endpoint, "b"))
    assert (result["ok"], result["error"], result["message"]) == (False, "ClientError", BAD_BUCKET)


def _upload_cli(env: dict[str, str], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "upload", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_upload_command_says_what_failed_in_one_line(closed_endpoint: str, tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x")
    out = _upload_cli(_env(closed_endpoint), path)
    assert out.returncode == 2
    assert out.stderr == f"osscallback: error: cannot connect to OSS endpoint {closed_endpoint} (connection refused); check OSS_ENDPOINT\n"
    out = _upload_cli(_env(closed_endpoint, "b"), path)
    assert (out.returncode, out.stderr) == (2, f"osscallback: error: {BAD_BUCKET}; check OSS_BUCKET\n")


def test_invoke_through_the_local_stack(closed_endpoint: str, tmp_path: Path) -> None:
    """``osscallback invoke upload`` runs the event in the local FC host's upload function (a fresh local stack)."""
    for name, event, message in (
        ("unreachable", {"action": "put", "key": "k.txt", "content": "x", "endpoint": closed_endpoint},
         f"cannot connect to OSS endpoint {closed_endpoint} (connection refused)"),
        ("bad-bucket", {"action": "put", "key": "k.txt", "content": "x", "bucket": "b"}, BAD_BUCKET),
    ):
        path = tmp_path / f"upload-{name}.json"
        path.write_text(json.dumps(event))
        out = subprocess.run([*CLI, "invoke", "upload", "--event-file", str(path), "--json"], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 1, out.stderr
        assert json.loads(out.stdout)["message"] == message, out.stdout


def test_local_once_shows_the_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "upload-bad-bucket.json"
    path.write_text(json.dumps({"action": "put", "key": "k.txt", "content": "x", "bucket": "b"}))
    out = subprocess.run([*CLI, "local", "--once", "--event", str(path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"error: ClientError: {BAD_BUCKET}" in out.stdout
    assert "0/1 events succeeded" in out.stdout
