"""What the FC 2.0 API looks like on the wire: request signing, header names, error documents.

The signature is the one ``fc2.Client`` computes (``fc2/auth.py``, API reference "Signature"): HMAC-SHA256 with
the AccessKey secret over ``METHOD\\nContent-MD5\\nContent-Type\\nDate\\n`` + every ``x-fc-*`` header as
``name:value\\n`` (sorted, lower-case names) + the unescaped path (and, when there is a query, ``\\n`` + the sorted
``key=value`` pairs), sent as ``Authorization: FC <AccessKeyId>:<base64 signature>``. The host verifies it so a
misconfigured client fails locally the way it would against FC, and :func:`sign` lets the host's own
``invoke()`` speak the same protocol.

Error documents:

- FC API errors (bad signature, unknown function): ``{"ErrorCode", "ErrorMessage"}`` with the HTTP status from
  FC's error-code table (403 ``SignatureNotMatch`` / ``InvalidAccessKeyID``, 404 ``ServiceNotFound`` /
  ``FunctionNotFound``, 400 ``PathNotSupported``). ``fc2`` reads ``ErrorCode`` with that capitalisation.
- Function errors: ``{"errorMessage", "errorType", "stackTrace"}`` with ``X-Fc-Error-Type:
  UnhandledInvocationError`` — HTTP 200 for InvokeFunction (``fc2`` raises on the header), 502 behind an HTTP
  trigger (FC's HTTP-trigger troubleshooting table).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from osscallback.local.fc.context import FCCredentials

API_VERSION = "2016-08-15"

# Headers of FC's protocol.
H_REQUEST_ID = "X-Fc-Request-Id"
H_ERROR_TYPE = "X-Fc-Error-Type"
H_LOG_RESULT = "X-Fc-Log-Result"
H_INVOCATION_TYPE = "X-Fc-Invocation-Type"
H_LOG_TYPE = "X-Fc-Log-Type"

UNHANDLED = "UnhandledInvocationError"
COMMON_ERROR = "FcCommonError"
#: ``X-Fc-Log-Type: Tail`` returns at most this many bytes of the invocation's log.
LOG_TAIL_BYTES = 4096


# Host → worker headers. The host drops any client-sent ``X-Localfc-*`` header first, so they cannot be forged.
INTERNAL_PREFIX = "x-localfc-"
I_REQUEST_ID = "X-Localfc-Request-Id"
I_REQUEST_URI = "X-Localfc-Request-Uri"
I_REMOTE_ADDR = "X-Localfc-Remote-Addr"
I_LOG_TYPE = "X-Localfc-Log-Type"
I_LOG_RESULT = "X-Localfc-Log-Result"
I_TRIGGER = "X-Localfc-Trigger"  # "http": a request to an FC 3.0 function URL, to be made into an HTTP event
I_DOMAIN = "X-Localfc-Domain"  # the Host the client called (requestContext.domainName)
#: Where the host posts FC 3.0 function-URL requests on the worker (the raw URI travels in X-Localfc-Request-Uri).
TRIGGER_PATH = "/http-trigger"


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
) -> tuple[int, str, str] | None:
    """``None`` when the request is signed with ``credentials``, else ``(status, ErrorCode, ErrorMessage)``."""
    lower = {k.lower(): v for k, v in headers.items()}
    authorization = lower.get("authorization", "")
    if not authorization:
        return 400, "MissingRequiredHeader", "required HTTP header Authorization was not specified"
    if not lower.get("date"):
        return 400, "MissingRequiredHeader", "required HTTP header Date was not specified"
    scheme, _, rest = authorization.partition(" ")
    key_id, _, _sig = rest.partition(":")
    if scheme != "FC" or not key_id:
        return 403, "SignatureNotMatch", _SIGNATURE_MESSAGE
    if key_id != credentials.access_key_id:
        return 403, "InvalidAccessKeyID", f"invalid access key ID '{key_id}'"
    expected = sign(credentials, string_to_sign(method, unescaped_path, lower, parse_query(raw_query) or None))
    if not hmac.compare_digest(expected.encode("utf-8"), authorization.encode("utf-8")):
        return 403, "SignatureNotMatch", _SIGNATURE_MESSAGE
    return None


_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your access key and signing method"
)


def api_error(code: str, message: str) -> bytes:
    return json.dumps({"ErrorCode": code, "ErrorMessage": message}).encode("utf-8")


def function_error(message: str, error_type: str | None = None, stack: list[Any] | None = None) -> bytes:
    doc: dict[str, Any] = {"errorMessage": message}
    if error_type is not None:
        doc["errorType"] = error_type
    if stack is not None:
        doc["stackTrace"] = stack
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def log_tail(log: bytes) -> str:
    """``X-Fc-Log-Result``: base64 of the last 4 KB of an invocation's log."""
    return base64.b64encode(log[-LOG_TAIL_BYTES:]).decode("ascii")
