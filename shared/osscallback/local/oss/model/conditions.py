"""Preconditions: ``If-Match``, ``If-None-Match``, ``If-Modified-Since``, ``If-Unmodified-Since``.

OSS evaluates them as RFC 7232 §6 orders them, which gives the combinations its GetObject reference documents
(If-Match true + If-Unmodified-Since false → 200; If-None-Match false + If-Modified-Since true → 304):

1. ``If-Match`` is false → 412; without ``If-Match``, ``If-Unmodified-Since`` false → 412;
2. ``If-None-Match`` is false → 304; without it, ``If-Modified-Since`` false → 304.

CopyObject and UploadPartCopy apply the same rules to the source object through ``x-oss-copy-source-if-*``.
Dates compare at the second resolution of ``Last-Modified``; a date that does not parse is ignored, like OSS.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from osscallback.local.oss.xmlresp import OSSError

OK, NOT_MODIFIED, FAILED = 200, 304, 412


def _etag_matches(header: str, etag: str) -> bool:
    for item in header.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        if item == "*" or item.strip('"').upper() == etag.upper():
            return True
    return False


def _date(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def evaluate(headers: Mapping[str, str], etag: str, last_modified: float, prefix: str = "") -> int:
    """200, 304 or 412 for an object with ``etag`` (no quotes) and ``last_modified``; ``prefix`` is ``""`` for
    GET/HEAD or ``"x-oss-copy-source-"`` for a copy's source."""
    modified = float(int(last_modified))
    if_match = headers.get(prefix + "if-match")
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            return FAILED
    else:
        since = _date(headers.get(prefix + "if-unmodified-since"))
        if since is not None and modified > since:
            return FAILED
    if_none = headers.get(prefix + "if-none-match")
    if if_none is not None:
        if _etag_matches(if_none, etag):
            return NOT_MODIFIED
    else:
        since = _date(headers.get(prefix + "if-modified-since"))
        if since is not None and modified <= since:
            return NOT_MODIFIED
    return OK


def precondition_failed(condition: str = "") -> OSSError:
    extra = {"Condition": condition} if condition else {}
    return OSSError(
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold.",
        ec="0026-00000003",
        extra=extra,
    )
