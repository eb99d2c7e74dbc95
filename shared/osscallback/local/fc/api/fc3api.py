"""What the FC 3.0 API (2023-03-30) looks like on the wire: the ACS3-HMAC-SHA256 request signature.

The FC 3.0 SDKs (``alibabacloud-fc20230330`` over ``alibabacloud-tea-openapi``, and the Node.js
``@alicloud/fc20230330`` that Serverless Devs' ``fc3`` component uses) sign every request with Alibaba Cloud's V3
signature (``alibabacloud_tea_openapi.utils.get_authorization``)::

    CanonicalRequest = METHOD \\n URI \\n Query \\n CanonicalHeaders \\n SignedHeaders \\n HashedPayload
    StringToSign     = "ACS3-HMAC-SHA256" \\n hex(sha256(CanonicalRequest))
    Authorization    = ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b;c>,Signature=hex(hmac(...))

``CanonicalURI`` is the path as sent (already percent-encoded), ``CanonicalQuery`` the parameters sorted by name
with values encoded as ``quote(value, safe='~')``, ``CanonicalHeaders`` every signed header as ``name:value\\n``
(lower-case names, sorted, values trimmed), and ``HashedPayload`` = ``x-acs-content-sha256`` = hex(sha256(body)).
The host verifies the signature over the headers the client says it signed, and that the body hash is right, so
a client with the wrong key fails locally the way it would against FC; :func:`sign` lets the host's own
``invoke()`` speak the same protocol.

Errors are raised as :mod:`..errors` classes and rendered by the API in FC 3.0's shape
(``{"Code", "Message", "RequestId"}``); the SDK raises ``ClientException`` with that ``Code``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote

from osscallback.local.fc.context import FCCredentials
from osscallback.local.fc.errors import InvalidAccessKeyID, MissingRequiredHeader, SignatureNotMatch

API_VERSION = "2023-03-30"
ALGORITHM = "ACS3-HMAC-SHA256"
H_CONTENT_SHA256 = "x-acs-content-sha256"


def canonical_query(raw_query: str) -> str:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    items = sorted(pairs)
    return "&".join(f"{k}={quote(v, safe='~')}" for k, v in items)


def string_to_sign(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
                   signed: list[str], payload_hash: str) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(f"{name}:{lower.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join([method.upper(), raw_path or "/", canonical_query(raw_query), canonical_headers,
                           ";".join(signed), payload_hash])
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(credentials: FCCredentials, method: str, raw_path: str, raw_query: str, headers: dict[str, str],
         body: bytes, *, action: str = "InvokeFunction") -> dict[str, str]:
    """``headers`` plus everything an FC 3.0 SDK adds and signs (returns a new dict)."""
    out = {k.lower(): v for k, v in headers.items()}
    out.update({
        "x-acs-version": API_VERSION,
        "x-acs-action": action,
        "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        H_CONTENT_SHA256: hashlib.sha256(body).hexdigest(),
    })
    if credentials.security_token:
        out["x-acs-accesskey-id"] = credentials.access_key_id
        out["x-acs-security-token"] = credentials.security_token
    signed = sorted(out)
    text = string_to_sign(method, raw_path, raw_query, out, signed, out[H_CONTENT_SHA256])
    out["authorization"] = (f"{ALGORITHM} Credential={credentials.access_key_id},SignedHeaders={';'.join(signed)},"
                            f"Signature={_hmac(credentials.access_key_secret, text)}")
    return out


def check_signature(
    credentials: FCCredentials, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes
) -> None:
    """Return when the request is signed with ``credentials``; raise FC's error (:mod:`..errors`) otherwise."""
    lower = {k.lower(): v for k, v in headers.items()}
    authorization = lower.get("authorization", "")
    if not authorization:
        raise MissingRequiredHeader("Authorization")
    scheme, _, rest = authorization.partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    key_id, signed_list, signature = fields.get("Credential", ""), fields.get("SignedHeaders", ""), \
        fields.get("Signature", "")
    if scheme != ALGORITHM or not key_id or not signed_list or not signature:
        raise SignatureNotMatch()
    if key_id != credentials.access_key_id:
        raise InvalidAccessKeyID(key_id)
    payload_hash = hashlib.sha256(body).hexdigest()
    if lower.get(H_CONTENT_SHA256, payload_hash) != payload_hash:
        raise SignatureNotMatch("x-acs-content-sha256 does not match the request body")
    signed = signed_list.split(";")
    if any(name not in lower for name in signed):
        raise SignatureNotMatch()
    expected = _hmac(credentials.access_key_secret,
                     string_to_sign(method, raw_path, raw_query, lower, signed, lower.get(H_CONTENT_SHA256,
                                                                                           payload_hash)))
    if not hmac.compare_digest(expected, signature):
        raise SignatureNotMatch()


__all__ = ["API_VERSION", "check_signature", "sign", "string_to_sign"]
