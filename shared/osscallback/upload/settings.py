"""Where and as whom to upload: :class:`BucketSettings` from FC's context (its role's STS credentials) and the
environment, with the event's overrides, the ``oss2.Bucket`` they make, and the callback an event gets by default.

Both functions that sign for OSS use these: the upload function (whose :class:`~osscallback.upload.uploader.
UploadSettings` adds how to send files: part size, threads, allowed roots) and the policy function, which signs
policies and credentials only and so reads none of the upload function's file settings.

Signatures are V4 unless ``OSS_AUTH_VERSION=v1`` asks otherwise: buckets created since 2025-09-01 refuse V1
(HTTP 403, EC 0002-00000080; OSS, "Guidelines for upgrading V1 signatures to V4 signatures"), so V1 is for buckets
that predate the change, and asking for it logs one warning. V4 needs the bucket's region, found as
:mod:`osscallback.osslocation` says (the endpoint, ``OSS_REGION``, FC's own region)."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import oss2

from osscallback.errors import UploadError
from osscallback.osslocation import bucket_region, missing_region
from osscallback.upload.templates import CallbackSpec, TemplateLibrary, build_callback

if TYPE_CHECKING:
    from osscallback.upload.event import UploadEvent

DEFAULT_TEMPLATE = "form-basic"
NO_CALLBACK = ("", "none")
AUTH_VERSIONS = ("v4", "v1")
DEFAULT_AUTH_VERSION = "v4"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None


@dataclass(frozen=True)
class BucketSettings:
    """Where and as whom to upload, and the default callback: from the FC context and environment, with event
    overrides."""

    endpoint: str
    bucket: str
    credentials: Credentials
    auth_version: str = DEFAULT_AUTH_VERSION
    region: str | None = None
    callback_url: str | None = None
    default_template: str = DEFAULT_TEMPLATE
    template_dir: str | None = None

    @classmethod
    def resolve(cls, event: UploadEvent, context: Any = None, env: Mapping[str, str] | None = None) -> BucketSettings:
        env = os.environ if env is None else env
        creds = _credentials(context, env)
        endpoint = event.endpoint or env.get("OSS_ENDPOINT", "")
        bucket = event.bucket or env.get("OSS_BUCKET", "")
        if not endpoint:
            raise UploadError("No OSS endpoint: set OSS_ENDPOINT or give 'endpoint' in the event.")
        if not bucket:
            raise UploadError("No bucket: set OSS_BUCKET or give 'bucket' in the event.")
        if "://" not in endpoint:
            endpoint = "https://" + endpoint
        return cls(
            endpoint=endpoint,
            bucket=bucket,
            credentials=creds,
            auth_version=_auth_version(event.auth_version or env.get("OSS_AUTH_VERSION", "")),
            region=bucket_region(endpoint, event.region or env.get("OSS_REGION"), context, env),
            callback_url=env.get("CALLBACK_URL") or None,
            default_template=env.get("CALLBACK_TEMPLATE") or DEFAULT_TEMPLATE,
            template_dir=env.get("CALLBACK_TEMPLATE_DIR") or None,
        )


def callback_spec(settings: BucketSettings, event: UploadEvent) -> CallbackSpec | None:
    """The callback ``event`` carries: its template (else ``CALLBACK_TEMPLATE``) filled with its variables (the
    callback URL defaulting to ``CALLBACK_URL``); ``None`` for template ``none``."""
    name = event.template if event.template is not None else settings.default_template
    if name.lower() in NO_CALLBACK:
        return None
    variables = dict(event.template_vars)
    if "callback_url" not in variables:
        if not settings.callback_url:
            raise UploadError(
                "No callback URL: give template_vars.callback_url, set CALLBACK_URL, or use template 'none'."
            )
        variables["callback_url"] = settings.callback_url
    library = TemplateLibrary(settings.template_dir) if settings.template_dir else None
    return build_callback(name, variables, event.custom_vars or None, library=library)


def _auth_version(raw: str) -> str:
    """``v4`` unless asked otherwise; ``v1`` on request, with one warning per process."""
    version = raw.strip().lower() or DEFAULT_AUTH_VERSION
    if version not in AUTH_VERSIONS:
        raise UploadError(f"OSS_AUTH_VERSION={raw!r}: use v4 (the default) or v1.")
    if version == "v1":
        warn_v1()
    return version


@functools.lru_cache(maxsize=1)
def warn_v1() -> None:
    """The one warning V1 earns (cached: once per process, not once per upload)."""
    logging.getLogger("osscallback.upload").warning(
        "OSS_AUTH_VERSION=v1: signing with V1, which buckets created since 2025-09-01 refuse (403, EC "
        "0002-00000080); unset it to sign with V4."
    )


def require_region(settings: BucketSettings) -> str:
    """The region V4 signs with, or an :class:`UploadError` naming ``OSS_REGION``."""
    if not settings.region:
        raise UploadError(missing_region(settings.endpoint))
    return settings.region


def _credentials(context: Any, env: Mapping[str, str]) -> Credentials:
    """FC's temporary STS credentials from the context when running on FC, else the environment."""
    creds = getattr(context, "credentials", None)
    key_id = getattr(creds, "access_key_id", None) or getattr(creds, "accessKeyId", None)
    if key_id:
        return Credentials(
            str(key_id),
            str(getattr(creds, "access_key_secret", None) or getattr(creds, "accessKeySecret", "")),
            getattr(creds, "security_token", None) or getattr(creds, "securityToken", None) or None,
        )
    key_id = env.get("OSS_ACCESS_KEY_ID", "")
    secret = env.get("OSS_ACCESS_KEY_SECRET", "")
    if not key_id or not secret:
        raise UploadError(
            "No credentials: run on FC with a service role, or set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET."
        )
    return Credentials(key_id, secret, env.get("OSS_SESSION_TOKEN") or None)


def make_bucket(settings: BucketSettings) -> oss2.Bucket:
    """The bucket object, V4-signed (``oss2.ProviderAuthV4`` with the region), or V1 when asked for."""
    c = settings.credentials
    provider = oss2.credentials.StaticCredentialsProvider(c.access_key_id, c.access_key_secret, c.security_token)
    auth: Any
    if settings.auth_version == "v4":
        require_region(settings)
        auth = oss2.ProviderAuthV4(provider)
    else:  # the explicit opt-in, OSS_AUTH_VERSION=v1 (warned about once)
        auth = oss2.ProviderAuth(provider)
    return oss2.Bucket(auth, settings.endpoint, settings.bucket, region=settings.region)
