"""Where a bucket is: the region OSS's V4 signature needs, and the endpoint a function reaches its bucket at.

Why one module: everything that signs for OSS needs the bucket's region (V4 signs a scope
``<date>/<region>/oss/aliyun_v4_request``), and the upload function, the policy endpoint, the CLI, the ``oss://``
idempotency store, the dead letters and confirmation all find it the same way. It sits beside ``errors`` (every
function ships it) and imports no OSS client, so the settings parse on the light cold path.

The region, first found wins:

1. a standard OSS endpoint names it: ``oss-<region>.aliyuncs.com``, ``oss-<region>-internal.aliyuncs.com`` and the
   dual-stack ``<region>.oss.aliyuncs.com``, with or without a scheme (OSS, "Regions and endpoints",
   https://www.alibabacloud.com/help/en/oss/user-guide/regions-and-endpoints). The endpoint is where the request
   goes, so it beats a setting that disagrees. Acceleration endpoints (``oss-accelerate[-overseas].aliyuncs.com``),
   custom domains and IP addresses name none;
2. the setting (``OSS_REGION``, an event's ``region``, an ``oss://`` URL's ``?region=``): a bucket in another
   region than the function, reached through a custom domain, needs it;
3. on FC, the function's own region: ``context.region`` (FC 2.0 and 3.0 Python runtimes, "Context",
   https://www.alibabacloud.com/help/en/functioncompute/user-guide/context-1) or ``FC_REGION`` (FC's system
   variable, "Configure environment variables",
   https://www.alibabacloud.com/help/en/functioncompute/fc/environment-variables).

When none gives one, :func:`missing_region` is the one line to show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from osscallback.errors import ConfigError

#: An OSS region ID: ``cn-hangzhou``, ``ap-southeast-1``, ``cn-hangzhou-finance``, ``us-west-1``.
_REGION = r"[a-z]{2,}(?:-[a-z0-9]+)+"
_PUBLIC_OR_INTERNAL = re.compile(rf"^oss-(?P<region>{_REGION}?)(?:-internal)?\.aliyuncs\.com$")
_DUAL_STACK = re.compile(rf"^(?P<region>{_REGION})\.oss\.aliyuncs\.com$")
#: Global endpoints, not a region's: ``oss-accelerate.aliyuncs.com``, ``oss-accelerate-overseas.aliyuncs.com``.
_NOT_A_REGION = ("accelerate",)
EXAMPLE_REGION = "cn-hangzhou"


def host_of(endpoint: str) -> str:
    """The lower-case host of an endpoint given with or without a scheme, without port or path."""
    text = endpoint.strip()
    parts = urlsplit(text if "://" in text else "//" + text)
    return (parts.hostname or "").lower()


def region_from_endpoint(endpoint: str | None) -> str | None:
    """The region a standard OSS endpoint names, or ``None`` (a custom domain, an IP, an acceleration endpoint)."""
    host = host_of(endpoint or "")
    for pattern in (_PUBLIC_OR_INTERNAL, _DUAL_STACK):
        found = pattern.match(host)
        if found and found.group("region").split("-")[0] not in _NOT_A_REGION:
            return found.group("region")
    return None


def fc_region(context: Any = None, env: Mapping[str, str] | None = None) -> str | None:
    """The region the function runs in: FC's ``context.region``, else its ``FC_REGION`` variable."""
    region = getattr(context, "region", None)
    if isinstance(region, str) and region.strip():
        return region.strip()
    return (env or {}).get("FC_REGION", "").strip() or None


def bucket_region(endpoint: str | None, setting: str | None = None, context: Any = None,
                  env: Mapping[str, str] | None = None) -> str | None:
    """The bucket's region by the rules above (endpoint, then ``setting``, then FC's), or ``None``."""
    return region_from_endpoint(endpoint) or (setting or "").strip() or fc_region(context, env)


def missing_region(endpoint: str | None, where: str = "OSS_REGION") -> str:
    """The one line saying that V4 signing needs a region and how to give one."""
    shown = f"the endpoint {endpoint!r} names none" if endpoint else "no endpoint names one"
    return (f"V4 signing needs the bucket's region and {shown}: set {where} (e.g. {where}={EXAMPLE_REGION}), "
            "or use the standard endpoint oss-<region>.aliyuncs.com")


def internal_endpoint(region: str) -> str:
    """The region's internal OSS endpoint, which functions in that region reach without the Internet."""
    return f"https://oss-{region}-internal.aliyuncs.com"


def resolve_location(variable: str, text: str, query: Mapping[str, str], env: Mapping[str, str]) -> tuple[str, str]:
    """``(region, endpoint)`` for an ``oss://`` setting, as the functions' ``oss://`` settings take it.

    The region: the one ``?endpoint=`` names, else ``?region=``, else ``FC_REGION``; the endpoint: ``?endpoint=``
    or the region's internal endpoint (no Internet traffic, no charge). A :class:`ConfigError` naming
    ``variable`` and its value when either is missing or wrong."""
    given = query.get("endpoint")
    region = bucket_region(given, query.get("region"), None, env) or ""
    if not region:
        raise ConfigError(f"{variable}={text!r}: no region (add ?region={EXAMPLE_REGION}, or run on FC)")
    endpoint = given or internal_endpoint(region)
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"{variable}={text!r}: the endpoint must be an http(s) URL")
    return region, endpoint
