"""The OSS callback parameters (``x-oss-callback`` / ``x-oss-callback-var``) as a typed model.

One module speaks for OSS's rules on both sides of the wire: the client side (templates, upload function) builds
and validates parameters with it before sending, and the local OSS server parses, validates and substitutes them
exactly as OSS does. Keeping both on one model means a rule fixed here is fixed for the local OSS and the SDK-side
validation at once.

Error codes and wording follow OSS's public error pages (``0007-*``, InvalidArgument). See SPEC §1.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from osscallback.errors import OssCallbackError

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
BODY_TYPES = (FORM, JSON)

#: OSS's system variables, usable as ``${name}`` in callbackBody.
SYSTEM_VARIABLES: frozenset[str] = frozenset(
    {
        "bucket",
        "object",
        "etag",
        "size",
        "mimeType",
        "imageInfo.height",
        "imageInfo.width",
        "imageInfo.format",
        "crc64",
        "contentMd5",
        "vpcId",
        "clientIp",
        "reqId",
        "operation",
    }
)

#: Limit on the base64 form of ``callback`` and of ``callback-var``, each (OSS: 5 KB).
MAX_CALLBACK_B64 = 5 * 1024
#: Most URLs callbackUrl may list (tried in order until one succeeds).
MAX_CALLBACK_URLS = 5

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_CUSTOM_KEY = re.compile(r"^x:[a-z0-9_\-.]+$")


class CallbackParamError(OssCallbackError):
    """Callback parameters OSS would refuse. Carries OSS's error code, detail code (EC) and message."""

    def __init__(self, message: str, *, ec: str = "", code: str = "InvalidArgument") -> None:
        super().__init__(message)
        self.code = code
        self.ec = ec
        self.message = message


def _b64_json(value: str, *, what: str, limit_ec: str, format_ec: str) -> Any:
    if len(value) > MAX_CALLBACK_B64:
        raise CallbackParamError(
            f"The {what} is too long: {len(value)} base64 characters, at most {MAX_CALLBACK_B64}.", ec=limit_ec
        )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CallbackParamError(f"The {what} is not base64 encoded.", ec=format_ec) from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CallbackParamError(f"The {what} is not json format.", ec=format_ec) from None


def _b64_of(doc: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc, ensure_ascii=False).encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class CallbackParams:
    """A validated OSS callback document."""

    urls: tuple[str, ...]
    body: str
    body_type: str = FORM
    host: str | None = None
    sni: bool = False

    def __post_init__(self) -> None:
        if not self.urls or not all(u.strip() for u in self.urls):
            raise CallbackParamError("The callbackUrl is empty.", ec="0007-00000004")
        if len(self.urls) > MAX_CALLBACK_URLS:
            raise CallbackParamError(
                f"The callbackUrl has {len(self.urls)} URLs, at most {MAX_CALLBACK_URLS} are allowed.",
                ec="0007-00000006",
            )
        if not self.body:
            raise CallbackParamError("The callbackBody is empty.", ec="0007-00000011")
        if self.body_type not in BODY_TYPES:
            raise CallbackParamError(
                f"The callbackBodyType {self.body_type!r} is invalid: use {FORM} or {JSON}.", ec="0007-00000012"
            )
        if self.body_type == JSON:
            sample = render_body(self.body, JSON, {})
            try:
                json.loads(sample)
            except (ValueError, RecursionError):
                raise CallbackParamError("The callback configuration is not json format.", ec="0007-00000013") from None

    @classmethod
    def from_document(cls, doc: Any) -> CallbackParams:
        """Validate a decoded callback document the way OSS does."""
        if not isinstance(doc, dict):
            raise CallbackParamError("The callback configuration is not json format.", ec="0007-00000002")
        url = doc.get("callbackUrl")
        if not isinstance(url, str) or not url.strip():
            raise CallbackParamError("The callbackUrl is empty.", ec="0007-00000004")
        body = doc.get("callbackBody")
        if not isinstance(body, str):
            raise CallbackParamError("The callbackBody is empty.", ec="0007-00000011")
        body_type = doc.get("callbackBodyType", FORM)
        if not isinstance(body_type, str):
            raise CallbackParamError("The callbackBodyType is not a string.", ec="0007-00000012")
        host = doc.get("callbackHost")
        if host is not None and not isinstance(host, str):
            raise CallbackParamError("The callbackHost is not a string.", ec="0007-00000008")
        sni = doc.get("callbackSNI", False)
        if not isinstance(sni, bool):
            raise CallbackParamError("The callbackSNI is not a boolean.", ec="0007-00000014")
        urls = tuple(u.strip() for u in url.split(";") if u.strip())
        return cls(urls=urls, body=body, body_type=body_type.strip() or FORM, host=host or None, sni=sni)

    @classmethod
    def from_base64(cls, value: str) -> CallbackParams:
        """Parse and validate the base64 ``callback`` value of a request."""
        doc = _b64_json(value, what="callback", limit_ec="0007-00000001", format_ec="0007-00000002")
        return cls.from_document(doc)

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "callbackUrl": ";".join(self.urls),
            "callbackBody": self.body,
            "callbackBodyType": self.body_type,
        }
        if self.host:
            doc["callbackHost"] = self.host
        if self.sni:
            doc["callbackSNI"] = True
        return doc

    def to_base64(self) -> str:
        """The base64 ``callback`` value; raises :class:`CallbackParamError` if it exceeds OSS's size limit."""
        value = _b64_of(self.to_document())
        if len(value) > MAX_CALLBACK_B64:
            raise CallbackParamError(
                f"The callback is too long: {len(value)} base64 characters, at most {MAX_CALLBACK_B64}.",
                ec="0007-00000001",
            )
        return value


def validate_custom_var_key(key: str) -> None:
    """Custom variable keys are ``x:`` followed by lowercase letters, digits, ``_``, ``-`` or ``.``."""
    if not isinstance(key, str) or not _CUSTOM_KEY.match(key):
        raise CallbackParamError(
            f"The custom variable key {key!r} is invalid: it must start with 'x:' and be lowercase.",
            ec="0007-00000102",
        )


def decode_callback_var(value: str) -> dict[str, str]:
    """Parse and validate a base64 ``callback-var`` value into ``{"x:key": "value"}``."""
    doc = _b64_json(value, what="callback-var", limit_ec="0007-00000101", format_ec="0007-00000103")
    if not isinstance(doc, dict):
        raise CallbackParamError("The callback-var is not json format.", ec="0007-00000103")
    result: dict[str, str] = {}
    for key, val in doc.items():
        validate_custom_var_key(key)
        if not isinstance(val, str):
            raise CallbackParamError(f"The custom variable {key!r} must have a string value.", ec="0007-00000104")
        result[key] = val
    return result


def encode_callback_var(variables: Mapping[str, str]) -> str:
    """The base64 ``callback-var`` value for custom variables, validated and size-checked."""
    for key, val in variables.items():
        validate_custom_var_key(key)
        if not isinstance(val, str):
            raise CallbackParamError(f"The custom variable {key!r} must have a string value.", ec="0007-00000104")
    value = _b64_of(dict(variables))
    if len(value) > MAX_CALLBACK_B64:
        raise CallbackParamError(
            f"The callback-var is too long: {len(value)} base64 characters, at most {MAX_CALLBACK_B64}.",
            ec="0007-00000101",
        )
    return value


def placeholders(body: str) -> list[str]:
    """The variable names inside ``${...}`` in a callback body, in order of appearance."""
    return _PLACEHOLDER.findall(body)


def render_body(body: str, body_type: str, values: Mapping[str, object]) -> bytes:
    """Substitute ``${name}`` placeholders as OSS does and return the callback request body.

    Form bodies get each value URL-encoded; JSON bodies get each value as a JSON string, so placeholders are
    written unquoted (``{"object":${object}}``). Unknown or missing variables become empty values.
    """

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        text = "" if value is None else str(value)
        if body_type == JSON:
            return json.dumps(text, ensure_ascii=False)
        return quote(text, safe="")

    return _PLACEHOLDER.sub(replace, body).encode("utf-8")
