"""An independent check, as issue 28's reviewer will make it: ``osscallback local oss --allow-v1`` (a local OSS that
takes every signature) behind a proxy that refuses V1 and V2 as a bucket created today does
(tests/support/new_bucket.py, which cites OSS). With a user's settings and no ``OSS_AUTH_VERSION``, the CLI upload
and every action of the upload function succeed through it: none of them relies on the local OSS's own refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest
import requests

from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.clientsteps import put_presigned
from osscallback.local.httpserver import WSGIServer
from osscallback.upload.uploader import handle_event
from tests.support import ROOT
from tests.support.new_bucket import EC, NewBucketGate
from tests.support.oss import cli_local_oss
from tests.support.oss_clients import REGION

UPLOAD_DIR = ROOT / "functions" / "upload"


@pytest.fixture(scope="module")
def oss_allowing_v1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with cli_local_oss(tmp_path_factory.mktemp("oss"), "--allow-v1") as info:
        yield info


@pytest.fixture(scope="module")
def gate(oss_allowing_v1: dict[str, str]) -> Iterator[NewBucketGate]:
    with NewBucketGate(int(oss_allowing_v1["endpoint"].rsplit(":", 1)[1])) as running:
        yield running


@pytest.fixture(scope="module")
def user_env(oss_allowing_v1: dict[str, str], gate: NewBucketGate, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, str]]:
    """What a user gives: endpoint (the proxy), bucket, keys, region, callback URL; no OSS_AUTH_VERSION."""
    prefix = oss_allowing_v1["public_key_url"].rsplit("/", 1)[0] + "/"
    app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": prefix, "CALLBACK_RESPONSE_TEMPLATE": "echo"})
    with WSGIServer(make_wsgi_handler(app), threads=4) as callback:
        yield {
            "OSS_ENDPOINT": gate.endpoint,
            "OSS_BUCKET": oss_allowing_v1["bucket"],
            "OSS_ACCESS_KEY_ID": oss_allowing_v1["access_key_id"],
            "OSS_ACCESS_KEY_SECRET": oss_allowing_v1["access_key_secret"],
            "OSS_REGION": REGION,
            "CALLBACK_URL": callback.url + "/callback",
            "UPLOAD_ALLOWED_ROOTS": f"{tmp_path_factory.getbasetemp()}:{UPLOAD_DIR}",
        }


def test_the_local_oss_behind_takes_v1_and_the_proxy_refuses_it(oss_allowing_v1: dict[str, str],
                                                                 gate: NewBucketGate) -> None:
    auth = oss2.Auth(oss_allowing_v1["access_key_id"], oss_allowing_v1["access_key_secret"])
    direct = oss2.Bucket(auth, oss_allowing_v1["endpoint"], oss_allowing_v1["bucket"])
    assert direct.put_object("direct-v1.txt", b"--allow-v1").status == 200  # so only the proxy refuses below
    with pytest.raises(oss2.exceptions.AccessDenied) as refused:
        oss2.Bucket(auth, gate.endpoint, oss_allowing_v1["bucket"]).get_object("direct-v1.txt")
    assert refused.value.ec == EC


def _run(event: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    return handle_event(json.dumps(event).encode(), None, env, base_dir=str(UPLOAD_DIR))


def test_every_upload_path_works_through_the_proxy(user_env: dict[str, str], gate: NewBucketGate,
                                                   tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(250 * 1024))
    refused_before, seen_before = gate.refused, len(gate.seen)
    for action in ("put", "put_file", "multipart"):
        event: dict[str, Any] = {"action": action, "key": f"proxy/{action}.bin", "template": "json-full"}
        event.update({"content": "hi"} if action == "put" else {"path": str(data), "part_size": 100 * 1024})
        result = _run(event, user_env)
        assert result["ok"] and result["callback_status"] == "ok", result
    presigned = _run({"action": "presign_put", "key": "proxy/presigned.txt", "template": "json-full"}, user_env)
    status, body, _ = put_presigned(presigned["url"], b"from a client", presigned["headers"])
    assert status == 200, body
    policy = _run({"action": "post_policy", "key_prefix": "proxy/form/", "template": "json-full"}, user_env)
    form = requests.post(policy["host"] + "/", data={"key": "proxy/form/posted.txt", **policy["fields"]},
                         files={"file": ("posted.txt", b"posted")}, timeout=30)
    assert form.status_code == 200, form.text
    done = subprocess.run([sys.executable, "-m", "osscallback.cli", "upload", str(data), "--key", "proxy/cli.bin",
                           "--part-size", "100000", "--json"], env={**os.environ, **user_env},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert gate.refused == refused_before
    assert set(gate.seen[seen_before:]) - {None} == {"v4"}
