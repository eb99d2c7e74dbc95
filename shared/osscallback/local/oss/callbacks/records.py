"""What a callback sent and what came back: the records the local OSS hands its observers (the inspector).

Frozen dataclasses, so an observer on another thread can keep a record without copying it, and a re-send starts
from exactly the request that went on the wire (:attr:`SentRequest.signed` keeps the string its signature covers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from osscallback.errors import OssCallbackError

#: Most answer bytes a record keeps (the uploader still gets the whole answer, up to MAX_ANSWER_BYTES).
RECORD_ANSWER_BYTES = 256 * 1024

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SentRequest:
    """A callback request exactly as it went on the wire: ``POST target`` with these headers, in this order.

    ``signed`` is what the ``Authorization`` signature covers. For a request the local OSS signed, it is the
    request's own string to sign; for a re-send that kept an older signature it is the older request's, which is
    what makes such a request a forgery.
    """

    url: str
    target: str
    headers: Headers
    body: bytes
    signed: bytes
    method: str = "POST"
    #: Whether the TLS ClientHello names the host (SNI): only for an https URL whose ``callbackSNI`` was true.
    sni: bool = False

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def raw_head(self) -> str:
        """The request line and headers as sent (HTTP/1.1, CRLF-separated)."""
        lines = [f"{self.method} {self.target} HTTP/1.1", *(f"{k}: {v}" for k, v in self.headers)]
        return "\r\n".join(lines) + "\r\n\r\n"


@dataclass(frozen=True)
class ReceivedAnswer:
    """What the callback server answered (the body capped at :data:`RECORD_ANSWER_BYTES`)."""

    status: int
    reason: str
    headers: Headers
    body: bytes
    truncated: bool = False


@dataclass(frozen=True)
class Attempt:
    """One POST to one URL of ``callbackUrl``: the request, the answer if any, and OSS's verdict on it."""

    url: str
    ok: bool
    message: str
    status: int | None = None
    request: SentRequest | None = None
    answer: ReceivedAnswer | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True)
class CallbackResult:
    """The outcome of a callback: on success the answer's JSON body, else OSS's failure message."""

    ok: bool
    body: bytes
    message: str
    attempts: tuple[Attempt, ...]


#: How a record's request came to be: sent for an upload, replayed byte for byte, or edited and sent again.
KIND_UPLOAD, KIND_REPLAY, KIND_RESEND = "upload", "replay", "resend"
#: Who signed it: the local OSS signed this very request, or the request reuses an older request's signature.
SIGNED_BY_OSS, SIGNATURE_KEPT = "oss", "kept"


@dataclass(frozen=True)
class CallbackRecord:
    """Everything about one callback the local OSS sent: what the inspector shows and what a re-send starts from.

    ``callback`` is the ``x-oss-callback`` document as OSS read it (decoded and validated), ``callback_var`` the
    custom ``x:`` variables (``x-oss-callback-var`` or PostObject's form fields). ``ok``/``message`` are OSS's
    verdict: on an upload the uploader got 200 with the answer, or 203 ``CallbackFailed`` with ``message``.
    """

    id: str
    kind: str
    parent_id: str | None
    sent_at: float
    latency_ms: float
    operation: str
    bucket: str
    key: str
    upload_request_id: str
    callback: dict[str, Any]
    callback_var: dict[str, str]
    signing: str
    attempts: tuple[Attempt, ...]
    ok: bool
    message: str

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def uploader_status(self) -> int:
        """What OSS answers the upload: 200 with the callback's answer, or 203 CallbackFailed."""
        return 200 if self.ok else 203


CallbackObserver = Callable[[CallbackRecord], None]


class CallbackResendError(OssCallbackError):
    """A replay or re-send that cannot be made (no request recorded, a malformed path, an oversized body)."""
