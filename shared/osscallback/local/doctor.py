"""Deprecated: the doctor moved to :mod:`osscallback.doctor` (it checks deployed endpoints; ``local/`` holds the
local stand-ins for the cloud). This alias re-exports its names for one release and warns on import; it will be
removed in the next release (docs/ARCHITECTURE.md, "Deprecated import paths")."""

from __future__ import annotations

from osscallback._lazy import warn_moved
from osscallback.doctor import (
    FAIL,
    OSS_TIMEOUT,
    PASS,
    WARN,
    Check,
    Doctor,
    DoctorError,
    Probe,
    Report,
    Resolver,
    Target,
    classify_addresses,
    default_resolver,
    diagnose,
    parse_target,
)
from osscallback.doctor.checks import FC2_PROXY_PREFIX, FORGED_KEY_URL, PROBE_BODY, SLOW_SHARE, USER_AGENT
from osscallback.doctor.report import MAX_ANSWER_BYTES

__all__ = [
    "FAIL", "FC2_PROXY_PREFIX", "FORGED_KEY_URL", "MAX_ANSWER_BYTES", "OSS_TIMEOUT", "PASS", "PROBE_BODY",
    "SLOW_SHARE", "USER_AGENT", "WARN", "Check", "Doctor", "DoctorError", "Probe", "Report", "Resolver", "Target",
    "classify_addresses", "default_resolver", "diagnose", "parse_target",
]

warn_moved(__name__, "import osscallback.doctor")
