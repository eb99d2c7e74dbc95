"""The local OSS's callback requests carry the headers real OSS sends, and are signed with a key of OSS's size.

The reference is the callback request OSS's documentation shows (OSS developer reference, "Callback", section
"Receive the POST request from OSS": https://www.alibabacloud.com/help/en/oss/developer-reference/callback;
the Chinese page https://help.aliyun.com/zh/oss/developer-reference/callback shows the same request)::

    POST /test HTTP/1.1
    Host: your.callback.com
    Connection: close
    Authorization: GevnM3**********3j7AKluzWnubHSVWI4dY3VsIfUHYWnyw==
    Content-MD5: iKU/O/JB***ZMd8Ftg==
    Content-Type: application/x-www-form-urlencoded
    Date: Tue, 07 May 2024 03:06:13 GMT
    User-Agent: aliyun-oss-callback
    x-oss-bucket: your_bucket
    x-oss-pub-key-url: aHR0cHM6Ly9nb3NzcHVi**********vY2FsbGJeV92MS5wZW0=
    x-oss-request-id: 66399AA50*****3334673EC2
    x-oss-requester: 23313******948342006
    x-oss-signature-version: 1.0
    x-oss-tag: CALLBACK

(``x-oss-requester``, the uploader's account id, is the one the local OSS leaves out: it has no accounts.) A
real receiver on 127.0.0.1 gets each callback; it checks the signature on its own (``tests.support.oss``).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from email.utils import parsedate_to_datetime

import oss2

from osscallback.callback.signature import load_public_key
from osscallback.local.oss import LocalOSS
from tests.support.oss import CallbackSpec, Received, Receiver


def _check_oss_headers(got: Received, local_oss: LocalOSS, upload_request_id: str) -> None:
    headers = got.headers  # lower-cased names, values as received
    assert got.verified  # Authorization: MD5withRSA over the path, query and body, checked by the receiver
    assert headers["content-md5"] == base64.b64encode(hashlib.md5(got.body).digest()).decode("ascii")
    assert headers["x-oss-request-id"] == upload_request_id  # the upload's own id, as its answer carried it
    assert headers["x-oss-tag"] == "CALLBACK"
    assert headers["x-oss-signature-version"] == "1.0"
    assert headers["user-agent"] == "aliyun-oss-callback"
    assert headers["x-oss-bucket"] == local_oss.bucket
    assert headers["connection"] == "close"
    assert headers["content-length"] == str(len(got.body))
    assert headers["date"].endswith(" GMT") and parsedate_to_datetime(headers["date"]).utcoffset() == timedelta(0)
    assert base64.b64decode(headers["x-oss-pub-key-url"]).decode() == local_oss.public_key_url
    assert len(base64.b64decode(headers["authorization"])) == 64  # a 512-bit key's signature, as OSS's


def test_a_put_object_callback_carries_oss_s_headers(bucket: oss2.Bucket, receiver: Receiver,
                                                      local_oss: LocalOSS) -> None:
    spec = CallbackSpec(receiver.url + "/test?app=1", variables={"x:uid": "12345"},
                        body="bucket=${bucket}&object=${object}&uid=${x:uid}")
    result = bucket.put_object("headers/put.txt", b"hello headers", headers=spec.headers())
    assert result.status == 200
    got = receiver.last
    assert got.form == {"bucket": local_oss.bucket, "object": "headers/put.txt", "uid": "12345"}
    _check_oss_headers(got, local_oss, result.request_id)
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"


def test_a_multipart_upload_s_callback_names_the_complete_request(bucket_v4: oss2.Bucket, receiver: Receiver,
                                                                   local_oss: LocalOSS) -> None:
    key = "headers/multipart.bin"
    upload_id = bucket_v4.init_multipart_upload(key).upload_id
    part = bucket_v4.upload_part(key, upload_id, 1, b"p" * 1024)
    spec = CallbackSpec(receiver.url + "/", body='{"object":${object},"size":${size}}', body_type="application/json")
    result = bucket_v4.complete_multipart_upload(
        key, upload_id, [oss2.models.PartInfo(1, part.etag)], headers=spec.headers()
    )
    assert result.status == 200
    got = receiver.last
    assert got.json == {"object": key, "size": "1024"}  # OSS puts every value in as a JSON string
    assert result.request_id != part.request_id
    _check_oss_headers(got, local_oss, result.request_id)  # the Complete request's id, not a part's


def test_the_local_oss_signs_with_a_key_of_oss_s_size(local_oss: LocalOSS) -> None:
    """The PEM behind ``x-oss-pub-key-url`` is a 512-bit key with e=65537, like ``callback_pub_key_v1.pem``, and
    our verifier loads it."""
    import urllib.request

    with urllib.request.urlopen(local_oss.public_key_url, timeout=5) as resp:  # noqa: S310 - 127.0.0.1
        public = load_public_key(resp.read())
    assert public.key_size == 512
    assert public.public_numbers().e == 65537
