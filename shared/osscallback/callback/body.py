"""Parsing OSS callback bodies (form-urlencoded or JSON) into a typed record.

The callback body is whatever the uploader's callbackBody template made of it, so field names are the user's
choice. We recognise OSS's system variable names (``mimeType``) and their snake_case spellings (``mime_type``),
``imageInfo.*`` flat or nested, custom variables by their ``x:`` prefix, and keep everything else in ``extra``.
Numbers may arrive as JSON numbers or strings (OSS's JSON substitution writes strings): both are accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from osscallback.errors import CallbackRejected

MAX_FORM_FIELDS = 1000
#: Deepest JSON nesting accepted: OSS callback bodies are flat; deep nesting only costs stack.
MAX_JSON_DEPTH = 32

# body key -> record field
_ALIASES: dict[str, str] = {
    "bucket": "bucket",
    "object": "object",
    "etag": "etag",
    "size": "size",
    "mimeType": "mime_type",
    "mime_type": "mime_type",
    "crc64": "crc64",
    "contentMd5": "content_md5",
    "content_md5": "content_md5",
    "clientIp": "client_ip",
    "client_ip": "client_ip",
    "reqId": "req_id",
    "req_id": "req_id",
    "operation": "operation",
    "vpcId": "vpc_id",
    "vpc_id": "vpc_id",
}
_IMAGE_KEYS = {"height": "height", "width": "width", "format": "format"}


def _bad(message: str) -> CallbackRejected:
    return CallbackRejected(400, "InvalidCallbackBody", message)


@dataclass(frozen=True)
class ImageInfo:
    height: int | None = None
    width: int | None = None
    format: str | None = None


@dataclass(frozen=True)
class CallbackBody:
    """What OSS told us about the uploaded object."""

    bucket: str | None = None
    object: str | None = None
    etag: str | None = None
    size: int | None = None
    mime_type: str | None = None
    image_info: ImageInfo = field(default_factory=ImageInfo)
    crc64: str | None = None
    content_md5: str | None = None
    client_ip: str | None = None
    req_id: str | None = None
    operation: str | None = None
    vpc_id: str | None = None
    custom_vars: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    content_type: str = "form"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, the ``callback`` variable of answer templates and the actions' input.

        Built by hand rather than with ``dataclasses.asdict``, whose recursive deep copy was a third of the
        callback core's CPU time; ``custom_vars``/``extra`` are copied one level, which is all a template or an
        action can safely mutate.
        """
        info = self.image_info
        return {
            "bucket": self.bucket,
            "object": self.object,
            "etag": self.etag,
            "size": self.size,
            "mime_type": self.mime_type,
            "image_info": {"height": info.height, "width": info.width, "format": info.format},
            "crc64": self.crc64,
            "content_md5": self.content_md5,
            "client_ip": self.client_ip,
            "req_id": self.req_id,
            "operation": self.operation,
            "vpc_id": self.vpc_id,
            "custom_vars": dict(self.custom_vars),
            "extra": dict(self.extra),
            "content_type": self.content_type,
        }


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise _bad(f"The field {name!r} must be a string.")
    text = str(value)
    return text if text != "" else None


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad(f"The field {name!r} must be an integer.")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 20:
        result = int(value.strip())
    else:
        raise _bad(f"The field {name!r} must be a non-negative integer.")
    if result < 0:
        raise _bad(f"The field {name!r} must be a non-negative integer.")
    return result


def _build(items: list[tuple[str, Any]], content_type: str) -> CallbackBody:
    values: dict[str, Any] = {}
    image: dict[str, Any] = {}
    custom: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for key, value in items:
        if key in _ALIASES:
            values[_ALIASES[key]] = value
        elif key.startswith("imageInfo.") and key[len("imageInfo.") :] in _IMAGE_KEYS:
            image[key[len("imageInfo.") :]] = value
        elif key in ("imageInfo", "image_info") and isinstance(value, dict):
            for sub, subvalue in value.items():
                if sub in _IMAGE_KEYS:
                    image[sub] = subvalue
        elif key.startswith("x:"):
            text = _text(value, key)
            custom[key] = "" if text is None else text
        else:
            extra[key] = value
    info = ImageInfo(
        height=_int(image.get("height"), "imageInfo.height"),
        width=_int(image.get("width"), "imageInfo.width"),
        format=_text(image.get("format"), "imageInfo.format"),
    )
    return CallbackBody(
        bucket=_text(values.get("bucket"), "bucket"),
        object=_text(values.get("object"), "object"),
        etag=_text(values.get("etag"), "etag"),
        size=_int(values.get("size"), "size"),
        mime_type=_text(values.get("mime_type"), "mimeType"),
        image_info=info,
        crc64=_text(values.get("crc64"), "crc64"),
        content_md5=_text(values.get("content_md5"), "contentMd5"),
        client_ip=_text(values.get("client_ip"), "clientIp"),
        req_id=_text(values.get("req_id"), "reqId"),
        operation=_text(values.get("operation"), "operation"),
        vpc_id=_text(values.get("vpc_id"), "vpcId"),
        custom_vars=custom,
        extra=extra,
        content_type=content_type,
    )


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999: Python's json yields inf, which is not JSON
        raise ValueError("number out of range")
    return value


def _too_deep(doc: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``doc`` nests deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_body(body: bytes, content_type: str | None) -> CallbackBody:
    """Parse a callback body by its Content-Type; raise :class:`CallbackRejected` (400/415) if malformed."""
    if not body:
        raise _bad("The callback body is empty.")
    media = _media_type(content_type)
    if media == "":
        media = "application/json" if body.lstrip()[:1] == b"{" else "application/x-www-form-urlencoded"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("The callback body is not valid UTF-8.") from None
    if media == "application/json":
        try:
            doc = json.loads(text, parse_constant=_not_json_constant, parse_float=_finite_float)
        except (ValueError, RecursionError):
            raise _bad("The callback body is not valid JSON.") from None
        if not isinstance(doc, dict):
            raise _bad("The callback body must be a JSON object.")
        if _too_deep(doc):
            raise _bad(f"The callback body nests JSON deeper than {MAX_JSON_DEPTH} levels.")
        return _build(list(doc.items()), "json")
    if media == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(
                text, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict",
                max_num_fields=MAX_FORM_FIELDS,
            )
        except (ValueError, UnicodeDecodeError):
            raise _bad("The callback body is not valid form-urlencoded data.") from None
        return _build(list(pairs), "form")
    raise CallbackRejected(
        415, "UnsupportedMediaType", f"Content-Type {media!r} is not a callback body type (form or JSON)."
    )
