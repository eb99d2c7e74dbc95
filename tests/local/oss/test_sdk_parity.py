"""Everyday differences from OSS (issue 21, points 2-5), each with oss2 and the v2 SDK against the local OSS over HTTP:
Unicode tag keys and values on put, copy, multipart and append; DeleteMultipleObjects with a control character in a
key; ListMultipartUploads ordered by key then upload ID, paged as on OSS; a GET/HEAD that announces a body it never
sends is answered at once."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
import requests

from osscallback.local.oss import LocalOSS

# --- 2. object tags: Unicode letters ---------------------------------------------------------------------------------
# OSS's rules: letters, digits, spaces and + - = . _ : / (object-tagging reference; EC 0010-00000217). "Letters"
# include Chinese: oss2's own integration tests, run against OSS, store ' +/ '='中文' and '中文'='test++/' through a
# copy's x-oss-tagging (aliyun/aliyun-oss-python-sdk tests/test_object.py test_copy_object_with_tagging) and
# ' + '='中文' through a multipart upload (tests/test_multipart.py test_multipart_with_object_tagging); '%@abc' as a key
# and '%abc' as a value are refused (tests/test_object.py test_object_tagging_wrong_key / _wrong_value).

CHINESE = {" +/ ": "中文", "中文": "test++/", "标签": "值 1"}
HEADER = "&".join(f"{quote(k)}={quote(v)}" for k, v in CHINESE.items())


def test_oss2_unicode_tags_on_put_copy_multipart_append_and_put_tagging(bucket: oss2.Bucket) -> None:
    bucket.put_object("put", b"x", headers={"x-oss-tagging": HEADER})
    bucket.copy_object(
        bucket.bucket_name, "put", "copy", headers={"x-oss-tagging": HEADER, "x-oss-tagging-directive": "Replace"}
    )
    upload_id = bucket.init_multipart_upload("multipart", headers={"x-oss-tagging": HEADER}).upload_id
    etag = bucket.upload_part("multipart", upload_id, 1, b"part").etag
    bucket.complete_multipart_upload("multipart", upload_id, [oss2.models.PartInfo(1, etag)])
    bucket.append_object("append", 0, b"a", headers={"x-oss-tagging": HEADER})
    # Tags on a later append are ignored, as OSS ignores them (tests/test_object.py
    # test_append_object_with_tagging_wrong_num: 15 tags on the second append change nothing).
    bucket.append_object("append", 1, b"b", headers={"x-oss-tagging": "&".join(f"k{n}=v" for n in range(15))})
    for key in ("put", "copy", "multipart", "append"):
        assert bucket.get_object_tagging(key).tag_set.tagging_rule == CHINESE, key
    rule = oss2.models.TaggingRule()
    rule.add("项目", "阿尔法")
    bucket.put_object_tagging("put", oss2.models.Tagging(rule))
    assert bucket.get_object_tagging("put").tag_set.tagging_rule == {"项目": "阿尔法"}


@pytest.mark.parametrize("header", ["%25%40abc=v", "k=%25abc", "k=a%2Cb", "k=%F0%9F%98%80"])
def test_oss2_tags_outside_letters_digits_and_the_allowed_punctuation_are_refused(
    bucket: oss2.Bucket, header: str
) -> None:
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.put_object("bad", b"x", headers={"x-oss-tagging": header})
    assert (exc.value.status, exc.value.code, exc.value.ec) == (400, "InvalidTag", "0010-00000217")


def _v2_tags(client: oss_v2.Client, bucket: str, key: str) -> dict[str, str]:
    tags = client.get_object_tagging(oss_v2.GetObjectTaggingRequest(bucket=bucket, key=key)).tag_set.tags
    return {t.key: t.value or "" for t in tags or []}


def test_v2_unicode_tags_on_put_copy_multipart_append_and_put_tagging(
    local_oss: LocalOSS, v2client: oss_v2.Client
) -> None:
    b = local_oss.bucket
    v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="put", body=b"x", tagging=HEADER))
    v2client.copy_object(
        oss_v2.CopyObjectRequest(
            bucket=b, key="copy", source_key="put", tagging=HEADER, tagging_directive="Replace"
        )
    )
    init = v2client.initiate_multipart_upload(
        oss_v2.InitiateMultipartUploadRequest(bucket=b, key="multipart", tagging=HEADER)
    )
    part = v2client.upload_part(
        oss_v2.UploadPartRequest(bucket=b, key="multipart", upload_id=init.upload_id, part_number=1, body=b"p")
    )
    v2client.complete_multipart_upload(
        oss_v2.CompleteMultipartUploadRequest(
            bucket=b,
            key="multipart",
            upload_id=init.upload_id,
            complete_multipart_upload=oss_v2.CompleteMultipartUpload(
                parts=[oss_v2.UploadPart(part_number=1, etag=part.etag)]
            ),
        )
    )
    v2client.append_object(oss_v2.AppendObjectRequest(bucket=b, key="append", position=0, body=b"a", tagging=HEADER))
    for key in ("put", "copy", "multipart", "append"):
        assert _v2_tags(v2client, b, key) == CHINESE, key
    tags = [oss_v2.Tag(key=k, value=v) for k, v in CHINESE.items()]
    v2client.put_object_tagging(
        oss_v2.PutObjectTaggingRequest(bucket=b, key="put", tagging=oss_v2.Tagging(tag_set=oss_v2.TagSet(tags=tags)))
    )
    assert _v2_tags(v2client, b, "put") == CHINESE


# --- 3. DeleteMultipleObjects with a control character in a key -----------------------------------------------------
# oss2 writes the key raw into the XML (xml_utils.to_batch_delete_objects_request), which XML 1.0 forbids; the v2 SDK
# writes "&#12;" (utils.escape_xml_value), which XML 1.0 forbids too. OSS deletes the key either way (issue 21).

CONTROL_KEYS = ["form\x0cfeed", "bell\x07/x", "plain.txt"]


def test_oss2_batch_delete_objects_with_control_characters(bucket: oss2.Bucket) -> None:
    for key in [*CONTROL_KEYS, "keep"]:
        bucket.put_object(key, b"x")
    assert sorted(bucket.batch_delete_objects(CONTROL_KEYS).deleted_keys) == sorted(CONTROL_KEYS)
    assert [o.key for o in oss2.ObjectIterator(bucket)] == ["keep"]


def test_v2_delete_multiple_objects_with_control_characters(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    for key in CONTROL_KEYS:
        v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key=key, body=b"x"))
    result = v2client.delete_multiple_objects(
        oss_v2.DeleteMultipleObjectsRequest(
            bucket=b, objects=[oss_v2.DeleteObject(key=k) for k in CONTROL_KEYS], encoding_type="url"
        )
    )
    assert sorted(d.key for d in result.deleted_objects) == sorted(CONTROL_KEYS)
    assert not v2client.list_objects_v2(oss_v2.ListObjectsV2Request(bucket=b)).contents


@pytest.mark.parametrize("body", [b"<Delete><Object><Key>a\x0c", b"<Delete><Object><Key>a&#12;</Key></Object>"])
def test_request_xml_broken_otherwise_is_still_malformed(local_oss: LocalOSS, v2client: oss_v2.Client, body: bytes) -> None:
    op = oss_v2.OperationInput(
        op_name="DeleteMultipleObjects",
        method="POST",
        bucket=local_oss.bucket,
        parameters={"delete": ""},
        headers={"Content-Type": "application/xml"},
        body=body,
    )
    with pytest.raises(oss_v2.exceptions.OperationError) as exc:
        v2client.invoke_operation(op)
    err = exc.value.unwrap()
    assert (err.status_code, err.code) == (400, "MalformedXML")


# --- 4. ListMultipartUploads: key, then upload ID --------------------------------------------------------------------
# "key-marker ... Object名称等于key-marker参数值，但是UploadId比upload-id-marker参数值大的Multipart Upload事件" — OSS pages
# one key's uploads by upload ID (https://help.aliyun.com/document_detail/31997.html), so it lists them in that order.


def _uploads(start: Callable[[str], str]) -> list[tuple[str, str]]:
    made = [(key, start(key)) for key in ["same", "other", "same", "same", "a"]]
    return sorted(made)


def test_oss2_multipart_upload_iterator_orders_one_keys_uploads_by_upload_id(bucket: oss2.Bucket) -> None:
    expected = _uploads(lambda key: bucket.init_multipart_upload(key).upload_id)
    for page_size in (1, 2, 1000):
        listed = [(u.key, u.upload_id) for u in oss2.MultipartUploadIterator(bucket, max_uploads=page_size)]
        assert listed == expected, page_size
    same = [upload_id for key, upload_id in expected if key == "same"]
    after = bucket.list_multipart_uploads(key_marker="same", upload_id_marker=same[0])
    assert [u.upload_id for u in after.upload_list] == same[1:] and not after.is_truncated
    # An upload-id-marker that names no upload still continues with the key's greater upload IDs.
    between = same[1][:16] + "0" * 16  # the second upload's time stamp, the least random part
    assert same[0] < between < same[1]
    tail = bucket.list_multipart_uploads(key_marker="same", upload_id_marker=between)
    assert [u.upload_id for u in tail.upload_list] == same[1:]
    # upload-id-marker without key-marker is ignored.
    assert [(u.key, u.upload_id) for u in bucket.list_multipart_uploads(upload_id_marker=same[1]).upload_list] == (
        expected
    )


def test_v2_paginator_orders_one_keys_uploads_by_upload_id(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket

    def start(key: str) -> str:
        request = oss_v2.InitiateMultipartUploadRequest(bucket=b, key=key)
        return str(v2client.initiate_multipart_upload(request).upload_id)

    expected = _uploads(start)
    for limit in (1, 3):
        pages = v2client.list_multipart_uploads_paginator(limit=limit).iter_page(
            oss_v2.ListMultipartUploadsRequest(bucket=b)
        )
        assert [(u.key, u.upload_id) for page in pages for u in page.uploads or []] == expected, limit


# --- 5. a GET or HEAD that announces a body it never sends ----------------------------------------------------------
# oss2 sends Content-Length with a presigned GET when that header is among the URL's signed headers. The client's
# read timeout (10 s) is far below the local OSS's idle timeout (120 s): a server that waited for the body fails here.


@pytest.mark.parametrize("auth_class", [pytest.param(oss2.AuthV2, marks=pytest.mark.old_bucket), oss2.AuthV4])
def test_oss2_presigned_get_signing_content_length_is_answered_at_once(
    local_oss: LocalOSS, auth_class: type[oss2.AuthV2] | type[oss2.AuthV4]
) -> None:
    auth = auth_class(local_oss.access_key_id, local_oss.access_key_secret)
    bucket = oss2.Bucket(auth, local_oss.endpoint, local_oss.bucket, region="cn-hangzhou", connect_timeout=10)
    bucket.put_object("presigned", b"hello")
    url = bucket.sign_url(
        "GET", "presigned", 60, headers={"Content-Length": "5"}, additional_headers=["Content-Length"]
    )
    for _ in range(2):  # the second request gets a fresh connection: the first one's end was unknown
        assert bucket.get_object_with_url(url, headers={"Content-Length": "5"}).read() == b"hello"
    head_url = bucket.sign_url(
        "HEAD", "presigned", 60, headers={"Content-Length": "5"}, additional_headers=["Content-Length"]
    )
    head = requests.head(head_url, headers={"Content-Length": "5"}, timeout=10)
    assert head.status_code == 200 and head.headers["Content-Length"] == "5"


def test_v2_presigned_url_with_an_announced_body_is_answered_at_once(
    local_oss: LocalOSS, v2client: oss_v2.Client
) -> None:
    v2client.put_object(oss_v2.PutObjectRequest(bucket=local_oss.bucket, key="presigned", body=b"hello"))
    signed = v2client.presign(oss_v2.GetObjectRequest(bucket=local_oss.bucket, key="presigned"))
    headers = {**signed.signed_headers, "Content-Length": "7"}
    assert requests.get(signed.url, headers=headers, timeout=10).content == b"hello"
    head = v2client.presign(oss_v2.HeadObjectRequest(bucket=local_oss.bucket, key="presigned"))
    answer = requests.head(head.url, headers={**head.signed_headers, "Content-Length": "3"}, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Length"] == "5"
