"""Deprecated: this module is now :mod:`osscallback.local.oss.localoss` (import its names from
:mod:`osscallback.local.oss`). It re-exports them for one release and warns on import; it will be removed in the next
release (docs/ARCHITECTURE.md, "Deprecated import paths")."""

from __future__ import annotations

from osscallback._lazy import warn_moved
from osscallback.local.oss.localoss import (
    DEFAULT_BUCKET,
    DEFAULT_REGION,
    LocalOSS,
    LocalOSSInfo,
    default_data_dir,
    start_local_oss,
)

__all__ = ["DEFAULT_BUCKET", "DEFAULT_REGION", "LocalOSS", "LocalOSSInfo", "default_data_dir", "start_local_oss"]

warn_moved(__name__, "import from osscallback.local.oss")
