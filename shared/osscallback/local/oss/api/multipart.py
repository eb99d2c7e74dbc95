"""Multipart uploads: InitiateMultipartUpload, UploadPart, ListParts, AbortMultipartUpload and
CompleteMultipartUpload (UploadPartCopy is in :mod:`.copy`).

OSS's rules kept here: part numbers 1-10000; every part but the last at least 100 KB; the Complete document lists
parts in ascending order with their ETags (or ``x-oss-complete-all: yes`` takes every uploaded part); the object's
ETag is ``MD5(concatenated part MD5s)-<count>``; the metadata, ACL and tags given at initiation become the
object's. ListParts pages by ``part-number-marker`` and ``max-parts`` in part-number order.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import Backend
from osscallback.local.oss.api.completion import callback_params, finish_upload
from osscallback.local.oss.api.objects import upload_acl, upload_tags
from osscallback.local.oss.api.request import (
    MAX_OBJECT_SIZE,
    MAX_XML_BODY,
    Request,
    Response,
    content_type,
    expected_md5,
    file_exists,
    forbid_overwrite,
    int_param,
    meta_headers,
    url_encoding,
    xml_response,
)
from osscallback.local.oss.model.store import PartMeta, UploadMeta
from osscallback.local.oss.xmlresp import OSSError, text

MIN_PART_SIZE = 100 * 1024
MAX_PART_NUMBER = 10000


def require_upload(backend: Backend, req: Request) -> UploadMeta:
    upload_id = req.params.get("uploadId", "")
    upload = backend.store.get_upload(req.bucket, upload_id)
    if upload is None or upload.key != req.key:
        raise xmlresp.no_such_upload(upload_id)
    return upload


def part_number(req: Request) -> int:
    raw = req.params.get("partNumber", "")
    try:
        number = int(raw)
    except ValueError:
        number = -1
    if not 1 <= number <= MAX_PART_NUMBER:
        raise xmlresp.invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive.", "partNumber", raw, ec="0017-00000220"
        )
    return number


def initiate_upload(backend: Backend, req: Request) -> Response:
    user_meta, stored = meta_headers(req.headers)
    if forbid_overwrite(req) and backend.store.get_object(req.bucket, req.key):
        raise file_exists()
    upload = backend.store.init_upload(
        req.bucket,
        req.key,
        content_type=content_type(req.headers),
        user_meta=user_meta,
        headers=stored,
        acl=upload_acl(req),
        tags=upload_tags(req),
    )
    url = url_encoding(req)
    root = ET.Element("InitiateMultipartUploadResult")
    text(root, "Bucket", req.bucket)
    text(root, "Key", xmlresp.encoder(url)(req.key))
    text(root, "UploadId", upload.upload_id)
    if url:
        text(root, "EncodingType", "url")
    return xml_response(xmlresp.to_bytes(root))


def upload_part(backend: Backend, req: Request) -> Response:
    upload = require_upload(backend, req)
    number = part_number(req)
    md5 = expected_md5(req)
    staged = backend.stage_body(req, MAX_OBJECT_SIZE)
    try:
        if md5 is not None and md5 != staged.md5:
            raise xmlresp.bad_digest(base64.b64encode(md5).decode(), staged.md5_b64)
        try:
            part = backend.store.put_part(req.bucket, upload.upload_id, number, staged)
        except FileNotFoundError:  # completed or aborted while this part was arriving
            raise xmlresp.no_such_upload(upload.upload_id) from None
    finally:
        staged.path.unlink(missing_ok=True)
    return Response(
        200,
        {"ETag": f'"{part.etag}"', "x-oss-hash-crc64ecma": str(part.crc64), "Content-MD5": staged.md5_b64},
    )


def list_parts(backend: Backend, req: Request) -> Response:
    upload = require_upload(backend, req)
    max_parts = int_param(req, "max-parts", 1000)
    raw_marker = req.params.get("part-number-marker", "") or "0"
    try:
        marker = int(raw_marker)
    except ValueError:
        raise xmlresp.invalid_argument("Invalid part-number-marker.", "part-number-marker", raw_marker) from None
    parts = [p for p in backend.store.list_parts(req.bucket, upload.upload_id) if p.number > marker]
    truncated = len(parts) > max_parts
    page = parts[:max_parts]
    url = url_encoding(req)
    root = ET.Element("ListPartsResult")
    text(root, "Bucket", req.bucket)
    text(root, "Key", xmlresp.encoder(url)(req.key))
    text(root, "UploadId", upload.upload_id)
    text(root, "StorageClass", "Standard")
    text(root, "PartNumberMarker", str(marker))
    text(root, "NextPartNumberMarker", str(page[-1].number if page else marker))
    text(root, "MaxParts", str(max_parts))
    text(root, "IsTruncated", "true" if truncated else "false")
    if url:
        text(root, "EncodingType", "url")
    for p in page:
        node = ET.SubElement(root, "Part")
        text(node, "PartNumber", str(p.number))
        text(node, "LastModified", xmlresp.iso8601(p.last_modified))
        text(node, "ETag", f'"{p.etag}"')
        text(node, "HashCrc64ecma", str(p.crc64))
        text(node, "Size", str(p.size))
    return xml_response(xmlresp.to_bytes(root))


def abort_upload(backend: Backend, req: Request) -> Response:
    upload = require_upload(backend, req)
    backend.store.drop_upload(req.bucket, upload.upload_id)
    return Response(204)


def _requested_parts(backend: Backend, req: Request, upload_id: str) -> list[PartMeta]:
    stored = {p.number: p for p in backend.store.list_parts(req.bucket, upload_id)}
    raw = req.body.read_all(MAX_XML_BODY)
    if req.headers.get("x-oss-complete-all", "").lower() == "yes":
        if raw.strip():
            raise xmlresp.invalid_argument(
                "Should not specify both complete-all header and body.", "x-oss-complete-all", "yes"
            )
        if not stored:
            raise xmlresp.invalid_argument("The upload has no parts.", "x-oss-complete-all", "yes")
        chosen = [stored[n] for n in sorted(stored)]
    else:
        chosen = []
        root = xmlresp.parse(raw, "CompleteMultipartUpload")
        nodes = root.findall("Part")
        if not nodes:
            raise xmlresp.malformed_xml()
        last = 0
        for node in nodes:
            number_text, etag_text = node.findtext("PartNumber"), node.findtext("ETag")
            if number_text is None or etag_text is None:
                raise xmlresp.malformed_xml()
            try:
                number = int(number_text.strip())
            except ValueError:
                raise xmlresp.malformed_xml() from None
            if number <= last:
                raise OSSError(
                    400,
                    "InvalidPartOrder",
                    "The list of parts was not in ascending order. Parts list must specified in order by part "
                    "number.",
                    ec="0042-00000209",
                )
            last = number
            etag = etag_text.strip().strip('"').upper()
            part = stored.get(number)
            if part is None or part.etag != etag:
                raise OSSError(
                    400,
                    "InvalidPart",
                    "One or more of the specified parts could not be found or the specified entity tag might "
                    "not have matched the part's entity tag.",
                    extra={"ETag": etag_text.strip(), "PartNumber": str(number), "UploadId": upload_id},
                )
            chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART_SIZE:
            raise OSSError(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size.",
                extra={
                    "MinSizeAllowed": str(MIN_PART_SIZE),
                    "ProposedSize": str(part.size),
                    "PartNumber": str(part.number),
                },
            )
    return chosen


def complete_upload(backend: Backend, req: Request) -> Response:
    upload = require_upload(backend, req)
    callback, custom = callback_params(req)
    parts = _requested_parts(backend, req, upload.upload_id)
    if forbid_overwrite(req) and backend.store.get_object(req.bucket, req.key):
        raise file_exists()
    try:
        staged = backend.store.assemble(req.bucket, upload.upload_id, parts)
    except FileNotFoundError:  # a concurrent complete or abort won
        raise xmlresp.no_such_upload(upload.upload_id) from None
    try:
        md5s = b"".join(bytes.fromhex(p.md5_hex) for p in parts)
        etag = hashlib.md5(md5s).hexdigest().upper() + f"-{len(parts)}"  # noqa: S324 - OSS's multipart ETag
        committed = backend.store.put_object(
            req.bucket,
            req.key,
            staged,
            content_type=upload.content_type,
            user_meta=upload.user_meta,
            headers=upload.headers,
            object_type="Multipart",
            etag=etag,
            content_md5="",
            acl=upload.acl,
            tags=upload.tags,
        )
    finally:
        staged.path.unlink(missing_ok=True)
    backend.store.drop_upload(req.bucket, upload.upload_id)
    meta = committed.meta
    url = url_encoding(req)

    def ok() -> Response:
        root = ET.Element("CompleteMultipartUploadResult")
        if url:
            text(root, "EncodingType", "url")
        text(root, "Location", req.location)
        text(root, "Bucket", req.bucket)
        text(root, "Key", xmlresp.encoder(url)(req.key))
        text(root, "ETag", f'"{meta.etag}"')
        return xml_response(
            xmlresp.to_bytes(root), headers={"ETag": f'"{meta.etag}"', "x-oss-hash-crc64ecma": str(meta.crc64)}
        )

    return finish_upload(backend, req, committed, callback, custom, "CompleteMultipartUpload", ok)
