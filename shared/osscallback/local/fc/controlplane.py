"""Deprecated: this module is now :mod:`osscallback.local.fc.api.controlplane`.

It re-exports its names for one release and warns on import; it will be removed in the next release
(docs/ARCHITECTURE.md, "Deprecated import paths"). ``ControlPlane`` now takes a
``FunctionRegistry`` (:mod:`osscallback.local.fc.model.registry`) instead of the host, and its errors are
:mod:`osscallback.local.fc.errors`' classes (``ApiError`` is gone)."""

from __future__ import annotations

from osscallback._lazy import warn_moved
from osscallback.local.fc.api.controlplane import SUPPORTED_TRIGGERS, CodeFetcher, ControlPlane, TempBucket

__all__ = ["SUPPORTED_TRIGGERS", "CodeFetcher", "ControlPlane", "TempBucket"]

warn_moved(__name__, "import from osscallback.local.fc.api.controlplane")
