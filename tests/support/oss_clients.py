"""Clients of the local OSS built as a user would: oss2 auth objects, v2 SDK (``alibabacloud_oss_v2``) clients, and
browser-style PostObject forms (V1 and V4 signed policies)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import alibabacloud_oss_v2 as oss_v2
import oss2
import requests

from osscallback.local.oss import LocalOSS

REGION = "cn-hangzhou"


def make_auth(oss: LocalOSS, version: str, secret: str | None = None) -> oss2.AuthBase:
    s = secret if secret is not None else oss.access_key_secret
    return oss2.AuthV4(oss.access_key_id, s) if version == "v4" else oss2.Auth(oss.access_key_id, s)


def v4_bucket(oss: LocalOSS, name: str | None = None) -> oss2.Bucket:
    """An oss2 bucket signed as oss2 documents for V4 (``AuthV4`` and ``region=``), what a bucket created today
    accepts: the tests' own client when they look at the local OSS beside the code under test."""
    auth = oss2.AuthV4(oss.access_key_id, oss.access_key_secret)
    return oss2.Bucket(auth, oss.endpoint, name or oss.bucket, region=oss.region)


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


# --- PostObject ------------------------------------------------------------------------------------------------------


def post_policy(conditions: list[object], expires_in: float = 600) -> str:
    expiration = (datetime.now(timezone.utc) + timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return base64.b64encode(json.dumps({"expiration": expiration, "conditions": conditions}).encode()).decode()


def post_fields_v1(oss: LocalOSS, policy: str) -> dict[str, str]:
    signature = base64.b64encode(
        hmac.new(oss.access_key_secret.encode(), policy.encode(), hashlib.sha1).digest()
    ).decode()
    return {"OSSAccessKeyId": oss.access_key_id, "policy": policy, "Signature": signature}


def post_fields_v4(oss: LocalOSS, conditions: list[object], expires_in: float = 600) -> dict[str, str]:
    now = datetime.now(timezone.utc)
    date, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{oss.access_key_id}/{date}/{oss.region}/oss/aliyun_v4_request"
    policy = post_policy(
        [
            *conditions,
            {"x-oss-signature-version": "OSS4-HMAC-SHA256"},
            {"x-oss-credential": credential},
            {"x-oss-date": stamp},
        ],
        expires_in,
    )
    key = hmac.new(("aliyun_v4" + oss.access_key_secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (oss.region, "oss", "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    return {
        "policy": policy,
        "x-oss-signature-version": "OSS4-HMAC-SHA256",
        "x-oss-credential": credential,
        "x-oss-date": stamp,
        "x-oss-signature": signature,
    }


def post_form(oss: LocalOSS, fields: dict[str, str], data: bytes, filename: str = "photo.jpg") -> requests.Response:
    # requests sends fields in order, then the file last: a real multipart/form-data POST like a browser's.
    return requests.post(
        f"{oss.endpoint}/{oss.bucket}", data=fields, files={"file": (filename, data, "image/jpeg")}, timeout=30
    )
