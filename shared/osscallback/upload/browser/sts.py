"""``GET /sts``: temporary credentials that may only upload under one key prefix, for an app's or a browser's
multipart upload (ali-oss ``multipartUpload``, the Android and iOS SDKs), with the callback the client sends.

How (OSS's mobile-app guide: an app server calls STS ``AssumeRole`` and hands the app its credentials):

- the caller's prefix comes from ``UPLOAD_AUTHORIZER``, exactly as for ``/policy``;
- the function calls ``AssumeRole`` on ``UPLOAD_STS_ROLE_ARN`` with its own role credentials (FC's
  ``context.credentials``) through the official SDK (``alibabacloud_sts20150401``), with a **session policy**
  (:func:`session_policy`) allowing ``oss:PutObject`` (simple, PostObject and every step of a multipart upload),
  ``oss:AbortMultipartUpload`` and ``oss:ListParts`` on ``<bucket>/<prefix>*`` and nothing else: no read, no
  listing, no delete. The credentials can do what the role *and* the session policy both allow;
- the answer (:data:`ANSWER_FIELDS`) carries the credentials, where to upload and the callback parameter the
  shipped templates build for this deployment, which the client sends with PutObject or CompleteMultipartUpload.

The SDK is imported on the first ``/sts`` request only (about 0.4 s of imports): ``/policy`` and the page never
load it. ``UPLOAD_STS_ENDPOINT`` points the SDK elsewhere (the local stack's STS); an ``http://`` one is logged as
a local override.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from osscallback.errors import ConfigError, OssCallbackError

log = logging.getLogger("osscallback.upload.browser")

MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 900, 3600, 3600
#: What the session policy allows (OSS's RAM action table: oss:PutObject covers PutObject, PostObject,
#: InitiateMultipartUpload, UploadPart and CompleteMultipartUpload; resuming needs ListParts, giving up Abort).
UPLOAD_ACTIONS = ("oss:PutObject", "oss:AbortMultipartUpload", "oss:ListParts")
#: The JSON answer's fields: a stable contract (docs/FUNCTIONS.md, "Mobile and large uploads").
ANSWER_FIELDS = (
    "ok", "AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration", "bucket", "region", "endpoint", "host",
    "key_prefix", "callback", "callback_var", "callback_parameters", "session_policy",
)
HOW_TO_CONFIGURE = (
    "GET /sts is not configured: set UPLOAD_STS_ROLE_ARN to the ARN of a RAM role the function's role may assume "
    "(acs:ram::<account id>:role/<name>); see docs/DEPLOY.md, 'Mobile and large uploads'."
)


class StsNotIssued(OssCallbackError):
    """AssumeRole failed; ``code`` is STS's error code (or the exception's name)."""

    def __init__(self, message: str, code: str = "AssumeRoleFailed") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StsConfig:
    """``UPLOAD_STS_ROLE_ARN``, ``UPLOAD_STS_DURATION`` and ``UPLOAD_STS_ENDPOINT``, read at cold start."""

    role_arn: str = ""
    duration: int = DEFAULT_DURATION
    endpoint: str = ""  # host[:port] or a URL; "" = STS's regional endpoint for the function's region

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StsConfig:
        env = os.environ if env is None else env
        role = env.get("UPLOAD_STS_ROLE_ARN", "").strip()
        if role and not (role.startswith("acs:ram::") and ":role/" in role):
            raise ConfigError(f"UPLOAD_STS_ROLE_ARN={role!r}: give acs:ram::<account id>:role/<role name>")
        raw = env.get("UPLOAD_STS_DURATION", "").strip()
        try:
            duration = int(raw) if raw else DEFAULT_DURATION
        except ValueError:
            raise ConfigError(f"UPLOAD_STS_DURATION={raw!r} is not an integer") from None
        if not MIN_DURATION <= duration <= MAX_DURATION:
            raise ConfigError(f"UPLOAD_STS_DURATION={duration}: give {MIN_DURATION} to {MAX_DURATION} seconds "
                              "(STS's bounds for a role's default maximum session)")
        endpoint = env.get("UPLOAD_STS_ENDPOINT", "").strip().rstrip("/")
        if endpoint.startswith("http://"):
            log.warning(json.dumps({"sts": "local_override", "endpoint": endpoint,
                                    "note": "plain-HTTP STS endpoint: for the local stack only"}))
        return cls(role, duration, endpoint)


def session_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """Upload under ``prefix`` in ``bucket``, and nothing else."""
    return {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": list(UPLOAD_ACTIONS),
                       "Resource": [f"acs:oss:*:*:{bucket}/{prefix}*"]}],
    }


@dataclass(frozen=True)
class TempCredentials:
    access_key_id: str
    access_key_secret: str
    security_token: str
    expiration: str  # ISO 8601, UTC, as STS gives it


def assume_role(config: StsConfig, caller: Any, region: str | None, policy: Mapping[str, Any],
                session_name: str) -> TempCredentials:
    """One AssumeRole call through the official SDK, signed with ``caller`` (the function's own credentials)."""
    from alibabacloud_sts20150401 import models as sts_models  # lazy: only /sts pays for the SDK's imports
    from alibabacloud_sts20150401.client import Client
    from alibabacloud_tea_openapi import models as openapi_models

    settings: dict[str, Any] = {"access_key_id": caller.access_key_id,
                                "access_key_secret": caller.access_key_secret,
                                "region_id": region or "cn-hangzhou"}
    if caller.security_token:
        settings["security_token"] = caller.security_token
    if config.endpoint:
        parts = urlsplit(config.endpoint if "://" in config.endpoint else "https://" + config.endpoint)
        settings.update(endpoint=parts.netloc, protocol=parts.scheme)
    elif region:
        settings["endpoint"] = f"sts.{region}.aliyuncs.com"
    client = Client(openapi_models.Config(**settings))
    request = sts_models.AssumeRoleRequest(role_arn=config.role_arn, role_session_name=session_name,
                                           duration_seconds=config.duration,
                                           policy=json.dumps(policy, separators=(",", ":")))
    try:
        body = client.assume_role(request).body
    except Exception as exc:  # noqa: BLE001 - the SDK's exception classes differ between its versions
        code = str(getattr(exc, "code", "") or type(exc).__name__)
        message = str(getattr(exc, "message", "") or exc)
        raise StsNotIssued(f"STS AssumeRole on {config.role_arn} failed: {code}: {message}", code) from None
    creds = body.credentials
    return TempCredentials(creds.access_key_id, creds.access_key_secret, creds.security_token, creds.expiration)


def session_name() -> str:
    """RoleSessionName: 2-64 of [A-Za-z0-9.@_-]; unique per answer, so ActionTrail tells the sessions apart."""
    return f"upload-{int(time.time())}-{uuid.uuid4().hex[:12]}"


def answer(creds: TempCredentials, *, bucket: str, region: str | None, endpoint: str, host: str, prefix: str,
           callback: Any, policy: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON ``/sts`` answers (:data:`ANSWER_FIELDS`)."""
    doc: dict[str, Any] = {
        "ok": True,
        "AccessKeyId": creds.access_key_id,
        "AccessKeySecret": creds.access_key_secret,
        "SecurityToken": creds.security_token,
        "Expiration": creds.expiration,
        "bucket": bucket,
        "region": region,
        "endpoint": endpoint,
        "host": host,
        "key_prefix": prefix,
        "callback": callback.callback_b64 if callback else None,
        "callback_var": callback.callback_var_b64 if callback else None,
        "callback_parameters": _parameters(callback) if callback else None,
        "session_policy": dict(policy),
    }
    return doc


def _parameters(callback: Any) -> dict[str, Any]:
    """The callback decoded, for SDKs that take it as fields (ali-oss's ``callback`` option: ``url``, ``body``,
    ``contentType``, ``customValue``, ``callbackSNI``) rather than as the base64 header value.

    ``callbackSNI`` is passed on whenever the templates set it (an ``https://`` callback URL): without it OSS
    connects without SNI and an endpoint that needs SNI (an FC custom domain, a CDN) fails with 203 CallbackFailed,
    so a client that builds its header from these fields must get the same document as ``callback``. ali-oss
    6.23.0 copies ``callbackSNI`` from its option (lib/common/callback.js); ``host`` it copies only when set."""
    document = dict(callback.document())
    parameters: dict[str, Any] = {
        "url": document.get("callbackUrl"),
        "host": document.get("callbackHost"),
        "body": document.get("callbackBody"),
        "contentType": document.get("callbackBodyType"),
        "customValue": {k[2:] if k.startswith("x:") else k: v for k, v in callback.custom_vars.items()},
    }
    if document.get("callbackSNI"):
        parameters["callbackSNI"] = True
    return parameters
