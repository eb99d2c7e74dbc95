"""Node's ali-oss (npm, pinned in package.json, installed by .ci/run with ``npm ci``), unchanged, uploading with the
credentials the policy function's ``GET /sts`` hands out, against the local stack (FC 3.0 template).

What an app does (OSS's mobile-app guide: credentials from an app server's AssumeRole, the upload with a callback):
``multipartUpload`` of 50 MB with the ``callback`` option runs the callback's action once and hands back the
callback's JSON as ``result.data``; an upload interrupted abruptly (the process exits once two parts are done, as a
killed app would) resumes from the checkpoint ali-oss reported; and everything outside the session policy is
refused with OSS's ``AccessDenied`` / "Access denied by authorizer's policy." (the words ali-oss's own STS test
expects, test/node/sts.test.js), an expired token with ``SecurityTokenExpired``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest
import requests

from osscallback.local.stack import LocalStack
from tests.support import ROOT
from tests.support.oss_clients import REGION

SCRIPT = ROOT / "tests" / "upload" / "js" / "ali_oss_client.js"
SIZE = 50 * 1024 * 1024
DENIED = "Access denied by authorizer's policy."


def _require_ali_oss() -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ali-oss" / "package.json").is_file():
        pytest.fail("ali-oss is not installed: run `npm ci` at the repository root (.ci/run does)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    _require_ali_oss()
    with LocalStack(template=ROOT / "template.yml", data_dir=tmp_path_factory.mktemp("oss"),
                    log_sink=lambda f, line: None, inspector=False,
                    env={"UPLOAD_AUTHORIZER": "anonymous"}) as running:
        yield running


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "video.bin"
    with path.open("wb") as f:
        for _ in range(SIZE // (1024 * 1024)):
            f.write(os.urandom(1024 * 1024))
    return path


@pytest.fixture()
def sts_file(stack: LocalStack, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    answer = requests.get(stack.info().upload_page_url + "sts", timeout=30)
    assert answer.status_code == 200, answer.text
    path = tmp_path / "sts.json"
    path.write_text(answer.text)
    return path, answer.json()


def _node(*args: str | Path) -> tuple[int, dict[str, Any]]:
    out = subprocess.run(["node", str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=180,
                         cwd=ROOT)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"ali-oss printed nothing (exit {out.returncode}): {out.stderr[-2000:]}"
    return out.returncode, json.loads(lines[-1])


def _stored(stack: LocalStack, key: str) -> bytes:
    info = stack.info()
    root = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)
    return bytes(root.get_object(key).read())


def _runs(stack: LocalStack, key: str) -> int:
    stack.settle()
    return sum(run.object == key for run in stack.deliveries.runs)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_multipart_upload_with_callback_runs_the_action_once(stack: LocalStack, big_file: Path,
                                                              sts_file: tuple[Path, dict[str, Any]]) -> None:
    path, sts = sts_file
    key = sts["key_prefix"] + "video.bin"
    code, result = _node("multipart", path, key, big_file)
    assert code == 0 and result["ok"], result
    assert result["status"] == 200
    assert result["data"] == {"Status": "OK", "bucket": sts["bucket"], "object": key}  # the callback's JSON
    assert _runs(stack, key) == 1
    assert _sha(_stored(stack, key)) == _sha(big_file.read_bytes())


def test_an_interrupted_upload_resumes_from_its_checkpoint(stack: LocalStack, big_file: Path, tmp_path: Path,
                                                            sts_file: tuple[Path, dict[str, Any]]) -> None:
    path, sts = sts_file
    key, checkpoint = sts["key_prefix"] + "resumed.bin", tmp_path / "checkpoint.json"
    code, cut = _node("interrupt", path, key, big_file, checkpoint)
    assert code == 3 and cut["interrupted"] and cut["parts"] >= 2, cut
    assert _runs(stack, key) == 0  # nothing completed, nothing called back
    code, result = _node("resume", path, key, big_file, checkpoint)
    assert code == 0 and result["ok"], result
    assert result["uploadId"] == cut["uploadId"] and result["resumedFrom"] >= 2  # the same upload, continued
    assert result["data"] == {"Status": "OK", "bucket": sts["bucket"], "object": key}
    assert _runs(stack, key) == 1
    assert _sha(_stored(stack, key)) == _sha(big_file.read_bytes())


@pytest.mark.parametrize("mode, where", [
    ("put", "elsewhere/outside.txt"),  # a write outside the prefix
    ("get", "video.bin"),  # reading, even under the prefix
    ("list", ""),  # listing
    ("delete", "video.bin"),  # deleting
])
def test_outside_the_session_policy_is_refused(stack: LocalStack, sts_file: tuple[Path, dict[str, Any]],
                                               mode: str, where: str) -> None:
    path, sts = sts_file
    key = where if "/" in where else sts["key_prefix"] + where
    code, result = _node(mode, path, key)
    assert code == 1 and not result["ok"]
    assert (result["status"], result["code"], result["message"]) == (403, "AccessDenied", DENIED), result


def test_an_expired_token_is_refused(stack: LocalStack, sts_file: tuple[Path, dict[str, Any]]) -> None:
    path, sts = sts_file
    code, result = _node("put", path, sts["key_prefix"] + "in-time.txt")
    assert code == 0 and result["data"]["object"] == sts["key_prefix"] + "in-time.txt"
    cred = stack.oss.credentials.get(sts["AccessKeyId"])
    assert cred is not None
    stack.oss.credentials.add(dataclasses.replace(cred, expires_at=time.time() - 1))  # as if the hour had passed
    code, result = _node("put", path, sts["key_prefix"] + "too-late.txt")
    assert (code, result["status"], result["code"]) == (1, 403, "SecurityTokenExpired"), result
