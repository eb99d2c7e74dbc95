"""Parsing OSS callback bodies (form-urlencoded or JSON) into a typed record.

The callback body is whatever the uploader's callbackBody template made of it, so field names are the user's
choice. We recognise OSS's system variable names (``mimeType``) and their snake_case spellings (``mime_type``),
``imageInfo.*`` flat or nested, custom variables by their ``x:`` prefix, and keep everything else in ``extra``.
Numbers may arrive as JSON numbers or strings: both are accepted. OSS's JSON substitution writes ``${size}`` as a
bare number (``"size":114020`` in the callbacks OSS signed, ``tests/callback/golden/``); a template that quotes the
placeholder, or a custom ``x:`` variable, gives a string.

Form bodies are split by :func:`parse_form`, which is ``urllib.parse.parse_qsl`` with this module's settings
(strict, blank values kept, UTF-8 strictly, at most :data:`MAX_FORM_FIELDS` fields) written out for the one case
used: the generic function's argument coercion and per-field calls were a quarter of the callback core's CPU.
``tests/callback/test_body_form.py`` proves it equal to ``parse_qsl`` over generated bodies, errors included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

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
    """``imageInfo.*``: set by OSS for images, empty otherwise. (Every dataclass here has a docstring: without
    one, ``dataclass`` builds one from ``inspect.signature`` at import, on the cold start.)"""

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
    elif isinstance(value, str) and (text := value.strip()).isascii() and text.isdigit() and len(text) <= 20:
        result = int(text)
    else:
        raise _bad(f"The field {name!r} must be a non-negative integer.")
    if result < 0:
        raise _bad(f"The field {name!r} must be a non-negative integer.")
    return result


# Record fields checked after ``imageInfo``, in this order (the first bad one names the error), with the body
# name used in error messages (OSS's spelling); ``size`` is the one integer.
_FIELDS = (
    ("bucket", "bucket"), ("object", "object"), ("etag", "etag"), ("size", "size"), ("mime_type", "mimeType"),
    ("crc64", "crc64"), ("content_md5", "contentMd5"), ("client_ip", "clientIp"), ("req_id", "reqId"),
    ("operation", "operation"), ("vpc_id", "vpcId"),
)
_IMAGE_PREFIX = "imageInfo."
_NO_IMAGE = ImageInfo()


def _build(items: list[tuple[str, Any]], content_type: str) -> CallbackBody:
    values: dict[str, Any] = {}
    image: dict[str, Any] = {}
    custom: dict[str, str] = {}
    extra: dict[str, Any] = {}
    aliases = _ALIASES
    only_text = True  # every record field a string: no field can fail but size, so no order to keep
    for key, value in items:
        field_name = aliases.get(key)
        if field_name is not None:
            values[field_name] = value
            if type(value) is not str:
                only_text = False
        elif key.startswith(_IMAGE_PREFIX) and key[len(_IMAGE_PREFIX) :] in _IMAGE_KEYS:
            image[key[len(_IMAGE_PREFIX) :]] = value
        elif key in ("imageInfo", "image_info") and isinstance(value, dict):
            for sub, subvalue in value.items():
                if sub in _IMAGE_KEYS:
                    image[sub] = subvalue
        elif key.startswith("x:"):
            if type(value) is not str:  # strings (every form value) are taken as they are
                text = _text(value, key)
                value = "" if text is None else text
            custom[key] = value
        else:
            extra[key] = value
    info = _NO_IMAGE if not image else ImageInfo(
        height=_int(image.get("height"), "imageInfo.height"),
        width=_int(image.get("width"), "imageInfo.width"),
        format=_text(image.get("format"), "imageInfo.format"),
    )
    if only_text:  # the common case (every form body; JSON bodies whose numbers came quoted)
        fields = values
        if "" in fields.values():  # an empty field is an absent one
            for attr, value in fields.items():
                if value == "":
                    fields[attr] = None
        size = fields.get("size")
        if size is not None:
            # OSS's own digits, decided inline; anything else (spaces, signs, "²") takes _int's checks
            fields["size"] = int(size) if size.isdigit() and size.isascii() and len(size) <= 20 else _int(size, "size")
    else:  # field by field in _FIELDS order, so the first bad field is the one the error names
        fields = {}
        for attr, name in _FIELDS:
            value = values.get(attr)
            if value is None:
                continue
            if attr == "size":
                fields[attr] = _int(value, name)
            elif type(value) is str:
                fields[attr] = value or None
            else:
                fields[attr] = _text(value, name)
    return CallbackBody(image_info=info, custom_vars=custom, extra=extra, content_type=content_type, **fields)


def _unquote(text: str) -> str:
    """``unquote(text, encoding="utf-8", errors="strict")``: for ASCII text (what OSS sends) that function is
    ``unquote_to_bytes(text).decode()`` after splitting the text into ASCII runs, of which there is one."""
    if text.isascii():
        return unquote_to_bytes(text).decode("utf-8", "strict")
    return unquote(text, encoding="utf-8", errors="strict")


def parse_form(text: str) -> list[tuple[str, str]]:
    """``parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict",
    max_num_fields=MAX_FORM_FIELDS)``, written out; raises ``ValueError`` (or ``UnicodeDecodeError``) as it does."""
    if text and 1 + text.count("&") > MAX_FORM_FIELDS:
        raise ValueError("Max number of fields exceeded")
    pairs: list[tuple[str, str]] = []
    if not text:
        return pairs
    append = pairs.append
    for field_text in text.split("&"):
        name, sep, value = field_text.partition("=")
        if not sep:
            raise ValueError(f"bad query field: {field_text!r}")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = _unquote(name)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = _unquote(value)
        append((name, value))
    return pairs


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999: Python's json yields inf, which is not JSON
        raise ValueError("number out of range")
    return value


def _too_deep(doc: dict[str, Any], limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the object ``doc`` nests deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(v, 2) for v in doc.values() if isinstance(v, (dict, list))]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


#: ``json.loads(text, parse_constant=..., parse_float=...)`` builds a decoder per call; this one is built once.
#: (It also refuses a leading BOM, as ``json.loads`` does: U+FEFF is not JSON whitespace.)
_JSON = json.JSONDecoder(parse_constant=_not_json_constant, parse_float=_finite_float)


def _media_type(content_type: str | None) -> str:
    if content_type in _BODY_TYPES:  # what OSS sends, exactly: nothing to split or fold
        return content_type
    return (content_type or "").split(";", 1)[0].strip().lower()


_BODY_TYPES = frozenset(("application/x-www-form-urlencoded", "application/json"))


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
            doc = _JSON.decode(text)
        except (ValueError, RecursionError):
            raise _bad("The callback body is not valid JSON.") from None
        if not isinstance(doc, dict):
            raise _bad("The callback body must be a JSON object.")
        if _too_deep(doc):
            raise _bad(f"The callback body nests JSON deeper than {MAX_JSON_DEPTH} levels.")
        return _build(list(doc.items()), "json")
    if media == "application/x-www-form-urlencoded":
        try:
            pairs = parse_form(text)
        except (ValueError, UnicodeDecodeError):
            raise _bad("The callback body is not valid form-urlencoded data.") from None
        return _build(list(pairs), "form")
    raise CallbackRejected(
        415, "UnsupportedMediaType", f"Content-Type {media!r} is not a callback body type (form or JSON)."
    )
