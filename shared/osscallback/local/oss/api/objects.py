"""The basic object operations: PutObject, GetObject, HeadObject, GetObjectMeta, DeleteObject and
DeleteMultipleObjects.

Reads follow OSS's rules: a symlink is followed to its target (the answer carries the target's bytes, size and
ETag with the symlink's own metadata); ``If-*`` preconditions give 304 or 412 (:mod:`..model.conditions`); a
``Range`` OSS cannot satisfy is ignored unless ``x-oss-range-behavior: standard``; ``response-*`` query parameters
override headers of a GET; and ``Accept-Encoding: gzip`` on compressible content of at least 1 KB is answered
gzip-compressed and chunked, with no ``Content-Length``, as OSS does.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import Backend
from osscallback.local.oss.api.completion import callback_params, finish_upload
from osscallback.local.oss.api.request import (
    MAX_OBJECT_SIZE,
    MAX_XML_BODY,
    Request,
    Response,
    content_type,
    expected_md5,
    file_exists,
    forbid_overwrite,
    meta_headers,
    url_encoding,
    xml_response,
)
from osscallback.local.oss.model import conditions, tags
from osscallback.local.oss.model.acl import parse_object_acl
from osscallback.local.oss.model.ranges import UNSATISFIABLE, parse_range
from osscallback.local.oss.model.store import Conflict, ObjectMeta
from osscallback.local.oss.xmlresp import OSSError

RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
#: Content types OSS compresses for ``Accept-Encoding: gzip`` (its GetObject reference), and the minimum size.
GZIP_TYPES = frozenset(
    {
        "text/cache-manifest",
        "text/xml",
        "text/plain",
        "text/css",
        "text/html",
        "application/javascript",
        "application/x-javascript",
        "application/rss+xml",
        "application/json",
        "text/json",
    }
)
GZIP_MIN_SIZE = 1024
#: Input bytes per compressed chunk of a gzip GET.
GZIP_SLICE = 4096
MAX_DELETE_KEYS = 1000


def object_headers(meta: ObjectMeta) -> dict[str, str]:
    headers = {
        "ETag": f'"{meta.etag}"',
        "x-oss-hash-crc64ecma": str(meta.crc64),
        "Last-Modified": xmlresp.http_date(meta.last_modified),
        "Content-Type": meta.content_type,
        "x-oss-object-type": meta.object_type,
        "x-oss-storage-class": "Standard",
        "Accept-Ranges": "bytes",
    }
    if meta.content_md5:
        headers["Content-MD5"] = meta.content_md5
    if meta.object_type == "Appendable":
        headers["x-oss-next-append-position"] = str(meta.size)
    if meta.tags:
        headers["x-oss-tagging-count"] = str(len(meta.tags))
    for name, value in meta.headers.items():
        headers["-".join(p.capitalize() for p in name.split("-"))] = value
    for name, value in meta.user_meta.items():
        headers[name] = value
    return headers


def upload_tags(req: Request) -> dict[str, str]:
    """Tags from the ``x-oss-tagging`` header of an upload (PutObject, InitiateMultipartUpload, AppendObject)."""
    raw = req.headers.get("x-oss-tagging")
    return tags.from_header(raw) if raw else {}


def upload_acl(req: Request) -> str:
    return parse_object_acl(req.headers.get("x-oss-object-acl", "default"))


def require_object(backend: Backend, bucket: str, key: str) -> ObjectMeta:
    meta = backend.store.get_object(bucket, key)
    if meta is None:
        raise xmlresp.no_such_key(key)
    return meta


def resolve(backend: Backend, bucket: str, meta: ObjectMeta) -> ObjectMeta:
    """The object a read is served from: the symlink's target, or the object itself."""
    if meta.object_type != "Symlink":
        return meta
    target = backend.store.get_object(bucket, meta.symlink_target)
    if target is None or target.object_type == "Symlink":
        raise OSSError(
            404,
            "SymlinkTargetNotExist",
            "The symlink target object does not exist.",
            ec="0026-00000012",
            extra={"Key": meta.key, "TargetKey": meta.symlink_target},
        )
    return target


# --- PutObject -------------------------------------------------------------------------------------------------------


def put_object(backend: Backend, req: Request) -> Response:
    callback, custom = callback_params(req)
    md5 = expected_md5(req)
    object_tags = upload_tags(req)
    acl = upload_acl(req)
    if forbid_overwrite(req) and backend.store.get_object(req.bucket, req.key):
        raise file_exists()
    staged = backend.stage_body(req, MAX_OBJECT_SIZE)
    try:
        if md5 is not None and md5 != staged.md5:
            raise xmlresp.bad_digest(base64.b64encode(md5).decode(), staged.md5_b64)
        user_meta, stored = meta_headers(req.headers)
        try:
            committed = backend.store.put_object(
                req.bucket,
                req.key,
                staged,
                content_type=content_type(req.headers),
                user_meta=user_meta,
                headers=stored,
                acl=acl,
                tags=object_tags,
                # forbid-overwrite decided again under the store's lock: of concurrent writers one wins, as on OSS
                expect="" if forbid_overwrite(req) else None,
            )
        except Conflict:
            raise file_exists() from None
    finally:
        staged.path.unlink(missing_ok=True)
    meta = committed.meta

    def ok() -> Response:
        return Response(
            200,
            {"ETag": f'"{meta.etag}"', "x-oss-hash-crc64ecma": str(meta.crc64), "Content-MD5": meta.content_md5},
        )

    return finish_upload(backend, req, committed, callback, custom, "PutObject", ok)


# --- GetObject / HeadObject ------------------------------------------------------------------------------------------


def _gzip_stream(data: BinaryIO, offset: int, length: int) -> Iterator[bytes]:
    """The bytes, gzip-compressed, one sync-flushed piece per :data:`GZIP_SLICE` of input: memory stays bounded
    whatever the object's size, and every HTTP chunk decompresses as soon as it arrives, as a streaming reader
    (the v2 SDK's ``iter_bytes``, requests' ``iter_content``) expects."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    with data as f:
        f.seek(offset)
        left = length
        while left > 0 and (piece := f.read(min(GZIP_SLICE, left))):
            left -= len(piece)
            yield compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH)
    yield compressor.flush()


def _wants_gzip(req: Request, meta: ObjectMeta, headers: dict[str, str]) -> bool:
    accepted = [e.split(";")[0].strip().lower() for e in req.headers.get("accept-encoding", "").split(",")]
    mime = headers.get("Content-Type", "").split(";")[0].strip().lower()
    return "gzip" in accepted and mime in GZIP_TYPES and meta.size >= GZIP_MIN_SIZE and not meta.headers.get(
        "content-encoding"
    )


def get_object(backend: Backend, req: Request, *, head: bool) -> Response:
    link = require_object(backend, req.bucket, req.key)
    target = resolve(backend, req.bucket, link)
    if head:  # metadata only: nothing to open
        return _object_response(req, link, target, None)
    meta, data = backend.store.open_current(req.bucket, target.key)  # these bytes, whatever writes come next
    try:
        response = _object_response(req, link if link is not target else meta, meta, data)
    except BaseException:
        data.close()
        raise
    if response.file is None:
        data.close()
    return response


def _object_response(req: Request, link: ObjectMeta, meta: ObjectMeta, data: BinaryIO | None) -> Response:
    """GET's or HEAD's answer for ``meta`` (``link``: the symlink that led there, else ``meta`` itself); the body
    is ``data``, opened with ``meta``."""
    head = data is None
    headers = object_headers(meta)
    if link is not meta:  # a symlink: the target's bytes and digests, the symlink's own user metadata
        headers = {k: v for k, v in headers.items() if not k.startswith("x-oss-meta-")}
        headers.update(link.user_meta)
        headers["x-oss-object-type"] = "Symlink"
        headers["Last-Modified"] = xmlresp.http_date(max(link.last_modified, meta.last_modified))
    if not head:
        for param, header in RESPONSE_OVERRIDES.items():
            if param in req.params:
                headers[header] = req.params[param]
    verdict = conditions.evaluate(req.headers, meta.etag, meta.last_modified)
    if verdict == conditions.FAILED:
        raise conditions.precondition_failed()
    if verdict == conditions.NOT_MODIFIED:
        return Response(304, {"ETag": headers["ETag"], "Last-Modified": headers["Last-Modified"]})
    start, end = 0, meta.size - 1
    status = 200
    rng = None if head else parse_range(req.headers.get("range", ""), meta.size)
    if rng == UNSATISFIABLE:
        if req.headers.get("x-oss-range-behavior", "").lower() == "standard":
            raise OSSError(
                416,
                "InvalidRange",
                "The requested range cannot be satisfied",
                extra={"RangeRequested": req.headers.get("range", ""), "ActualObjectSize": str(meta.size)},
            )
    elif isinstance(rng, tuple):
        start, end = rng
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{meta.size}"
    length = max(end - start + 1, 0)
    if not head and _wants_gzip(req, meta, headers):
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
        assert data is not None
        return Response(status, headers, stream=_gzip_stream(data, start, length), file=data)
    headers["Content-Length"] = str(length)
    if head:
        return Response(200, headers)
    return Response(status, headers, file=data, offset=start, length=length)


def get_object_meta(backend: Backend, req: Request) -> Response:
    """GetObjectMeta (``HEAD ?objectMeta``): ETag, size, Last-Modified and CRC only."""
    meta = require_object(backend, req.bucket, req.key)
    return Response(
        200,
        {
            "ETag": f'"{meta.etag}"',
            "Content-Length": str(meta.size),
            "Last-Modified": xmlresp.http_date(meta.last_modified),
            "x-oss-hash-crc64ecma": str(meta.crc64),
        },
    )


# --- deletes ---------------------------------------------------------------------------------------------------------


def delete_object(backend: Backend, req: Request) -> Response:
    backend.store.delete_object(req.bucket, req.key)
    return Response(204)


def delete_objects(backend: Backend, req: Request) -> Response:
    """DeleteMultipleObjects: up to 1000 keys, sent XML-escaped as they are (both SDKs); ``encoding-type=url``
    URL-encodes the keys of the answer (oss2 always asks for it), ``Quiet`` answers no ``Deleted`` at all."""
    raw = req.body.read_all(MAX_XML_BODY)
    md5 = expected_md5(req)
    if md5 is not None and hashlib.md5(raw).digest() != md5:  # noqa: S324 - protocol MD5
        raise xmlresp.bad_digest(base64.b64encode(md5).decode(), "")
    url = url_encoding(req)
    root = xmlresp.parse(raw, "Delete")
    quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
    keys = []
    for node in root.findall("Object"):
        if node.find("VersionId") is not None:
            raise xmlresp.not_implemented("DeleteMultipleObjects with VersionId (versioning)")
        key = node.findtext("Key")
        if key is None or key == "":
            raise xmlresp.malformed_xml()
        keys.append(key)
    if not keys or len(keys) > MAX_DELETE_KEYS:
        raise xmlresp.malformed_xml()
    for key in keys:
        backend.store.delete_object(req.bucket, key)
    result = ET.Element("DeleteResult")
    if url:
        xmlresp.text(result, "EncodingType", "url")
    enc = xmlresp.encoder(url)
    if not quiet:
        for key in keys:
            node = ET.SubElement(result, "Deleted")
            xmlresp.text(node, "Key", enc(key))
    return xml_response(xmlresp.to_bytes(result))
