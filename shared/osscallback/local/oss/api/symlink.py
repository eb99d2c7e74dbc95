"""Symlinks: PutSymlink and GetSymlink (GET and HEAD on a symlink follow it, in :mod:`.objects`).

The target travels in ``x-oss-symlink-target``: oss2 URL-encodes it (every byte but unreserved ones) and decodes
the answer, the v2 SDK sends and reads it as it is. The local OSS decodes it to find the target and echoes it in
GetSymlink exactly as it was sent, so each SDK reads back what it wrote.

A symlink is an object of type ``Symlink`` with no bytes of its own: its metadata (Content-Type, user metadata,
ACL, tags) comes from the PutSymlink request, its ETag is the MD5 of the target's name, and the target need not
exist when the link is made (a GET then answers 404 ``SymlinkTargetNotExist``).
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote, unquote

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import Backend, check_key
from osscallback.local.oss.api.completion import finish_upload
from osscallback.local.oss.api.objects import require_object, upload_acl, upload_tags
from osscallback.local.oss.api.request import (
    Request,
    Response,
    content_type,
    file_exists,
    forbid_overwrite,
    meta_headers,
)
from osscallback.local.oss.xmlresp import OSSError


def put_symlink(backend: Backend, req: Request) -> Response:
    raw = req.headers.get("x-oss-symlink-target")
    if not raw:
        raise xmlresp.invalid_argument("The x-oss-symlink-target header is missing.", "x-oss-symlink-target", "")
    try:
        target = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        target = ""
    check_key(target)
    if forbid_overwrite(req) and backend.store.get_object(req.bucket, req.key):
        raise file_exists()
    user_meta, stored = meta_headers(req.headers)
    with backend.store.staged_bytes(b"") as empty:
        committed = backend.store.put_object(
            req.bucket,
            req.key,
            empty,
            content_type=content_type(req.headers),
            user_meta=user_meta,
            headers=stored,
            object_type="Symlink",
            etag=_md5_upper(target),
            content_md5="",
            acl=upload_acl(req),
            tags=upload_tags(req),
            symlink_target=target,
            symlink_header=raw,
        )
    meta = committed.meta
    return finish_upload(
        backend, req, committed, None, {}, "PutSymlink", lambda: Response(200, {"ETag": f'"{meta.etag}"'})
    )


def get_symlink(backend: Backend, req: Request) -> Response:
    meta = require_object(backend, req.bucket, req.key)
    if meta.object_type != "Symlink":
        raise OSSError(
            400, "NotSymlink", "The specified object is not a symlink.", ec="0043-00000101", extra={"Key": req.key}
        )
    headers = {
        "x-oss-symlink-target": meta.symlink_header or quote(meta.symlink_target, safe=""),
        "ETag": f'"{meta.etag}"',
        "Last-Modified": xmlresp.http_date(meta.last_modified),
    }
    headers.update(meta.user_meta)
    return Response(200, headers)


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()  # noqa: S324 - an ETag, not security
