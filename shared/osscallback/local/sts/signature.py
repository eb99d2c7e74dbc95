"""Alibaba Cloud's V3 request signature (``ACS3-HMAC-SHA256``), checked the way the API gateway checks it.

The official SDKs of the 2.0 generation (``alibabacloud_tea_openapi``, which ``alibabacloud_sts20150401`` is built
on) sign every RPC call so (Alibaba Cloud "V3 request signature" reference; the SDK's
``alibabacloud_tea_openapi.utils.Utils.get_authorization``)::

    CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQueryString \\n CanonicalHeaders \\n SignedHeaders
                       \\n HexSHA256(body)  (the x-acs-content-sha256 header)
    StringToSign     = "ACS3-HMAC-SHA256" \\n HexSHA256(CanonicalRequest)
    Authorization    = ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b;c>,Signature=<hex HMAC>

with query names and values percent-encoded as RFC 3986 (``~`` kept), sorted by name, and each signed header as
``name:trimmed value\\n``, names lower-case and sorted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"


class SignatureRefused(Exception):
    """The Authorization header is missing or malformed (``reason`` says how)."""


@dataclass(frozen=True)
class Authorization:
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization:
    if not value.startswith(ALGORITHM + " "):
        raise SignatureRefused(f"the Authorization header must use {ALGORITHM}")
    fields: dict[str, str] = {}
    for item in value[len(ALGORITHM):].split(","):
        name, _, text = item.strip().partition("=")
        fields[name] = text.strip()
    key_id, signed, signature = fields.get("Credential"), fields.get("SignedHeaders"), fields.get("Signature")
    if not key_id or not signed or not signature:
        raise SignatureRefused("the Authorization header needs Credential, SignedHeaders and Signature")
    return Authorization(key_id, tuple(signed.split(";")), signature)


def _encode(text: str) -> str:
    return quote(text, safe="~", encoding="utf-8")


def canonical_request(method: str, path: str, query: Sequence[tuple[str, str]], headers: Mapping[str, str],
                      signed_headers: Sequence[str], payload_hash: str) -> str:
    canon_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query))
    canon_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in sorted(signed_headers))
    signed = ";".join(sorted(signed_headers))
    return f"{method}\n{path or '/'}\n{canon_query}\n{canon_headers}\n{signed}\n{payload_hash}"


def signature(secret: str, canonical: str) -> str:
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def matches(secret: str, canonical: str, provided: str) -> bool:
    return hmac.compare_digest(signature(secret, canonical), provided.lower())
