"""Request authentication as OSS does it: V1 (HMAC-SHA1), V2 (``OSS2``, HMAC-SHA256) and V4 (OSS4-HMAC-SHA256)
header signatures, presigned URLs of all three versions, ``AdditionalHeaders`` (V2, V4), STS security tokens, and
PostObject form signatures. A request that carries no signature at all is anonymous: ACLs decide what it may do.
:func:`signature_version` decides how a request is signed, and a version the bucket does not accept is refused
before any check (:mod:`.sigversions`: V4 only by default, as a bucket created today). The keys it checks against
live in :mod:`.credentials` (re-exported here).

Each verifier rebuilds the string the SDK signed from what arrived on the wire, mirroring ``oss2.auth``
(``ProviderAuth``, ``ProviderAuthV2`` and ``ProviderAuthV4``) and the v2 SDK's ``signer`` step for step, and
compares HMACs in constant time. A mismatch is answered like OSS: 403 ``SignatureDoesNotMatch`` with the string to
sign, so oss2 raises ``oss2.exceptions.SignatureDoesNotMatch`` and a user can diff what they signed against ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import string
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from osscallback.local.oss.credentials import Credential, CredentialStore
from osscallback.local.oss.sigversions import DEFAULT_VERSIONS, V1, V2, V4, check_accepted
from osscallback.local.oss.subresources_v1 import V1_SUBRESOURCES
from osscallback.local.oss.xmlresp import OSSError, access_denied

__all__ = [
    "MAX_SKEW_SECONDS", "MAX_V4_EXPIRES", "UNSIGNED_PAYLOAD", "V1_SUBRESOURCES", "V2_VERSION", "V4_ALGORITHM",
    "Credential", "CredentialStore", "SignedRequest", "authenticate", "form_signature_version", "signature_version",
    "v1_string_to_sign", "v2_string_to_sign", "v4_canonical_request", "v4_encode", "v4_signing_key",
    "v4_string_to_sign", "verify_post_signature",
]

#: How far a request's Date may be from the server's clock (OSS: 15 minutes).
MAX_SKEW_SECONDS = 15 * 60
#: Longest life of a V4 presigned URL (OSS: 7 days).
MAX_V4_EXPIRES = 7 * 24 * 3600

V4_ALGORITHM = "OSS4-HMAC-SHA256"
V2_VERSION = "OSS2"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_V4_SAFE = frozenset(string.ascii_letters + string.digits + "_-~.")
_V4_DEFAULT_SIGNED = ("content-type", "content-md5")


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers, as received: method, bucket and key (decoded), headers, decoded query pairs."""

    method: str
    bucket: str
    key: str
    headers: Mapping[str, str]  # lower-case names; values as on the wire (latin-1 decoded)
    query: Sequence[tuple[str, str]]


def authenticate(
    req: SignedRequest,
    store: CredentialStore,
    now: float | None = None,
    *,
    accepted: frozenset[str] = DEFAULT_VERSIONS,
) -> Credential | None:
    """Verify the request's signature and return the credential that signed it, or ``None`` for a request that
    carries no signature at all (anonymous: the bucket's and object's ACLs decide); raise :class:`OSSError` for
    a signature that does not verify, or of a version not in ``accepted`` (403, EC 0002-00000080)."""
    now = time.time() if now is None else now
    signed = signature_version(req)
    if signed is None:
        return None
    version, in_header = signed
    check_accepted(version, accepted, "Authorization header" if in_header else "signed URL")
    return _VERIFIERS[signed](req, store, now)


def signature_version(req: SignedRequest) -> tuple[str, bool] | None:
    """The one place that says how a request is signed (:func:`form_signature_version` for a PostObject form):
    ``(version, in_header)``, or ``None`` when it is not signed. An ``Authorization`` header wins over query
    parameters, as in OSS."""
    authorization = req.headers.get("authorization", "")
    if authorization.startswith(V4_ALGORITHM):
        return V4, True
    if authorization.startswith("OSS2 "):
        return V2, True
    if authorization.startswith("OSS "):
        return V1, True
    if authorization:
        raise OSSError(
            400, "InvalidArgument", "Authorization header is invalid or uses an unsupported signature version."
        )
    params = dict(req.query)
    if params.get("x-oss-signature-version") == V4_ALGORITHM:
        return V4, False
    if params.get("x-oss-signature-version") == V2_VERSION:
        return V2, False
    if "OSSAccessKeyId" in params or "Signature" in params:
        return V1, False
    return None


def form_signature_version(fields: Mapping[str, str]) -> str:
    """How a signed PostObject form is signed (lower-case field names): V4 or V2 when it says so, else V1."""
    return {V4_ALGORITHM: V4, V2_VERSION: V2}.get(fields.get("x-oss-signature-version", ""), V1)


# --- credentials and tokens ----------------------------------------------------------------------------------------


def _credential(store: CredentialStore, access_key_id: str, token: str | None, now: float) -> Credential:
    cred = store.get(access_key_id)
    if cred is None:
        raise OSSError(
            403,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
            extra={"OSSAccessKeyId": access_key_id},
        )
    if cred.security_token is not None:
        if not token or not hmac.compare_digest(token.encode(), cred.security_token.encode()):
            raise OSSError(403, "InvalidSecurityToken", "The security token you provided is invalid.")
        if cred.expires_at is not None and now > cred.expires_at:
            # EC as a captured OSS answer has it (developer.aliyun.com/ask/553273; OSS error page 0002-00000007)
            raise OSSError(403, "SecurityTokenExpired", "The security token you provided has expired.",
                           ec="0002-00000007")
    return cred


def _check_skew(when: float, now: float) -> None:
    if abs(now - when) > MAX_SKEW_SECONDS:
        raise OSSError(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            extra={"MaxAllowedSkewMilliseconds": str(MAX_SKEW_SECONDS * 1000)},
        )


def _mismatch(
    access_key_id: str, provided: str, string_to_sign: bytes, *, ec: str = "", extra: Mapping[str, str] | None = None
) -> OSSError:
    fields = {
        "OSSAccessKeyId": access_key_id,
        "SignatureProvided": provided,
        "StringToSign": string_to_sign.decode("utf-8", "replace"),
        "StringToSignBytes": " ".join(f"{b:02X}" for b in string_to_sign) + " ",
    }
    fields.update(extra or {})
    return OSSError(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        ec=ec,
        extra=fields,
    )


# --- V1 ------------------------------------------------------------------------------------------------------------


def v1_string_to_sign(req: SignedRequest, date: str) -> bytes:
    """``VERB\\nContent-MD5\\nContent-Type\\nDate\\nCanonicalizedOSSHeaders + CanonicalizedResource``."""
    oss_headers = sorted((k, v) for k, v in req.headers.items() if k.startswith("x-oss-"))
    canon_headers = b"".join(_wire(k) + b":" + _wire(v) + b"\n" for k, v in oss_headers)
    sub = sorted((k, v) for k, v in req.query if k in V1_SUBRESOURCES)
    subresource = ("?" + "&".join(f"{k}={v}" if v else k for k, v in sub)) if sub else ""
    resource = f"/{req.bucket}/{req.key}{subresource}" if req.bucket else "/" + subresource
    return b"\n".join(
        [
            req.method.encode(),
            _wire(req.headers.get("content-md5", "")),
            _wire(req.headers.get("content-type", "")),
            _wire(date),
            canon_headers + resource.encode("utf-8"),
        ]
    )


def _v1_signature(secret: str, data: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), data, hashlib.sha1).digest()).decode("ascii")


def _verify_v1_header(req: SignedRequest, store: CredentialStore, now: float) -> Credential:
    authorization = req.headers["authorization"]
    access_key_id, sep, provided = authorization[4:].strip().rpartition(":")
    if not sep or not access_key_id:
        raise OSSError(400, "InvalidArgument", "Authorization header is invalid.")
    date = req.headers.get("x-oss-date") or req.headers.get("date", "")
    if not date:
        raise access_denied("Authorization requires a Date or x-oss-date header.")
    try:
        _check_skew(parsedate_to_datetime(date).timestamp(), now)
    except (TypeError, ValueError):
        raise access_denied(f"Invalid date format: {date}") from None
    cred = _credential(store, access_key_id, req.headers.get("x-oss-security-token"), now)
    to_sign = v1_string_to_sign(req, date)
    if not hmac.compare_digest(_v1_signature(cred.access_key_secret, to_sign), provided):
        raise _mismatch(access_key_id, provided, to_sign, ec="0002-00000040")
    return cred


def _check_expires_at(name: str, value: str, now: float) -> None:
    """A V1 or V2 presigned URL's expiry: an absolute epoch second, refused once passed (V4's is relative)."""
    try:
        expires_at = int(value)
    except ValueError:
        raise access_denied(f"Invalid {name}: {value}") from None
    if now > expires_at:
        raise access_denied("Request has expired.", ec="0002-00000069")


def _verify_v1_query(req: SignedRequest, store: CredentialStore, now: float) -> Credential:
    params = dict(req.query)
    access_key_id = params.get("OSSAccessKeyId", "")
    provided = params.get("Signature", "")
    expires = params.get("Expires", "")
    if not access_key_id or not provided or not expires:
        raise access_denied("A presigned URL needs OSSAccessKeyId, Expires and Signature.")
    _check_expires_at("Expires", expires, now)
    cred = _credential(store, access_key_id, params.get("security-token"), now)
    to_sign = v1_string_to_sign(req, expires)
    if not hmac.compare_digest(_v1_signature(cred.access_key_secret, to_sign), provided):
        raise _mismatch(access_key_id, provided, to_sign, ec="0002-00000040")
    return cred


# --- V2 ------------------------------------------------------------------------------------------------------------


def v2_string_to_sign(
    req: SignedRequest, date: str, additional: Sequence[str], *, exclude_params: frozenset[str] = frozenset()
) -> bytes:
    """``VERB\nContent-MD5\nContent-Type\nDate\nCanonicalizedOSSHeaders AdditionalHeaders\nCanonicalizedResource``
    where the headers are the ``x-oss-*`` ones and the additional ones, and the resource is the URI-encoded
    ``/bucket/key`` (slashes too) with *every* query parameter, encoded and sorted (``oss2.auth.ProviderAuthV2``)."""
    signed = sorted({h.lower() for h in additional})
    headers = sorted((k, v) for k, v in req.headers.items() if k.startswith("x-oss-") or k in signed)
    canon_headers = b"".join(_wire(k) + b":" + _wire(v) + b"\n" for k, v in headers)
    uri = v4_encode(f"/{req.bucket}/{req.key}" if req.bucket else "/", False)
    encoded = sorted((v4_encode(k, False), v4_encode(v, False)) for k, v in req.query if k not in exclude_params)
    query = ("?" + "&".join(f"{k}={v}" if v else k for k, v in encoded)) if encoded else ""
    return b"\n".join(
        [
            req.method.encode(),
            _wire(req.headers.get("content-md5", "")),
            _wire(req.headers.get("content-type", "")),
            _wire(date),
            canon_headers + ";".join(signed).encode(),
            (uri + query).encode("utf-8"),
        ]
    )


def _v2_signature(secret: str, data: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), data, hashlib.sha256).digest()).decode("ascii")


def _verify_v2_header(req: SignedRequest, store: CredentialStore, now: float) -> Credential:
    authorization = req.headers["authorization"]
    fields: dict[str, str] = {}
    for item in authorization[5:].split(","):
        name, _, value = item.strip().partition(":")
        fields[name.strip()] = value.strip()
    access_key_id, provided = fields.get("AccessKeyId", ""), fields.get("Signature", "")
    if not access_key_id or not provided:
        raise OSSError(400, "InvalidArgument", "Authorization header is invalid.")
    additional = [h for h in fields.get("AdditionalHeaders", "").split(";") if h]
    date = req.headers.get("date", "")
    if not date:
        raise access_denied("Authorization requires a Date header.")
    try:
        _check_skew(parsedate_to_datetime(date).timestamp(), now)
    except (TypeError, ValueError):
        raise access_denied(f"Invalid date format: {date}") from None
    cred = _credential(store, access_key_id, req.headers.get("x-oss-security-token"), now)
    to_sign = v2_string_to_sign(req, date, additional)
    if not hmac.compare_digest(_v2_signature(cred.access_key_secret, to_sign), provided):
        raise _mismatch(access_key_id, provided, to_sign)
    return cred


def _verify_v2_query(req: SignedRequest, store: CredentialStore, now: float) -> Credential:
    params = dict(req.query)
    access_key_id = params.get("x-oss-access-key-id", "")
    provided = params.get("x-oss-signature", "")
    expires = params.get("x-oss-expires", "")
    if not access_key_id or not provided or not expires:
        raise access_denied("A V2 presigned URL needs x-oss-access-key-id, x-oss-expires and x-oss-signature.")
    _check_expires_at("x-oss-expires", expires, now)
    cred = _credential(store, access_key_id, params.get("security-token"), now)
    additional = [h for h in params.get("x-oss-additional-headers", "").split(";") if h]
    to_sign = v2_string_to_sign(req, expires, additional, exclude_params=frozenset({"x-oss-signature"}))
    if not hmac.compare_digest(_v2_signature(cred.access_key_secret, to_sign), provided):
        raise _mismatch(access_key_id, provided, to_sign)
    return cred


# --- V4 ------------------------------------------------------------------------------------------------------------


def v4_encode(text: str, keep_slash: bool) -> str:
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        if c in _V4_SAFE or (keep_slash and c == "/"):
            out.append(c)
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def v4_signing_key(secret: str, date: str, region: str, product: str) -> bytes:
    k = hmac.new(("aliyun_v4" + secret).encode("utf-8"), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, product.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aliyun_v4_request", hashlib.sha256).digest()


def v4_canonical_request(
    req: SignedRequest, additional: Sequence[str], *, exclude_params: frozenset[str] = frozenset()
) -> bytes:
    uri = v4_encode(f"/{req.bucket}/{req.key}" if req.bucket else "/", True)
    encoded = sorted((v4_encode(k, False), v4_encode(v, False)) for k, v in req.query if k not in exclude_params)
    query = "&".join(f"{k}={v}" if v else k for k, v in encoded)
    signed = {h.lower() for h in additional}
    headers = sorted(
        (k, v) for k, v in req.headers.items() if k.startswith("x-oss-") or k in _V4_DEFAULT_SIGNED or k in signed
    )
    canon_headers = b"".join(_wire(k) + b":" + _wire(v) + b"\n" for k, v in headers)
    payload = req.headers.get("x-oss-content-sha256", UNSIGNED_PAYLOAD)
    return (
        f"{req.method}\n{uri}\n{query}\n".encode() + canon_headers + f"\n{';'.join(sorted(signed))}\n{payload}".encode()
    )


def v4_string_to_sign(date_time: str, scope: str, canonical_request: bytes) -> bytes:
    digest = hashlib.sha256(canonical_request).hexdigest()
    return f"{V4_ALGORITHM}\n{date_time}\n{scope}\n{digest}".encode()


@dataclass(frozen=True)
class _Scope:
    access_key_id: str
    date: str
    region: str
    product: str

    @property
    def text(self) -> str:
        return f"{self.date}/{self.region}/{self.product}/aliyun_v4_request"


def _parse_credential(value: str) -> _Scope:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aliyun_v4_request" or not parts[0] or not re.fullmatch(r"\d{8}", parts[1]):
        raise OSSError(
            400, "InvalidArgument", f"Invalid credential in the V4 signature: {value!r}.", ec="0002-00000710"
        )
    return _Scope(parts[0], parts[1], parts[2], parts[3])


def _parse_v4_time(value: str) -> float:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise access_denied(f"Invalid x-oss-date: {value!r}") from None


def _check_v4(
    req: SignedRequest,
    scope: _Scope,
    date_time: str,
    provided: str,
    additional: Sequence[str],
    cred: Credential,
    exclude: frozenset[str],
) -> Credential:
    if date_time[:8] != scope.date:
        raise access_denied("The date of x-oss-date does not match the date in the credential scope.")
    canonical = v4_canonical_request(req, additional, exclude_params=exclude)
    to_sign = v4_string_to_sign(date_time, scope.text, canonical)
    key = v4_signing_key(cred.access_key_secret, scope.date, scope.region, scope.product)
    expected = hmac.new(key, to_sign, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, provided.lower()):
        raise _mismatch(
            scope.access_key_id, provided, to_sign, extra={"CanonicalRequest": canonical.decode("utf-8", "replace")}
        )
    return cred


def _verify_v4_header(req: SignedRequest, store: CredentialStore, now: float) -> Credential:
    authorization = req.headers["authorization"]
    fields: dict[str, str] = {}
    for item in authorization[len(V4_ALGORITHM) :].split(","):
        name, _, value = item.strip().partition("=")
        fields[name.strip()] = value.strip()
    scope = _parse_credential(fields.get("Credential", ""))
    provided = fields.get("Signature", "")
    additional = [h for h in fields.get("AdditionalHeaders", "").split(";") if h]
    date_time = req.headers.get("x-oss-date", "")
    if not date_time:
        raise access_denied("V4 signatures need an x-oss-date header.")
    _check_skew(_parse_v4_time(date_time), now)
    cred = _credential(store, scope.access_key_id, req.headers.get("x-oss-security-token"), now)
    return _check_v4(req, scope, date_time, provided, additional, cred, frozenset())


def _verify_v4_query(req: SignedRequest, store: CredentialStore, now: float) -> Credential:
    params = dict(req.query)
    scope = _parse_credential(params.get("x-oss-credential", ""))
    date_time = params.get("x-oss-date", "")
    signed_at = _parse_v4_time(date_time)
    try:
        expires = int(params.get("x-oss-expires", ""))
    except ValueError:
        raise access_denied("A V4 presigned URL needs a numeric x-oss-expires.") from None
    if expires <= 0 or expires > MAX_V4_EXPIRES:
        raise OSSError(400, "InvalidArgument", f"x-oss-expires must be between 1 and {MAX_V4_EXPIRES}.")
    if signed_at - now > MAX_SKEW_SECONDS:
        raise access_denied("The x-oss-date of the presigned URL is in the future.")
    if now > signed_at + expires:
        raise access_denied("Request has expired.", ec="0002-00000069")
    cred = _credential(store, scope.access_key_id, params.get("x-oss-security-token"), now)
    additional = [h for h in params.get("x-oss-additional-headers", "").split(";") if h]
    return _check_v4(
        req, scope, date_time, params.get("x-oss-signature", ""), additional, cred, frozenset({"x-oss-signature"})
    )


#: The verifier for each ``(version, in_header)`` that :func:`signature_version` gives.
_VERIFIERS: dict[tuple[str, bool], Callable[[SignedRequest, CredentialStore, float], Credential]] = {
    (V1, True): _verify_v1_header, (V1, False): _verify_v1_query, (V2, True): _verify_v2_header,
    (V2, False): _verify_v2_query, (V4, True): _verify_v4_header, (V4, False): _verify_v4_query,
}


# --- PostObject ------------------------------------------------------------------------------------------------------


def verify_post_signature(
    fields: Mapping[str, str],
    store: CredentialStore,
    now: float | None = None,
    *,
    accepted: frozenset[str] = DEFAULT_VERSIONS,
) -> Credential:
    """Check a PostObject form's signature over its base64 ``policy`` (V1, V2 or V4 form fields, lower-case names);
    a V1 or V2 form is refused first when ``accepted`` lacks it (403, EC 0002-00000080). V2's fields are
    ``x-oss-access-key-id`` and ``x-oss-signature`` (OSS error pages 0002-00000703 and -706), HMAC-SHA256 as V2's."""
    now = time.time() if now is None else now
    policy = fields.get("policy", "")
    token = fields.get("x-oss-security-token")
    version = form_signature_version(fields)
    check_accepted(version, accepted, "PostObject form")
    if version == V4:
        scope = _parse_credential(fields.get("x-oss-credential", ""))
        date_time = fields.get("x-oss-date", "")
        _parse_v4_time(date_time)
        if date_time[:8] != scope.date:
            raise access_denied("The date of x-oss-date does not match the date in x-oss-credential.")
        provided = fields.get("x-oss-signature", "")
        if not provided:
            raise access_denied("The x-oss-signature form field is missing.", ec="0002-00000703")
        cred = _credential(store, scope.access_key_id, token, now)
        key = v4_signing_key(cred.access_key_secret, scope.date, scope.region, scope.product)
        expected = hmac.new(key, policy.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, provided.lower()):
            raise _mismatch(scope.access_key_id, provided, policy.encode("utf-8"))
        return cred
    id_field, sig_field, sign = ("x-oss-access-key-id", "x-oss-signature", _v2_signature) if version == V2 else (
        "OSSAccessKeyId", "Signature", _v1_signature)
    access_key_id = fields.get(id_field.lower(), "")
    if not access_key_id:
        raise access_denied(f"The {id_field} form field is missing: anonymous uploads are not allowed.")
    provided = fields.get(sig_field.lower(), "")
    if not provided:
        raise access_denied(f"The {sig_field} form field is missing.", ec="0002-00000703")
    cred = _credential(store, access_key_id, token, now)
    if not hmac.compare_digest(sign(cred.access_key_secret, policy.encode("utf-8")), provided):
        raise _mismatch(access_key_id, provided, policy.encode("utf-8"))
    return cred


def _wire(text: str) -> bytes:
    """Header text back to the bytes that were on the wire (http.server decodes headers as latin-1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")
