"""Reads as OSS answers them: the stored Content-Type (never guessed), conditional GET/HEAD (304/412), gzip and
chunked GETs, and symlinks (PutSymlink, GetSymlink, GET/HEAD through a link) — with oss2 and the v2 SDK."""

from __future__ import annotations

import gzip
import os
import socket
from email.utils import formatdate

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
import requests

from osscallback.local.oss import LocalOSS
from tests.support.oss_clients import make_v2

PAST = "Mon, 01 Jan 2001 00:00:00 GMT"
FUTURE = formatdate(2_000_000_000, usegmt=True)


def _status(exc: pytest.ExceptionInfo[oss_v2.exceptions.OperationError]) -> tuple[int, str]:
    err = exc.value.unwrap()
    return int(getattr(err, "status_code", 0)), str(getattr(err, "code", ""))


# --- Content-Type ----------------------------------------------------------------------------------------------------


def test_put_without_content_type_stores_octet_stream(bucket: oss2.Bucket, local_oss: LocalOSS) -> None:
    # The SDKs guess a type from the extension on the client side; OSS itself never does.
    url = bucket.sign_url("PUT", "page.html", 60)
    resp = requests.put(url, data=b"<p>hi</p>", timeout=30)
    assert resp.status_code == 200 and "Content-Type" not in resp.request.headers
    assert bucket.head_object("page.html").content_type == "application/octet-stream"
    v2 = make_v2(local_oss)
    signed = v2.presign(oss_v2.PutObjectRequest(bucket=local_oss.bucket, key="photo.jpg"))
    assert requests.put(signed.url, data=b"\xff\xd8", timeout=30).status_code == 200
    head = v2.head_object(oss_v2.HeadObjectRequest(bucket=local_oss.bucket, key="photo.jpg"))
    assert head.content_type == "application/octet-stream"
    # What the SDKs send is kept as sent.
    bucket.put_object("guessed.html", b"<p/>")
    assert bucket.head_object("guessed.html").content_type == "text/html"


# --- conditional requests --------------------------------------------------------------------------------------------


def test_oss2_conditional_get_and_head(bucket: oss2.Bucket) -> None:
    put = bucket.put_object("cond.txt", b"conditional")
    etag = f'"{put.etag}"'
    for call in (bucket.get_object, bucket.head_object):
        with pytest.raises(oss2.exceptions.NotModified):
            call("cond.txt", headers={"If-None-Match": etag})
        with pytest.raises(oss2.exceptions.NotModified):
            call("cond.txt", headers={"If-Modified-Since": FUTURE})
        with pytest.raises(oss2.exceptions.PreconditionFailed):
            call("cond.txt", headers={"If-Match": '"0123"'})
        with pytest.raises(oss2.exceptions.PreconditionFailed):
            call("cond.txt", headers={"If-Unmodified-Since": PAST})
        assert call("cond.txt", headers={"If-Match": etag, "If-Modified-Since": PAST}).status == 200
        # OSS's documented combinations: If-Match true wins over If-Unmodified-Since false (200), and
        # If-None-Match false wins over If-Modified-Since true (304).
        assert call("cond.txt", headers={"If-Match": etag, "If-Unmodified-Since": PAST}).status == 200
        with pytest.raises(oss2.exceptions.NotModified):
            call("cond.txt", headers={"If-None-Match": etag, "If-Modified-Since": PAST})
    assert bucket.get_object("cond.txt", headers={"If-None-Match": '"other"'}).read() == b"conditional"


def test_v2_conditional_get_and_head(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    put = v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="c2.txt", body=b"v2 conditional"))
    got = v2client.get_object(oss_v2.GetObjectRequest(bucket=b, key="c2.txt", if_match=put.etag))
    assert got.body.read() == b"v2 conditional"
    for request in (oss_v2.GetObjectRequest, oss_v2.HeadObjectRequest):
        call = v2client.get_object if request is oss_v2.GetObjectRequest else v2client.head_object
        with pytest.raises(oss_v2.exceptions.OperationError) as exc:
            call(request(bucket=b, key="c2.txt", if_none_match=put.etag))  # type: ignore[operator]
        assert _status(exc)[0] == 304
        with pytest.raises(oss_v2.exceptions.OperationError) as exc:
            call(request(bucket=b, key="c2.txt", if_match='"nope"'))  # type: ignore[operator]
        assert _status(exc)[0] == 412
        with pytest.raises(oss_v2.exceptions.OperationError) as exc:
            call(request(bucket=b, key="c2.txt", if_unmodified_since=PAST))  # type: ignore[operator]
        assert _status(exc)[0] == 412
        with pytest.raises(oss_v2.exceptions.OperationError) as exc:
            call(request(bucket=b, key="c2.txt", if_modified_since=FUTURE))  # type: ignore[operator]
        assert _status(exc)[0] == 304


# --- gzip and chunked ------------------------------------------------------------------------------------------------


def test_oss2_gzip_get_is_chunked_and_reads_back(bucket: oss2.Bucket) -> None:
    text = ("line of compressible text\n" * 2000).encode()
    bucket.put_object("big.txt", text, headers={"Content-Type": "text/plain"})
    got = bucket.get_object("big.txt", headers={"Accept-Encoding": "gzip"})
    assert got.headers["Content-Encoding"] == "gzip" and got.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in got.headers and got.content_length is None
    assert got.read() == text  # decompressed by requests, CRC-64 of the whole checked by oss2
    # Not compressible (type) or too small: sent as is, with a length.
    bucket.put_object("bin.dat", os.urandom(5000), headers={"Content-Type": "application/octet-stream"})
    bucket.put_object("tiny.txt", b"tiny", headers={"Content-Type": "text/plain"})
    for key in ("bin.dat", "tiny.txt"):
        plain = bucket.get_object(key, headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in plain.headers and plain.content_length is not None
        plain.read()
    # Without Accept-Encoding (oss2's default) nothing is compressed, and a range is never compressed away.
    assert "Content-Encoding" not in bucket.get_object("big.txt").headers
    assert bucket.get_object("big.txt", byte_range=(0, 3)).read() == b"line"


def test_raw_gzip_body_is_a_gzip_stream(bucket: oss2.Bucket, local_oss: LocalOSS) -> None:
    text = b'{"k": "' + b"v" * 4000 + b'"}'
    bucket.put_object("doc.json", text, headers={"Content-Type": "application/json"})
    url = bucket.sign_url("GET", "doc.json", 60)
    resp = requests.get(url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30)
    raw = resp.raw.read(decode_content=False)
    assert resp.headers["Content-Encoding"] == "gzip" and gzip.decompress(raw) == text


def test_v2_gzip_get(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    text = ("<p>v2 compressible</p>\n" * 500).encode()
    v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="p.html", body=text, content_type="text/html"))
    got = v2client.get_object(oss_v2.GetObjectRequest(bucket=b, key="p.html", accept_encoding="gzip"))
    assert got.headers.get("Content-Encoding") == "gzip" and got.content_length is None
    pieces = list(got.body.iter_bytes(block_size=1000))  # a streaming read, piece by piece
    assert len(pieces) > 1 and b"".join(pieces) == text


# --- symlinks --------------------------------------------------------------------------------------------------------


def test_oss2_symlinks(bucket: oss2.Bucket) -> None:
    data = b"hello"
    put = bucket.put_object("target/中 文.txt", data, headers={"Content-Type": "text/plain"})
    assert bucket.put_symlink("target/中 文.txt", "link.txt", headers={"x-oss-meta-k": "v"}).status == 200
    assert bucket.get_symlink("link.txt").target_key == "target/中 文.txt"
    head = bucket.head_object("link.txt")
    assert head.content_length == len(data) and head.etag == put.etag
    assert head.object_type == "Symlink" and head.headers["x-oss-meta-k"] == "v"
    assert bucket.get_object("link.txt").read() == data
    assert bucket.get_object("link.txt", byte_range=(1, 2)).read() == b"el"
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        bucket.get_symlink("target/中 文.txt")
    assert exc.value.status == 400 and exc.value.code == "NotSymlink"
    with pytest.raises(oss2.exceptions.NoSuchKey):
        bucket.get_symlink("no-link")
    bucket.delete_object("target/中 文.txt")
    with pytest.raises(oss2.exceptions.ServerError) as nf:
        bucket.get_object("link.txt")
    assert (nf.value.status, nf.value.code) == (404, "SymlinkTargetNotExist")
    assert bucket.get_symlink("link.txt").target_key == "target/中 文.txt"  # the link itself stays


def test_v2_symlinks(local_oss: LocalOSS, v2client: oss_v2.Client) -> None:
    b = local_oss.bucket
    v2client.put_object(oss_v2.PutObjectRequest(bucket=b, key="t/v2-target.bin", body=b"through the link"))
    v2client.put_symlink(oss_v2.PutSymlinkRequest(bucket=b, key="v2-link", target="t/v2-target.bin"))
    assert v2client.get_symlink(oss_v2.GetSymlinkRequest(bucket=b, key="v2-link")).target == "t/v2-target.bin"
    got = v2client.get_object(oss_v2.GetObjectRequest(bucket=b, key="v2-link"))
    assert got.body.read() == b"through the link" and got.object_type == "Symlink"


# --- no hangs --------------------------------------------------------------------------------------------------------


def _exchange(port: int, raw: bytes, timeout: float = 15) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pytest.fail(f"no answer and no close within {timeout}s: {b''.join(chunks)[:200]!r}")
        return b"".join(chunks)


def test_odd_requests_are_answered_or_closed(tmp_path: object) -> None:
    from pathlib import Path

    with LocalOSS(Path(str(tmp_path)) / "oss", request_timeout=2) as oss:
        port = oss.port
        host = f"Host: 127.0.0.1:{port}\r\n"
        v4 = (
            "Authorization: OSS4-HMAC-SHA256 Credential=LTAIx/20250101/cn-hangzhou/oss/aliyun_v4_request,"
            "AdditionalHeaders=host;range,Signature=00\r\nx-oss-date: 20250101T000000Z\r\n"
        )
        cases = [
            # V4 with additional signed headers, one of them absent; Connection: close so the answer ends the read.
            f"GET /{oss.bucket}/k HTTP/1.1\r\n{host}{v4}Connection: close\r\n\r\n",
            # A body announced on a GET, an Expect: 100-continue on a refused PUT.
            f"GET /{oss.bucket}/k HTTP/1.1\r\n{host}Content-Length: 4\r\nConnection: close\r\n\r\nbody",
            f"PUT /{oss.bucket}/k HTTP/1.1\r\n{host}Expect: 100-continue\r\nContent-Length: 3\r\n"
            "Connection: close\r\n\r\nabc",
            # Garbage chunked encoding, an unknown method.
            f"PUT /{oss.bucket}/k HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
            f"BREW /{oss.bucket}/k HTTP/1.1\r\n{host}Connection: close\r\n\r\n",
        ]
        for raw in cases:
            answer = _exchange(port, raw.encode())
            assert answer.startswith(b"HTTP/1.1 "), raw
        # A client that stops mid-body, or mid-headers, is disconnected by the server's timeout.
        for raw in (
            f"PUT /{oss.bucket}/k HTTP/1.1\r\n{host}Content-Length: 100\r\n\r\nonly part",
            f"GET /{oss.bucket}/k HTTP/1.1\r\n{host}X-Half: ",
        ):
            _exchange(port, raw.encode(), timeout=15)  # returns when the server closes (2 s), fails at 15 s
