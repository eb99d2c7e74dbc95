"""Calling FC's official SDKs from the CLI without leaking credentials, hanging, or printing their noise.

``fc2`` logs every 4xx/5xx answer through the *root* logger (``logging.error(...)`` in ``Client._do_request``,
aliyun/fc-python-sdk ``fc2/client.py``) with the request's headers, which hold the ``x-fc-security-token`` and
the ``authorization`` signature; and because it
calls the module-level ``logging`` functions, the first call also ``basicConfig``\\ s the root logger to stderr.
Its ``requestWithTry`` retries refused connections five times with back-off (about 30 s, one urllib3 ``Retrying``
warning each). The SDKs stay unmodified: :func:`quiet_sdk` drops exactly those records, for the duration of one
call, with logging filters (every other record still goes through), :func:`check_reachable` fails a dead
endpoint within seconds before any SDK call, and :func:`describe_fc2_error` turns ``fc2``'s ``FcError`` (a tuple
repr when printed) into one line.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from osscallback.errors import OssCallbackError

#: Seconds a TCP connection to the FC endpoint may take before the endpoint counts as unreachable.
CONNECT_TIMEOUT = 3.0


class FCUnreachable(OssCallbackError):
    """The FC endpoint does not accept connections."""


class _DropRecords(logging.Filter):
    """Drops the records an SDK logs that we must not show: fc2's request dumps, urllib3's retry warnings."""

    def __init__(self, fc2_dir: str) -> None:
        super().__init__()
        self.fc2_dir = fc2_dir

    def filter(self, record: logging.LogRecord) -> bool:
        if self.fc2_dir and record.pathname.startswith(self.fc2_dir):
            return False  # fc2's own lines: they carry the request headers (token, signature)
        return not (record.name.startswith("urllib3") and str(record.msg).startswith("Retrying"))


def _fc2_dir() -> str:
    try:
        import fc2
    except ImportError:
        return ""
    return str(Path(fc2.__file__).resolve().parent) + "/"


@contextmanager
def quiet_sdk() -> Iterator[None]:
    """While the block runs, fc2's log records (root logger) and urllib3's retry warnings are dropped."""
    drop = _DropRecords(_fc2_dir())
    # fc2 logs through the root logger by calling logging.error/debug; a logger's filters see only the records
    # logged on that very logger, so the root's filter catches fc2's lines and nothing any named logger logs.
    loggers = [logging.getLogger(), logging.getLogger("urllib3.connectionpool")]
    for logger in loggers:
        logger.addFilter(drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)


def check_reachable(endpoint: str, timeout: float = CONNECT_TIMEOUT, *, local: bool = True) -> None:
    """Raise :class:`FCUnreachable` (one line) unless ``endpoint``'s host accepts a TCP connection in time
    (``local``: the endpoint of an ``osscallback local``, which the message then mentions)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FCUnreachable(f"not an FC endpoint: {endpoint!r} (the port is not a number from 0 to 65535)") from None
    if not parts.hostname:
        raise FCUnreachable(f"not an FC endpoint: {endpoint!r}")
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc)).lower()
        hint = "; is `osscallback local` running? it prints its FC endpoint" if local else ""
        raise FCUnreachable(f"cannot reach FC at {endpoint} ({parts.hostname}:{port}: {why}){hint}") from None


def describe_fc2_error(exc: BaseException) -> str:
    """``fc2``'s ``FcError`` as one line: ``InvalidAccessKeyID: invalid access key ID 'x' (HTTP 403, request id …)``.

    Other exceptions (requests' connection errors) give their own message.
    """
    code = getattr(exc, "err_code", "") or ""
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "message", None)
    if status is None or message is None:
        return str(exc) or type(exc).__name__
    text = str(message)
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        code = code or str(doc.get("ErrorCode") or "")
        text = str(doc.get("ErrorMessage") or text)
    request_id = getattr(exc, "request_id", "") or ""
    tail = f"HTTP {status}" + (f", request id {request_id}" if request_id else "")
    return f"{code or 'FcError'}: {text} ({tail})"
