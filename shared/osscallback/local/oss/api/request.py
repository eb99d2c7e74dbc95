"""A parsed OSS request and the answer to it, plus the request-parsing rules every operation family shares.

:mod:`osscallback.local.oss.server` builds a :class:`Request` from the wire (bucket and key already resolved from the
addressing style, header names lower-cased, the body a streaming :class:`BodyReader`); an operation returns a
:class:`Response` whose body is bytes or a slice of a file on disk (sent with ``sendfile``), or raises
:class:`~osscallback.local.oss.xmlresp.OSSError`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from osscallback.local.oss import xmlresp
from osscallback.local.oss.xmlresp import OSSError

#: OSS's largest single-request object (PutObject, a part, an append).
MAX_OBJECT_SIZE = 5 * 1024**3
#: Largest XML request document we read (CompleteMultipartUpload, DeleteMultipleObjects, Tagging, ...).
MAX_XML_BODY = 4 * 1024 * 1024
#: Object headers OSS stores with an object and returns on GET/HEAD.
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")


class BodyReader:
    """The request body: ``read(n)`` returns ``b""`` at its end; raises ``IncompleteBody`` if it ends early."""

    length: int | None  # None: chunked, size unknown

    def read(self, n: int) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def read_all(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while chunk := self.read(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise xmlresp.invalid_argument("The request body is too large.")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass
class Request:
    method: str
    host: str
    bucket: str
    key: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: BodyReader
    client_ip: str
    request_id: str
    endpoint: str  # scheme://host:port of this server, for Location values
    #: The AccessKey id that signed the request; "" for an anonymous request (ACLs decide).
    access_key_id: str = ""

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self.query)

    @property
    def anonymous(self) -> bool:
        return not self.access_key_id

    @property
    def location(self) -> str:
        return f"{self.endpoint}/{self.bucket}/{self.key}"


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: An open handle on the object's bytes (opened with its metadata, see ``Store.open_current``): sent as it is,
    #: or read through ``stream`` when that is set. The server closes it once the answer is sent, whatever happened.
    file: BinaryIO | None = None
    offset: int = 0
    length: int = 0
    #: A streamed body of unknown length (sent chunked): compressed GETs.
    stream: Iterator[bytes] | None = None


def xml_response(body: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, {"Content-Type": "application/xml", **(headers or {})}, body)


# --- parsing rules shared by the families --------------------------------------------------------------------------


def url_encoding(req: Request) -> bool:
    """``encoding-type=url``: keys in the answer (and, for DeleteMultipleObjects, in the request) are URL-encoded."""
    enc = req.params.get("encoding-type")
    if enc not in (None, "", "url"):
        raise xmlresp.invalid_argument("The encoding-type must be url.", "encoding-type", enc or "")
    return enc == "url"


def int_param(req: Request, name: str, default: int, low: int = 0, high: int = 1000) -> int:
    raw = req.params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise xmlresp.invalid_argument(f"Argument {name} must be an integer.", name, raw) from None
    if not low <= value <= high:
        raise xmlresp.invalid_argument(f"Argument {name} must be between {low} and {high}.", name, raw)
    return value


def expected_md5(req: Request) -> bytes | None:
    """The digest a ``Content-MD5`` header promises, or ``None``; 400 ``InvalidDigest`` if it is not one."""
    value = req.headers.get("content-md5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise xmlresp.invalid_digest(value) from None
    if len(digest) != 16:
        raise xmlresp.invalid_digest(value)
    return digest


def meta_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """``(x-oss-meta-* user metadata, stored standard headers)`` from request headers (lower-case names)."""
    user = {k: v for k, v in headers.items() if k.startswith("x-oss-meta-")}
    stored = {k: v for k, v in headers.items() if k in STORED_HEADERS}
    return user, stored


def content_type(headers: Mapping[str, str]) -> str:
    """The stored Content-Type: as sent, else ``application/octet-stream``. OSS never guesses from the key's
    extension; the SDKs do that on the client side (oss2 and the v2 SDK both send a guessed type)."""
    return headers.get("content-type") or "application/octet-stream"


def forbid_overwrite(req: Request) -> bool:
    return req.headers.get("x-oss-forbid-overwrite", "").lower() == "true"


def file_exists() -> OSSError:
    return OSSError(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")


def entity_too_large() -> OSSError:
    return OSSError(
        400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.", ec="0026-00000013"
    )
