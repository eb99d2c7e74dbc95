"""The local OSS is a bucket created today: V1 and V2 signatures are refused in every form, V4 works; a bucket that
predates the change (``signature_versions=ALL_VERSIONS``, ``--allow-v1``) takes them all. Each client is an SDK
unchanged: oss2's ``Auth`` (V1), ``AuthV2`` and ``ProviderAuthV4``, and the v2 SDK (``alibabacloud_oss_v2``), which
signs V1 with ``signature_version="v1"`` and has no V2 signer.

Sources: OSS, "Guidelines for upgrading V1 signatures to V4 signatures" ("From March 1, 2025, the V1 signature
algorithm of OSS is no longer available to new customers with new UIDs. From September 1, 2025, ... no longer
available for new buckets"); OSS error page 0002-00000080 (https://help.aliyun.com/en/oss/user-guide/0002-00000080):
"OSS returns a 403 error when you call an API operation signed with a V1 signature. ... OSS no longer supports V1
signatures." The page names no <Code>; the local OSS answers AccessDenied, OSS's code for a refused 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
import requests

from osscallback.errors import ConfigError
from osscallback.local.oss import ALL_VERSIONS, NEW_BUCKET_VERSIONS, LocalOSS
from tests.support.oss import cli_local_oss
from tests.support.oss_clients import make_v2, post_fields_v1, post_fields_v4, post_form, post_policy

EC = "0002-00000080"
HOW_TO_ALLOW = ("osscallback local --allow-v1", "osscallback local oss --allow-v1", "LocalOSS(signature_versions=")


@pytest.fixture()
def new_bucket(tmp_path: Path) -> Iterator[LocalOSS]:
    with LocalOSS(tmp_path / "new") as oss:  # the default: a bucket created today
        assert oss.signature_versions == NEW_BUCKET_VERSIONS == {"v4"}
        yield oss


@pytest.fixture()
def old_bucket(tmp_path: Path) -> Iterator[LocalOSS]:
    with LocalOSS(tmp_path / "old", signature_versions=ALL_VERSIONS) as oss:
        yield oss


def _v1(oss: LocalOSS, secret: str | None = None) -> oss2.Bucket:
    return oss2.Bucket(oss2.Auth(oss.access_key_id, secret or oss.access_key_secret), oss.endpoint, oss.bucket)


def _v2(oss: LocalOSS) -> oss2.Bucket:
    return oss2.Bucket(oss2.AuthV2(oss.access_key_id, oss.access_key_secret), oss.endpoint, oss.bucket)


def _v4(oss: LocalOSS) -> oss2.Bucket:
    creds = oss2.credentials.StaticCredentialsProvider(oss.access_key_id, oss.access_key_secret)
    return oss2.Bucket(oss2.ProviderAuthV4(creds), oss.endpoint, oss.bucket, region=oss.region)


def _assert_refused_by_sdk(exc: oss2.exceptions.OssError) -> None:
    assert (exc.status, exc.code, exc.ec) == (403, "AccessDenied", EC)
    assert exc.message.startswith("OSS no longer supports V1 signatures")
    assert all(hint in exc.message for hint in HOW_TO_ALLOW)


def _assert_refused_on_wire(resp: requests.Response) -> None:
    assert resp.status_code == 403, resp.text
    root = ET.fromstring(resp.content)
    assert (root.findtext("Code"), root.findtext("EC")) == ("AccessDenied", EC)
    assert root.findtext("RecommendDoc", "").endswith(EC)
    assert all(hint in root.findtext("Message", "") for hint in HOW_TO_ALLOW)


# --- Authorization header -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [_v1, _v2], ids=["oss2.Auth", "oss2.AuthV2"])
def test_header_signatures_before_v4_are_refused_by_a_new_bucket(new_bucket: LocalOSS, make: object) -> None:
    bucket = make(new_bucket)  # type: ignore[operator]
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.put_object("refused.txt", b"never stored")
    _assert_refused_by_sdk(exc.value)
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.get_bucket_info()
    _assert_refused_by_sdk(exc.value)
    assert not _v4(new_bucket).object_exists("refused.txt")


@pytest.mark.parametrize("make", [_v1, _v2], ids=["oss2.Auth", "oss2.AuthV2"])
def test_header_signatures_before_v4_work_on_an_old_bucket(old_bucket: LocalOSS, make: object) -> None:
    bucket = make(old_bucket)  # type: ignore[operator]
    assert bucket.put_object("kept.txt", b"stored").status == 200
    assert bucket.get_object("kept.txt").read() == b"stored"


def test_the_version_is_refused_before_the_signature_is_checked(new_bucket: LocalOSS) -> None:
    # A new bucket says "V1 is not taken" even to a wrong V1 signature, not SignatureDoesNotMatch.
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        _v1(new_bucket, "wrong-secret").get_object("x")
    _assert_refused_by_sdk(exc.value)


def test_v4_and_anonymous_requests_are_unchanged_on_a_new_bucket(new_bucket: LocalOSS) -> None:
    bucket = _v4(new_bucket)
    assert bucket.put_object("v4.txt", b"signed with V4").status == 200
    assert requests.get(bucket.sign_url("GET", "v4.txt", 60), timeout=30).content == b"signed with V4"
    # An unsigned request is anonymous, as before: the private bucket refuses it as AccessDenied, no EC 0080.
    anon = requests.get(f"{new_bucket.endpoint}/{new_bucket.bucket}/v4.txt", timeout=30)
    assert anon.status_code == 403
    assert ET.fromstring(anon.content).findtext("EC") != EC


# --- signed URLs ----------------------------------------------------------------------------------------------------


def test_signed_urls_before_v4_are_refused_by_a_new_bucket(new_bucket: LocalOSS, tmp_path: Path) -> None:
    _v4(new_bucket).put_object("obj.txt", b"content")
    v1_url = _v1(new_bucket).sign_url("GET", "obj.txt", 60)
    v2_url = _v2(new_bucket).sign_url("GET", "obj.txt", 60)
    assert "OSSAccessKeyId=" in v1_url and "Signature=" in v1_url
    assert "x-oss-signature-version=OSS2" in v2_url
    for url in (v1_url, v2_url, _v1(new_bucket).sign_url("PUT", "put.txt", 60)):
        resp = requests.request("PUT" if "put.txt" in url else "GET", url, data=b"x" if "put.txt" in url else None,
                                timeout=30)
        _assert_refused_on_wire(resp)
    assert not _v4(new_bucket).object_exists("put.txt")


def test_signed_urls_before_v4_work_on_an_old_bucket(old_bucket: LocalOSS) -> None:
    _v1(old_bucket).put_object("obj.txt", b"content")
    for bucket in (_v1(old_bucket), _v2(old_bucket)):
        assert requests.get(bucket.sign_url("GET", "obj.txt", 60), timeout=30).content == b"content"


# --- the v2 SDK (alibabacloud_oss_v2) -------------------------------------------------------------------------------


def test_v2_sdk_signing_v1_is_refused_by_a_new_bucket_and_v4_works(new_bucket: LocalOSS) -> None:
    v1 = make_v2(new_bucket, "v1")
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v1.put_object(oss_v2.PutObjectRequest(bucket=new_bucket.bucket, key="v1.txt", body=b"x"))
    service = exc.value.unwrap()
    assert isinstance(service, oss_v2.exceptions.ServiceError)
    assert (service.status_code, service.code, service.ec) == (403, "AccessDenied", EC)
    presigned = v1.presign(oss_v2.GetObjectRequest(bucket=new_bucket.bucket, key="v1.txt"))
    _assert_refused_on_wire(requests.get(presigned.url, headers=presigned.signed_headers, timeout=30))
    v4 = make_v2(new_bucket, "v4")
    v4.put_object(oss_v2.PutObjectRequest(bucket=new_bucket.bucket, key="v4.txt", body=b"v4"))
    signed = v4.presign(oss_v2.GetObjectRequest(bucket=new_bucket.bucket, key="v4.txt"))
    assert requests.get(signed.url, headers=signed.signed_headers, timeout=30).content == b"v4"


def test_v2_sdk_signing_v1_works_on_an_old_bucket(old_bucket: LocalOSS) -> None:
    v1 = make_v2(old_bucket, "v1")
    v1.put_object(oss_v2.PutObjectRequest(bucket=old_bucket.bucket, key="v1.txt", body=b"old"))
    presigned = v1.presign(oss_v2.GetObjectRequest(bucket=old_bucket.bucket, key="v1.txt"))
    assert "OSSAccessKeyId=" in presigned.url
    assert requests.get(presigned.url, headers=presigned.signed_headers, timeout=30).content == b"old"


# --- PostObject forms -----------------------------------------------------------------------------------------------


def test_v1_post_forms_are_refused_by_a_new_bucket_and_v4_forms_work(new_bucket: LocalOSS) -> None:
    conditions: list[object] = [{"bucket": new_bucket.bucket}]
    v1_fields = {"key": "form-v1.txt", **post_fields_v1(new_bucket, post_policy(conditions))}
    _assert_refused_on_wire(post_form(new_bucket, v1_fields, b"v1 form"))
    assert not _v4(new_bucket).object_exists("form-v1.txt")
    v4_fields = {"key": "form-v4.txt", **post_fields_v4(new_bucket, conditions)}
    assert post_form(new_bucket, v4_fields, b"v4 form").status_code == 204
    assert _v4(new_bucket).get_object("form-v4.txt").read() == b"v4 form"


def test_v1_post_forms_work_on_an_old_bucket(old_bucket: LocalOSS) -> None:
    fields = {"key": "form-v1.txt", **post_fields_v1(old_bucket, post_policy([{"bucket": old_bucket.bucket}]))}
    assert post_form(old_bucket, fields, b"v1 form").status_code == 204
    assert _v1(old_bucket).get_object("form-v1.txt").read() == b"v1 form"


def _post_fields_v2(oss: LocalOSS, policy: str, secret: str | None = None) -> dict[str, str]:
    """A V2-signed PostObject form: x-oss-signature-version OSS2, x-oss-access-key-id, x-oss-signature (OSS error pages
    0002-00000701, -703, -706 name the fields), HMAC-SHA256 of the base64 policy as V2 signs."""
    digest = hmac.new((secret or oss.access_key_secret).encode(), policy.encode(), hashlib.sha256).digest()
    return {"x-oss-signature-version": "OSS2", "x-oss-access-key-id": oss.access_key_id, "policy": policy,
            "x-oss-signature": base64.b64encode(digest).decode()}


def test_v2_post_forms_are_refused_by_a_new_bucket(new_bucket: LocalOSS) -> None:
    """Not taken for an anonymous form (that was 403 'bucket acl', EC 0003-00000001): refused as V2 is."""
    fields = {"key": "form-v2.txt", **_post_fields_v2(new_bucket, post_policy([{"bucket": new_bucket.bucket}]))}
    _assert_refused_on_wire(post_form(new_bucket, fields, b"v2 form"))
    assert not _v4(new_bucket).object_exists("form-v2.txt")


def test_v2_post_forms_work_on_an_old_bucket_and_are_checked(old_bucket: LocalOSS) -> None:
    policy = post_policy([{"bucket": old_bucket.bucket}])
    fields = {"key": "form-v2.txt", **_post_fields_v2(old_bucket, policy)}
    assert post_form(old_bucket, fields, b"v2 form").status_code == 204
    assert _v1(old_bucket).get_object("form-v2.txt").read() == b"v2 form"
    forged = {"key": "forged-v2.txt", **_post_fields_v2(old_bucket, policy, secret="not the secret")}
    answer = post_form(old_bucket, forged, b"forged")
    assert (answer.status_code, ET.fromstring(answer.content).findtext("Code")) == (403, "SignatureDoesNotMatch")


# --- the option -----------------------------------------------------------------------------------------------------


def test_an_unknown_or_empty_version_set_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown signature version"):
        LocalOSS(tmp_path, signature_versions=["v1", "v5"])
    with pytest.raises(ConfigError, match="empty"):
        LocalOSS(tmp_path, signature_versions=[])
    assert LocalOSS(tmp_path, signature_versions=["V1", "v4"]).signature_versions == {"v1", "v4"}


def test_old_buckets_take_v1_beside_new_ones(tmp_path: Path) -> None:
    # Acceptance is per bucket, as on OSS: the local stack's FC code bucket is FC's own, old enough for fc3's V1.
    with LocalOSS(tmp_path, buckets=["examplebucket", "fc-code"], old_buckets=["fc-code"]) as oss:
        auth = oss2.Auth(oss.access_key_id, oss.access_key_secret)
        assert oss2.Bucket(auth, oss.endpoint, "fc-code").put_object("code.zip", b"zip").status == 200
        with pytest.raises(oss2.exceptions.ServerError) as exc:
            oss2.Bucket(auth, oss.endpoint, "examplebucket").put_object("code.zip", b"zip")
        _assert_refused_by_sdk(exc.value)


@pytest.mark.parametrize("flags", [(), ("--allow-v1",)], ids=["default", "--allow-v1"])
def test_the_cli_local_oss_refuses_v1_unless_allowed(tmp_path: Path, flags: tuple[str, ...]) -> None:
    with cli_local_oss(tmp_path, *flags) as info:
        v1 = oss2.Bucket(oss2.Auth(info["access_key_id"], info["access_key_secret"]), info["endpoint"], info["bucket"])
        if flags:
            assert v1.put_object("cli.txt", b"old bucket").status == 200
        else:
            with pytest.raises(oss2.exceptions.ServerError) as exc:
                v1.put_object("cli.txt", b"new bucket")
            _assert_refused_by_sdk(exc.value)
