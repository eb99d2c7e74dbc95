"""What the FC 2.0 API (2016-08-15) looks like on the wire: the request signature ``fc2.Client`` sends.

The signature is the one ``fc2.Client`` computes (``fc2/auth.py``, API reference "Signature"): HMAC-SHA256 with
the AccessKey secret over ``METHOD\\nContent-MD5\\nContent-Type\\nDate\\n`` + every ``x-fc-*`` header as
``name:value\\n`` (sorted, lower-case names) + the unescaped path (and, when there is a query, ``\\n`` + the sorted
``key=value`` pairs), sent as ``Authorization: FC <AccessKeyId>:<base64 signature>``. The host verifies it so a
misconfigured client fails locally the way it would against FC, and :func:`sign` lets the host's own
``invoke()`` speak the same protocol.

Errors are raised as :mod:`..errors` classes (``MissingRequiredHeader``, ``SignatureNotMatch``,
``InvalidAccessKeyID``) and rendered by the API in FC 2.0's shape; the header names and the function error document
the worker shares are in :mod:`..protocol`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl

from osscallback.local.fc.context import FCCredentials
from osscallback.local.fc.errors import InvalidAccessKeyID, MissingRequiredHeader, SignatureNotMatch

API_VERSION = "2016-08-15"


def string_to_sign(
    method: str, unescaped_path: str, headers: Mapping[str, str], query: Mapping[str, list[str]] | None = None
) -> str:
    """What ``fc2.auth.Auth.sign_request`` signs, for a request with these (any-case) headers."""
    lower = {k.lower(): v for k, v in headers.items()}
    fc_headers = sorted((k, v) for k, v in lower.items() if k.startswith("x-fc-"))
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in fc_headers)
    resource = unescaped_path
    if query:
        params: list[str] = []
        for key, values in query.items():
            if values:
                params.extend(f"{key}={value}" for value in values)
            else:
                params.append(key)
        resource = unescaped_path + "\n" + "\n".join(sorted(params))
    return "\n".join(
        [
            method.upper(),
            lower.get("content-md5", ""),
            lower.get("content-type", ""),
            lower.get("date", ""),
            canonical_headers + resource,
        ]
    )


def sign(credentials: FCCredentials, text: str) -> str:
    """The ``Authorization`` header value for ``text`` (see :func:`string_to_sign`)."""
    digest = hmac.new(credentials.access_key_secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return f"FC {credentials.access_key_id}:{base64.b64encode(digest).decode('ascii')}"


def parse_query(raw_query: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        result.setdefault(key, []).append(value)
    return result


def check_signature(
    credentials: FCCredentials,
    method: str,
    unescaped_path: str,
    raw_query: str,
    headers: Mapping[str, str],
) -> None:
    """Return when the request is signed with ``credentials``; raise FC's error (:mod:`..errors`) otherwise."""
    lower = {k.lower(): v for k, v in headers.items()}
    authorization = lower.get("authorization", "")
    if not authorization:
        raise MissingRequiredHeader("Authorization")
    if not lower.get("date"):
        raise MissingRequiredHeader("Date")
    scheme, _, rest = authorization.partition(" ")
    key_id, _, _sig = rest.partition(":")
    if scheme != "FC" or not key_id:
        raise SignatureNotMatch()
    if key_id != credentials.access_key_id:
        raise InvalidAccessKeyID(key_id)
    expected = sign(credentials, string_to_sign(method, unescaped_path, lower, parse_query(raw_query) or None))
    if not hmac.compare_digest(expected.encode("utf-8"), authorization.encode("utf-8")):
        raise SignatureNotMatch()


__all__ = ["API_VERSION", "check_signature", "parse_query", "sign", "string_to_sign"]
