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

The emulator uses plain :mod:`http.client` on purpose: it never follows redirects, lets us set ``Host`` and the raw
path exactly, and lets us bound the time and size of the answer.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import callback_headers
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


@dataclass(frozen=True)
class Attempt:
    url: str
    ok: bool
    message: str
    status: int | None = None


@dataclass(frozen=True)
class CallbackResult:
    """The outcome of a callback: on success the answer's JSON body, else OSS's failure message."""

    ok: bool
    body: bytes
    message: str
    attempts: tuple[Attempt, ...]


class _Failed(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class CallbackSender:
    """Delivers callbacks signed with the emulator's key pair."""

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey,
        key_url: str,
        *,
        timeout: float = CALLBACK_TIMEOUT,
        max_answer: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.private_key = private_key
        self.key_url = key_url
        self.timeout = timeout
        self.max_answer = max_answer

    def send(self, params: CallbackParams, values: Mapping[str, object]) -> CallbackResult:
        body = render_body(params.body, params.body_type, values)
        attempts: list[Attempt] = []
        for url in params.urls:
            try:
                answer = self._post(url, params, body)
            except _Failed as failure:
                log.info("callback to %s failed: %s", url, failure.message)
                attempts.append(Attempt(url, False, failure.message, failure.status))
                continue
            log.info("callback to %s succeeded", url)
            attempts.append(Attempt(url, True, "", 200))
            return CallbackResult(True, answer, "", tuple(attempts))
        return CallbackResult(False, b"", attempts[-1].message if attempts else MSG_CONNECT, tuple(attempts))

    def _post(self, url: str, params: CallbackParams, body: bytes) -> bytes:
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Failed(MSG_CONNECT)
        try:
            port = parts.port
        except ValueError:
            raise _Failed(MSG_CONNECT) from None
        path = parts.path or "/"
        target = path + (f"?{parts.query}" if parts.query else "")
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
            conn.putrequest("POST", target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", params.host or parts.netloc)
            conn.putheader("Content-Type", params.body_type)
            conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Date", http_date(time.time()))
            conn.putheader("User-Agent", USER_AGENT)
            for name, value in callback_headers(self.private_key, self.key_url, path, parts.query, body).items():
                conn.putheader(name, value)
            conn.endheaders(body)
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

    def _read_answer(self, sock: socket.socket | None, resp: http.client.HTTPResponse, deadline: float) -> bytes:
        length_header = resp.getheader("Content-Length")
        if resp.status != 200:
            raise _Failed(msg_status(resp.status), resp.status)
        if length_header is None:
            raise _Failed(MSG_LENGTH)
        try:
            length = int(length_header)
        except ValueError:
            raise _Failed(MSG_LENGTH) from None
        if length < 0 or length > self.max_answer:
            raise _Failed(MSG_LENGTH)
        chunks: list[bytes] = []
        received = 0
        while received < length:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Failed(MSG_TIMEOUT)
            if sock is not None:
                sock.settimeout(remaining)
            chunk = resp.read(min(64 * 1024, length - received))
            if not chunk:
                raise _Failed(MSG_CONNECT)
            chunks.append(chunk)
            received += len(chunk)
        answer = b"".join(chunks)
        try:
            json.loads(answer.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise _Failed(MSG_NOT_JSON) from None
        return answer
