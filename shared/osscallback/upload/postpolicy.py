"""A browser's direct upload: the PostObject policy and its V4 (OSS4-HMAC-SHA256) signature, or V1 (HMAC-SHA1) on
request for a bucket that still accepts it, with the callback in the form (SPEC §5), and the URL the form posts to.
:func:`post_policy` is the ``post_policy`` action, for the upload function and the policy function alike."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import oss2

from osscallback.errors import UploadError
from osscallback.osslocation import EXAMPLE_REGION
from osscallback.upload.results import UploadResult
from osscallback.upload.settings import BucketSettings, Credentials, callback_spec, require_region
from osscallback.upload.templates import CallbackSpec

if TYPE_CHECKING:
    from osscallback.upload.event import UploadEvent


def bucket_url(endpoint: str, bucket: str) -> str:
    """The URL a browser posts to: virtual-host style, or path style for IP/localhost endpoints (as oss2 does)."""
    parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
    host = parts.netloc
    if oss2.utils.is_ip_or_localhost(host):
        return f"{parts.scheme}://{host}/{bucket}"
    return f"{parts.scheme}://{bucket}.{host}"


@dataclass(frozen=True)
class PostPolicy:
    """A PostObject policy: where, how big, until when (SPEC §5)."""

    bucket: str
    key_prefix: str = ""
    min_size: int = 0
    max_size: int = 1 << 30
    expires: int = 3600
    success_action_status: str = "200"

    def sign(
        self,
        credentials: Credentials,
        *,
        version: str = "v4",
        region: str | None = None,
        callback: CallbackSpec | None = None,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """The form fields (and summary fields) a browser needs: V4 (OSS4-HMAC-SHA256, which needs the bucket's
        ``region``) unless ``version`` asks for V1 (HMAC-SHA1), which buckets created since 2025-09-01 refuse."""
        now = now or dt.datetime.now(dt.timezone.utc)
        expire_at = now + dt.timedelta(seconds=self.expires)
        conditions: list[Any] = [
            {"bucket": self.bucket},
            ["starts-with", "$key", self.key_prefix],
            ["content-length-range", self.min_size, self.max_size],
            {"success_action_status": self.success_action_status},
        ]
        fields: dict[str, str] = {"success_action_status": self.success_action_status}
        if credentials.security_token:
            conditions.append({"x-oss-security-token": credentials.security_token})
            fields["x-oss-security-token"] = credentials.security_token
        if callback is not None:
            conditions.append({"callback": callback.callback_b64})
        if version == "v4":
            if not region:
                raise UploadError(f"V4 signing needs the bucket's region: pass region= (e.g. {EXAMPLE_REGION!r}).")
            date = now.strftime("%Y%m%d")
            credential = f"{credentials.access_key_id}/{date}/{region}/oss/aliyun_v4_request"
            v4 = {
                "x-oss-signature-version": "OSS4-HMAC-SHA256",
                "x-oss-credential": credential,
                "x-oss-date": now.strftime("%Y%m%dT%H%M%SZ"),
            }
            conditions.extend({k: v} for k, v in v4.items())
            fields.update(v4)
        doc = {"expiration": expire_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "conditions": conditions}
        policy = base64.b64encode(json.dumps(doc).encode("utf-8")).decode("ascii")
        fields["policy"] = policy
        if version == "v4":
            key = ("aliyun_v4" + credentials.access_key_secret).encode("utf-8")
            for part in (now.strftime("%Y%m%d"), region or "", "oss", "aliyun_v4_request"):
                key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
            fields["x-oss-signature"] = hmac.new(key, policy.encode("ascii"), hashlib.sha256).hexdigest()
            signature = fields["x-oss-signature"]
        else:
            signature = base64.b64encode(
                hmac.new(credentials.access_key_secret.encode("utf-8"), policy.encode("ascii"), hashlib.sha1).digest()
            ).decode("ascii")
            fields["OSSAccessKeyId"] = credentials.access_key_id
            fields["signature"] = signature
        if callback is not None:
            fields.update(callback.post_fields())
        return {
            "fields": fields,
            "accessid": credentials.access_key_id,
            "policy": policy,
            "signature": signature,
            "expire": int(expire_at.timestamp()),
            "dir": self.key_prefix,
            "callback": callback.callback_b64 if callback else None,
        }


def post_policy(settings: BucketSettings, event: UploadEvent) -> UploadResult:
    """The ``post_policy`` action: a signed PostObject form for ``event``'s key prefix, size range and expiry, with
    the callback it carries, and the URL to post it to."""
    spec = callback_spec(settings, event)
    policy = PostPolicy(
        bucket=settings.bucket,
        key_prefix=event.key_prefix if event.key_prefix is not None else (event.key or ""),
        min_size=event.min_size,
        max_size=event.max_size,
        expires=event.expires,
        success_action_status=event.success_action_status,
    )
    form = policy.sign(
        settings.credentials,
        version=settings.auth_version,
        region=require_region(settings) if settings.auth_version == "v4" else settings.region,
        callback=spec,
    )
    details = {"host": bucket_url(settings.endpoint, settings.bucket), **form, "callback_configured": spec is not None}
    return UploadResult(True, "post_policy", event.key or None, details=details)
