"""Where a function reaches its bucket: the region and the OSS endpoint an ``oss://`` setting resolves to.

Why one module: the ``oss://`` idempotency store, the dead letters and confirmation all reach the same bucket from
inside FC, where the region's internal endpoint (``https://oss-<region>-internal.aliyuncs.com``) is the right one
(no Internet traffic, no charge) and ``FC_REGION`` names the region. Each setting may override both; the rules and
their error messages live here once. It imports no OSS client, so the settings parse on the light cold path.
"""

from __future__ import annotations

from collections.abc import Mapping

from osscallback.errors import ConfigError


def internal_endpoint(region: str) -> str:
    """The region's internal OSS endpoint, which functions in that region reach without the Internet."""
    return f"https://oss-{region}-internal.aliyuncs.com"


def resolve_location(variable: str, text: str, query: Mapping[str, str], env: Mapping[str, str]) -> tuple[str, str]:
    """``(region, endpoint)`` for an ``oss://`` setting: ``?region=`` or ``FC_REGION``; ``?endpoint=`` or the region's
    internal endpoint. A :class:`ConfigError` naming ``variable`` and its value when either is missing or wrong."""
    region = query.get("region") or env.get("FC_REGION", "")
    if not region:
        raise ConfigError(f"{variable}={text!r}: no region (add ?region=cn-hangzhou, or run on FC)")
    endpoint = query.get("endpoint") or internal_endpoint(region)
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"{variable}={text!r}: the endpoint must be an http(s) URL")
    return region, endpoint
