"""The upload function end to end: real oss2 against the local OSS, callbacks verified by the callback function."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import oss2
import pytest
import requests

from osscallback.local.clientsteps import put_presigned
from osscallback.upload.uploader import MultipartAborted, Uploader, UploadEvent, UploadSettings, handle_event
from tests.support import ROOT

UPLOAD_DIR = ROOT / "functions" / "upload"
EVENTS = sorted((ROOT / "events").glob("upload-*.json"))


def run(event: dict[str, Any] | bytes, env: dict[str, str], context: Any = None) -> dict[str, Any]:
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    return handle_event(raw, context, env, base_dir=str(UPLOAD_DIR))


def verified(result: dict[str, Any], key: str) -> dict[str, Any]:
    """The callback function's echo of what OSS told it; proves the signed callback was verified (200 JSON)."""
    assert result["ok"], result
    assert result["callback_status"] == "ok", result
    echo = result["callback"]
    assert echo["Status"] == "OK"
    assert echo["callback"]["object"] == key
    return echo["callback"]


def test_put_text_with_custom_vars(env, bucket) -> None:
    key = "dir/hello world+%中文😀.txt"
    result = run({"action": "put", "key": key, "content": "hi", "template": "json-full",
                  "custom_vars": {"x:user": "alice"}}, env)
    record = verified(result, key)
    assert record["custom_vars"] == {"x:user": "alice"}
    assert record["size"] == 2
    assert record["operation"] == "PutObject"
    assert result["etag"] and result["request_id"] and result["crc64"]
    assert bucket.get_object(key).read() == b"hi"


def test_put_base64_form_template(env, bucket) -> None:
    result = run({"action": "put", "key": "bin/data.bin", "content_base64": "AAEC/w==", "template": "form-basic"}, env)
    record = verified(result, "bin/data.bin")
    assert record["bucket"] == "examplebucket"
    assert bucket.get_object("bin/data.bin").read() == b"\x00\x01\x02\xff"


def test_put_file_from_code_dir(env, bucket) -> None:
    result = run({"action": "put_file", "key": "f/hello.txt", "path": "samples/hello.txt"}, env)
    verified(result, "f/hello.txt")
    assert bucket.get_object("f/hello.txt").read() == (UPLOAD_DIR / "samples" / "hello.txt").read_bytes()


def test_image_template_fills_image_info(env) -> None:
    result = run({"action": "put_file", "key": "img/photo.png", "path": "samples/photo.png", "template": "image",
                  "content_type": "image/png"}, env)
    record = verified(result, "img/photo.png")
    assert record["image_info"] == {"height": 48, "width": 64, "format": "png"}


def test_multipart_20mib_with_callback(env, bucket, tmp_path: Path) -> None:
    data = os.urandom(20 * 1024 * 1024 + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    result = run({"action": "multipart", "key": "big/twenty.bin", "path": str(path), "part_size": 4 * 1024 * 1024,
                  "threads": 4, "template": "json-full", "custom_vars": {"x:kind": "multipart"}}, env)
    record = verified(result, "big/twenty.bin")
    assert result["parts"] == 6
    assert record["size"] == len(data)
    assert record["operation"] == "CompleteMultipartUpload"
    assert record["custom_vars"] == {"x:kind": "multipart"}
    assert hashlib.sha256(bucket.get_object("big/twenty.bin").read()).digest() == hashlib.sha256(data).digest()


def test_multipart_failure_midway_aborts_and_leaves_no_parts(env, bucket, tmp_path: Path) -> None:
    path = tmp_path / "mid.bin"
    path.write_bytes(os.urandom(3 * 200 * 1024))
    event = UploadEvent.parse({"action": "multipart", "key": "mid/fail.bin", "path": str(path), "part_size": 200 * 1024,
                               "threads": 1, "template": "none"})
    uploader = Uploader(UploadSettings.resolve(event, None, env, str(UPLOAD_DIR)))
    calls = []

    def fail_after_first_part(done: int, total: int) -> None:
        calls.append(done)
        raise ConnectionError("connection dropped mid-upload")

    with pytest.raises(MultipartAborted) as info:
        uploader.run(event, progress=fail_after_first_part)
    assert calls  # the first part really went up before the failure
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("mid/fail.bin", info.value.upload_id)
    assert not bucket.object_exists("mid/fail.bin")


def test_presigned_put_carries_callback(env, bucket) -> None:
    result = run({"action": "presign_put", "key": "pre/signed.txt", "template": "form-basic",
                  "custom_vars": {"x:via": "presign"}}, env)
    assert result["ok"] and result["callback_configured"]
    assert "callback=" in result["url"]
    status, body, _ = put_presigned(result["url"], b"from a client", result["headers"])
    assert status == 200, body
    echo = json.loads(body)
    assert echo["callback"]["object"] == "pre/signed.txt"
    assert echo["callback"]["custom_vars"] == {"x:via": "presign"}
    assert bucket.get_object("pre/signed.txt").read() == b"from a client"


@pytest.mark.parametrize("auth_version", ["v1", "v4"])
def test_browser_post_policy_flow_with_requests(env, bucket, local_oss, auth_version: str) -> None:
    """V4 by default; V1 only when asked (OSS_AUTH_VERSION=v1), and only a bucket that predates 2025-09-01 takes it:
    the local OSS, as a bucket created today, refuses it (403, EC 0002-00000080) unless told to accept V1."""
    env = {**env, "OSS_AUTH_VERSION": auth_version, "OSS_REGION": "cn-hangzhou"}
    result = run({"action": "post_policy", "key_prefix": "browser/", "max_size": 1024 * 1024, "template": "json-full",
                  "custom_vars": {"x:user_id": "u1"}}, env)
    assert result["ok"], result
    key = f"browser/{auth_version}-upload.txt"
    response = requests.post(result["host"] + "/", data={"key": key, **result["fields"]},
                             files={"file": ("upload.txt", b"posted by a browser")}, timeout=30)
    if auth_version not in local_oss.signature_versions:
        assert response.status_code == 403 and "<EC>0002-00000080</EC>" in response.text, response.text
        return
    assert response.status_code == 200, response.text
    echo = response.json()
    assert echo["callback"]["object"] == key
    assert echo["callback"]["custom_vars"] == {"x:user_id": "u1"}
    assert echo["callback"]["operation"] == "PostObject"
    assert bucket.get_object(key).read() == b"posted by a browser"


def test_post_policy_refuses_key_outside_prefix(env) -> None:
    result = run({"action": "post_policy", "key_prefix": "only-here/", "template": "none"}, env)
    response = requests.post(result["host"] + "/", data={"key": "elsewhere/x.txt", **result["fields"]},
                             files={"file": ("x.txt", b"x")}, timeout=30)
    assert response.status_code == 403, response.text


def test_callback_failure_is_reported_and_object_kept(env, bucket) -> None:
    env = {**env, "CALLBACK_URL": "http://127.0.0.1:9/unreachable"}
    result = run({"action": "put", "key": "cbfail/kept.txt", "content": "still stored"}, env)
    assert result["ok"] is True
    assert result["callback_status"] == "failed"
    assert result["callback_error"]["code"] == "CallbackFailed"
    assert result["callback_error"]["message"]
    assert bucket.get_object("cbfail/kept.txt").read() == b"still stored"


def test_sts_credentials_from_fc_context(env, local_oss, bucket) -> None:
    key_id, secret, token = local_oss.issue_sts_token()
    context = SimpleNamespace(credentials=SimpleNamespace(access_key_id=key_id, access_key_secret=secret,
                                                          security_token=token))
    env = {k: v for k, v in env.items() if not k.startswith("OSS_ACCESS_KEY")}
    result = run({"action": "put", "key": "sts/ctx.txt", "content": "via sts"}, env, context)
    verified(result, "sts/ctx.txt")


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        ({"action": "nope"}, "UploadError", "Unknown action"),
        ({"action": "put", "content": "x"}, "UploadError", "needs 'key'"),
        ({"action": "put", "key": "k"}, "UploadError", "exactly one of"),
        ({"action": "put", "key": "k", "content": "x", "bogus": 1}, "UploadError", "Unknown event field"),
        ({"action": "put_file", "key": "k", "path": "/etc/passwd"}, "UploadError", "outside the allowed roots"),
        ({"action": "put_file", "key": "k", "path": "samples/../../../pyproject.toml"}, "UploadError", "outside"),
        ({"action": "put", "key": "k", "content": "x", "template": "no-such"}, "TemplateNotFound", "no-such"),
        ({"action": "put", "key": "k", "content": "x", "custom_vars": {"x:Bad": "v"}}, "CallbackValidationError",
         "lowercase"),
        ({"action": "put", "key": "k", "content_base64": "%%%"}, "UploadError", "base64"),
    ],
)
def test_bad_events_are_refused_and_nothing_uploaded(env, bucket, event, error: str, message: str) -> None:
    result = run(event, env)
    assert result["ok"] is False
    assert result["error"] == error, result
    assert message in result["message"]
    assert result["callback_status"] == "none"
    assert not bucket.object_exists("k")


def test_not_json_event(env) -> None:
    result = run(b"{not json", env)
    assert result["ok"] is False and "not valid JSON" in result["message"]


@pytest.mark.parametrize("event_file", EVENTS, ids=[p.name for p in EVENTS])
def test_every_shipped_event_succeeds_with_a_verified_callback(env, event_file: Path) -> None:
    result = run(event_file.read_bytes(), env)
    assert result["ok"], result
    if event_file.name == "upload-callback-down.json":  # its callback URL refuses connections, on purpose
        assert result["callback_status"] == "failed" and result["etag"] and result["request_id"], result
        return  # the OSS-event backstop delivers it: tests/local/stack/test_delivery.py
    if result["action"] == "presign_put":
        status, body, _ = put_presigned(result["url"], b"event body", result["headers"])
        assert status == 200, body
        assert json.loads(body)["Status"] == "OK"
    elif result["action"] == "post_policy":
        key = result["dir"] + "event.txt"
        response = requests.post(result["host"] + "/", data={"key": key, **result["fields"]},
                                 files={"file": ("e.txt", b"event")}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["callback"]["object"] == key
    else:
        verified(result, result["key"])


def test_events_cover_every_action_and_shipped_template() -> None:
    from osscallback.upload.templates import TemplateLibrary
    from osscallback.upload.uploader import ACTIONS

    events = [json.loads(p.read_text()) for p in EVENTS]
    assert {e["action"] for e in events} == set(ACTIONS)
    assert {e.get("template") for e in events} >= set(TemplateLibrary(None).names())
