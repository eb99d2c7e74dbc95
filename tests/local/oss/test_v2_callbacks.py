"""Upload callbacks driven by the v2 SDK (``alibabacloud_oss_v2``): its ``callback`` and ``callback_var`` fields on
PutObject and CompleteMultipartUpload reach the receiver signed like OSS, and the answer comes back as the SDK's
``callback_result`` (the answer's JSON text); a failing callback is a 203 the SDK hands back as a result (2xx),
whose ``callback_result`` is OSS's ``CallbackFailed`` document, with the object stored."""

from __future__ import annotations

import json

import alibabacloud_oss_v2 as oss_v2

from osscallback.local.oss import LocalOSS
from tests.support.oss import CallbackSpec, Receiver, b64json


def test_v2_put_object_with_callback_and_callback_var(
    local_oss: LocalOSS, v2client: oss_v2.Client, receiver: Receiver
) -> None:
    spec = CallbackSpec(
        receiver.url,
        body='{"object":${object},"size":${size},"req":${reqId},"who":${x:who},"op":${operation}}',
        body_type="application/json",
        variables={"x:who": "v2 sdk 用户"},
    )
    result = v2client.put_object(
        oss_v2.PutObjectRequest(
            bucket=local_oss.bucket,
            key="v2/callback.txt",
            body=b"v2 callback body",
            callback=b64json(spec.document()),
            callback_var=b64json(spec.variables),
        )
    )
    assert result.status_code == 200
    assert result.callback_result is not None and json.loads(result.callback_result)["verified"] is True
    got = receiver.last
    assert got.verified and got.json == {
        "object": "v2/callback.txt",
        "size": "16",
        "req": result.request_id,
        "who": "v2 sdk 用户",
        "op": "PutObject",
    }


def test_v2_complete_multipart_upload_with_callback(
    local_oss: LocalOSS, v2client: oss_v2.Client, receiver: Receiver
) -> None:
    b, key = local_oss.bucket, "v2/multipart-callback.bin"
    spec = CallbackSpec(receiver.url, body="object=${object}&etag=${etag}&v=${x:v}", variables={"x:v": "mp"})
    init = v2client.initiate_multipart_upload(oss_v2.InitiateMultipartUploadRequest(bucket=b, key=key))
    parts = []
    for number, data in ((1, b"a" * (100 * 1024)), (2, b"tail")):
        up = v2client.upload_part(
            oss_v2.UploadPartRequest(bucket=b, key=key, upload_id=init.upload_id, part_number=number, body=data)
        )
        parts.append(oss_v2.UploadPart(part_number=number, etag=up.etag))
    done = v2client.complete_multipart_upload(
        oss_v2.CompleteMultipartUploadRequest(
            bucket=b,
            key=key,
            upload_id=init.upload_id,
            complete_multipart_upload=oss_v2.CompleteMultipartUpload(parts=parts),
            callback=b64json(spec.document()),
            callback_var=b64json(spec.variables),
        )
    )
    assert done.callback_result is not None and json.loads(done.callback_result)["verified"] is True
    form = receiver.last.form
    assert form["object"] == key and form["v"] == "mp" and form["etag"].endswith("-2")
    head = v2client.head_object(oss_v2.HeadObjectRequest(bucket=b, key=key))
    assert head.content_length == 100 * 1024 + 4 and f'"{form["etag"]}"' == head.etag


def test_v2_failed_callback_is_203_and_keeps_the_object(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    from tests.support.oss import free_port

    spec = CallbackSpec(f"http://127.0.0.1:{free_port()}/nobody-listens")
    result = v2client.put_object(
        oss_v2.PutObjectRequest(
            bucket=local_oss.bucket, key="v2/kept.txt", body=b"kept", callback=b64json(spec.document())
        )
    )
    assert result.status_code == 203
    assert "<Code>CallbackFailed</Code>" in (result.callback_result or "")
    got = v2client.get_object(oss_v2.GetObjectRequest(bucket=local_oss.bucket, key="v2/kept.txt"))
    assert got.body.read() == b"kept"
