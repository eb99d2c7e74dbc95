"""The end of every upload that creates an object: the ObjectCreated event, then the callback's verdict.

OSS's order, which this follows: the object is committed first; then, if the upload carried callback parameters
(PutObject, PostObject, CompleteMultipartUpload), the callback is performed and its JSON answer becomes the
upload's response body — a failed callback turns the answer into 203 ``CallbackFailed`` but never removes the
object. The event notification is published right after the commit and delivered off the request thread, so
neither a slow sink nor a slow callback delays the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import OWNER_ID, Backend
from osscallback.local.oss.api.request import Request, Response
from osscallback.local.oss.callbacks import MSG_NOT_JSON, UploadFacts, image_info, needs_image_info, variables
from osscallback.local.oss.model.events import ObjectCreated
from osscallback.local.oss.model.store import Committed
from osscallback.local.oss.xmlresp import OSSError
from osscallback.upload.callback_params import CallbackParamError, CallbackParams, decode_callback_var


def callback_params(req: Request) -> tuple[CallbackParams | None, dict[str, str]]:
    """Callback parameters from ``x-oss-callback[-var]`` headers or ``callback[-var]`` query parameters."""
    p = req.params
    raw = req.headers.get("x-oss-callback") or p.get("callback")
    raw_var = req.headers.get("x-oss-callback-var") or p.get("callback-var")
    if not raw:
        return None, {}
    try:
        params = CallbackParams.from_base64(raw.strip())
        custom = decode_callback_var(raw_var.strip()) if raw_var else {}
    except CallbackParamError as exc:
        raise callback_param_error(exc) from None
    return params, custom


def callback_param_error(exc: CallbackParamError) -> OSSError:
    return OSSError(400, exc.code, exc.message, ec=exc.ec)


def publish_created(backend: Backend, req: Request, operation: str, bucket: str, committed: Committed) -> None:
    """Queue the ObjectCreated event of a committed write (never blocks, never raises for a bad sink)."""
    meta = committed.meta
    previous = committed.previous.size if committed.previous is not None else 0
    backend.notifier.publish(
        ObjectCreated(
            operation=operation,
            bucket=bucket,
            key=meta.key,
            etag=meta.etag,
            size=meta.size,
            delta_size=meta.size - previous,
            region=backend.region,
            owner_id=OWNER_ID,
            principal_id=OWNER_ID if not req.anonymous else "anonymous",
            source_ip=req.client_ip,
            request_id=req.request_id,
            time=time.time(),
            mime_type=meta.content_type,
            user_meta=tuple(sorted(meta.user_meta.items())),
        )
    )


def finish_upload(
    backend: Backend,
    req: Request,
    committed: Committed,
    callback: CallbackParams | None,
    custom: Mapping[str, str],
    operation: str,
    ok: Callable[[], Response],
    *,
    bucket: str | None = None,
) -> Response:
    """Publish the event, then answer ``ok()`` — or the callback's outcome if a callback was asked for."""
    bucket = bucket or req.bucket
    publish_created(backend, req, operation, bucket, committed)
    if callback is None:
        return ok()
    meta = committed.meta
    image = None
    if needs_image_info(callback):
        image = image_info(backend.store.object_path(bucket, meta))
    facts = UploadFacts(
        bucket=bucket,
        key=meta.key,
        etag=meta.etag,
        size=meta.size,
        mime_type=meta.content_type,
        crc64=meta.crc64,
        content_md5=meta.content_md5 if operation != "CompleteMultipartUpload" else "",
        client_ip=req.client_ip,
        request_id=req.request_id,
        operation=operation,
        image=image,
    )
    result = backend.sender.send(callback, variables(facts, custom))
    headers = {"ETag": f'"{meta.etag}"', "x-oss-hash-crc64ecma": str(meta.crc64)}
    if result.ok:
        headers["Content-Type"] = "application/json"
        return Response(200, headers, result.body)
    # Only the "not valid json" case has a documented EC (0007-00000205); the others are sent without one.
    ec = "0007-00000205" if result.message == MSG_NOT_JSON else ""
    err = OSSError(203, "CallbackFailed", result.message, ec=ec)
    headers["Content-Type"] = "application/xml"
    if err.ec:
        headers["x-oss-ec"] = err.ec
    return Response(203, headers, xmlresp.error_xml(err, req.request_id, req.host))
