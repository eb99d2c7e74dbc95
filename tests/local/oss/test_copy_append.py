"""CopyObject (metadata and tagging directives, copy-source escaping and conditions), UploadPartCopy with a range,
and AppendObject — each driven with the unmodified oss2 SDK and the unmodified v2 SDK."""

from __future__ import annotations

import hashlib
import os

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest

from osscallback.local.oss import LocalOSS

AWKWARD = ["a b+c%20d.txt", "中文/目录 x.txt", "q?x=1&y#z", "emoji-😀/~tilde.bin"]


def _status(exc: pytest.ExceptionInfo[oss_v2.exceptions.OperationError]) -> tuple[int, str]:
    err = exc.value.unwrap()
    return int(getattr(err, "status_code", 0)), str(getattr(err, "code", ""))


# --- CopyObject ------------------------------------------------------------------------------------------------------


def test_oss2_copy_object_keeps_bytes_metadata_and_tags(bucket: oss2.Bucket) -> None:
    for key in AWKWARD:
        data = os.urandom(3000) + key.encode()
        headers = {"Content-Type": "text/x-src", "x-oss-meta-origin": "source", "x-oss-tagging": "a=1&b=two"}
        put = bucket.put_object(key, data, headers=headers)
        copied = bucket.copy_object(bucket.bucket_name, key, "copies/" + key)
        assert copied.status == 200 and copied.etag == put.etag
        got = bucket.get_object("copies/" + key)
        assert got.read() == data  # oss2 checked the CRC-64 too
        assert got.content_type == "text/x-src" and got.headers["x-oss-meta-origin"] == "source"
        assert bucket.get_object_tagging("copies/" + key).tag_set.tagging_rule == {"a": "1", "b": "two"}


def test_oss2_update_object_meta_is_a_copy_onto_itself(bucket: oss2.Bucket) -> None:
    bucket.put_object("meta.txt", b"same bytes", headers={"Content-Type": "text/plain", "x-oss-meta-old": "1"})
    before = bucket.head_object("meta.txt")
    bucket.update_object_meta("meta.txt", {"Content-Type": "application/json", "x-oss-meta-new": "2"})
    after = bucket.head_object("meta.txt")
    assert after.content_type == "application/json" and after.headers["x-oss-meta-new"] == "2"
    assert "x-oss-meta-old" not in after.headers  # REPLACE: the old user metadata is gone
    assert after.etag == before.etag and bucket.get_object("meta.txt").read() == b"same bytes"


def test_oss2_copy_source_conditions_and_directives(bucket: oss2.Bucket) -> None:
    put = bucket.put_object("cond.txt", b"v1", headers={"x-oss-tagging": "keep=yes"})
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.copy_object(bucket.bucket_name, "cond.txt", "c1", headers={"x-oss-copy-source-if-match": '"ABC"'})
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.copy_object(
            bucket.bucket_name, "cond.txt", "c1", headers={"x-oss-copy-source-if-none-match": f'"{put.etag}"'}
        )
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.copy_object(
            bucket.bucket_name,
            "cond.txt",
            "c1",
            headers={"x-oss-copy-source-if-unmodified-since": "Mon, 01 Jan 2001 00:00:00 GMT"},
        )
    assert not bucket.object_exists("c1")
    ok = bucket.copy_object(
        bucket.bucket_name,
        "cond.txt",
        "c1",
        headers={
            "x-oss-copy-source-if-match": f'"{put.etag}"',
            "x-oss-tagging-directive": "Replace",
            "x-oss-tagging": "new=tag",
            "x-oss-object-acl": "public-read",
        },
    )
    assert ok.status == 200
    assert bucket.get_object_tagging("c1").tag_set.tagging_rule == {"new": "tag"}
    assert bucket.get_object_acl("c1").acl == "public-read"
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.copy_object(bucket.bucket_name, "missing.txt", "c2")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        bucket.copy_object("no-such-bucket", "cond.txt", "c2")
    with pytest.raises(oss2.exceptions.InvalidArgument):
        bucket.copy_object(bucket.bucket_name, "cond.txt", "c2", headers={"x-oss-metadata-directive": "MERGE"})
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.copy_object(bucket.bucket_name, "cond.txt", "c1", headers={"x-oss-forbid-overwrite": "true"})
    assert exc.value.status == 409 and exc.value.code == "FileAlreadyExists"


def test_oss2_upload_part_copy_with_ranges(bucket: oss2.Bucket) -> None:
    data = os.urandom(300 * 1024)
    bucket.put_object("big-src.bin", data)
    upload_id = bucket.init_multipart_upload("assembled.bin").upload_id
    cut = 200 * 1024
    r1 = bucket.upload_part_copy(bucket.bucket_name, "big-src.bin", (0, cut - 1), "assembled.bin", upload_id, 1)
    r2 = bucket.upload_part_copy(bucket.bucket_name, "big-src.bin", (cut, None), "assembled.bin", upload_id, 2)
    parts = bucket.list_parts("assembled.bin", upload_id).parts
    assert [(p.part_number, p.size) for p in parts] == [(1, cut), (2, len(data) - cut)]
    assert parts[0].etag == r1.etag == hashlib.md5(data[:cut]).hexdigest().upper()
    bucket.complete_multipart_upload(
        "assembled.bin", upload_id, [oss2.models.PartInfo(1, r1.etag), oss2.models.PartInfo(2, r2.etag)]
    )
    assert bucket.get_object("assembled.bin").read() == data


def test_v2_copy_object(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    for key in AWKWARD:
        data = os.urandom(1000) + key.encode()
        put = v2client.put_object(
            oss_v2.PutObjectRequest(bucket=b, key=key, body=data, metadata={"origin": "v2"}, tagging="t=1")
        )
        result = v2client.copy_object(oss_v2.CopyObjectRequest(bucket=b, key="v2copy/" + key, source_key=key))
        assert result.etag == put.etag and result.hash_crc64 == put.hash_crc64
        got = v2client.get_object(oss_v2.GetObjectRequest(bucket=b, key="v2copy/" + key))
        assert got.body.read() == data and got.metadata == {"origin": "v2"}
    # Metadata REPLACE onto itself, tagging Replace, source conditions.
    key = AWKWARD[0]
    v2client.copy_object(
        oss_v2.CopyObjectRequest(
            bucket=b,
            key=key,
            source_key=key,
            metadata_directive="REPLACE",
            metadata={"fresh": "yes"},
            content_type="text/csv",
            tagging_directive="Replace",
            tagging="x=y",
        )
    )
    head = v2client.head_object(oss_v2.HeadObjectRequest(bucket=b, key=key))
    assert head.content_type == "text/csv" and head.metadata == {"fresh": "yes"} and head.tagging_count == 1
    tags = v2client.get_object_tagging(oss_v2.GetObjectTaggingRequest(bucket=b, key=key)).tag_set.tags
    assert [(t.key, t.value) for t in tags] == [("x", "y")]
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.copy_object(oss_v2.CopyObjectRequest(bucket=b, key="c", source_key=key, if_match='"0000"'))
    assert _status(exc) == (412, "PreconditionFailed")
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.copy_object(oss_v2.CopyObjectRequest(bucket=b, key="c", source_key=key, if_none_match=head.etag))
    assert _status(exc)[0] == 304


def test_v2_upload_part_copy_with_range(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    data = os.urandom(250 * 1024)
    v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="src.bin", body=data))
    init = v2client.initiate_multipart_upload(oss_v2.InitiateMultipartUploadRequest(bucket=b, key="dst.bin"))
    cut = 150 * 1024
    etags = []
    for number, rng in ((1, f"bytes=0-{cut - 1}"), (2, f"bytes={cut}-")):
        r = v2client.upload_part_copy(
            oss_v2.UploadPartCopyRequest(
                bucket=b, key="dst.bin", upload_id=init.upload_id, part_number=number, source_key="src.bin",
                source_range=rng,
            )
        )
        etags.append(r.etag)
    v2client.complete_multipart_upload(
        oss_v2.CompleteMultipartUploadRequest(
            bucket=b,
            key="dst.bin",
            upload_id=init.upload_id,
            complete_multipart_upload=oss_v2.CompleteMultipartUpload(
                parts=[oss_v2.UploadPart(part_number=n + 1, etag=e) for n, e in enumerate(etags)]
            ),
        )
    )
    assert v2client.get_object(oss_v2.GetObjectRequest(bucket=b, key="dst.bin")).body.read() == data


# --- AppendObject ----------------------------------------------------------------------------------------------------


def test_oss2_append_object(bucket: oss2.Bucket) -> None:
    chunks = [b"first line\n", os.urandom(5000), b"last"]
    position = 0
    crc = None
    for chunk in chunks:
        # init_crc makes oss2 check the server's accumulated CRC-64 against its own running one.
        result = bucket.append_object("app.log", position, chunk, init_crc=crc,
                                      headers={"Content-Type": "text/plain", "x-oss-tagging": "kind=log"})
        assert result.next_position == position + len(chunk)
        position, crc = result.next_position, result.crc
    got = bucket.get_object("app.log")
    assert got.read() == b"".join(chunks) and got.headers["x-oss-object-type"] == "Appendable"
    assert got.content_type == "text/plain"
    assert bucket.head_object("app.log").headers["x-oss-next-append-position"] == str(position)
    assert bucket.get_object_tagging("app.log").tag_set.tagging_rule == {"kind": "log"}
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as exc:
        bucket.append_object("app.log", 3, b"wrong place")
    assert exc.value.next_position == position
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as exc:
        bucket.append_object("new.log", 10, b"x")
    assert exc.value.next_position == 0
    bucket.put_object("normal.txt", b"not appendable")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        bucket.append_object("normal.txt", len(b"not appendable"), b"more")
    assert bucket.get_object("app.log").read() == b"".join(chunks)  # refused appends changed nothing


def test_v2_append_object(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    first = v2client.append_object(oss_v2.AppendObjectRequest(bucket=b, key="v2.log", position=0, body=b"abc"))
    assert first.next_position == 3
    second = v2client.append_object(
        oss_v2.AppendObjectRequest(bucket=b, key="v2.log", position=3, body=b"defg", init_hash_crc64=first.hash_crc64)
    )
    assert second.next_position == 7
    assert v2client.get_object(oss_v2.GetObjectRequest(bucket=b, key="v2.log")).body.read() == b"abcdefg"
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.append_object(oss_v2.AppendObjectRequest(bucket=b, key="v2.log", position=1, body=b"x"))
    assert _status(exc) == (409, "PositionNotEqualToLength")
    assert exc.value.unwrap().headers.get("x-oss-next-append-position") == "7"
    v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="plain", body=b"x"))
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.append_object(oss_v2.AppendObjectRequest(bucket=b, key="plain", position=1, body=b"y"))
    assert _status(exc) == (409, "ObjectNotAppendable")
