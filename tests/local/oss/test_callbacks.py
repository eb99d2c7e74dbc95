"""Upload callbacks from the local OSS into a real receiver that verifies every signature on its own."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import oss2
import pytest
import requests

from osscallback.local.oss import LocalOSS
from osscallback.local.oss.callbacks import CALLBACK_TIMEOUT, MAX_ANSWER_BYTES
from tests.support.oss import CallbackSpec, Receiver, b64json, free_port
from tests.support.oss_clients import post_fields_v1, post_fields_v4, post_form, post_policy

AWKWARD = {
    "x:space": "a value with spaces",
    "x:plus": "1+1=2",
    "x:percent": "100% & more=yes",
    "x:cjk": "中文字符",
    "x:emoji": "😀🎉",
}


def _failed(result: oss2.models.RequestResult) -> ET.Element:
    assert result.status == 203
    root = ET.fromstring(result.resp.read())
    assert root.findtext("Code") == "CallbackFailed"
    assert root.findtext("RequestId") == result.request_id
    return root


def test_seed_flow_form_body(bucket: oss2.Bucket, receiver: Receiver, local_oss: LocalOSS) -> None:
    """The seed document's example, headers fixed as SPEC §1 notes, against the local OSS."""
    callback_params = {
        "callbackUrl": receiver.url,
        "callbackBody": "bucket=${bucket}&object=${object}&my_var1=${x:my_var1}&my_var2=${x:my_var2}",
        "callbackBodyType": "application/x-www-form-urlencoded",
    }
    headers = {
        "x-oss-callback": b64json(callback_params),
        "x-oss-callback-var": b64json({"x:my_var1": "my_val1", "x:my_var2": "my_val2"}),
    }
    result = bucket.put_object("exampleobject.txt", "a" * 1024 * 1024, headers)
    assert result.status == 200
    answer = json.loads(result.resp.read())
    assert answer["verified"] is True
    got = receiver.last
    assert got.verified
    assert got.key_url == local_oss.public_key_url
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    assert got.form == {
        "bucket": "examplebucket",
        "object": "exampleobject.txt",
        "my_var1": "my_val1",
        "my_var2": "my_val2",
    }
    assert bucket.get_object("exampleobject.txt").read() == b"a" * 1024 * 1024


def test_all_system_variables_json_body(bucket_v4: oss2.Bucket, receiver: Receiver) -> None:
    names = [
        "bucket",
        "object",
        "etag",
        "size",
        "mimeType",
        "imageInfo.height",
        "imageInfo.width",
        "imageInfo.format",
        "crc64",
        "contentMd5",
        "vpcId",
        "clientIp",
        "reqId",
        "operation",
    ]
    body = "{" + ",".join(f'"{n}":${{{n}}}' for n in names) + "}"
    spec = CallbackSpec(receiver.url, body=body, body_type="application/json")
    data = b"json body please"
    result = bucket_v4.put_object("dir/file.json", data, headers=spec.headers())
    assert result.status == 200
    got = receiver.last
    assert got.verified and got.headers["content-type"] == "application/json"
    doc = got.json
    assert doc["bucket"] == "examplebucket" and doc["object"] == "dir/file.json"
    assert doc["etag"] == hashlib.md5(data).hexdigest().upper() == result.etag
    assert doc["size"] == str(len(data)) and doc["mimeType"] == "application/json"
    assert doc["crc64"] == str(result.crc)
    assert doc["contentMd5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert doc["clientIp"] == "127.0.0.1" and doc["reqId"] == result.request_id
    assert doc["operation"] == "PutObject"
    assert doc["imageInfo.height"] == doc["imageInfo.width"] == doc["imageInfo.format"] == doc["vpcId"] == ""


def test_custom_variables_with_awkward_values(bucket: oss2.Bucket, receiver: Receiver) -> None:
    keys = list(AWKWARD)
    form = "&".join(f"{k[2:]}=${{{k}}}" for k in keys) + "&object=${object}"
    key = "awkward key +%/中文 😀.txt"
    result = bucket.put_object(key, b"x", headers=CallbackSpec(receiver.url, body=form, variables=AWKWARD).headers())
    assert result.status == 200
    got = receiver.last
    assert got.verified
    assert got.form == {**{k[2:]: v for k, v in AWKWARD.items()}, "object": key}
    body = "{" + ",".join(f'"{k[2:]}":${{{k}}}' for k in keys) + ',"object":${object},"missing":${x:missing}}'
    spec = CallbackSpec(receiver.url, body=body, body_type="application/json", variables=AWKWARD)
    assert bucket.put_object(key, b"y", headers=spec.headers()).status == 200
    assert receiver.last.verified
    assert receiver.last.json == {**{k[2:]: v for k, v in AWKWARD.items()}, "object": key, "missing": ""}


def test_image_info(bucket_v4: oss2.Bucket, receiver: Receiver) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (37, 21), (200, 10, 10)).save(buf, format="PNG")
    body = "h=${imageInfo.height}&w=${imageInfo.width}&f=${imageInfo.format}&m=${mimeType}"
    result = bucket_v4.put_object("pic.png", buf.getvalue(), headers=CallbackSpec(receiver.url, body=body).headers())
    assert result.status == 200
    assert receiver.last.form == {"h": "21", "w": "37", "f": "png", "m": "image/png"}
    bucket_v4.put_object("notpic.png", b"not an image", headers=CallbackSpec(receiver.url, body=body).headers())
    assert receiver.last.form == {"h": "", "w": "", "f": "", "m": "image/png"}


def test_callback_host_and_path_with_query(bucket_v4: oss2.Bucket, receiver: Receiver) -> None:
    url = f"{receiver.url}/hooks/%E4%B8%AD%20x?token=a%2Bb&y=1"
    spec = CallbackSpec(url, host="callback.example.test")
    assert bucket_v4.put_object("host.txt", b"x", headers=spec.headers()).status == 200
    got = receiver.last
    assert got.headers["host"] == "callback.example.test"
    assert got.path == "/hooks/%E4%B8%AD%20x" and got.query == "token=a%2Bb&y=1"
    assert got.verified  # signed over unquote(path) + "?" + raw query
    assert got.headers["user-agent"] and got.headers["date"]
    assert got.headers["content-length"] == str(len(got.body))


def test_several_urls_first_fails(bucket_v4: oss2.Bucket, receiver: Receiver) -> None:
    dead = f"http://127.0.0.1:{free_port()}/dead"
    spec = CallbackSpec(f"{dead};{receiver.url}/second")
    result = bucket_v4.put_object("multi.txt", b"x", headers=spec.headers())
    assert result.status == 200
    assert json.loads(result.resp.read())["path"] == "/second"
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"status": 502}, "Error status : 502."),
        ({"body": b"<html>not json</html>"}, "Response body is not valid json format."),
        ({"content_length": False}, "Error Status : 400.User server return too long content-length value"),
        ({"oversize": MAX_ANSWER_BYTES}, "Error Status : 400.User server return too long content-length value"),
        ({"delay": 3.0}, "Cost too long time"),
    ],
    ids=["non-200", "non-json", "no-content-length", "over-3MB", "timeout"],
)
def test_callback_failures_give_203_and_keep_the_object(
    bucket_v4: oss2.Bucket, receiver: Receiver, setup: dict[str, object], message: str
) -> None:
    for name, value in setup.items():
        setattr(receiver.behaviour, name, value)
    data = os.urandom(100)
    result = bucket_v4.put_object("failed.bin", data, headers=CallbackSpec(receiver.url).headers())
    root = _failed(result)
    assert root.findtext("Message") == message
    assert result.etag == hashlib.md5(data).hexdigest().upper()
    assert bucket_v4.get_object("failed.bin").read() == data  # stored anyway, as on OSS


def test_refused_callback_gives_203(bucket_v4: oss2.Bucket) -> None:
    spec = CallbackSpec(f"http://127.0.0.1:{free_port()}/nobody")
    result = bucket_v4.put_object("refused.txt", b"kept", headers=spec.headers())
    root = _failed(result)
    # Real OSS's words, as captured from its answers (ali-oss test/callback.test.js, cloudreve/cloudreve#2100)
    assert root.findtext("Message") == "Error status : -1.OSS can not connect to your callbackUrl, please check it."
    assert bucket_v4.get_object("refused.txt").read() == b"kept"


def test_callback_timeout_is_five_seconds_by_default(tmp_path: object) -> None:
    assert CALLBACK_TIMEOUT == 5.0
    assert LocalOSS(str(tmp_path))._callback_timeout == 5.0


@pytest.mark.parametrize(
    ("doc", "variables", "ec"),
    [
        ({"callbackUrl": "http://127.0.0.1:1", "callbackBody": ""}, None, "0007-00000011"),
        ({"callbackUrl": "http://127.0.0.1:1", "callbackBody": "a=b" * 2000}, None, "0007-00000001"),
        ({"callbackUrl": "http://127.0.0.1:1", "callbackBody": "a=${x:Upper}"}, {"x:Upper": "v"}, "0007-00000102"),
        ("not json", None, "0007-00000002"),
    ],
    ids=["empty-body", "too-long", "uppercase-custom-key", "bad-json"],
)
def test_invalid_callback_parameters_are_rejected(
    bucket_v4: oss2.Bucket, doc: object, variables: dict[str, str] | None, ec: str
) -> None:
    raw = doc if isinstance(doc, str) else json.dumps(doc)
    headers = {"x-oss-callback": base64.b64encode(raw.encode()).decode()}
    if variables:
        headers["x-oss-callback-var"] = b64json(variables)
    with pytest.raises(oss2.exceptions.InvalidArgument) as exc:
        bucket_v4.put_object("rejected.txt", b"x", headers=headers)
    assert exc.value.status == 400 and exc.value.ec == ec
    assert not bucket_v4.object_exists("rejected.txt")  # refused before storing


def test_callback_on_complete_multipart_upload(bucket: oss2.Bucket, receiver: Receiver) -> None:
    key = "mp/callback.bin"
    parts_data = [os.urandom(100 * 1024), os.urandom(100 * 1024), b"end"]
    upload_id = bucket.init_multipart_upload(key).upload_id
    parts = []
    for n, chunk in enumerate(parts_data, start=1):
        r = bucket.upload_part(key, upload_id, n, chunk)
        parts.append(oss2.models.PartInfo(n, r.etag, size=len(chunk), part_crc=r.crc))
    body = '{"size":${size},"etag":${etag},"op":${operation},"md5":${contentMd5},"v":${x:v}}'
    spec = CallbackSpec(receiver.url, body=body, body_type="application/json", variables={"x:v": "mp"})
    result = bucket.complete_multipart_upload(key, upload_id, parts, headers=spec.headers())
    assert result.status == 200 and json.loads(result.resp.read())["verified"] is True
    doc = receiver.last.json
    assert doc["size"] == str(sum(len(c) for c in parts_data)) and doc["etag"] == result.etag
    assert doc["op"] == "CompleteMultipartUpload" and doc["md5"] == "" and doc["v"] == "mp"


def test_presigned_put_with_callback_in_query(bucket: oss2.Bucket, receiver: Receiver) -> None:
    spec = CallbackSpec(receiver.url, body="object=${object}&who=${x:who}", variables={"x:who": "presigned"})
    params = {"callback": b64json(spec.document()), "callback-var": b64json(spec.variables)}
    url = bucket.sign_url("PUT", "presigned-cb.txt", 60, params=params)
    resp = requests.put(url, data=b"from a browser", timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["verified"] is True
    assert receiver.last.form == {"object": "presigned-cb.txt", "who": "presigned"}
    assert bucket.get_object("presigned-cb.txt").read() == b"from a browser"
    result = bucket.put_object_with_url(url, b"via the sdk")
    assert result.status == 200 and json.loads(result.resp.read())["verified"] is True


# --- PostObject ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_post_object_with_callback(
    local_oss: LocalOSS, bucket_v1: oss2.Bucket, receiver: Receiver, version: str
) -> None:
    conditions: list[object] = [["starts-with", "$key", "user-dir/"], ["content-length-range", 1, 1024 * 1024]]
    fields = post_fields_v4(local_oss, conditions) if version == "v4" else post_fields_v1(local_oss, post_policy(conditions))
    callback = {
        "callbackUrl": receiver.url,
        "callbackBody": "object=${object}&size=${size}&op=${operation}&name=${x:name}&md5=${contentMd5}",
    }
    data = os.urandom(2048)
    form = {
        "key": "user-dir/${filename}",
        **fields,
        "success_action_status": "200",
        "callback": b64json(callback),
        "x:name": "表单 value+1",
        "x-oss-meta-origin": "browser",
    }
    resp = post_form(local_oss, form, data)
    assert resp.status_code == 200, resp.text
    assert resp.json()["verified"] is True
    assert receiver.last.form == {
        "object": "user-dir/photo.jpg",
        "size": "2048",
        "op": "PostObject",
        "name": "表单 value+1",
        "md5": base64.b64encode(hashlib.md5(data).digest()).decode(),
    }
    got = bucket_v1.get_object("user-dir/photo.jpg")
    assert got.read() == data and got.headers["x-oss-meta-origin"] == "browser"


def test_post_object_policy_and_signature_checks(local_oss: LocalOSS, bucket_v1: oss2.Bucket) -> None:
    """V1 forms on purpose (the V1 form verifier): ``bucket_v1`` makes the local OSS a bucket made before 2025-09-01."""
    conditions: list[object] = [["starts-with", "$key", "up/"], ["content-length-range", 1, 100]]
    ok = {"key": "up/a.txt", **post_fields_v1(local_oss, post_policy(conditions)), "success_action_status": "201"}
    resp = post_form(local_oss, ok, b"hello")
    assert resp.status_code == 201 and b"<PostResponse>" in resp.content and resp.headers["ETag"]
    assert bucket_v1.get_object("up/a.txt").read() == b"hello"
    assert post_form(local_oss, {**ok, "success_action_status": ""}, b"hello").status_code == 204
    expired = {"key": "up/b.txt", **post_fields_v1(local_oss, post_policy(conditions, expires_in=-60))}
    resp = post_form(local_oss, expired, b"x")
    assert resp.status_code == 403 and b"Policy expired" in resp.content
    outside = {**ok, "key": "elsewhere/c.txt"}
    resp = post_form(local_oss, outside, b"x")
    assert resp.status_code == 403 and b"Policy Condition failed" in resp.content
    assert post_form(local_oss, ok, b"x" * 101).status_code == 400
    forged = {**ok, "Signature": base64.b64encode(b"0" * 20).decode()}
    resp = post_form(local_oss, forged, b"x")
    assert resp.status_code == 403 and b"SignatureDoesNotMatch" in resp.content
    assert not bucket_v1.object_exists("elsewhere/c.txt") and not bucket_v1.object_exists("up/b.txt")
    bad_cb = {**ok, "key": "up/d.txt", "callback": b64json({"callbackUrl": "http://127.0.0.1:1", "callbackBody": ""})}
    resp = post_form(local_oss, bad_cb, b"x")
    assert resp.status_code == 400 and b"0007-00000011" in resp.content


def test_post_object_callback_failure_gives_203(local_oss: LocalOSS, bucket_v4: oss2.Bucket) -> None:
    callback = {"callbackUrl": f"http://127.0.0.1:{free_port()}", "callbackBody": "o=${object}"}
    form = {"key": "post-failed.txt", **post_fields_v4(local_oss, []), "callback": b64json(callback)}
    resp = post_form(local_oss, form, b"stays")
    assert resp.status_code == 203 and b"<Code>CallbackFailed</Code>" in resp.content
    assert bucket_v4.get_object("post-failed.txt").read() == b"stays"


def test_the_key_url_serves_the_signing_key(local_oss: LocalOSS, receiver: Receiver, bucket_v4: oss2.Bucket) -> None:
    pem = requests.get(local_oss.public_key_url, timeout=10)
    assert pem.status_code == 200 and pem.content.startswith(b"-----BEGIN PUBLIC KEY-----")
    bucket_v4.put_object("k.txt", b"x", headers=CallbackSpec(receiver.url).headers())
    assert unquote(receiver.last.key_url) == local_oss.public_key_url
    assert receiver.last.verified
