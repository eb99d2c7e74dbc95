"""Who may upload where: ``UPLOAD_AUTHORIZER`` turns a browser's request for a policy into a key prefix, or a refusal.

An open upload endpoint must never be an accident, so there is no default:

- unset (or empty): every request is refused with a 403 that says how to configure it;
- ``anonymous``: anyone may upload, each under a fresh random prefix below ``uploads/`` (what Alibaba's web
  direct-upload sample does with its ``dir``), within the configured size and expiry;
- ``package.module:function`` (the shape of ``CALLBACK_ACTION``): the function gets an :class:`UploadRequest`
  and returns the key prefix this caller may write under, or raises :class:`UploadRefused` (401 or 403).

The prefix becomes the policy's ``["starts-with", "$key", prefix]`` condition, so it is checked here: relative,
no ``..`` segment, no control characters, at most :data:`MAX_PREFIX_BYTES`.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from osscallback.errors import ConfigError, OssCallbackError

ANONYMOUS = "anonymous"
ANONYMOUS_ROOT = "uploads/"
MAX_PREFIX_BYTES = 512
HOW_TO_CONFIGURE = (
    "The upload endpoint is closed: UPLOAD_AUTHORIZER is not set. Set it to 'anonymous' (anyone may upload, "
    "each under a fresh random prefix below uploads/) or to 'package.module:function' (your check of the "
    "caller, returning the key prefix it may write under); see docs/DEPLOY.md, 'The upload page'."
)


@dataclass(frozen=True)
class UploadRequest:
    """What an authorizer sees of the request for a policy: method, path, headers (lower-case names), query."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None


class UploadRefused(OssCallbackError):
    """An authorizer's refusal: answered as JSON with ``status`` (401: who are you?; 403: not you)."""

    def __init__(self, message: str, status: int = 403, code: str | None = None) -> None:
        super().__init__(message)
        if status not in (401, 403):
            raise ValueError(f"an authorizer refuses with 401 or 403, not {status}")
        self.message = message
        self.status = status
        self.code = code or ("Unauthorized" if status == 401 else "UploadRefused")


Authorizer = Callable[[UploadRequest], Any]


def _closed(request: UploadRequest) -> str:
    raise UploadRefused(HOW_TO_CONFIGURE, 403, "UploadEndpointNotConfigured")


def _anonymous(request: UploadRequest) -> str:
    return f"{ANONYMOUS_ROOT}{uuid.uuid4().hex}/"


def load_authorizer(spec: str | None) -> Authorizer:
    """Resolve ``UPLOAD_AUTHORIZER``; a spec that cannot be loaded is a :class:`ConfigError` at cold start."""
    spec = (spec or "").strip()
    if not spec:
        return _closed
    if spec == ANONYMOUS:
        return _anonymous
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"UPLOAD_AUTHORIZER={spec!r}: use 'anonymous' or 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"UPLOAD_AUTHORIZER={spec!r}: cannot import {module_name!r}: {exc}") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise ConfigError(f"UPLOAD_AUTHORIZER={spec!r}: {module_name}.{attr} is not a callable")
    return func


def checked_prefix(value: Any) -> str:
    """The authorizer's answer as a key prefix; anything unusable is refused (403), never widened to ``""``."""
    if not isinstance(value, str) or not value:
        raise UploadRefused("The authorizer gave no key prefix for this caller.", 403)
    problem = None
    if value.startswith("/") or "\\" in value:
        problem = "must be relative and use '/'"
    elif ".." in value.split("/"):
        problem = "must not contain a '..' segment"
    elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        problem = "must not contain control characters"
    elif len(value.encode("utf-8")) > MAX_PREFIX_BYTES:
        problem = f"must be at most {MAX_PREFIX_BYTES} bytes"
    if problem:
        raise ConfigError(f"the authorizer's key prefix {value!r} {problem}")
    return value
