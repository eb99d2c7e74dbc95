"""What an upload came to: :class:`UploadResult` (a failed callback is not a failed upload: OSS answers 203 and
keeps the object), OSS's callback verdict read from the response, and readable results for refused or failed
events (never a traceback)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import oss2

from osscallback.errors import UploadError
from osscallback.upload.templates import CallbackSpec

if TYPE_CHECKING:
    from osscallback.upload.settings import BucketSettings

#: The uploader's logger (its name predates this module's split from uploader.py; log filters rely on it).
log = logging.getLogger("osscallback.upload.uploader")


class MultipartAborted(UploadError):
    """A multipart upload failed part-way and was aborted: no parts are left behind."""

    def __init__(self, key: str, upload_id: str, cause: BaseException) -> None:
        detail = f"{cause.__class__.__name__}: {cause}"[:300]
        super().__init__(f"multipart upload {upload_id} of {key!r} failed and was aborted: {detail}")
        self.key = key
        self.upload_id = upload_id
        self.cause = cause


@dataclass
class UploadResult:
    ok: bool
    action: str
    key: str | None = None
    request_id: str | None = None
    etag: str | None = None
    crc64: str | None = None
    callback_status: str = "none"  # "ok" | "failed" | "none"
    callback: Any = None
    callback_error: dict[str, Any] | None = None
    size: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        details = data.pop("details")
        if data["callback_error"] is None:
            del data["callback_error"]
        data.update(details)
        return data


def _connection_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words, from the exception chain oss2 -> requests -> urllib3 -> socket."""
    import socket
    import ssl

    seen: set[int] = set()
    pending: list[Any] = [exc]
    found: list[BaseException] = []
    while pending:  # every exception reachable through causes, contexts, urllib3's .reason and args
        item = pending.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        pending += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    names = {type(e).__name__ for e in found}
    for e in reversed(found):  # the innermost cause says it best
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror) or "NameResolutionError" in names:
            return "host name not found"
        if isinstance(e, ssl.SSLError):
            return f"TLS failed: {e.reason or e}"
        if isinstance(e, ConnectionResetError):
            return "connection reset"
        if isinstance(e, TimeoutError) or type(e).__name__ in ("ConnectTimeout", "ReadTimeout", "ConnectTimeoutError"):
            return "timed out"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror[:1].lower() + e.strerror[1:]
    return type(found[-1]).__name__ if found else "unknown error"


#: OSS's EC for a V1 signature a bucket refuses (https://help.aliyun.com/en/oss/user-guide/0002-00000080).
V1_REFUSED_EC = "0002-00000080"


def describe_oss_error(exc: oss2.exceptions.OssError, endpoint: str | None = None, bucket: str | None = None) -> str:
    """One readable sentence for an oss2 error: what happened and what to check.

    OSS's own errors carry a code and a message. oss2's client-side ones carry neither, only a body such as
    ``RequestError: HTTPConnectionPool(...)`` (formatted as is, they read ``OSS -2 : ``): a connection that failed
    names the endpoint and why, an invalid bucket name names the name and the rule.
    """
    if isinstance(exc, oss2.exceptions.RequestError):
        where = endpoint or "(endpoint not set)"
        return f"cannot connect to OSS endpoint {where} ({_connection_reason(exc.exception)})"
    if isinstance(exc, oss2.exceptions.ClientError):
        text = str(exc.body or "")
        text = text[len("ClientError: "):] if text.startswith("ClientError: ") else text
        if "bucket_name is invalid" in text or "Bucket name should not be null" in text:
            return f"bucket name {bucket or ''!r} is invalid (3 to 63 lowercase letters, digits or -)"
        return f"OSS client error: {text}" if text else "OSS client error"
    ec = getattr(exc, "ec", "") or ""
    text = f"OSS {exc.status} {exc.code}{f' (EC {ec})' if ec else ''}: {exc.message}"
    if ec == V1_REFUSED_EC:  # a bucket created since 2025-09-01, and someone asked for V1
        text += " The bucket refuses V1 signatures: unset OSS_AUTH_VERSION to sign with V4."
    return text


def error_result(action: str | None, exc: BaseException, settings: BucketSettings | None = None) -> dict[str, Any]:
    """The structured result of a refused or failed event (never a traceback), with the usual result keys.

    ``settings`` (when the event got that far) lets an oss2 client-side error name the endpoint or bucket."""
    result: dict[str, Any] = {"ok": False, "action": action, "request_id": None, "etag": None, "crc64": None,
                              "callback_status": "none", "callback": None}
    if isinstance(exc, oss2.exceptions.OssError):
        result.update(error=exc.code or exc.__class__.__name__, request_id=exc.request_id or None,
                      message=describe_oss_error(exc, settings.endpoint if settings else None,
                                                 settings.bucket if settings else None))
    else:
        result.update(error=exc.__class__.__name__, message=str(exc))
    return result


def _parse_oss_error(body: bytes) -> dict[str, Any]:
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - OSS's own error document over our connection
    except ElementTree.ParseError:
        return {"Code": "CallbackFailed", "Message": body[:500].decode("utf-8", "replace")}
    return {child.tag: (child.text or "") for child in root}


def callback_outcome(result: Any, spec: CallbackSpec | None, out: UploadResult) -> UploadResult:
    """Fill the callback fields from an upload's response: 200 carries the callback's JSON, 203 OSS's error."""
    out.request_id = result.request_id
    out.etag = result.etag
    out.crc64 = None if result.crc is None else str(result.crc)
    if spec is None:
        out.callback_status = "none"
        return out
    body = result.resp.read()
    if result.status == 203:
        error = _parse_oss_error(body)
        out.callback_status = "failed"
        out.callback_error = {
            "code": error.get("Code", "CallbackFailed"),
            "message": error.get("Message", ""),
            "request_id": error.get("RequestId") or result.request_id,
        }
        log.warning(json.dumps({"event": "callback_failed", "key": out.key, **out.callback_error}))
        return out
    out.callback_status = "ok"
    try:
        out.callback = json.loads(body) if body else None
    except ValueError:
        out.callback = body.decode("utf-8", "replace")
    return out
