"""V2 signatures (the ``OSS2`` header, presigned URLs, ``AdditionalHeaders``, STS) beside V1 and V4, and the
501 ``NotImplemented`` that names an operation the local OSS does not support — with oss2 and the v2 SDK."""

from __future__ import annotations

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
import requests

from osscallback.local.oss import LocalOSS

KEY = "v2 sig/中文+plus%.txt"
pytestmark = pytest.mark.old_bucket  # V2 on purpose: a bucket created before 2025-09-01 (tests/local/oss/conftest.py)


def _v2_bucket(oss: LocalOSS, secret: str | None = None) -> oss2.Bucket:
    return oss2.Bucket(oss2.AuthV2(oss.access_key_id, secret or oss.access_key_secret), oss.endpoint, oss.bucket)


def test_oss2_v2_header_signatures(local_oss: LocalOSS) -> None:
    bucket = _v2_bucket(local_oss)
    assert bucket.put_object(KEY, b"signed with OSS2", headers={"x-oss-meta-a": "1"}).status == 200
    assert bucket.get_object(KEY, byte_range=(0, 5)).read() == b"signed"  # Range is an additional header
    assert bucket.get_object(KEY, params={"response-content-type": "x/y"}).headers["Content-Type"] == "x/y"
    assert [o.key for o in oss2.ObjectIterator(bucket, prefix="v2 sig/")] == [KEY]  # every query parameter signed
    upload_id = bucket.init_multipart_upload("v2-mp").upload_id
    etag = bucket.upload_part("v2-mp", upload_id, 1, b"part").etag
    bucket.complete_multipart_upload("v2-mp", upload_id, [oss2.models.PartInfo(1, etag)])
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        _v2_bucket(local_oss, "wrong-secret").get_object(KEY)


def test_oss2_v2_presigned_urls_and_additional_headers(local_oss: LocalOSS) -> None:
    bucket = _v2_bucket(local_oss)
    bucket.put_object(KEY, b"0123456789")
    url = bucket.sign_url("GET", KEY, 60)
    assert "x-oss-signature-version=OSS2" in url
    assert requests.get(url, timeout=30).content == b"0123456789"
    ranged = bucket.sign_url("GET", KEY, 60, headers={"Range": "bytes=2-4"}, additional_headers=["range"])
    assert requests.get(ranged, headers={"Range": "bytes=2-4"}, timeout=30).content == b"234"
    assert requests.get(ranged, timeout=30).status_code == 403  # the signed Range header is missing
    put = bucket.sign_url("PUT", "v2-presigned.txt", 60)
    assert requests.put(put, data=b"uploaded", timeout=30).status_code == 200
    assert bucket.get_object("v2-presigned.txt").read() == b"uploaded"
    tampered = url.replace("x-oss-expires=", "x-oss-expires=1")
    assert requests.get(tampered, timeout=30).status_code == 403


def test_oss2_v2_with_sts(local_oss: LocalOSS) -> None:
    key_id, secret, token = local_oss.issue_sts_token()
    sts = oss2.Bucket(oss2.StsAuth(key_id, secret, token, auth_version="v2"), local_oss.endpoint, local_oss.bucket)
    sts.put_object("sts-v2.txt", b"temporary")
    assert sts.get_object("sts-v2.txt").read() == b"temporary"
    assert requests.get(sts.sign_url("GET", "sts-v2.txt", 60), timeout=30).content == b"temporary"
    forged = oss2.Bucket(oss2.StsAuth(key_id, secret, token + "x", auth_version="v2"), local_oss.endpoint,
                         local_oss.bucket)
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        forged.get_object("sts-v2.txt")
    assert exc.value.code == "InvalidSecurityToken"


def test_v2_sdk_signatures_keep_working(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    # The v2 SDK signs V4 (default) or V1; both are verified, headers and presigned URLs alike.
    v2client.put_object(oss_v2.PutObjectRequest(bucket=local_oss.bucket, key=KEY, body=b"v2 sdk"))
    signed = v2client.presign(oss_v2.GetObjectRequest(bucket=local_oss.bucket, key=KEY))
    assert requests.get(signed.url, headers=signed.signed_headers, timeout=30).content == b"v2 sdk"


# --- 501 for what is not supported -----------------------------------------------------------------------------------


def test_oss2_unsupported_object_operations_answer_501_naming_them(bucket: oss2.Bucket) -> None:
    bucket.put_object("img.jpg", b"\xff\xd8\xff")
    calls = {
        "RestoreObject": lambda: bucket.restore_object("img.jpg"),
        "x-oss-process": lambda: bucket.process_object("img.jpg", "image/resize,w_10"),
        "versionId": lambda: bucket.get_object("img.jpg", params={"versionId": "CAEQ"}),
    }
    for name, call in calls.items():
        with pytest.raises(oss2.exceptions.ServerError) as exc:
            call()
        assert exc.value.status == 501 and exc.value.code == "NotImplemented", name
        assert name in exc.value.message and "local OSS" in exc.value.message


def test_v2_unsupported_operations_answer_501(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="k", body=b"x"))
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.restore_object(oss_v2.RestoreObjectRequest(bucket=b, key="k"))
    err = exc.value.unwrap()
    assert (err.status_code, err.code) == (501, "NotImplemented") and "RestoreObject" in err.message
    v2client.append_object(oss_v2.AppendObjectRequest(bucket=b, key="log", position=0, body=b"x"))
    calls = {
        "SealAppendObject": lambda: v2client.seal_append_object(
            oss_v2.SealAppendObjectRequest(bucket=b, key="log", position=1)
        ),
        "CleanRestoredObject": lambda: v2client.clean_restored_object(
            oss_v2.CleanRestoredObjectRequest(bucket=b, key="k")
        ),
        "DescribeRegions": lambda: v2client.describe_regions(oss_v2.DescribeRegionsRequest()),
        "bucket replication": lambda: v2client.get_bucket_replication(oss_v2.GetBucketReplicationRequest(bucket=b)),
    }
    for name, call in calls.items():
        with pytest.raises(oss_v2.exceptions.OperationError) as exc:
            call()
        err = exc.value.unwrap()
        assert (err.status_code, err.code) == (501, "NotImplemented") and name in err.message, name
