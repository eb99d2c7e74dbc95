"""An OSS error as one line that names the setting to change (issue 29, point 8), for the commands that talk to OSS
with settings from the environment: ``upload``, ``cors``, ``redeliver``.

``OSS 404 NoSuchBucket: The specified bucket does not exist.`` says what OSS thinks, not what the user set; this
adds which variable holds the value OSS refused, and that value (the access key id may be shown, the secret never).
The codes and their causes are OSS's ("How to troubleshoot 403 status code when you access OSS",
https://www.alibabacloud.com/help/en/oss/how-to-troubleshoot-403-status-code-when-you-access-oss: InvalidAccessKeyId,
SignatureDoesNotMatch, InvalidSecurityToken, AccessKeyIdAndSecurityTokenNotMatch, and AccessDenied "The bucket you
are attempting to access must be addressed using the specified endpoint" for a bucket of another region); the
local OSS answers the same codes (tests/cli/test_oss_errors.py runs each against it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OssSettings:
    """What a command used, and the names of the settings it came from."""

    endpoint: str | None
    bucket: str | None
    access_key_id: str | None
    endpoint_name: str = "OSS_ENDPOINT"
    bucket_name: str = "OSS_BUCKET"
    key_id_name: str = "OSS_ACCESS_KEY_ID"
    secret_name: str = "OSS_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name, never its value
    token_name: str = "OSS_SESSION_TOKEN"  # noqa: S105 - a variable name, never its value


def explain(exc: Any, used: OssSettings) -> str:
    """``exc`` (an oss2 ``OssError``) as one line: OSS's verdict, then the setting to check and the value used."""
    import oss2

    from osscallback.upload.uploader import describe_oss_error

    said = describe_oss_error(exc, used.endpoint, used.bucket).rstrip(". ")
    if isinstance(exc, oss2.exceptions.RequestError):  # nothing answered: the endpoint
        return f"{said}; check {used.endpoint_name}"
    if isinstance(exc, oss2.exceptions.ClientError):  # oss2 refused before sending: a malformed bucket name
        return f"{said}; check {used.bucket_name}" if "bucket name" in said else said
    key = f"{used.key_id_name}={used.access_key_id!r}"
    where = f"{used.endpoint_name}={used.endpoint!r}"
    code, message = getattr(exc, "code", "") or "", str(getattr(exc, "message", "") or "")
    fix = {
        "NoSuchBucket": f"check {used.bucket_name}={used.bucket!r} (or {where}: a bucket lives in one region)",
        "InvalidBucketName": f"check {used.bucket_name}={used.bucket!r}",
        "InvalidAccessKeyId": f"check {key}",
        "SignatureDoesNotMatch": f"check {used.secret_name} (the secret of {key})",
        "InvalidSecurityToken": f"check {used.token_name} (temporary keys need their token)",
        "SecurityTokenExpired": f"renew {used.token_name} and the temporary keys with it",
        "AccessKeyIdAndSecurityTokenNotMatch": f"check {used.token_name} (it belongs to other keys than {key})",
    }.get(code)
    if code == "AccessDenied" and "OSS_AUTH_VERSION" in said:  # a bucket refusing V1: the verdict names the fix
        return said
    if code == "AccessDenied":
        fix = (f"check {where} (use the bucket's own region's endpoint)" if "specified endpoint" in message
               else f"check what {key} may do on bucket {used.bucket!r} (its RAM policy)")
    return f"{said}; {fix}" if fix else said


__all__ = ["OssSettings", "explain"]
