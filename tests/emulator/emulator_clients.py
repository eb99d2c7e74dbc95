"""Clients of the local OSS built as a user would: oss2 auth objects and v2 SDK (``alibabacloud_oss_v2``) clients.

A plain module rather than conftest.py, so tests can import these by name whichever test directory pytest
collected first (``from conftest import ...`` resolves to whichever conftest was imported first).
"""

from __future__ import annotations

import alibabacloud_oss_v2 as oss_v2
import oss2

from osscallback.local.oss import LocalOSS

REGION = "cn-hangzhou"


def make_auth(oss: LocalOSS, version: str, secret: str | None = None) -> oss2.AuthBase:
    s = secret if secret is not None else oss.access_key_secret
    return oss2.AuthV4(oss.access_key_id, s) if version == "v4" else oss2.Auth(oss.access_key_id, s)


def make_v2(oss: LocalOSS, version: str = "v4", *, anonymous: bool = False, **settings: object) -> oss_v2.Client:
    """A v2 SDK client for the local OSS, configured as a user would for a custom endpoint."""
    cfg = oss_v2.config.load_default()
    if anonymous:
        cfg.credentials_provider = oss_v2.credentials.AnonymousCredentialsProvider()
    else:
        cfg.credentials_provider = oss_v2.credentials.StaticCredentialsProvider(oss.access_key_id, oss.access_key_secret)
    cfg.region = oss.region
    cfg.endpoint = oss.endpoint
    cfg.use_path_style = True
    cfg.signature_version = version
    cfg.retry_max_attempts = 1
    for name, value in settings.items():
        setattr(cfg, name, value)
    return oss_v2.Client(cfg)
