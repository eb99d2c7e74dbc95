"""DeleteMultipleObjects (encoding-type=url, quiet, non-ASCII keys), ListMultipartUploads and ListParts order and
paging — with oss2 and the v2 SDK."""

from __future__ import annotations

import time

import alibabacloud_oss_v2 as oss_v2
import oss2

from osscallback.local.oss import LocalOSS

KEYS = ["中文/文件.txt", "a&b<c>\"'.txt", "sp ace/x", "tab\tkey", "emoji-😀", "plus+percent%25"]


def test_oss2_batch_delete_non_ascii_and_xml_unsafe_keys(bucket: oss2.Bucket) -> None:
    for key in [*KEYS, "keep.txt"]:
        bucket.put_object(key, b"x")
    result = bucket.batch_delete_objects(KEYS)  # oss2 asks for encoding-type=url: keys come back URL-encoded
    assert sorted(result.deleted_keys) == sorted(KEYS)
    assert [o.key for o in oss2.ObjectIterator(bucket)] == ["keep.txt"]
    # Keys that do not exist are reported deleted too, as OSS does.
    assert bucket.batch_delete_objects(["never-was"]).deleted_keys == ["never-was"]


def test_v2_delete_multiple_objects(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    for key in KEYS:
        v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key=key, body=b"x"))
    result = v2client.delete_multiple_objects(
        oss_v2.DeleteMultipleObjectsRequest(
            bucket=b, objects=[oss_v2.DeleteObject(key=k) for k in KEYS], encoding_type="url"
        )
    )
    assert sorted(d.key for d in result.deleted_objects) == sorted(KEYS)
    v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key=KEYS[0], body=b"x"))
    quiet = v2client.delete_multiple_objects(
        oss_v2.DeleteMultipleObjectsRequest(bucket=b, objects=[oss_v2.DeleteObject(key=KEYS[0])], quiet=True)
    )
    assert not quiet.deleted_objects
    listed = v2client.list_objects_v2(oss_v2.ListObjectsV2Request(bucket=b))
    assert not listed.contents


def _start_uploads(bucket: oss2.Bucket) -> list[tuple[str, str]]:
    """Uploads for keys given out of order, two for the same key; (key, upload_id) in OSS's listing order."""
    made = []
    for key in ["b/2", "a/1", "b/2", "c", "中/文"]:
        made.append((key, bucket.init_multipart_upload(key).upload_id))
        time.sleep(0.01)  # distinct initiation times
    return sorted(made, key=lambda kv: (kv[0], made.index(kv)))


def test_oss2_list_multipart_uploads_order_and_paging(bucket: oss2.Bucket) -> None:
    expected = _start_uploads(bucket)
    listed = [(u.key, u.upload_id) for u in oss2.MultipartUploadIterator(bucket, max_uploads=1)]
    assert listed == expected
    assert [(u.key, u.upload_id) for u in oss2.MultipartUploadIterator(bucket, max_uploads=2)] == expected
    first = bucket.list_multipart_uploads(max_uploads=2)
    assert first.is_truncated and [(u.key, u.upload_id) for u in first.upload_list] == expected[:2]
    assert (first.next_key_marker, first.next_upload_id_marker) == expected[1]
    rest = bucket.list_multipart_uploads(key_marker=first.next_key_marker, upload_id_marker=first.next_upload_id_marker)
    assert [(u.key, u.upload_id) for u in rest.upload_list] == expected[2:] and not rest.is_truncated
    after_b = bucket.list_multipart_uploads(key_marker="b/2")  # no upload-id-marker: keys after b/2
    assert [u.key for u in after_b.upload_list] == ["c", "中/文"]
    rolled = bucket.list_multipart_uploads(delimiter="/")
    assert [u.key for u in rolled.upload_list] == ["c"] and rolled.prefix_list == ["a/", "b/", "中/"]
    assert [u.key for u in bucket.list_multipart_uploads(prefix="b/").upload_list] == ["b/2", "b/2"]


def test_oss2_list_parts_order_and_paging(bucket: oss2.Bucket) -> None:
    upload_id = bucket.init_multipart_upload("parts.bin").upload_id
    for number in (3, 1, 10, 2):
        bucket.upload_part("parts.bin", upload_id, number, b"x" * number)
    assert [p.part_number for p in oss2.PartIterator(bucket, "parts.bin", upload_id, max_parts=1)] == [1, 2, 3, 10]
    page = bucket.list_parts("parts.bin", upload_id, max_parts=2)
    assert [p.part_number for p in page.parts] == [1, 2] and page.is_truncated and page.next_marker == "2"
    rest = bucket.list_parts("parts.bin", upload_id, marker=page.next_marker)
    assert [(p.part_number, p.size) for p in rest.parts] == [(3, 3), (10, 10)] and not rest.is_truncated


def test_v2_list_multipart_uploads_and_parts_paging(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    made = []
    for key in ["z", "m", "z"]:
        made.append(
            (key, v2client.initiate_multipart_upload(oss_v2.InitiateMultipartUploadRequest(bucket=b, key=key)).upload_id)
        )
        time.sleep(0.01)
    expected = sorted(made, key=lambda kv: (kv[0], made.index(kv)))
    paginator = v2client.list_multipart_uploads_paginator(limit=1)
    listed = [(u.key, u.upload_id) for page in paginator.iter_page(oss_v2.ListMultipartUploadsRequest(bucket=b))
              for u in page.uploads or []]
    assert listed == expected
    key, upload_id = expected[0]
    for number in (2, 1, 3):
        v2client.upload_part(
            oss_v2.UploadPartRequest(bucket=b, key=key, upload_id=upload_id, part_number=number, body=b"p" * number)
        )
    parts = v2client.list_parts_paginator(limit=2)
    numbers = [p.part_number for page in parts.iter_page(oss_v2.ListPartsRequest(bucket=b, key=key, upload_id=upload_id))
               for p in page.parts or []]
    assert numbers == [1, 2, 3]
