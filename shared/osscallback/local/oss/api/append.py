"""AppendObject: ``POST /<key>?append&position=<n>`` adds bytes to an Appendable object.

OSS's rules: the first append (``position=0`` on a missing key) creates an ``Appendable`` object and takes its
Content-Type, metadata, ACL and tags from that request; each later append must name the current length as its
position, else 409 ``PositionNotEqualToLength`` with the right one in ``x-oss-next-append-position`` (oss2's
exception reads it); a Normal, Multipart or Symlink object is 409 ``ObjectNotAppendable``. Every answer carries
``x-oss-next-append-position`` and the CRC-64 of the whole object so far, which the SDKs check by combining it
with the CRC they computed for the appended bytes.
"""

from __future__ import annotations

import base64

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import Backend
from osscallback.local.oss.api.completion import finish_upload
from osscallback.local.oss.api.objects import upload_acl, upload_tags
from osscallback.local.oss.api.request import (
    MAX_OBJECT_SIZE,
    Request,
    Response,
    content_type,
    expected_md5,
    meta_headers,
)
from osscallback.local.oss.model.store import Committed, Conflict, StagedFile
from osscallback.local.oss.xmlresp import OSSError


def _position(req: Request) -> int:
    raw = req.params.get("position")
    if raw is None:
        raise xmlresp.invalid_argument("The position parameter is missing.", "position", "")
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise xmlresp.invalid_argument("The position parameter must be a non-negative integer.", "position", raw)
    return value


def position_not_equal(size: int) -> OSSError:
    return OSSError(
        409,
        "PositionNotEqualToLength",
        "Position is not equal to file length",
        ec="0026-00000016",
        headers={"x-oss-next-append-position": str(size)},
    )


def not_appendable() -> OSSError:
    return OSSError(409, "ObjectNotAppendable", "The object is not appendable", ec="0026-00000017")


def _check(backend: Backend, req: Request, position: int) -> None:
    meta = backend.store.get_object(req.bucket, req.key)
    if meta is not None and meta.object_type != "Appendable":
        raise not_appendable()
    size = meta.size if meta is not None else 0
    if position != size:
        raise position_not_equal(size)


def append_object(backend: Backend, req: Request) -> Response:
    position = _position(req)
    md5 = expected_md5(req)
    _check(backend, req, position)  # before reading the body: a wrong position costs no upload
    staged = backend.stage_body(req, MAX_OBJECT_SIZE)
    try:
        if md5 is not None and md5 != staged.md5:
            raise xmlresp.bad_digest(base64.b64encode(md5).decode(), staged.md5_b64)
        committed = _commit(backend, req, position, staged)
    finally:
        staged.path.unlink(missing_ok=True)
    meta = committed.meta

    def ok() -> Response:
        return Response(
            200,
            {
                "ETag": f'"{meta.etag}"',
                "x-oss-next-append-position": str(meta.size),
                "x-oss-hash-crc64ecma": str(meta.crc64),
            },
        )

    return finish_upload(backend, req, committed, None, {}, "AppendObject", ok)


def _commit(backend: Backend, req: Request, position: int, staged: StagedFile) -> Committed:
    try:
        if position == 0 and backend.store.get_object(req.bucket, req.key) is None:
            user_meta, stored = meta_headers(req.headers)
            return backend.store.put_object(
                req.bucket,
                req.key,
                staged,
                content_type=content_type(req.headers),
                user_meta=user_meta,
                headers=stored,
                object_type="Appendable",
                content_md5="",
                acl=upload_acl(req),
                tags=upload_tags(req),
                expect="",
            )
        return backend.store.append(req.bucket, req.key, position, staged)
    except (Conflict, FileNotFoundError):  # another write won the race: tell the client where the object is now
        _check(backend, req, position)
        raise position_not_equal(position) from None
