"""Server-side copies: CopyObject (also oss2's ``update_object_meta``, a copy onto itself) and UploadPartCopy.

The source is ``x-oss-copy-source: /<bucket>/<URL-encoded key>``: oss2 encodes every byte but unreserved ones
(``quote(key, '')``), the v2 SDK keeps ``/`` (``quote(key)``); both decode to the same key with ``unquote``, and
``+`` stays a plus. OSS's CopyObject rules followed:

* ``x-oss-metadata-directive``: ``COPY`` (default) keeps the source's Content-Type, standard headers and user
  metadata; ``REPLACE`` takes them from the request (Content-Type defaulting to ``application/octet-stream``);
* ``x-oss-tagging-directive``: ``Copy`` (default) keeps the source's tags, ``Replace`` takes ``x-oss-tagging``;
* ``x-oss-copy-source-if-match`` / ``-if-none-match`` / ``-if-modified-since`` / ``-if-unmodified-since``
  give 412 or 304 as the GET preconditions do, judged on the source;
* the copy keeps the source's ETag and CRC-64 (the bytes are the same); ``x-oss-object-acl`` sets the new
  object's ACL (``default`` otherwise), ``x-oss-forbid-overwrite: true`` refuses to replace an existing object;
* a symlink source is copied as its target's bytes; the result is always a ``Normal`` object.

UploadPartCopy copies ``x-oss-copy-source-range: bytes=<first>-<last>`` of the source (the whole source when the
header is absent or invalid) into a part of a multipart upload.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import BinaryIO
from urllib.parse import unquote

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import Backend, check_key
from osscallback.local.oss.api.completion import finish_upload
from osscallback.local.oss.api.multipart import part_number, require_upload
from osscallback.local.oss.api.objects import require_object, resolve, upload_acl, upload_tags
from osscallback.local.oss.api.request import (
    Request,
    Response,
    content_type,
    file_exists,
    forbid_overwrite,
    meta_headers,
    xml_response,
)
from osscallback.local.oss.model import acl as acl_rules
from osscallback.local.oss.model import conditions
from osscallback.local.oss.model.ranges import parse_range
from osscallback.local.oss.model.store import ObjectMeta
from osscallback.local.oss.xmlresp import OSSError, text

#: OSS's largest CopyObject source; larger objects are copied with UploadPartCopy.
MAX_COPY_SIZE = 5 * 1024**3


def copy_source(req: Request) -> tuple[str, str]:
    """``(bucket, key)`` named by ``x-oss-copy-source``."""
    raw = req.headers.get("x-oss-copy-source", "").strip()
    path, _, query = raw.partition("?")
    if query:
        if "versionId" in query:
            raise xmlresp.not_implemented("copying a given version (versionId in x-oss-copy-source)")
        raise xmlresp.invalid_argument("Copy Source must mention the source bucket and key: /bucket/key.",
                                       "x-oss-copy-source", raw)
    path = path[1:] if path.startswith("/") else path
    bucket, sep, key_text = path.partition("/")
    try:
        key = unquote(key_text, errors="strict")
    except UnicodeDecodeError:
        key = ""
    if not sep or not bucket or not key:
        raise xmlresp.invalid_argument(
            "Copy Source must mention the source bucket and key: /bucket/key.", "x-oss-copy-source", raw
        )
    check_key(key)
    return bucket, key


def _source(backend: Backend, req: Request) -> tuple[str, ObjectMeta, BinaryIO]:
    """The source bucket, the object whose bytes are copied and those bytes opened (the caller closes them), after
    the source's preconditions."""
    bucket, key = copy_source(req)
    backend.require_bucket(bucket)
    link = require_object(backend, bucket, key)
    if req.anonymous and not acl_rules.may_read_object(link.acl, backend.store.bucket_acl(bucket)):
        raise acl_rules.denied()
    meta, data = backend.store.open_current(bucket, resolve(backend, bucket, link).key)
    try:
        verdict = conditions.evaluate(req.headers, meta.etag, meta.last_modified, prefix="x-oss-copy-source-")
        if verdict == conditions.FAILED:
            raise conditions.precondition_failed()
        if verdict == conditions.NOT_MODIFIED:
            raise OSSError(304, "NotModified", "The source object was not modified.")
    except BaseException:
        data.close()
        raise
    return bucket, meta, data


def _directive(req: Request, header: str, values: tuple[str, str]) -> str:
    raw = req.headers.get(header, values[0])
    for value in values:
        if raw.strip().lower() == value.lower():
            return value
    raise xmlresp.invalid_argument(f"The {header} header must be {' or '.join(values)}.", header, raw)


def copy_object(backend: Backend, req: Request) -> Response:
    src_bucket, src, data = _source(backend, req)
    try:
        return _copy_object(backend, req, src_bucket, src, data)
    finally:
        data.close()


def _copy_object(backend: Backend, req: Request, src_bucket: str, src: ObjectMeta, data: BinaryIO) -> Response:
    if src.size > MAX_COPY_SIZE:
        raise OSSError(
            400, "EntityTooLarge", "The source object is too large for CopyObject; use UploadPartCopy."
        )
    metadata = _directive(req, "x-oss-metadata-directive", ("COPY", "REPLACE"))
    tagging = _directive(req, "x-oss-tagging-directive", ("Copy", "Replace"))
    if metadata == "REPLACE":
        user_meta, stored = meta_headers(req.headers)
        mime = content_type(req.headers)
    else:
        user_meta, stored, mime = dict(src.user_meta), dict(src.headers), src.content_type
    object_tags = upload_tags(req) if tagging == "Replace" else dict(src.tags)
    acl = upload_acl(req)
    same = src_bucket == req.bucket and src.key == req.key
    if forbid_overwrite(req) and not same and backend.store.get_object(req.bucket, req.key):
        raise file_exists()
    staged = backend.store.copy_to_stage(data, src.size)
    try:
        committed = backend.store.put_object(
            req.bucket,
            req.key,
            staged,
            content_type=mime,
            user_meta=user_meta,
            headers=stored,
            etag=src.etag,
            content_md5=src.content_md5,
            acl=acl,
            tags=object_tags,
        )
    finally:
        staged.path.unlink(missing_ok=True)
    meta = committed.meta

    def ok() -> Response:
        root = ET.Element("CopyObjectResult")
        text(root, "ETag", f'"{meta.etag}"')
        text(root, "LastModified", xmlresp.iso8601(meta.last_modified))
        return xml_response(
            xmlresp.to_bytes(root), headers={"ETag": f'"{meta.etag}"', "x-oss-hash-crc64ecma": str(meta.crc64)}
        )

    return finish_upload(backend, req, committed, None, {}, "CopyObject", ok)


def upload_part_copy(backend: Backend, req: Request) -> Response:
    upload = require_upload(backend, req)
    number = part_number(req)
    _, src, data = _source(backend, req)
    start, length = 0, src.size
    rng = parse_range(req.headers.get("x-oss-copy-source-range", ""), src.size)
    if isinstance(rng, tuple):
        start, length = rng[0], rng[1] - rng[0] + 1
    staged = backend.store.copy_to_stage(data, src.size, start, length)
    try:
        try:
            part = backend.store.put_part(req.bucket, upload.upload_id, number, staged)
        except FileNotFoundError:
            raise xmlresp.no_such_upload(upload.upload_id) from None
    finally:
        staged.path.unlink(missing_ok=True)
    root = ET.Element("CopyPartResult")
    text(root, "LastModified", xmlresp.iso8601(part.last_modified))
    text(root, "ETag", f'"{part.etag}"')
    return xml_response(xmlresp.to_bytes(root), headers={"ETag": f'"{part.etag}"'})
