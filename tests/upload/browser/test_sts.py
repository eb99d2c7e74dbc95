"""``GET /sts`` on the policy function, from both templates on the local stack: the official STS SDK calls the
local STS, the credentials it hands out work with oss2's ``StsAuth`` (V4) for exactly what the session policy
allows, and the local OSS refuses the rest as OSS does.

OSS's refusal of a request outside a session policy: 403 ``AccessDenied``, "Access denied by authorizer's
policy." (ali-oss test/node/sts.test.js; aliyun/oss-browser#32), EC 0003-00000301 (OSS error page 0003-00000301).
An expired token: ``SecurityTokenExpired``, "The security token you provided has expired." (a captured OSS answer,
developer.aliyun.com/ask/553273, with EC 0002-00000007; OSS error page 0002-00000007).
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest
import requests

from osscallback.errors import ConfigError
from osscallback.local.stack import LocalStack
from osscallback.upload.browser.app import HttpRequest, PolicyApp
from osscallback.upload.browser.sts import ANSWER_FIELDS, UPLOAD_ACTIONS, StsConfig
from tests.support import FIXTURES, ROOT

DENIED = "Access denied by authorizer's policy."


@pytest.fixture(scope="module", params=["template.fc2.yml", "template.yml"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(template=ROOT / request.param, data_dir=tmp_path_factory.mktemp("oss"),
                    log_sink=lambda f, line: None, inspector=False,
                    env={"UPLOAD_AUTHORIZER": "anonymous"}) as running:
        yield running


def _sts(stack: LocalStack) -> dict[str, Any]:
    answer = requests.get(stack.info().upload_page_url + "sts", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    doc: dict[str, Any] = answer.json()
    return doc


def _bucket(sts: dict[str, Any]) -> oss2.Bucket:
    auth = oss2.StsAuth(sts["AccessKeyId"], sts["AccessKeySecret"], sts["SecurityToken"], auth_version="v4")
    return oss2.Bucket(auth, sts["endpoint"], sts["bucket"], region=sts["region"])


def _callback_headers(sts: dict[str, Any]) -> dict[str, str]:
    headers = {"x-oss-callback": sts["callback"]}
    if sts["callback_var"]:
        headers["x-oss-callback-var"] = sts["callback_var"]
    return headers


def _runs(stack: LocalStack, key: str) -> int:
    stack.settle()
    return sum(run.object == key for run in stack.deliveries.runs)


def test_the_answer(stack: LocalStack) -> None:
    info = stack.info()
    sts = _sts(stack)
    assert tuple(sts) == ANSWER_FIELDS  # the documented contract, in order
    assert sts["AccessKeyId"].startswith("STS.") and sts["SecurityToken"]
    assert sts["AccessKeyId"] != info.fc_access_key_id  # not the function's own credentials: AssumeRole's
    expires = calendar.timegm(time.strptime(sts["Expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert 3500 < expires - time.time() <= 3600  # UPLOAD_STS_DURATION's default
    assert (sts["bucket"], sts["region"], sts["endpoint"]) == (info.bucket, info.region, info.oss_endpoint)
    assert sts["key_prefix"].startswith("uploads/") and sts["key_prefix"] != _sts(stack)["key_prefix"]
    assert sts["session_policy"] == {"Version": "1", "Statement": [{
        "Effect": "Allow", "Action": list(UPLOAD_ACTIONS),
        "Resource": [f"acs:oss:*:*:{info.bucket}/{sts['key_prefix']}*"]}]}
    params = sts["callback_parameters"]
    assert params["url"] == info.callback_url and "${object}" in params["body"]
    assert info.access_key_secret not in json.dumps(sts)


def test_put_object_with_the_callback(stack: LocalStack) -> None:
    sts = _sts(stack)
    key = sts["key_prefix"] + "photo.jpg"
    result = _bucket(sts).put_object(key, b"jpeg bytes", headers=_callback_headers(sts))
    assert result.status == 200
    assert json.loads(result.resp.read())["object"] == key  # the callback function's answer, through OSS
    assert _runs(stack, key) == 1


def test_multipart_with_the_callback_on_complete(stack: LocalStack) -> None:
    sts = _sts(stack)
    bucket, key = _bucket(sts), sts["key_prefix"] + "video.mp4"
    upload_id = bucket.init_multipart_upload(key).upload_id
    parts = [oss2.models.PartInfo(n, bucket.upload_part(key, upload_id, n, bytes([n]) * (100 * 1024 + n)).etag)
             for n in (1, 2, 3)]
    listed = bucket.list_parts(key, upload_id)  # resuming asks which parts OSS has: ListParts is allowed
    assert [p.part_number for p in listed.parts] == [1, 2, 3]
    result = bucket.complete_multipart_upload(key, upload_id, parts, headers=_callback_headers(sts))
    assert result.status == 200
    assert json.loads(result.resp.read())["object"] == key
    assert _runs(stack, key) == 1
    dropped = bucket.init_multipart_upload(sts["key_prefix"] + "given-up.bin").upload_id
    assert bucket.abort_multipart_upload(sts["key_prefix"] + "given-up.bin", dropped).status == 204


def test_everything_else_is_refused_as_oss_refuses_it(stack: LocalStack) -> None:
    sts = _sts(stack)
    bucket, key = _bucket(sts), sts["key_prefix"] + "mine.txt"
    assert bucket.put_object(key, b"mine").status == 200
    attempts = {
        "put outside the prefix": lambda: bucket.put_object("elsewhere/mine.txt", b"x"),
        "multipart outside the prefix": lambda: bucket.init_multipart_upload("uploads/other/x.bin"),
        "read": lambda: bucket.get_object(key),
        "list": lambda: bucket.list_objects_v2(prefix=sts["key_prefix"]),
        "list uploads": lambda: bucket.list_multipart_uploads(),
        "delete": lambda: bucket.delete_object(key),
        "delete many": lambda: bucket.batch_delete_objects([key]),
        "copy": lambda: bucket.copy_object(sts["bucket"], key, sts["key_prefix"] + "copy.txt"),
        "set an ACL": lambda: bucket.put_object(key, b"x", headers={"x-oss-object-acl": "public-read"}),
    }
    for what, attempt in attempts.items():
        with pytest.raises(oss2.exceptions.AccessDenied) as refused:
            attempt()
        assert (refused.value.status, refused.value.message, refused.value.ec) == (403, DENIED, "0003-00000301"), what


def test_an_expired_token_is_refused(stack: LocalStack) -> None:
    sts = _sts(stack)
    store = stack.oss.credentials
    cred = store.get(sts["AccessKeyId"])
    assert cred is not None
    store.add(dataclasses.replace(cred, expires_at=time.time() - 1))  # as if the hour had passed
    with pytest.raises(oss2.exceptions.OssError) as refused:
        _bucket(sts).put_object(sts["key_prefix"] + "late.txt", b"late")
    assert (refused.value.status, refused.value.code) == (403, "SecurityTokenExpired")
    assert refused.value.message == "The security token you provided has expired."
    assert refused.value.ec == "0002-00000007"


def test_a_client_that_skips_the_callback_is_delivered_by_the_backstop(tmp_path: Path) -> None:
    """Under an OSS trigger's prefix (here ``vars.backstop.keyPrefix``, examples/; ``uploadsPrefix``, where
    ``anonymous`` puts uploads: tests/local/stack/test_reconcile.py), an upload with no callback at all still runs
    the action once: the OSS event reaches the backstop function."""
    env = {"UPLOAD_AUTHORIZER": "page_authorizers:examples_user", "PYTHONPATH": str(FIXTURES / "authorizers")}
    with LocalStack(template=ROOT / "template.yml", data_dir=tmp_path, log_sink=lambda f, line: None,
                    inspector=False, env=env) as stack:
        sts = _sts(stack)
        key = sts["key_prefix"] + "no-callback.bin"
        assert sts["key_prefix"] == "examples/alice/"
        assert _bucket(sts).put_object(key, b"sent without x-oss-callback").status == 200
        stack.settle()
        runs = [run for run in stack.deliveries.runs if run.object == key]
    assert [run.source for run in runs] == ["oss_event"]


# --- configuration and the cold path ------------------------------------------------------------------------------


def test_closed_until_configured() -> None:
    env = {"OSS_ENDPOINT": "https://oss-cn-hangzhou.aliyuncs.com", "OSS_BUCKET": "b"}
    closed = PolicyApp.from_env(env).handle(HttpRequest("GET", "/sts"))
    assert (closed.status, closed.json()["error"]) == (403, "UploadEndpointNotConfigured")
    no_role = PolicyApp.from_env({**env, "UPLOAD_AUTHORIZER": "anonymous"}).handle(HttpRequest("GET", "/sts"))
    assert (no_role.status, no_role.json()["error"]) == (403, "StsNotConfigured")
    assert "UPLOAD_STS_ROLE_ARN" in no_role.json()["message"]


@pytest.mark.parametrize("env, problem", [
    ({"UPLOAD_STS_DURATION": "899"}, "900 to 3600"),
    ({"UPLOAD_STS_DURATION": "3601"}, "900 to 3600"),
    ({"UPLOAD_STS_DURATION": "an hour"}, "not an integer"),
    ({"UPLOAD_STS_ROLE_ARN": "uploader"}, "acs:ram::"),
])
def test_bad_settings_stop_the_cold_start(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        StsConfig.from_env(env)


def test_the_sts_sdk_is_loaded_by_sts_only() -> None:
    """Importing the policy function and serving its page must not import the STS SDK (~0.4 s of imports)."""
    probe = (
        "import sys; sys.path.insert(0, 'functions/upload'); import policy; "
        "from osscallback.upload.browser.app import HttpRequest; "
        "assert policy.app.handle(HttpRequest('GET', '/')).status == 200; "
        "print(sorted(m for m in sys.modules if m.startswith('alibabacloud_sts')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"UPLOAD_AUTHORIZER": "anonymous", "UPLOAD_STS_ROLE_ARN": "acs:ram::1:role/u",
                              "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
