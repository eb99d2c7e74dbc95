"""STS session policies, as the local OSS evaluates and enforces them, and the local STS that issues them.

Facts the tests pin, with their sources:

- a request outside the session policy: 403 ``AccessDenied``, ``Access denied by authorizer's policy.`` (ali-oss
  test/node/sts.test.js expects exactly these words for a deleteMulti outside the policy; aliyun-oss-java-sdk's
  ``OSSErrorCode.SECURITY_TOKEN_ACCESS_DENIED_ERR``; the XML in aliyun/oss-browser#32), EC ``0003-00000301`` (OSS
  error page 0003-00000301: "denied by the policy that is configured for the security token");
- an explicit Deny wins over any Allow (OSS error page 0003-00000204); no Allow is an implicit deny;
- a PutObject with ``x-oss-tagging`` also needs ``oss:PutObjectTagging`` (OSS error page 0003-00000905);
- ``AssumeRole``'s ``DurationSeconds`` is 900 to 3600 for a role's default maximum session (STS AssumeRole
  reference), its request is signed ``ACS3-HMAC-SHA256`` by the official SDK (observed: the SDK's own request).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client
from alibabacloud_tea_openapi import models as openapi_models

from osscallback.local.oss import LocalOSS
from osscallback.local.oss.model.ramactions import required
from osscallback.local.oss.model.sessionpolicy import PolicyError, PolicyNotModelled, parse_policy
from osscallback.local.sts import LocalSTS
from tests.support.oss_clients import v4_bucket

REGION = "cn-hangzhou"
ROLE = "acs:ram::1234567890123456:role/uploader"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


UPLOAD_ONLY = _policy({"Effect": "Allow", "Action": ["oss:PutObject", "oss:AbortMultipartUpload", "oss:ListParts"],
                       "Resource": ["acs:oss:*:*:examplebucket/uploads/alice/*"]})


# --- the evaluator ------------------------------------------------------------------------------------------------


def test_allow_matches_actions_and_resources_with_wildcards() -> None:
    policy = parse_policy(UPLOAD_ONLY)
    key = "acs:oss:cn-hangzhou:*:examplebucket/uploads/alice/deep/er/file.bin"
    assert policy.decide("oss:PutObject", key, REGION).allowed
    assert policy.decide("OSS:putobject", key, REGION).allowed  # action names are case-insensitive
    assert not policy.decide("oss:GetObject", key, REGION).allowed
    assert not policy.decide("oss:PutObject", "acs:oss:cn-hangzhou:*:examplebucket/uploads/bob/f", REGION).allowed
    assert not policy.decide("oss:PutObject", "acs:oss:cn-hangzhou:*:examplebucket/Uploads/alice/f", REGION).allowed
    assert not policy.decide("oss:ListObjects", "acs:oss:cn-hangzhou:*:examplebucket", REGION).allowed


def test_explicit_deny_wins_and_no_allow_is_an_implicit_deny() -> None:
    policy = parse_policy(_policy(
        {"Effect": "Allow", "Action": "oss:*", "Resource": "acs:oss:*:*:examplebucket/*"},
        {"Effect": "Deny", "Action": "oss:Delete*", "Resource": "acs:oss:*:*:examplebucket/keep/*"},
    ))
    denied = policy.decide("oss:DeleteObject", "acs:oss:cn-hangzhou:*:examplebucket/keep/a", REGION)
    assert (denied.allowed, denied.explicit) == (False, True)
    assert policy.decide("oss:DeleteObject", "acs:oss:cn-hangzhou:*:examplebucket/other/a", REGION).allowed
    implicit = policy.decide("oss:GetObject", "acs:oss:cn-hangzhou:*:otherbucket/a", REGION)
    assert (implicit.allowed, implicit.explicit) == (False, False)


def test_the_region_part_is_compared() -> None:
    policy = parse_policy(_policy({"Effect": "Allow", "Action": "oss:GetObject",
                                   "Resource": "acs:oss:cn-shanghai:*:examplebucket/*"}))
    assert not policy.decide("oss:GetObject", "acs:oss:cn-hangzhou:*:examplebucket/a", REGION).allowed


@pytest.mark.parametrize("element", ["Condition", "NotAction", "NotResource", "Principal"])
def test_unmodelled_elements_are_refused_loudly(element: str) -> None:
    statement = {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:*:b/*",
                 element: {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}} if element == "Condition" else "oss:x"}
    with pytest.raises(PolicyNotModelled, match=element):
        parse_policy(_policy(statement))


@pytest.mark.parametrize("text, problem", [
    ("not json", "not JSON"),
    (json.dumps({"Version": "2", "Statement": []}), "Version"),
    (_policy({"Effect": "Maybe", "Action": "oss:GetObject", "Resource": "acs:oss:*:*:b"}), "Effect"),
    (_policy({"Effect": "Allow", "Action": [], "Resource": "acs:oss:*:*:b"}), "Action"),
    (_policy({"Effect": "Allow", "Action": "oss:GetObject", "Resource": "arn:aws:s3:::b"}), "ARN"),
    (_policy({"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:*:b/*", "Extra": 1}), "Extra"),
])
def test_bad_grammar_is_refused(text: str, problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        parse_policy(text)


def test_other_wildcards_and_services_are_not_modelled() -> None:
    with pytest.raises(PolicyNotModelled, match="wildcard"):
        parse_policy(_policy({"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:*:b/a?c"}))
    with pytest.raises(PolicyNotModelled, match="only oss"):
        parse_policy(_policy({"Effect": "Allow", "Action": "ecs:*", "Resource": "acs:oss:*:*:b/*"}))


def test_actions_an_operation_needs() -> None:
    arn = "acs:oss:cn-hangzhou:*:b/k"
    for operation in ("PutObject", "InitiateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "PostObject"):
        assert required(operation, REGION, "b", "k", {}) == [("oss:PutObject", arn)]
    assert required("ListParts", REGION, "b", "k", {}) == [("oss:ListParts", arn)]
    assert required("HeadObject", REGION, "b", "k", {}) == [("oss:GetObject", arn)]
    assert required("ListObjectsV2", REGION, "b", "", {}) == [("oss:ListObjects", "acs:oss:cn-hangzhou:*:b")]
    assert ("oss:PutObjectTagging", arn) in required("PutObject", REGION, "b", "k", {"x-oss-tagging": "a=1"})
    assert ("oss:GetObject", "acs:oss:cn-hangzhou:*:src/a b") in required(
        "CopyObject", REGION, "b", "k", {"x-oss-copy-source": "/src/a%20b"})


# --- over HTTP: the official STS SDK, the local STS, oss2 against the local OSS -----------------------------------


@pytest.fixture()
def oss_sts(tmp_path: Path) -> Iterator[tuple[LocalOSS, LocalSTS]]:
    with LocalOSS(data_dir=tmp_path, port=0) as oss, LocalSTS(oss.credentials) as sts:
        yield oss, sts


def _client(sts: LocalSTS, key_id: str, secret: str, token: str | None) -> Client:
    return Client(openapi_models.Config(access_key_id=key_id, access_key_secret=secret, security_token=token,
                                        endpoint=sts.endpoint, protocol="http", region_id=REGION))


def _assume(client: Client, policy: str | None = UPLOAD_ONLY, duration: int = 900) -> Any:
    return client.assume_role(sts_models.AssumeRoleRequest(
        role_arn=ROLE, role_session_name="test-session", duration_seconds=duration, policy=policy)).body


def test_assume_role_with_the_official_sdk_then_oss_enforces_the_policy(oss_sts: tuple[LocalOSS, LocalSTS]) -> None:
    oss, sts = oss_sts
    caller = oss.issue_sts_token(3600)  # the function's own role credentials
    body = _assume(_client(sts, *caller))
    creds = body.credentials
    assert creds.access_key_id.startswith("STS.") and creds.security_token and creds.expiration.endswith("Z")
    assert body.assumed_role_user.arn == "acs:ram::1234567890123456:role/uploader/test-session"
    auth = oss2.StsAuth(creds.access_key_id, creds.access_key_secret, creds.security_token, auth_version="v4")
    bucket = oss2.Bucket(auth, oss.endpoint, oss.bucket, region=REGION)
    assert bucket.put_object("uploads/alice/a.txt", b"mine").status == 200
    refusals = {
        "outside the prefix": lambda: bucket.put_object("uploads/bob/a.txt", b"x"),
        "read": lambda: bucket.get_object("uploads/alice/a.txt"),
        "head": lambda: bucket.head_object("uploads/alice/a.txt"),
        "list": lambda: bucket.list_objects_v2(prefix="uploads/alice/"),
        "delete": lambda: bucket.delete_object("uploads/alice/a.txt"),
        "tagging": lambda: bucket.put_object("uploads/alice/t.txt", b"x", headers={"x-oss-tagging": "a=1"}),
    }
    for what, attempt in refusals.items():
        with pytest.raises(oss2.exceptions.AccessDenied) as refused:
            attempt()
        if what != "head":  # a HEAD answer has no body: oss2 rebuilds the code from the status
            assert refused.value.message == "Access denied by authorizer's policy.", what
            assert refused.value.ec == "0003-00000301", what
    root = v4_bucket(oss)
    assert root.get_object("uploads/alice/a.txt").read() == b"mine"  # the AccessKey pair is not limited


def test_credentials_without_a_policy_are_not_limited(oss_sts: tuple[LocalOSS, LocalSTS]) -> None:
    oss, sts = oss_sts
    creds = _assume(_client(sts, *oss.issue_sts_token(3600)), policy=None).credentials
    auth = oss2.StsAuth(creds.access_key_id, creds.access_key_secret, creds.security_token, auth_version="v4")
    bucket = oss2.Bucket(auth, oss.endpoint, oss.bucket, region=REGION)
    assert bucket.put_object("anywhere.txt", b"x").status == 200
    assert bucket.get_object("anywhere.txt").read() == b"x"


def _sts_error(call: Any) -> tuple[str, str]:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the SDK's ClientException, whatever its module
        call()
    return str(getattr(raised.value, "code", "")), str(getattr(raised.value, "message", raised.value))


def test_the_local_sts_refuses_as_sts_does(oss_sts: tuple[LocalOSS, LocalSTS]) -> None:
    oss, sts = oss_sts
    key_id, secret, token = oss.issue_sts_token(3600)
    good = _client(sts, key_id, secret, token)
    assert _sts_error(lambda: _assume(_client(sts, key_id, "wrong", token)))[0] == "SignatureDoesNotMatch"
    assert _sts_error(lambda: _assume(_client(sts, "STS.unknown", secret, token)))[0] == "InvalidAccessKeyId.NotFound"
    assert _sts_error(lambda: _assume(_client(sts, key_id, secret, "forged")))[0] == (
        "InvalidSecurityToken.MismatchWithAccessKey")
    assert _sts_error(lambda: _assume(good, duration=899))[0] == "InvalidParameter.DurationSeconds"
    assert _sts_error(lambda: _assume(good, duration=3601))[0] == "InvalidParameter.DurationSeconds"
    assert _sts_error(lambda: _assume(good, policy="{"))[0] == "InvalidParameter.PolicyGrammar"
    conditioned = _policy({"Effect": "Allow", "Action": "oss:PutObject", "Resource": "acs:oss:*:*:b/*",
                           "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}})
    code, message = _sts_error(lambda: _assume(good, policy=conditioned))
    assert code == "InvalidParameter.PolicyNotModelled" and "Condition" in message


def test_expired_caller_credentials_cannot_assume_a_role(oss_sts: tuple[LocalOSS, LocalSTS]) -> None:
    oss, sts = oss_sts
    expired = oss.credentials.issue_sts(-1.0)
    client = _client(sts, expired.access_key_id, expired.access_key_secret, expired.security_token)
    assert _sts_error(lambda: _assume(client))[0] == "InvalidSecurityToken.Expired"


def test_post_object_is_checked_against_the_policy_too(oss_sts: tuple[LocalOSS, LocalSTS]) -> None:
    """A browser's PostObject signed with the session credentials: inside the prefix it uploads; a form whose own
    policy allows any key is still refused outside the session policy (OSS checks the credentials' policy too)."""
    import requests

    from osscallback.upload.postpolicy import PostPolicy
    from osscallback.upload.settings import Credentials

    oss, sts = oss_sts
    creds = _assume(_client(sts, *oss.issue_sts_token(3600))).credentials
    signer = Credentials(creds.access_key_id, creds.access_key_secret, creds.security_token)
    form = PostPolicy(bucket=oss.bucket, key_prefix="").sign(signer, region=REGION)

    def post(key: str) -> requests.Response:
        fields = [("key", (None, key)), *((k, (None, v)) for k, v in form["fields"].items())]
        return requests.post(f"{oss.endpoint}/{oss.bucket}", files=[*fields, ("file", ("f", b"x"))], timeout=30)

    assert post("uploads/alice/form.txt").status_code in (200, 204)
    refused = post("uploads/bob/form.txt")
    assert refused.status_code == 403 and b"<EC>0003-00000301</EC>" in refused.content
    assert b"Access denied by authorizer's policy." in refused.content
