"""Deprecated: this module is now :mod:`osscallback.local.fc.api.fcapi`.

It re-exports its names for one release and warns on import; it will be removed in the next release
(docs/ARCHITECTURE.md, "Deprecated import paths"). The header names and
``function_error``/``log_tail`` are :mod:`osscallback.local.fc.protocol`'s; ``check_signature`` now raises
:mod:`osscallback.local.fc.errors`' classes instead of returning ``(status, code, message)``, and ``api_error``
is ``FCError.fc2_body``."""

from __future__ import annotations

from osscallback._lazy import warn_moved
from osscallback.local.fc.api.fcapi import API_VERSION, check_signature, parse_query, sign, string_to_sign
from osscallback.local.fc.protocol import (
    COMMON_ERROR,
    H_ERROR_TYPE,
    H_INVOCATION_TYPE,
    H_LOG_RESULT,
    H_LOG_TYPE,
    H_REQUEST_ID,
    UNHANDLED,
    function_error,
    log_tail,
)

__all__ = [
    "API_VERSION",
    "COMMON_ERROR",
    "H_ERROR_TYPE",
    "H_INVOCATION_TYPE",
    "H_LOG_RESULT",
    "H_LOG_TYPE",
    "H_REQUEST_ID",
    "UNHANDLED",
    "check_signature",
    "function_error",
    "log_tail",
    "parse_query",
    "sign",
    "string_to_sign",
]

warn_moved(__name__, "import from osscallback.local.fc.api.fcapi")
