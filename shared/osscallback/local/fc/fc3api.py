"""Deprecated: this module is now :mod:`osscallback.local.fc.api.fc3api`.

It re-exports its names for one release and warns on import; it will be removed in the next release
(docs/ARCHITECTURE.md, "Deprecated import paths"). ``check_signature`` now raises
:mod:`osscallback.local.fc.errors`' classes instead of returning ``(status, code, message)``, and ``error`` is
``FCError.fc3_body``."""

from __future__ import annotations

from osscallback._lazy import warn_moved
from osscallback.local.fc.api.fc3api import API_VERSION, check_signature, sign, string_to_sign

__all__ = ["API_VERSION", "check_signature", "sign", "string_to_sign"]

warn_moved(__name__, "import from osscallback.local.fc.api.fc3api")
