"""Which signature versions the local OSS accepts: V4 only by default, as a bucket created today.

OSS is retiring its V1 signature: "From March 1, 2025, the V1 signature algorithm of OSS is no longer available to
new customers with new UIDs. From September 1, 2025, ... the V1 signature algorithm is no longer available for new
buckets" (OSS, "Guidelines for upgrading V1 signatures to V4 signatures",
https://www.alibabacloud.com/help/en/oss/developer-reference/guidelines-for-upgrading-v1-signatures-to-v4-signatures).
Such a bucket answers a V1-signed request with HTTP 403 and EC 0002-00000080, whose page says "OSS no longer
supports V1 signatures" (https://help.aliyun.com/en/oss/user-guide/0002-00000080). V2 (``OSS2``) predates V4 too
and is refused the same way, so that only what works on a new bucket works here.

A bucket that predates the change still takes V1 and V2: ``LocalOSS(signature_versions=ALL_VERSIONS)``, or
``--allow-v1`` on ``osscallback local`` and ``osscallback local oss``. :func:`osscallback.local.oss.auth.
signature_version` says which version a request is signed with; :func:`check_accepted` is the one check.
"""

from __future__ import annotations

from collections.abc import Iterable

from osscallback.errors import ConfigError
from osscallback.local.oss.xmlresp import OSSError

V1 = "v1"
V2 = "v2"
V4 = "v4"
#: Every version the local OSS can verify: a bucket created before 2025-09-01 (``--allow-v1``).
ALL_VERSIONS: frozenset[str] = frozenset({V1, V2, V4})
#: What a bucket created since 2025-09-01 accepts: the default.
NEW_BUCKET_VERSIONS: frozenset[str] = frozenset({V4})
#: What the local OSS accepts unless told otherwise: a bucket created today.
DEFAULT_VERSIONS: frozenset[str] = NEW_BUCKET_VERSIONS

#: OSS's EC for a V1 signature on a bucket that no longer takes it (OSS error page 0002-00000080).
EC_V1_DISCONTINUED = "0002-00000080"
#: OSS's error page names no Code for it; a 403 for what the caller may not do is ``AccessDenied`` in OSS.
CODE = "AccessDenied"

_LABELS = {V1: "V1 (OSS ak:signature)", V2: "V2 (OSS2)"}
_HOW_TO_ALLOW = (
    "This local OSS refuses them by default, as a bucket created since 2025-09-01 does; for a bucket that predates "
    "the change, start it with `osscallback local --allow-v1` (or `osscallback local oss --allow-v1`, or "
    'LocalOSS(signature_versions=("v1", "v2", "v4"))).'
)


def parse_versions(versions: Iterable[str]) -> frozenset[str]:
    """The accepted versions as given (``"v1"``, ``"V4"``...), checked: :class:`ConfigError` for an unknown or empty
    set, so a typo never silently leaves a server that refuses every signed request."""
    chosen = frozenset(str(v).strip().lower() for v in versions)
    unknown = sorted(chosen - ALL_VERSIONS)
    if unknown:
        raise ConfigError(f"unknown signature version(s) {', '.join(unknown)}: choose from v1, v2, v4")
    if not chosen:
        raise ConfigError("signature_versions is empty: the local OSS would refuse every signed request")
    return chosen


def check_accepted(version: str, accepted: frozenset[str], form: str) -> None:
    """Refuse a request signed with a version this bucket does not take: 403 with EC 0002-00000080.

    ``form`` says where the signature was (``"Authorization header"``, ``"signed URL"``, ``"PostObject form"``)."""
    if version in accepted:
        return
    label = _LABELS.get(version, version.upper())
    lead = "OSS no longer supports V1 signatures" + ("" if version == V1 else " (nor V2)")
    raise OSSError(
        403,
        CODE,
        f"{lead}: this request's {form} is signed with {label}; sign with V4 (OSS4-HMAC-SHA256, with a region). "
        + _HOW_TO_ALLOW,
        ec=EC_V1_DISCONTINUED,
    )
