"""Deprecated: this module is now :mod:`osscallback.local.fc.model.asyncinvoke`.

It re-exports its names for one release and warns on import; it will be removed in the next release
(docs/ARCHITECTURE.md, "Deprecated import paths"). ``AsyncInvocation`` and
``AsyncAttempt`` are also exported by :mod:`osscallback.local.fc`."""

from __future__ import annotations

from osscallback._lazy import warn_moved
from osscallback.local.fc.model.asyncinvoke import (
    ABANDONED,
    DEFAULT_BACKOFF,
    DEFAULT_RETRY_ATTEMPTS,
    FAILED,
    QUEUED,
    RETRYING,
    RUNNING,
    SUCCEEDED,
    AsyncAttempt,
    AsyncInvocation,
    AsyncInvoker,
    AttemptResult,
    Observer,
)

__all__ = [
    "ABANDONED",
    "DEFAULT_BACKOFF",
    "DEFAULT_RETRY_ATTEMPTS",
    "FAILED",
    "QUEUED",
    "RETRYING",
    "RUNNING",
    "SUCCEEDED",
    "AsyncAttempt",
    "AsyncInvocation",
    "AsyncInvoker",
    "AttemptResult",
    "Observer",
]

warn_moved(__name__, "import from osscallback.local.fc.model.asyncinvoke")
