"""Every upload path works on a bucket created today, with a user's settings and no OSS_AUTH_VERSION.

A bucket created since 2025-09-01 refuses V1 (and V2) signatures: 403, EC 0002-00000080 (tests/support/new_bucket.py
cites OSS). Each path here runs through a gate that refuses them as such a bucket does, in front of the local OSS,
with what a user gives: endpoint, bucket, keys, region, callback URL. V1 stays available on request
(``OSS_AUTH_VERSION=v1``), with one warning, and the gate shows it is V1 that such a bucket turns away.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest
import requests

from osscallback.local.clientsteps import put_presigned
from osscallback.upload.postpolicy import PostPolicy
from osscallback.upload.settings import Credentials, warn_v1
from osscallback.upload.uploader import MAX_V4_URL_EXPIRES, UploadEvent, UploadSettings, handle_event
from tests.support import ROOT
from tests.support.new_bucket import EC, NewBucketGate

UPLOAD_DIR = ROOT / "functions" / "upload"


@pytest.fixture(scope="module")
def gate(local_oss: Any) -> Iterator[NewBucketGate]:
    with NewBucketGate(local_oss.port) as running:
        yield running


@pytest.fixture()
def user_env(env: dict[str, str], gate: NewBucketGate) -> dict[str, str]:
    """What a user sets (conftest's env: endpoint, bucket, keys, region, callback URL), pointed at the gate."""
    assert "OSS_AUTH_VERSION" not in env
    return {**env, "OSS_ENDPOINT": gate.endpoint}


def _run(event: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    return handle_event(json.dumps(event).encode(), None, env, base_dir=str(UPLOAD_DIR))


def _called_back(answer: dict[str, Any], key: str) -> None:
    assert answer["callback"]["object"] == key, answer


@pytest.mark.parametrize("action", ["put", "put_file", "multipart"])
def test_the_upload_function_signs_v4(user_env, gate, bucket, tmp_path: Path, action: str) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(250 * 1024))
    key = f"new-bucket/{action}.bin"
    event: dict[str, Any] = {"action": action, "key": key, "template": "json-full"}
    event.update({"content": "hi"} if action == "put" else {"path": str(path), "part_size": 100 * 1024})
    before = len(gate.seen)
    result = _run(event, user_env)
    assert result["ok"] and result["callback_status"] == "ok", result
    _called_back(result["callback"], key)
    assert set(gate.seen[before:]) == {"v4"} and gate.refused == 0


def test_a_presigned_put_is_v4(user_env, gate, bucket) -> None:
    result = _run({"action": "presign_put", "key": "new-bucket/presigned.txt", "template": "json-full"}, user_env)
    assert result["ok"], result
    assert "x-oss-signature-version=OSS4-HMAC-SHA256" in result["url"] and "x-oss-expires=3600" in result["url"]
    status, body, _ = put_presigned(result["url"], b"from a client", result["headers"])
    assert status == 200, body
    _called_back(json.loads(body), "new-bucket/presigned.txt")
    assert gate.seen[-1] == "v4" and gate.refused == 0


def test_a_post_policy_is_v4(user_env, gate, bucket) -> None:
    result = _run({"action": "post_policy", "key_prefix": "new-bucket/form/", "template": "json-full"}, user_env)
    assert result["ok"], result
    assert result["fields"]["x-oss-signature-version"] == "OSS4-HMAC-SHA256" and "OSSAccessKeyId" not in result["fields"]
    key = "new-bucket/form/posted.txt"
    answer = requests.post(result["host"] + "/", data={"key": key, **result["fields"]},
                           files={"file": ("posted.txt", b"posted")}, timeout=30)
    assert answer.status_code == 200, answer.text
    _called_back(answer.json(), key)
    assert gate.seen[-1] == "v4" and gate.refused == 0


def test_the_upload_command_signs_v4(user_env, gate, bucket, tmp_path: Path) -> None:
    path = tmp_path / "cli.bin"
    path.write_bytes(os.urandom(300 * 1024))
    for size_flag, key in (("100000", "new-bucket/cli-multipart.bin"), ("1000000", "new-bucket/cli-put.bin")):
        done = subprocess.run([sys.executable, "-m", "osscallback.cli", "upload", str(path), "--key", key,
                               "--part-size", size_flag, "--json"], env={**os.environ, **user_env},
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert "V1" not in done.stderr  # no warning: nobody asked for V1
        assert bucket.get_object(key).read() == path.read_bytes()
    assert gate.refused == 0


def test_v1_only_on_request_with_one_warning_and_a_new_bucket_refuses_it(user_env, gate, bucket, caplog) -> None:
    warn_v1.cache_clear()
    env = {**user_env, "OSS_AUTH_VERSION": "v1"}
    with caplog.at_level(logging.WARNING, logger="osscallback.upload"):
        first = _run({"action": "put", "key": "new-bucket/v1.txt", "content": "x", "template": "none"}, env)
        second = _run({"action": "put", "key": "new-bucket/v1.txt", "content": "x", "template": "none"}, env)
    warnings = [r.getMessage() for r in caplog.records if r.name == "osscallback.upload"]
    assert warnings == ["OSS_AUTH_VERSION=v1: signing with V1, which buckets created since 2025-09-01 refuse (403, "
                        "EC 0002-00000080); unset it to sign with V4."]
    for result in (first, second):
        assert (result["ok"], result["error"]) == (False, "AccessDenied"), result
        assert result["message"] == (f"OSS 403 AccessDenied (EC {EC}): OSS no longer supports V1 signatures. The bucket "
                                     "refuses V1 signatures: unset OSS_AUTH_VERSION to sign with V4.")
    assert gate.seen[-2:] == ["v1", "v1"]


def test_an_unknown_version_is_refused() -> None:
    result = _run({"action": "put", "key": "k", "content": "x", "auth_version": "v2"},
                  {"OSS_ENDPOINT": "oss-cn-hangzhou.aliyuncs.com", "OSS_BUCKET": "b", "OSS_ACCESS_KEY_ID": "i",
                   "OSS_ACCESS_KEY_SECRET": "s"})
    assert (result["error"], result["message"]) == ("UploadError", "OSS_AUTH_VERSION='v2': use v4 (the default) or v1.")


@pytest.mark.parametrize(("expires", "ok"), [(MAX_V4_URL_EXPIRES, True), (MAX_V4_URL_EXPIRES + 1, False), (0, False)])
def test_a_v4_url_lives_seven_days_at_most(user_env, expires: int, ok: bool) -> None:
    """OSS refuses x-oss-expires outside 1..604800 s (EC 0002-00000232,
    https://help.aliyun.com/en/oss/user-guide/0002-00000232): refused before signing, in one line saying why."""
    result = _run({"action": "presign_put", "key": "k.txt", "expires": expires, "template": "none"}, user_env)
    assert result["ok"] is ok, result
    if not ok:
        assert result["message"] == (
            f"expires={expires}: a V4-signed URL is valid for 1 s to 7 days (604800 s) at most; OSS refuses longer "
            "(EC 0002-00000232).")
    else:
        assert f"x-oss-expires={expires}" in result["url"]


def test_post_policy_signs_v4_by_default() -> None:
    form = PostPolicy(bucket="examplebucket").sign(Credentials("id", "secret"), region="cn-hangzhou")
    assert form["fields"]["x-oss-signature-version"] == "OSS4-HMAC-SHA256"
    assert form["fields"]["x-oss-credential"].endswith("/cn-hangzhou/oss/aliyun_v4_request")
    assert "OSSAccessKeyId" not in form["fields"]


def test_settings_default_to_v4() -> None:
    settings = UploadSettings.resolve(UploadEvent(action="put", key="k", content="x"), None, {
        "OSS_ENDPOINT": "oss-cn-hangzhou.aliyuncs.com", "OSS_BUCKET": "b", "OSS_ACCESS_KEY_ID": "i",
        "OSS_ACCESS_KEY_SECRET": "s"})
    assert (settings.auth_version, settings.region) == ("v4", "cn-hangzhou")


def test_cors_signs_v4(user_env, gate) -> None:
    before = len(gate.seen)
    done = subprocess.run([sys.executable, "-m", "osscallback.cli", "cors", "https://page.example.test"],
                          env={**os.environ, **user_env}, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert len(gate.seen) > before and set(gate.seen[before:]) == {"v4"}


def test_the_gate_refuses_v1_and_v2_in_every_form(local_oss, gate) -> None:
    """The gate itself: a V1 or V2 header, signed URL or PostObject form is refused (oss2 unchanged), V4 passes."""
    from tests.support.oss_clients import post_fields_v1, post_policy

    old = [oss2.Bucket(auth(local_oss.access_key_id, local_oss.access_key_secret), gate.endpoint, local_oss.bucket)
           for auth in (oss2.Auth, oss2.AuthV2)]
    for bucket in old:
        with pytest.raises(oss2.exceptions.AccessDenied) as refused:
            bucket.put_object("gate/header.txt", b"x")
        assert refused.value.ec == EC and refused.value.status == 403
        answer = requests.get(bucket.sign_url("GET", "gate/header.txt", 60), timeout=10)
        assert answer.status_code == 403 and f"<EC>{EC}</EC>" in answer.text
    fields = post_fields_v1(local_oss, post_policy([{"bucket": local_oss.bucket}]))
    form = requests.post(f"{gate.endpoint}/{local_oss.bucket}", data={"key": "gate/form.txt", **fields},
                         files={"file": ("f.txt", b"x")}, timeout=10)
    assert form.status_code == 403 and f"<EC>{EC}</EC>" in form.text
    v4 = oss2.Bucket(oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret), gate.endpoint,
                     local_oss.bucket, region=local_oss.region)
    assert v4.put_object("gate/v4.txt", b"x").status == 200
