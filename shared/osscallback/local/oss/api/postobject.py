"""PostObject: the HTML-form upload, parsed by :mod:`.postform` and checked against its signed policy.

The form carries what headers carry elsewhere: the key (``${filename}`` replaced by the file's name), the
signature fields (V1 or V4), the policy, ``Content-Type`` and ``x-oss-meta-*`` fields, ``x-oss-object-acl``,
``x-oss-tagging``, ``callback`` and ``x:`` custom variables, and ``success_action_status`` (200, 201 with a
``PostResponse`` document, or the default 204). A form without signature fields is anonymous: only a
``public-read-write`` bucket accepts it, as on OSS.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import Backend, check_key
from osscallback.local.oss.api.completion import callback_param_error, finish_upload
from osscallback.local.oss.api.postform import PostForm, check_policy, decode_policy, parse_form
from osscallback.local.oss.api.request import STORED_HEADERS, Request, Response
from osscallback.local.oss.api.sessionpolicy import check as sessionpolicy_check
from osscallback.local.oss.auth import verify_post_signature
from osscallback.local.oss.model import acl as acl_rules
from osscallback.local.oss.model import tags
from osscallback.local.oss.model.acl import parse_object_acl
from osscallback.local.oss.model.store import StagedFile
from osscallback.local.oss.xmlresp import text
from osscallback.upload.callback_params import CallbackParamError, CallbackParams, validate_custom_var_key


def is_form(req: Request) -> bool:
    return req.headers.get("content-type", "").lower().startswith("multipart/form-data")


def post_object(backend: Backend, req: Request) -> Response:
    form = parse_form(req.body.read, req.headers.get("content-type", ""), backend.store.stager)
    staged = form.staged
    try:
        return _post_object(backend, req, form, staged)
    finally:
        if staged is not None:
            staged.path.unlink(missing_ok=True)


def _post_object(backend: Backend, req: Request, form: PostForm, staged: StagedFile | None) -> Response:
    fields = form.fields
    if staged is None:
        raise xmlresp.invalid_argument("The file form field is missing.", "file", "")
    signed = any(f in fields for f in ("ossaccesskeyid", "x-oss-credential", "x-oss-access-key-id"))
    if signed:
        if "policy" not in fields:
            raise xmlresp.invalid_argument("The policy form field is missing.", "policy", "")
        req.access_key_id = verify_post_signature(
            fields, backend.credentials, accepted=backend.accepted_versions(req.bucket)
        ).access_key_id
    elif backend.store.bucket_acl(req.bucket) != "public-read-write":
        raise acl_rules.denied()  # an unsigned form: only a public-read-write bucket takes it
    key = fields.get("key", "").replace("${filename}", form.filename)
    if not key:
        raise xmlresp.invalid_argument("The key form field is missing or empty.", "key", "")
    check_key(key)
    if signed:
        sessionpolicy_check(backend, "PostObject", req, key=key)
    if "policy" in fields:
        check_policy(decode_policy(fields["policy"]), fields, req.bucket, staged.size)
    callback = None
    custom: dict[str, str] = {}
    if fields.get("callback"):
        try:
            callback = CallbackParams.from_base64(fields["callback"].strip())
            for name, value in form.custom.items():
                validate_custom_var_key(name)
                custom[name] = value
        except CallbackParamError as exc:
            raise callback_param_error(exc) from None
    expected = fields.get("content-md5")
    if expected is not None:
        try:
            digest = base64.b64decode(expected, validate=True)
        except (binascii.Error, ValueError):
            raise xmlresp.invalid_digest(expected) from None
        if digest != staged.md5:
            raise xmlresp.bad_digest(expected, staged.md5_b64)
    content_type = fields.get("content-type") or "application/octet-stream"
    user_meta = {k: v for k, v in fields.items() if k.startswith("x-oss-meta-")}
    stored = {k: v for k, v in fields.items() if k in STORED_HEADERS}
    acl = parse_object_acl(fields.get("x-oss-object-acl", "default"))
    object_tags = tags.from_header(fields["x-oss-tagging"]) if fields.get("x-oss-tagging") else {}
    committed = backend.store.put_object(
        req.bucket, key, staged, content_type=content_type, user_meta=user_meta, headers=stored, acl=acl,
        tags=object_tags,
    )
    meta = committed.meta
    status_field = fields.get("success_action_status", "")
    status = int(status_field) if status_field in ("200", "201", "204") else 204
    location = f"{req.endpoint}/{req.bucket}/{key}"

    def ok() -> Response:
        headers = {
            "ETag": f'"{meta.etag}"',
            "x-oss-hash-crc64ecma": str(meta.crc64),
            "Content-MD5": meta.content_md5,
            "Location": location,
        }
        if status == 201:
            headers["Content-Type"] = "application/xml"
            root = ET.Element("PostResponse")
            text(root, "Bucket", req.bucket)
            text(root, "Location", location)
            text(root, "Key", key)
            text(root, "ETag", f'"{meta.etag}"')
            return Response(201, headers, xmlresp.to_bytes(root))
        return Response(status, headers)

    return finish_upload(backend, req, committed, callback, custom, "PostObject", ok)
