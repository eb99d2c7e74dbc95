"""The signed callback request: built for an upload, or edited from a recorded one and signed again (or not).

The request is a ``POST`` with ``Content-Type`` = ``callbackBodyType``, ``Host`` = ``callbackHost`` (default: the
URL's host), ``Authorization`` = base64(MD5withRSA over ``unquote(path)[?query]\\n body``) and
``x-oss-pub-key-url`` = base64 of the key URL. The path and query go on the wire exactly as the URL holds them.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import callback_headers, string_to_sign
from osscallback.local.oss.callbacks.records import CallbackResendError, SentRequest
from osscallback.local.oss.xmlresp import http_date
from osscallback.upload.callback_params import CallbackParams

USER_AGENT = "aliyun-oss-callback"
#: Largest body an edited re-send may carry.
MAX_RESEND_BODY = 1024 * 1024

_SAFE_TARGET = re.compile(r"^/[\x21-\x7e]*$")


def build_request(
    url: str, params: CallbackParams, body: bytes, private_key: rsa.RSAPrivateKey, key_url: str
) -> SentRequest | None:
    """The signed request for one URL of ``callbackUrl``; ``None`` when OSS could not use the URL at all."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    path = parts.path or "/"
    target = path + (f"?{parts.query}" if parts.query else "")
    headers = [
        ("Host", params.host or parts.netloc),
        ("Content-Type", params.body_type),
        ("Content-Length", str(len(body))),
        ("Date", http_date(time.time())),
        ("User-Agent", USER_AGENT),
        *callback_headers(private_key, key_url, path, parts.query, body).items(),
    ]
    return SentRequest(url, target, tuple(headers), body, string_to_sign(path, parts.query, body))


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
        elif resign and lowered == "authorization":
            value = fresh["Authorization"]
        elif resign and lowered == "x-oss-pub-key-url":
            value = fresh["x-oss-pub-key-url"]
        headers.append((name, value))
    return SentRequest(url=old.url, target=target, headers=tuple(headers), body=body, signed=signed)
