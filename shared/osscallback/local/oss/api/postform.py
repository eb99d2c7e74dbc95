"""PostObject (HTML form upload): a streaming ``multipart/form-data`` reader and the POST policy check.

The reader keeps memory bounded whatever the upload size: small fields are collected (each capped), the ``file``
field is streamed straight into a :class:`~osscallback.local.oss.storage.Stager`. As on OSS, ``file`` must be the
last field: anything after it is read and ignored.

Policy rules (OSS "PostObject" and "POST signature" references): the base64 ``policy`` is a JSON document with an
ISO 8601 ``expiration`` and a list of ``conditions``; each condition is ``{"field": "value"}`` (exact match),
``["eq" | "starts-with", "$field", "value"]``, ``["in" | "not-in", "$field", [values]]`` or
``["content-length-range", min, max]``. Field names compare case-insensitively; ``$bucket`` is the target bucket.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any

from osscallback.local.oss.model.store import StagedFile, Stager
from osscallback.local.oss.xmlresp import OSSError, access_denied

#: Largest non-file form field we keep (OSS caps the whole form, minus the file, at a few KB per field).
MAX_FIELD_BYTES = 64 * 1024
#: Largest sum of non-file fields.
MAX_FIELDS_TOTAL = 1024 * 1024
_MAX_PART_HEADERS = 16 * 1024
_READ = 256 * 1024


def malformed(message: str = "The body of your POST request is not well-formed multipart/form-data.") -> OSSError:
    return OSSError(400, "MalformedPOSTRequest", message)


@dataclass
class PostForm:
    """A parsed upload form. ``fields`` has lower-case names; ``custom`` keeps ``x:`` fields as sent."""

    fields: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    file_content_type: str = ""
    staged: StagedFile | None = None


def boundary_of(content_type: str) -> bytes:
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_type() != "multipart/form-data":
        raise malformed("PostObject needs a multipart/form-data body.")
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise malformed("The multipart/form-data boundary is missing or invalid.")
    return boundary.encode("latin-1")


class _Buffer:
    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self.data = bytearray()
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        chunk = self._read(_READ)
        if not chunk:
            self.eof = True
            return False
        self.data += chunk
        return True

    def until(self, sep: bytes, limit: int) -> bytes:
        """Everything up to ``sep`` (consumed, not returned), at most ``limit`` bytes."""
        while True:
            idx = self.data.find(sep)
            if idx >= 0:
                out = bytes(self.data[:idx])
                del self.data[: idx + len(sep)]
                return out
            if len(self.data) > limit + len(sep):
                raise malformed("A form field or part header is too large.")
            if not self.more():
                raise malformed()

    def stream_until(self, sep: bytes, sink: Callable[[bytes], None]) -> None:
        """Feed everything before ``sep`` to ``sink`` without holding it all in memory."""
        keep = len(sep) - 1
        while True:
            idx = self.data.find(sep)
            if idx >= 0:
                sink(bytes(self.data[:idx]))
                del self.data[: idx + len(sep)]
                return
            if len(self.data) > keep:
                cut = len(self.data) - keep
                sink(bytes(self.data[:cut]))
                del self.data[:cut]
            if not self.more():
                raise malformed()

    def take(self, n: int) -> bytes:
        while len(self.data) < n:
            if not self.more():
                raise malformed()
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def drain(self) -> None:
        self.data.clear()
        while self.more():
            self.data.clear()


def _disposition(headers: bytes) -> tuple[str, str | None, str]:
    msg = Message()
    for line in headers.decode("utf-8", "replace").split("\r\n"):
        header, sep, value = line.partition(":")
        if sep:
            msg[header.strip()] = value.strip()
    if msg.get("content-disposition") is None:
        raise malformed("A form part has no Content-Disposition header.")
    name = msg.get_param("name", header="content-disposition")
    filename = msg.get_param("filename", header="content-disposition")
    if not isinstance(name, str):
        raise malformed("A form part has no name.")
    content_type = msg.get("content-type", "")
    return name, (filename if isinstance(filename, str) else None), str(content_type)


def parse_form(read: Callable[[int], bytes], content_type: str, new_stager: Callable[[], Stager]) -> PostForm:
    """Read a whole form from ``read`` (a bounded body reader); the caller owns ``form.staged`` afterwards."""
    delim = b"--" + boundary_of(content_type)
    buf = _Buffer(read)
    form = PostForm()
    total = 0
    buf.until(delim, MAX_FIELD_BYTES)  # preamble
    while True:
        tail = buf.take(2)
        if tail == b"--":
            break
        if tail != b"\r\n":
            raise malformed()
        name, filename, part_type = _disposition(buf.until(b"\r\n\r\n", _MAX_PART_HEADERS))
        if name.lower() == "file":
            stager = new_stager()
            try:
                buf.stream_until(b"\r\n" + delim, stager.write)
                form.staged = stager.finish()
            except BaseException:
                stager.discard()
                raise
            form.filename = filename or ""
            form.file_content_type = part_type
            buf.drain()  # OSS ignores fields after the file
            return form
        value = buf.until(b"\r\n" + delim, MAX_FIELD_BYTES)
        total += len(value)
        if total > MAX_FIELDS_TOTAL:
            raise malformed("The form fields are too large.")
        text = value.decode("utf-8", "replace")
        form.fields[name.lower()] = text
        if name.lower().startswith("x:"):
            form.custom[name] = text
    return form


# --- policy --------------------------------------------------------------------------------------------------------


def _invalid_policy(message: str) -> OSSError:
    return OSSError(400, "InvalidPolicyDocument", message)


def decode_policy(policy_b64: str) -> dict[str, Any]:
    try:
        doc = json.loads(base64.b64decode(policy_b64, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid_policy("Invalid Policy: Invalid JSON.") from None
    if not isinstance(doc, dict):
        raise _invalid_policy("Invalid Policy: Invalid JSON.")
    return doc


def _parse_expiration(value: Any) -> float:
    if not isinstance(value, str):
        raise _invalid_policy("Invalid Policy: Invalid 'expiration' value.")
    text = value.strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise _invalid_policy(f"Invalid Policy: Invalid 'expiration' value: '{value}'.") from None


def check_policy(doc: dict[str, Any], fields: dict[str, str], bucket: str, size: int, now: float | None = None) -> None:
    """Enforce expiry and every condition; raise :class:`OSSError` like OSS on the first failure."""
    now = time.time() if now is None else now
    if "expiration" not in doc:
        raise _invalid_policy("Invalid Policy: Policy missing expiration.")
    if now > _parse_expiration(doc["expiration"]):
        raise access_denied("Invalid according to Policy: Policy expired.")
    conditions = doc.get("conditions", [])
    if not isinstance(conditions, list):
        raise _invalid_policy("Invalid Policy: 'conditions' must be a list.")

    def value_of(name: Any) -> str:
        if not isinstance(name, str):
            raise _invalid_policy(f"Invalid Policy: invalid field name {name!r}.")
        n = name.lstrip("$").lower()
        return bucket if n == "bucket" else fields.get(n, "")

    def failed(cond: Any) -> OSSError:
        return access_denied(
            "Invalid according to Policy: Policy Condition failed: " + json.dumps(cond, ensure_ascii=False)
        )

    for cond in conditions:
        if isinstance(cond, dict):
            for name, expected in cond.items():
                if value_of(name) != str(expected):
                    raise failed(cond)
            continue
        if not isinstance(cond, list) or not cond or not isinstance(cond[0], str):
            raise _invalid_policy(f"Invalid Policy: invalid condition {cond!r}.")
        op = cond[0].lower()
        if op == "content-length-range":
            if len(cond) != 3 or not all(isinstance(x, int) for x in cond[1:]):
                raise _invalid_policy("Invalid Policy: invalid content-length-range.")
            if size < cond[1]:
                raise OSSError(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.")
            if size > cond[2]:
                raise OSSError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
            continue
        if len(cond) != 3:
            raise _invalid_policy(f"Invalid Policy: invalid condition {cond!r}.")
        actual = value_of(cond[1])
        target = cond[2]
        if op == "eq":
            ok = actual == str(target)
        elif op == "starts-with":
            ok = actual.startswith(str(target))
        elif op in ("in", "not-in"):
            if not isinstance(target, list):
                raise _invalid_policy(f"Invalid Policy: invalid condition {cond!r}.")
            ok = (actual in [str(t) for t in target]) == (op == "in")
        else:
            raise _invalid_policy(f"Invalid Policy: unknown condition {cond[0]!r}.")
        if not ok:
            raise failed(cond)
