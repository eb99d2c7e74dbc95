"""Deprecated: this module is now :mod:`osscallback.local.fc.api.controlplane`.

It re-exports its names for one release and warns on import; it will be removed in the next release
(docs/ARCHITECTURE.md, "Deprecated import paths"). ``ControlPlane`` now takes a
``FunctionRegistry`` (:mod:`osscallback.local.fc.model.registry`) instead of the host, and its errors are
:mod:`osscallback.local.fc.errors`' classes (``ApiError`` is gone)."""

from __future__ import annotations

import warnings

from osscallback.local.fc.api.controlplane import SUPPORTED_TRIGGERS, CodeFetcher, ControlPlane, TempBucket

__all__ = ["SUPPORTED_TRIGGERS", "CodeFetcher", "ControlPlane", "TempBucket"]

warnings.warn(
    "osscallback.local.fc.controlplane is deprecated and will be removed in the next release: import from "
    "osscallback.local.fc.api.controlplane",
    DeprecationWarning,
    stacklevel=2,
)
