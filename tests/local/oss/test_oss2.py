"""The unmodified oss2 SDK against the local OSS: objects, listings, multipart, auth (V1, V4, STS, presign)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import oss2
import pytest
import requests

from osscallback.local.oss import LocalOSS
from tests.support.oss_clients import REGION

AWKWARD_KEYS = ["plain.txt", "dir/with space.txt", "a+b%20c.txt", "中文/文件.txt", "emoji-😀.bin", "q?x=1&y#z"]


def test_put_get_head_delete(bucket: oss2.Bucket) -> None:
    for key in AWKWARD_KEYS:
        data = os.urandom(1000) + key.encode()
        put = bucket.put_object(key, data, headers={"x-oss-meta-owner": "me", "Content-Type": "text/plain"})
        assert put.status == 200
        assert put.etag == hashlib.md5(data).hexdigest().upper()
        assert put.crc is not None and put.request_id
        got = bucket.get_object(key)
        assert got.read() == data  # oss2 also checked the CRC-64 of the download
        assert got.headers["x-oss-meta-owner"] == "me" and got.content_type == "text/plain"
        head = bucket.head_object(key)
        assert head.content_length == len(data) and head.etag == put.etag and head.object_type == "Normal"
        meta = bucket.get_object_meta(key)
        assert meta.content_length == len(data)
        assert bucket.object_exists(key)
    bucket.delete_object(AWKWARD_KEYS[0])
    assert not bucket.object_exists(AWKWARD_KEYS[0])
    with pytest.raises(oss2.exceptions.NoSuchKey) as exc:
        bucket.get_object(AWKWARD_KEYS[0])
    assert exc.value.status == 404 and exc.value.request_id
    with pytest.raises(oss2.exceptions.NotFound):
        bucket.head_object(AWKWARD_KEYS[0])
    bucket.delete_object("never-existed")  # 204 like OSS
    bucket.batch_delete_objects(AWKWARD_KEYS[1:3])
    assert not bucket.object_exists(AWKWARD_KEYS[1])


def test_ranged_get(bucket: oss2.Bucket) -> None:
    data = bytes(range(256)) * 40
    bucket.put_object("range.bin", data)
    r = bucket.get_object("range.bin", byte_range=(10, 19))
    assert r.status == 206 and r.read() == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert bucket.get_object("range.bin", byte_range=(len(data) - 5, None)).read() == data[-5:]
    assert bucket.get_object("range.bin", byte_range=(None, 7)).read() == data[-7:]
    # Out of range: OSS ignores the Range header and sends everything (unless x-oss-range-behavior: standard).
    whole = bucket.get_object("range.bin", byte_range=(len(data) + 10, len(data) + 20))
    assert whole.status == 200 and whole.read() == data
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.get_object("range.bin", byte_range=(len(data) + 10, None), headers={"x-oss-range-behavior": "standard"})
    assert exc.value.status == 416


def test_list_objects_v1_and_v2(bucket: oss2.Bucket) -> None:
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "中/文", "sp ace/x"]
    for k in keys:
        bucket.put_object(k, b"x")
    assert sorted(o.key for o in oss2.ObjectIterator(bucket, max_keys=2)) == sorted(keys)
    assert sorted(o.key for o in oss2.ObjectIteratorV2(bucket, max_keys=2)) == sorted(keys)
    top = bucket.list_objects(delimiter="/")
    assert [o.key for o in top.object_list] == ["c"]
    assert top.prefix_list == ["a/", "b/", "sp ace/", "中/"]
    inside = bucket.list_objects_v2(prefix="a/", delimiter="/")
    assert [o.key for o in inside.object_list] == ["a/1", "a/2"] and inside.prefix_list == ["a/b/"]
    paged = [o.key for o in oss2.ObjectIterator(bucket, delimiter="/", max_keys=1)]
    assert paged == ["a/", "b/", "c", "sp ace/", "中/"]
    first = bucket.list_objects_v2(max_keys=3)
    assert first.is_truncated and len(first.object_list) == 3
    rest = bucket.list_objects_v2(continuation_token=first.next_continuation_token, max_keys=100)
    assert [o.key for o in first.object_list + rest.object_list] == sorted(keys)
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.list_objects(max_keys=5000)
    assert exc.value.code == "InvalidArgument"


def test_multipart_three_parts(bucket: oss2.Bucket) -> None:
    size = 100 * 1024
    chunks = [os.urandom(size), os.urandom(size), os.urandom(size), b"tail"]
    upload_id = bucket.init_multipart_upload("mp/big.bin", headers={"Content-Type": "application/x-test"}).upload_id
    parts = []
    for n, chunk in enumerate(chunks, start=1):
        result = bucket.upload_part("mp/big.bin", upload_id, n, chunk)
        parts.append(oss2.models.PartInfo(n, result.etag, size=len(chunk), part_crc=result.crc))
    listed = bucket.list_parts("mp/big.bin", upload_id)
    assert [p.part_number for p in listed.parts] == [1, 2, 3, 4]
    assert [p.etag for p in listed.parts] == [p.etag for p in parts]
    done = bucket.complete_multipart_upload("mp/big.bin", upload_id, parts)  # oss2 checks the combined CRC-64
    md5s = b"".join(hashlib.md5(c).digest() for c in chunks)
    assert done.etag == hashlib.md5(md5s).hexdigest().upper() + "-4"
    got = bucket.get_object("mp/big.bin")
    assert got.read() == b"".join(chunks)
    assert got.content_type == "application/x-test" and got.object_type == "Multipart"
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("mp/big.bin", upload_id)


def test_multipart_abort_and_complete_all(bucket: oss2.Bucket) -> None:
    upload_id = bucket.init_multipart_upload("mp/aborted").upload_id
    bucket.upload_part("mp/aborted", upload_id, 1, b"x")
    bucket.abort_multipart_upload("mp/aborted", upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.upload_part("mp/aborted", upload_id, 2, b"y")
    upload_id = bucket.init_multipart_upload("mp/all").upload_id
    bucket.upload_part("mp/all", upload_id, 1, b"a" * (100 * 1024))
    bucket.upload_part("mp/all", upload_id, 2, b"b")
    bucket.complete_multipart_upload("mp/all", upload_id, None, headers={"x-oss-complete-all": "yes"})
    assert bucket.get_object("mp/all").read() == b"a" * (100 * 1024) + b"b"


def test_multipart_errors_are_osss(bucket: oss2.Bucket) -> None:
    key = "mp/errors"
    upload_id = bucket.init_multipart_upload(key).upload_id
    r1 = bucket.upload_part(key, upload_id, 1, b"1" * (100 * 1024))
    r2 = bucket.upload_part(key, upload_id, 2, b"2")
    p1, p2 = oss2.models.PartInfo(1, r1.etag), oss2.models.PartInfo(2, r2.etag)
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.complete_multipart_upload(key, upload_id, [p1, oss2.models.PartInfo(2, "0" * 32)])
    assert exc.value.code == "InvalidPart" and exc.value.details["PartNumber"] == "2"
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.complete_multipart_upload(key, upload_id, [p1, oss2.models.PartInfo(7, r2.etag)])
    assert exc.value.code == "InvalidPart"
    small = bucket.upload_part(key, upload_id, 3, b"tiny")
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.complete_multipart_upload(key, upload_id, [p1, p2, oss2.models.PartInfo(3, small.etag)])
    assert exc.value.code == "EntityTooSmall"
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.upload_part(key, upload_id, 10001, b"x")
    assert exc.value.code == "InvalidArgument"
    # Raw requests for what oss2 never sends: wrong order and broken XML.
    url = bucket.sign_url("POST", key, 60, params={"uploadId": upload_id})
    bad_order = (
        f'<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>"{r2.etag}"</ETag></Part>'
        f'<Part><PartNumber>1</PartNumber><ETag>"{r1.etag}"</ETag></Part></CompleteMultipartUpload>'
    )
    resp = requests.post(url, data=bad_order, timeout=10)
    assert resp.status_code == 400 and b"<Code>InvalidPartOrder</Code>" in resp.content
    resp = requests.post(url, data=b"<CompleteMultipartUpload><Part>", timeout=10)
    assert resp.status_code == 400 and b"<Code>MalformedXML</Code>" in resp.content
    # The upload survived all of that and still completes.
    bucket.complete_multipart_upload(key, upload_id, [p1, p2])
    assert bucket.get_object(key).read() == b"1" * (100 * 1024) + b"2"


def test_resumable_upload_above_threshold(bucket: oss2.Bucket, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(450 * 1024)
    path.write_bytes(data)
    result = oss2.resumable_upload(
        bucket,
        "resumable/big.bin",
        str(path),
        store=oss2.ResumableStore(root=str(tmp_path)),
        multipart_threshold=200 * 1024,
        part_size=100 * 1024,
        num_threads=2,
    )
    assert result.etag.endswith("-5")
    assert bucket.get_object("resumable/big.bin").read() == data
    down = tmp_path / "down.bin"
    oss2.resumable_download(
        bucket,
        "resumable/big.bin",
        str(down),
        store=oss2.ResumableDownloadStore(root=str(tmp_path)),
        multiget_threshold=100 * 1024,
        part_size=100 * 1024,
        num_threads=2,
    )
    assert down.read_bytes() == data


def test_chunked_body_of_unknown_size(bucket: oss2.Bucket) -> None:
    def gen() -> object:
        yield b"abc" * 1000
        yield b"def"

    bucket.put_object("chunked.txt", gen())
    assert bucket.get_object("chunked.txt").read() == b"abc" * 1000 + b"def"


def test_content_md5_is_checked(bucket: oss2.Bucket) -> None:
    data = b"payload"
    good = oss2.utils.content_md5(data)
    bucket.put_object("md5.txt", data, headers={"Content-MD5": good})
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.put_object("md5.txt", b"other payload", headers={"Content-MD5": good})
    assert exc.value.status == 400 and exc.value.code == "InvalidDigest"
    assert bucket.get_object("md5.txt").read() == data


def test_bad_input_gets_osss_errors(bucket: oss2.Bucket, local_oss: LocalOSS) -> None:
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.put_object("k" * 1024, b"x")
    assert exc.value.code == "InvalidObjectName"
    other = oss2.Bucket(bucket.auth, local_oss.endpoint, "no-such-bucket", region=REGION)
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        other.put_object("x", b"x")
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.upload_part("x", "0123456789ABCDEF0123456789ABCDEF", 1, b"x")


def test_wrong_secret_is_403(make_bucket: Callable[..., oss2.Bucket], auth_version: str) -> None:
    bad = make_bucket(auth_version, secret="not-the-secret")
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as exc:
        bad.put_object("x.txt", b"x")
    assert exc.value.status == 403
    assert exc.value.details.get("StringToSign")
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        bad.get_object("x.txt")


def test_unknown_access_key_and_anonymous(local_oss: LocalOSS) -> None:
    stranger = oss2.Bucket(oss2.AuthV4("LTAInobody", "secret"), local_oss.endpoint, local_oss.bucket, region=REGION)
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        stranger.put_object("x", b"x")
    assert exc.value.status == 403 and exc.value.code == "InvalidAccessKeyId"
    anonymous = oss2.Bucket(oss2.AnonymousAuth(), local_oss.endpoint, local_oss.bucket)
    with pytest.raises(oss2.exceptions.AccessDenied):
        anonymous.get_object("x")


def test_sts_credentials(local_oss: LocalOSS, auth_version: str) -> None:
    key_id, secret, token = local_oss.issue_sts_token()
    version = oss2.AUTH_VERSION_4 if auth_version == "v4" else oss2.AUTH_VERSION_1
    sts = oss2.Bucket(oss2.StsAuth(key_id, secret, token, version), local_oss.endpoint, local_oss.bucket, region=REGION)
    sts.put_object("sts.txt", b"temporary")
    assert sts.get_object("sts.txt").read() == b"temporary"
    url = sts.sign_url("GET", "sts.txt", 60)
    assert requests.get(url, timeout=10).content == b"temporary"
    forged = oss2.Bucket(
        oss2.StsAuth(key_id, secret, token + "x", version), local_oss.endpoint, local_oss.bucket, region=REGION
    )
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        forged.get_object("sts.txt")
    assert exc.value.status == 403 and exc.value.code == "InvalidSecurityToken"
    plain = oss2.AuthV4(key_id, secret) if auth_version == "v4" else oss2.Auth(key_id, secret)
    no_token = oss2.Bucket(plain, local_oss.endpoint, local_oss.bucket, region=REGION)
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        no_token.get_object("sts.txt")
    assert exc.value.status == 403
    k2, s2, t2 = local_oss.issue_sts_token(ttl_seconds=-1)
    expired = oss2.Bucket(oss2.StsAuth(k2, s2, t2, version), local_oss.endpoint, local_oss.bucket, region=REGION)
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        expired.get_object("sts.txt")
    assert exc.value.code == "SecurityTokenExpired"


def test_presigned_urls(bucket: oss2.Bucket) -> None:
    put_url = bucket.sign_url("PUT", "presigned/a b+中.txt", 60)
    resp = requests.put(put_url, data=b"via url", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-oss-hash-crc64ecma"] and resp.headers["ETag"].startswith('"')
    get_url = bucket.sign_url("GET", "presigned/a b+中.txt", 60)
    assert requests.get(get_url, timeout=10).content == b"via url"
    result = bucket.put_object_with_url(bucket.sign_url("PUT", "presigned/sdk.txt", 60), b"sdk")
    assert result.status == 200
    assert bucket.get_object_with_url(bucket.sign_url("GET", "presigned/sdk.txt", 60)).read() == b"sdk"
    tampered = get_url.replace("%2Fa%20b", "%2Fx%20b")
    assert tampered != get_url
    assert requests.get(tampered, timeout=10).status_code == 403


def test_expired_presigned_url_is_denied(bucket: oss2.Bucket) -> None:
    bucket.put_object("old.txt", b"x")
    url = bucket.sign_url("GET", "old.txt", -10) if bucket.auth.auth_version() == "v1" else None
    if url is None:  # V4 refuses a negative lifetime: forge an old x-oss-date instead
        url = bucket.sign_url("GET", "old.txt", 1)
        import time

        time.sleep(2.1)
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 403 and b"<Code>AccessDenied</Code>" in resp.content


def test_virtual_host_and_cname_addressing(local_oss: LocalOSS, tmp_path: Path) -> None:
    # oss2 uses <bucket>.<endpoint> for non-IP endpoints; route those through the local OSS as a proxy.
    proxies = {"http": local_oss.endpoint}
    vhost = oss2.Bucket(
        oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret),
        f"http://oss-local.test:{local_oss.port}",
        local_oss.bucket,
        proxies=proxies,
        region=REGION,
    )
    vhost.put_object("vhost.txt", b"virtual host")
    assert vhost.get_object("vhost.txt").read() == b"virtual host"
    assert [o.key for o in vhost.list_objects().object_list] == ["vhost.txt"]
    raw = requests.get(
        f"{local_oss.endpoint}/vhost.txt",
        headers={"Host": f"{local_oss.bucket}.127.0.0.1:{local_oss.port}"},
        timeout=10,
    )
    assert raw.status_code == 403  # routed to the bucket, refused for lack of a signature
    with LocalOSS(tmp_path / "cname", cnames={"files.example.test": "examplebucket"}) as cname_oss:
        cname = oss2.Bucket(
            oss2.AuthV4(cname_oss.access_key_id, cname_oss.access_key_secret),
            f"http://files.example.test:{cname_oss.port}",
            "examplebucket",
            is_cname=True,
            proxies={"http": cname_oss.endpoint},
            region=REGION,
        )
        cname.put_object("cname.txt", b"cname")
        assert cname.get_object("cname.txt").read() == b"cname"


def test_buckets_from_the_api(local_oss: LocalOSS) -> None:
    auth = oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret)
    fresh = oss2.Bucket(auth, local_oss.endpoint, "fresh-bucket", region=REGION)
    fresh.create_bucket()
    fresh.put_object("x", b"1")
    names = [b.name for b in oss2.BucketIterator(oss2.Service(auth, local_oss.endpoint, region=REGION))]
    assert names == ["examplebucket", "fresh-bucket"]
    with pytest.raises(oss2.exceptions.BucketNotEmpty):
        fresh.delete_bucket()
    fresh.delete_object("x")
    fresh.delete_bucket()
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        fresh.get_object("x")


def test_file_like_bodies_stream(bucket: oss2.Bucket) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    bucket.put_object("stream.bin", io.BytesIO(data))
    assert bucket.get_object("stream.bin").read() == data
