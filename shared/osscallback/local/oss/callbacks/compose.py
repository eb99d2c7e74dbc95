"""The signed callback request: built for an upload, or edited from a recorded one and signed again (or not).

The request is a ``POST`` with ``Content-Type`` = ``callbackBodyType``, ``Host`` = ``callbackHost`` (default: the
URL's host), ``Authorization`` = base64(MD5withRSA over ``unquote(path)[?query]\\n body``) and
``x-oss-pub-key-url`` = base64 of the key URL. The path and query go on the wire exactly as the URL holds them.

The other headers are those of the callback request OSS's documentation shows (OSS developer reference,
"Callback", "Receive the POST request from OSS": https://www.alibabacloud.com/help/en/oss/developer-reference/callback),
in its order: ``Connection: close``, ``Content-MD5`` (base64 MD5 of the body), ``Date``, ``User-Agent:
aliyun-oss-callback``, ``x-oss-bucket``, ``x-oss-request-id`` (the upload's own request id, as its answer carried
it), ``x-oss-signature-version: 1.0`` and ``x-oss-tag: CALLBACK``. None of them is signed. ``x-oss-requester``
(the uploader's account id) is left out: the local OSS has no accounts.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import callback_headers, string_to_sign
from osscallback.local.oss.callbacks.records import CallbackResendError, SentRequest
from osscallback.local.oss.xmlresp import http_date
from osscallback.upload.callback_params import CallbackParams

USER_AGENT = "aliyun-oss-callback"
SIGNATURE_VERSION = "1.0"
CALLBACK_TAG = "CALLBACK"
#: Largest body an edited re-send may carry.
MAX_RESEND_BODY = 1024 * 1024

_SAFE_TARGET = re.compile(r"^/[\x21-\x7e]*$")


def content_md5(body: bytes) -> str:
    """``Content-MD5``: the base64 of the body's MD5 digest (RFC 1864), as OSS sends it."""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")  # noqa: S324 - a checksum, as OSS's


def build_request(
    url: str,
    params: CallbackParams,
    body: bytes,
    private_key: rsa.RSAPrivateKey,
    key_url: str,
    *,
    bucket: str = "",
    request_id: str = "",
) -> SentRequest | None:
    """The signed request for one URL of ``callbackUrl``; ``None`` when OSS could not use the URL at all.

    ``bucket`` and ``request_id`` are the upload's: they go in ``x-oss-bucket`` and ``x-oss-request-id``.
    """
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    path = parts.path or "/"
    target = path + (f"?{parts.query}" if parts.query else "")
    signature = callback_headers(private_key, key_url, path, parts.query, body)
    headers = [
        ("Host", params.host or parts.netloc),
        ("Connection", "close"),
        ("Content-Length", str(len(body))),
        ("Authorization", signature["Authorization"]),
        ("Content-MD5", content_md5(body)),
        ("Content-Type", params.body_type),
        ("Date", http_date(time.time())),
        ("User-Agent", USER_AGENT),
        ("x-oss-bucket", bucket),
        ("x-oss-pub-key-url", signature["x-oss-pub-key-url"]),
        ("x-oss-request-id", request_id),
        ("x-oss-signature-version", SIGNATURE_VERSION),
        ("x-oss-tag", CALLBACK_TAG),
    ]
    sni = params.sni and parts.scheme == "https"  # OSS sends SNI only when asked: "callbackSNI": true
    return SentRequest(url, target, tuple(headers), body, string_to_sign(path, parts.query, body), sni=sni)


def edited_request(
    old: SentRequest,
    *,
    body: bytes | None,
    target: str | None,
    resign: bool,
    private_key: rsa.RSAPrivateKey,
    key_url: str,
) -> SentRequest:
    """A copy of ``old`` with a new body and/or target (``/path[?query]``), its headers kept in order.

    ``resign=True`` signs it with the local OSS key as OSS would have; ``resign=False`` keeps the old
    ``Authorization`` (and the string it covers), which is what a tampered request looks like.
    """
    body = old.body if body is None else body
    target = old.target if target is None else target
    if len(body) > MAX_RESEND_BODY:
        raise CallbackResendError(f"the body is {len(body)} bytes, at most {MAX_RESEND_BODY} may be re-sent")
    if not _SAFE_TARGET.match(target):
        raise CallbackResendError(
            "the path must start with '/' and hold only printable ASCII (percent-encode the rest)"
        )
    path, _, query = target.partition("?")
    headers: list[tuple[str, str]] = []
    signed = old.signed
    fresh: dict[str, str] = {}
    if resign:
        signed = string_to_sign(path, query, body)
        fresh = callback_headers(private_key, key_url, path, query, body)
    for name, value in old.headers:
        lowered = name.lower()
        if lowered == "content-length":
            value = str(len(body))
        elif lowered == "content-md5":  # like the length, not signed: it follows the body
            value = content_md5(body)
        elif resign and lowered == "authorization":
            value = fresh["Authorization"]
        elif resign and lowered == "x-oss-pub-key-url":
            value = fresh["x-oss-pub-key-url"]
        headers.append((name, value))
    return SentRequest(url=old.url, target=target, headers=tuple(headers), body=body, signed=signed, sni=old.sni)
