"""OSS callback signatures: the string OSS signs, MD5withRSA verify (and sign, for the local OSS and tests),
and the trusted public-key URL policy.

OSS signs ``unquote(path) + ('?' + query if query else '') + '\\n' + body`` with RSA PKCS#1 v1.5 over MD5
and sends base64(signature) in ``Authorization`` and base64(public key URL) in ``x-oss-pub-key-url``
(SPEC §3). The key URL arrives from the network, so deciding whether to fetch it is the security boundary:
:class:`KeyUrlPolicy` compares the *parsed* URL against trusted prefixes component by component and hands back
a canonical URL rebuilt from those components, so no parser differential between us and the HTTP client can
smuggle in another host. OSS names its key with ``http://`` (its documentation's example) or ``https://`` (the
callbacks OSS signed in ``tests/callback/golden/``); its key host serves the same path over both, and
:meth:`KeyUrlPolicy.fetch_url` always fetches OSS's key over HTTPS (certificates verified), whatever scheme the
header names, so nobody on the network path can hand over their own key. Only a local-development override
prefix (``CALLBACK_KEY_URL_PREFIXES``, logged loudly) may be fetched over plain HTTP.

Cold path: this module imports only the parts of ``cryptography`` a verify needs. Loading a PEM goes through
the function ``serialization.load_pem_public_key`` *is* (cryptography's Rust binding), because importing the
``serialization`` package also imports its SSH, cipher and dataclass machinery: about half of the callback
function's import time, paid on every cold start OSS waits on.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from osscallback.errors import CallbackRejected, ConfigError

log = logging.getLogger("osscallback.callback.signature")

#: The host OSS serves its callback public keys from (SPEC §3), over HTTP and HTTPS alike.
OSS_KEY_HOST = "gosspublic.alicdn.com"
#: The key URL prefixes OSS names (SPEC §3). Keys under either are fetched over HTTPS.
DEFAULT_KEY_URL_PREFIXES: tuple[str, ...] = (
    f"http://{OSS_KEY_HOST}/",
    f"https://{OSS_KEY_HOST}/",
)
#: How many distinct trusted key URLs the policy remembers (OSS has one or two).
RESOLVED_CACHE_SIZE = 64

#: Longest key URL we consider: real ones are ~50 characters.
MAX_KEY_URL_LENGTH = 1024
#: Longest base64 ``Authorization`` value we decode: a 4096-bit RSA signature is 684 base64 characters.
MAX_AUTHORIZATION_LENGTH = 2048

#: Smallest RSA public key accepted. OSS's own callback key (``callback_pub_key_v1.pem``) has 512 bits, so any
#: higher floor refuses every real callback; the weakness of 512 bits is answered elsewhere (docs/SECURITY.md).
MIN_KEY_BITS = 512
#: Largest RSA public key accepted: verifying with a huge key costs CPU an attacker-chosen key URL could burn.
MAX_KEY_BITS = 8192

# Characters that never appear in a legitimate key URL path and are the usual tools of path tricks:
# percent-escapes (encoded slashes, dots), backslashes, whitespace and control characters, '@'.
_UNSAFE_PATH = re.compile(r"[%\\@\s\x00-\x1f\x7f]")


def string_to_sign(path: str, query: str, body: bytes) -> bytes:
    """The exact bytes OSS signs for a callback to ``path?query`` with ``body``.

    ``path`` is the request path as sent on the wire (percent-encoded); OSS signs it percent-decoded.
    ``query`` is the raw query string without the ``?`` and is signed as is.
    """
    signed = unquote_to_bytes(path)
    if query:
        try:
            signed += b"?" + query.encode("latin-1")  # WSGI strings are bytes decoded as latin-1: undo exactly that
        except UnicodeEncodeError:
            signed += b"?" + query.encode("utf-8")  # text from an FC 3.0 event or fc.request_uri
    return signed + b"\n" + body


def decode_authorization(value: str | None) -> bytes:
    """Base64-decode the ``Authorization`` header into signature bytes, or reject with 400."""
    if not value:
        raise CallbackRejected(400, "MissingAuthorization", "The Authorization header is missing.")
    if len(value) > MAX_AUTHORIZATION_LENGTH:
        raise CallbackRejected(400, "InvalidAuthorization", "The Authorization header is too long.")
    try:
        signature = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CallbackRejected(400, "InvalidAuthorization", "The Authorization header is not base64.") from None
    if not signature:
        raise CallbackRejected(400, "InvalidAuthorization", "The Authorization header is empty.")
    return signature


def decode_key_url(value: str | None) -> str:
    """Base64-decode the ``x-oss-pub-key-url`` header into a URL string, or reject with 400."""
    if not value:
        raise CallbackRejected(400, "MissingPubKeyUrl", "The x-oss-pub-key-url header is missing.")
    if len(value) > MAX_KEY_URL_LENGTH * 2:
        raise CallbackRejected(400, "InvalidPubKeyUrl", "The x-oss-pub-key-url header is too long.")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        url = raw.decode("ascii")
    except (binascii.Error, ValueError):
        raise CallbackRejected(
            400, "InvalidPubKeyUrl", "The x-oss-pub-key-url header is not base64 of an ASCII URL."
        ) from None
    if not url or len(url) > MAX_KEY_URL_LENGTH:
        raise CallbackRejected(400, "InvalidPubKeyUrl", "The public key URL is empty or too long.")
    return url


class _Prefix(NamedTuple):  # internal; a NamedTuple costs a fraction of a dataclass at import (cold start)
    scheme: str
    netloc: str
    path: str


def _parse_prefix(prefix: str) -> _Prefix:
    parts = urlsplit(prefix.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"trusted key URL prefix {prefix!r} must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ConfigError(f"trusted key URL prefix {prefix!r} must not carry userinfo, query or fragment")
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    return _Prefix(parts.scheme, parts.netloc, path)


class KeyUrlPolicy:
    """Decides which public-key URLs may be fetched.

    A URL is trusted only if, once parsed, its scheme and network location equal a trusted prefix's exactly
    (same case, no userinfo, no port unless the prefix has that very port, no trailing dot), its path starts
    with the prefix's path and holds no percent-escapes, backslashes, ``..`` segments or control characters,
    and it has no query or fragment.
    """

    def __init__(self, prefixes: Iterable[str] = DEFAULT_KEY_URL_PREFIXES) -> None:
        self.prefixes: tuple[str, ...] = tuple(p.strip() for p in prefixes if p.strip())
        if not self.prefixes:
            raise ConfigError("at least one trusted public key URL prefix is required")
        self._parsed = tuple(_parse_prefix(p) for p in self.prefixes)
        self._resolved: dict[str, tuple[str, str]] = {}

    @property
    def overrides(self) -> tuple[str, ...]:
        """Trusted prefixes that are not OSS's own: local-development overrides, worth a loud warning."""
        return tuple(p for p in self.prefixes if p not in DEFAULT_KEY_URL_PREFIXES)

    @staticmethod
    def fetch_url(canonical: str) -> str:
        """Where to fetch the key of a canonical URL from :meth:`check`: OSS's key host always over HTTPS.

        ``http://gosspublic.alicdn.com/<path>`` becomes ``https://gosspublic.alicdn.com/<path>``: the host serves
        the same path over HTTPS, and a plain-HTTP fetch could be answered by anyone on the path between FC and
        the CDN. Any other host (a local-development override) is fetched as its prefix says.
        """
        if canonical.startswith("http://" + OSS_KEY_HOST + "/"):
            return "https://" + canonical[len("http://") :]
        return canonical

    def resolve(self, header: str | None) -> tuple[str, str]:
        """``x-oss-pub-key-url`` header -> ``(canonical URL, fetch URL)``, or the 400/403 :meth:`check` raises.

        Trusted answers are remembered per header value (a bounded, explicit cache: a function sees one or two
        key URLs in its life), so the hot path skips the base64 decode and URL parse; rejections are recomputed
        every time, so attacker-chosen values never fill the cache.
        """
        if header is not None:
            hit = self._resolved.get(header)
            if hit is not None:
                return hit
        canonical = self.check(decode_key_url(header))
        resolved = (canonical, self.fetch_url(canonical))
        if header is not None:
            if len(self._resolved) >= RESOLVED_CACHE_SIZE:
                self._resolved.clear()
            self._resolved[header] = resolved
        return resolved

    def check(self, url: str) -> str:
        """Return the canonical URL (the cache key), or raise :class:`CallbackRejected` (403) if it is untrusted."""
        try:
            parts = urlsplit(url)
            port = parts.port  # raises ValueError on a malformed port
        except ValueError:
            raise self._untrusted(url) from None
        del port
        if parts.query or parts.fragment or "?" in url or "#" in url:
            raise self._untrusted(url)
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise self._untrusted(url)
        path = parts.path
        if not path or _UNSAFE_PATH.search(path) or any(seg in (".", "..") for seg in path.split("/")):
            raise self._untrusted(url)
        for prefix in self._parsed:
            if parts.scheme == prefix.scheme and parts.netloc == prefix.netloc and path.startswith(prefix.path):
                return f"{parts.scheme}://{parts.netloc}{path}"
        raise self._untrusted(url)

    @staticmethod
    def _untrusted(url: str) -> CallbackRejected:
        shown = url if len(url) <= 200 else url[:200] + "..."
        return CallbackRejected(403, "UntrustedPubKeyUrl", f"The public key URL {shown!r} is not trusted.")


_PKCS1V15 = padding.PKCS1v15()
_MD5 = hashes.MD5()  # noqa: S303 - OSS mandates MD5withRSA


@functools.cache
def pem_public_key_loader() -> Callable[[bytes], Any]:
    """cryptography's ``serialization.load_pem_public_key`` without importing the ``serialization`` package.

    Since cryptography 42 that public function is the Rust binding ``openssl.keys.load_pem_public_key`` itself
    (``serialization/base.py`` only re-exports it), so calling the binding is calling the public function; a test
    asserts they are the same object. An older or rearranged cryptography falls back to the public import: a
    slower cold start, never a different parser.
    """
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        loader: Callable[[bytes], Any] = rust_openssl.keys.load_pem_public_key
    except (ImportError, AttributeError):  # pragma: no cover - cryptography < 42
        from cryptography.hazmat.primitives.serialization import load_pem_public_key as loader
    return loader


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """Parse a PEM RSA public key (SubjectPublicKeyInfo or PKCS#1); ``ValueError`` if it is not one.

    Sizes from :data:`MIN_KEY_BITS` (512: OSS signs every callback with a 512-bit key) to :data:`MAX_KEY_BITS`.
    """
    try:
        key = pem_public_key_loader()(pem)
    except (ValueError, TypeError, binascii.Error) as exc:
        # PKCS#1 "BEGIN RSA PUBLIC KEY" is also accepted by load_pem_public_key; anything else is not a key.
        raise ValueError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the public key is not an RSA key")
    if not MIN_KEY_BITS <= key.key_size <= MAX_KEY_BITS:
        raise ValueError(
            f"the RSA key has {key.key_size} bits; a callback key must have {MIN_KEY_BITS} to {MAX_KEY_BITS} bits "
            f"(OSS's own key has 512)"
        )
    return key


def verify(public_key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    """MD5withRSA (PKCS#1 v1.5) verification; ``True`` only for a matching signature."""
    try:
        public_key.verify(signature, data, _PKCS1V15, _MD5)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign(private_key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """MD5withRSA (PKCS#1 v1.5) signature, as OSS makes it. Used by the local OSS and the test fixtures."""
    return private_key.sign(data, _PKCS1V15, _MD5)


def public_pem(private_key: rsa.RSAPrivateKey) -> bytes:
    """The PEM (SubjectPublicKeyInfo) of a private key's public half: what a key URL serves."""
    from cryptography.hazmat.primitives import serialization  # not on the callback function's cold path

    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def callback_headers(
    private_key: rsa.RSAPrivateKey, key_url: str, path: str, query: str, body: bytes
) -> dict[str, str]:
    """The ``Authorization`` and ``x-oss-pub-key-url`` headers OSS would send for this callback request."""
    signature = sign(private_key, string_to_sign(path, query, body))
    return {
        "Authorization": base64.b64encode(signature).decode("ascii"),
        "x-oss-pub-key-url": base64.b64encode(key_url.encode("ascii")).decode("ascii"),
    }
