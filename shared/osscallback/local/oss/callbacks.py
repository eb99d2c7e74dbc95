"""Upload callbacks as OSS performs them: fill the body template, sign, POST to each URL in turn, judge the answer.

Rules followed (SPEC §1-4, OSS "Callback" API reference and the "HTTP status code 203" page):

* the body is ``callbackBody`` with ``${…}`` replaced by system and custom variables (``render_body`` in
  :mod:`osscallback.upload.callback_params`: form values URL-encoded, JSON values as JSON strings);
* the request is a ``POST`` with ``Content-Type`` = ``callbackBodyType``, ``Host`` = ``callbackHost`` (default:
  the URL's host), ``Authorization`` = base64(MD5withRSA over ``unquote(path)[?query]\\n body``) and
  ``x-oss-pub-key-url`` = base64 of the key URL;
* up to 5 URLs are tried in order until one answers well; each attempt has a 5 second budget, no redirects are
  followed, nothing is retried;
* a good answer is HTTP 200 with a ``Content-Length`` of at most 3 MB and a JSON body; anything else makes the
  upload answer 203 ``CallbackFailed`` with OSS's message for the case. The object is stored either way.

Every callback sent becomes a :class:`CallbackRecord` (the decoded parameters, each request exactly as sent with
the string it signed, each answer, OSS's verdict, the timings) handed to the sender's observers: the local
inspector shows them. :meth:`CallbackSender.replay` and :meth:`CallbackSender.resend` send a recorded request again,
as is or edited, signed again with the local OSS key or not.

The emulator uses plain :mod:`http.client` on purpose: it never follows redirects, lets us set ``Host`` and the raw
path exactly, and lets us bound the time and size of the answer.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import callback_headers, string_to_sign
from osscallback.errors import OssCallbackError
from osscallback.local.oss.xmlresp import http_date
from osscallback.upload.callback_params import CallbackParams, placeholders, render_body

log = logging.getLogger("osscallback.local.oss.callbacks")

#: OSS waits this long for a callback answer.
CALLBACK_TIMEOUT = 5.0
#: Largest callback answer OSS accepts.
MAX_ANSWER_BYTES = 3 * 1024 * 1024
USER_AGENT = "aliyun-oss-callback"

# OSS's CallbackFailed messages ("HTTP status code 203" troubleshooting page).
MSG_CONNECT = "Error Status : -1.OSS can not connect to your callbackUrl, please check it"
MSG_TIMEOUT = "Cost too long time"
MSG_NOT_JSON = "Response body is not valid json format."
MSG_LENGTH = "Error Status : 400.User server return too long content-length value"
MSG_IMAGE = "Get image info failed"


def msg_status(status: int) -> str:
    return f"Error status : {status}."


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str


_FORMAT_NAMES = {"JPEG": "jpg", "MPO": "jpg", "TIFF": "tiff"}


def image_info(path: Path) -> ImageInfo | None:
    """Width, height and format of an image file, the way OSS reports them; ``None`` if not an image or Pillow
    is not installed (the ``[image]`` extra)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow is optional
        return None
    try:
        with Image.open(path) as img:  # reads the header only
            fmt = img.format or ""
            return ImageInfo(img.width, img.height, _FORMAT_NAMES.get(fmt, fmt.lower()))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def needs_image_info(params: CallbackParams) -> bool:
    return any(name.startswith("imageInfo.") for name in placeholders(params.body))


@dataclass(frozen=True)
class UploadFacts:
    """What OSS knows about a finished upload: the source of the system variables."""

    bucket: str
    key: str
    etag: str
    size: int
    mime_type: str
    crc64: int
    content_md5: str
    client_ip: str
    request_id: str
    operation: str
    image: ImageInfo | None = None
    vpc_id: str = ""


def variables(facts: UploadFacts, custom: Mapping[str, str]) -> dict[str, str]:
    """All ``${…}`` values for one upload: system variables and the ``x:`` custom ones."""
    values = {
        "bucket": facts.bucket,
        "object": facts.key,
        "etag": facts.etag,
        "size": str(facts.size),
        "mimeType": facts.mime_type,
        "imageInfo.height": str(facts.image.height) if facts.image else "",
        "imageInfo.width": str(facts.image.width) if facts.image else "",
        "imageInfo.format": facts.image.format if facts.image else "",
        "crc64": str(facts.crc64),
        "contentMd5": facts.content_md5,
        "vpcId": facts.vpc_id,
        "clientIp": facts.client_ip,
        "reqId": facts.request_id,
        "operation": facts.operation,
    }
    values.update(custom)
    return values



# --- what was sent and what came back ----------------------------------------------------------------------------

#: Most answer bytes a record keeps (the uploader still gets the whole answer, up to MAX_ANSWER_BYTES).
RECORD_ANSWER_BYTES = 256 * 1024
#: Longest a failed answer's body is read for the record, once OSS's verdict is made.
RECORD_READ_SECONDS = 1.0
#: Largest body an edited re-send may carry.
MAX_RESEND_BODY = 1024 * 1024

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


class _Failed(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


_SAFE_TARGET = re.compile(r"^/[\x21-\x7e]*$")


class CallbackSender:
    """Delivers callbacks signed with the emulator's key pair, records each one, and can send it again.

    Every callback becomes a :class:`CallbackRecord` handed to each observer (the local inspector is one) after
    it was sent; an observer that raises is logged and ignored, so watching never breaks an upload.
    :meth:`replay` re-sends a recorded request byte for byte (same signature: OSS signs no timestamp, so a replay
    is valid, and only idempotency stops it running the action twice); :meth:`resend` sends an edited copy,
    signed again by the local OSS key or, to show what a tampered request gets, with the old signature.
    """

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey,
        key_url: str,
        *,
        timeout: float = CALLBACK_TIMEOUT,
        max_answer: int = MAX_ANSWER_BYTES,
        observers: Iterable[CallbackObserver] = (),
    ) -> None:
        self.private_key = private_key
        self.key_url = key_url
        self.timeout = timeout
        self.max_answer = max_answer
        self._observers: list[CallbackObserver] = list(observers)

    def add_observer(self, observer: CallbackObserver) -> None:
        self._observers.append(observer)

    def remove_observer(self, observer: CallbackObserver) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    # --- an upload's callback --------------------------------------------------------------------------------------

    def send(self, params: CallbackParams, values: Mapping[str, object]) -> CallbackResult:
        sent_at = time.time()
        started = time.perf_counter()
        body = render_body(params.body, params.body_type, values)
        attempts: list[Attempt] = []
        answer = b""
        for url in params.urls:
            try:
                request = self._prepare(url, params, body)
            except _Failed as failure:
                attempts.append(Attempt(url, False, failure.message))
                continue
            attempt, answer = self._deliver(request)
            attempts.append(attempt)
            if attempt.ok:
                log.info("callback to %s succeeded", url)
                break
            log.info("callback to %s failed: %s", url, attempt.message)
        ok = bool(attempts) and attempts[-1].ok
        message = "" if ok else (attempts[-1].message if attempts else MSG_CONNECT)
        result = CallbackResult(ok, answer if ok else b"", message, tuple(attempts))
        self._notify(
            CallbackRecord(
                id=uuid.uuid4().hex,
                kind=KIND_UPLOAD,
                parent_id=None,
                sent_at=sent_at,
                latency_ms=_ms_since(started),
                operation=str(values.get("operation", "")),
                bucket=str(values.get("bucket", "")),
                key=str(values.get("object", "")),
                upload_request_id=str(values.get("reqId", "")),
                callback=params.to_document(),
                callback_var={k: str(v) for k, v in values.items() if k.startswith("x:")},
                signing=SIGNED_BY_OSS,
                attempts=result.attempts,
                ok=ok,
                message=message,
            )
        )
        return result

    # --- sending a recorded callback again -------------------------------------------------------------------------

    def replay(self, record: CallbackRecord) -> CallbackRecord:
        """Send the request of ``record``'s last attempt again, byte for byte (headers, signature, body)."""
        request = self._recorded_request(record)
        return self._send_again(record, request, KIND_REPLAY, record.signing)

    def resend(
        self,
        record: CallbackRecord,
        *,
        body: bytes | None = None,
        target: str | None = None,
        resign: bool = True,
    ) -> CallbackRecord:
        """Send an edited copy of ``record``'s last request: a new body and/or path (``/path[?query]``).

        ``resign=True`` signs it with the local OSS key as OSS would have; ``resign=False`` keeps the old
        ``Authorization`` (and the string it covers), which is what a tampered request looks like.
        """
        old = self._recorded_request(record)
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
            fresh = callback_headers(self.private_key, self.key_url, path, query, body)
        for name, value in old.headers:
            lowered = name.lower()
            if lowered == "content-length":
                value = str(len(body))
            elif resign and lowered == "authorization":
                value = fresh["Authorization"]
            elif resign and lowered == "x-oss-pub-key-url":
                value = fresh["x-oss-pub-key-url"]
            headers.append((name, value))
        request = SentRequest(url=old.url, target=target, headers=tuple(headers), body=body, signed=signed)
        return self._send_again(record, request, KIND_RESEND, SIGNED_BY_OSS if resign else SIGNATURE_KEPT)

    @staticmethod
    def _recorded_request(record: CallbackRecord) -> SentRequest:
        for attempt in reversed(record.attempts):
            if attempt.request is not None:
                return attempt.request
        raise CallbackResendError("this callback never reached a server (no URL could be used): nothing to re-send")

    def _send_again(self, record: CallbackRecord, request: SentRequest, kind: str, signing: str) -> CallbackRecord:
        sent_at = time.time()
        started = time.perf_counter()
        attempt, _ = self._deliver(request)
        log.info("callback %s to %s: %s", kind, request.url, "ok" if attempt.ok else attempt.message)
        again = replace(
            record,
            id=uuid.uuid4().hex,
            kind=kind,
            parent_id=record.id,
            sent_at=sent_at,
            latency_ms=_ms_since(started),
            signing=signing,
            attempts=(attempt,),
            ok=attempt.ok,
            message=attempt.message,
        )
        self._notify(again)
        return again

    def _notify(self, record: CallbackRecord) -> None:
        for observer in list(self._observers):
            try:
                observer(record)
            except Exception:  # an observer must never break an upload
                log.exception("callback observer %r failed", observer)

    # --- the wire --------------------------------------------------------------------------------------------------

    def _prepare(self, url: str, params: CallbackParams, body: bytes) -> SentRequest:
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Failed(MSG_CONNECT)
        try:
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise _Failed(MSG_CONNECT) from None
        path = parts.path or "/"
        target = path + (f"?{parts.query}" if parts.query else "")
        headers = [
            ("Host", params.host or parts.netloc),
            ("Content-Type", params.body_type),
            ("Content-Length", str(len(body))),
            ("Date", http_date(time.time())),
            ("User-Agent", USER_AGENT),
            *callback_headers(self.private_key, self.key_url, path, parts.query, body).items(),
        ]
        return SentRequest(url, target, tuple(headers), body, string_to_sign(path, parts.query, body))

    def _deliver(self, request: SentRequest) -> tuple[Attempt, bytes]:
        """POST one request within the time budget; the attempt as recorded, and the whole answer when it is good."""
        started = time.perf_counter()
        answer: ReceivedAnswer | None = None
        try:
            answer, body = self._post(request)
        except _Failed as failure:
            captured = failure.__cause__
            if isinstance(captured, _Captured):
                answer = captured.answer
            latency = _ms_since(started)
            return Attempt(request.url, False, failure.message, failure.status, request, answer, latency), b""
        return Attempt(request.url, True, "", 200, request, answer, _ms_since(started)), body

    def _post(self, request: SentRequest) -> tuple[ReceivedAnswer, bytes]:
        url = request.url
        parts = urlsplit(url if "://" in url else "http://" + url)
        if not parts.hostname:
            raise _Failed(MSG_CONNECT)
        try:
            port = parts.port
        except ValueError:
            raise _Failed(MSG_CONNECT) from None
        deadline = time.monotonic() + self.timeout
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # local development targets use self-signed certificates
            conn = http.client.HTTPSConnection(parts.hostname, port, timeout=self.timeout, context=context)
        else:
            conn = http.client.HTTPConnection(parts.hostname, port, timeout=self.timeout)
        try:
            conn.putrequest(request.method, request.target, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers:
                conn.putheader(name, value)
            conn.endheaders(request.body)
            sock = conn.sock  # kept: http.client drops conn.sock when the answer says "Connection: close"
            if sock is not None:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
            resp = conn.getresponse()
            return self._read_answer(sock, resp, deadline)
        except _Failed:
            raise
        except TimeoutError:
            raise _Failed(MSG_TIMEOUT) from None
        except (OSError, http.client.HTTPException):
            raise _Failed(MSG_CONNECT) from None
        finally:
            conn.close()

    def _read_answer(
        self, sock: socket.socket | None, resp: http.client.HTTPResponse, deadline: float
    ) -> tuple[ReceivedAnswer, bytes]:
        head = (resp.status, resp.reason or "", tuple(resp.getheaders()))
        length_header = resp.getheader("Content-Length")
        if resp.status != 200:
            # OSS's verdict is already made; read a little of the answer for the record, within the same budget.
            raise _Failed(msg_status(resp.status), resp.status) from _Captured(
                _record(head, *self._read_some(sock, resp, deadline, RECORD_ANSWER_BYTES))
            )
        if length_header is None:  # not read: without a length, reading could only wait for the server to close
            raise _Failed(MSG_LENGTH) from _Captured(_record(head, b"", True))
        try:
            length = int(length_header)
        except ValueError:
            raise _Failed(MSG_LENGTH) from _Captured(_record(head, b"", False))
        if length < 0 or length > self.max_answer:
            raise _Failed(MSG_LENGTH) from _Captured(_record(head, b"", length > 0))
        chunks: list[bytes] = []
        received = 0
        while received < length:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Failed(MSG_TIMEOUT) from _Captured(_record(head, b"".join(chunks), True))
            if sock is not None:
                sock.settimeout(remaining)
            chunk = resp.read(min(64 * 1024, length - received))
            if not chunk:
                raise _Failed(MSG_CONNECT) from _Captured(_record(head, b"".join(chunks), True))
            chunks.append(chunk)
            received += len(chunk)
        answer = b"".join(chunks)
        recorded = _record(head, answer, False)
        try:
            json.loads(answer.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise _Failed(MSG_NOT_JSON) from _Captured(recorded)
        return recorded, answer

    @staticmethod
    def _read_some(
        sock: socket.socket | None, resp: http.client.HTTPResponse, deadline: float, limit: int
    ) -> tuple[bytes, bool]:
        """Up to ``limit`` bytes of an answer whose verdict is made, for the record only; never raises.

        Read only when the answer says how long it is (or is chunked), and for at most a second: recording must
        not make the uploader wait noticeably longer than OSS would.
        """
        if resp.getheader("Content-Length") is None and not resp.chunked:
            return b"", True
        deadline = min(deadline, time.monotonic() + RECORD_READ_SECONDS)
        chunks: list[bytes] = []
        received = 0
        try:
            while received < limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return b"".join(chunks), True
                if sock is not None:
                    sock.settimeout(remaining)
                chunk = resp.read1(min(64 * 1024, limit - received))
                if not chunk:
                    return b"".join(chunks), False
                chunks.append(chunk)
                received += len(chunk)
        except (OSError, http.client.HTTPException, ValueError):
            return b"".join(chunks), True
        return b"".join(chunks), True


class _Captured(Exception):
    """Carries the answer seen so far on a failed attempt (chained as the ``_Failed``'s cause)."""

    def __init__(self, answer: ReceivedAnswer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _record(head: tuple[int, str, Headers], body: bytes, truncated: bool) -> ReceivedAnswer:
    status, reason, headers = head
    if len(body) > RECORD_ANSWER_BYTES:
        body, truncated = body[:RECORD_ANSWER_BYTES], True
    return ReceivedAnswer(status, reason, headers, body, truncated)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
