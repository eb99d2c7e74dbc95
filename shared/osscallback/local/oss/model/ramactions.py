"""Which RAM actions, on which resources, an OSS operation needs: what a session policy is evaluated against.

From OSS's action table (RAM policy overview, "OSS Action分类"): the writes of an upload, simple or multipart
(PutObject, PostObject, AppendObject, InitiateMultipartUpload, UploadPart, CompleteMultipartUpload, PutSymlink) all
need ``oss:PutObject`` on the object; AbortMultipartUpload and ListParts have actions of their own; reads
(GetObject, HeadObject, GetObjectMeta, GetSymlink) need ``oss:GetObject``; a listing needs ``oss:ListObjects`` on
the bucket; DeleteMultipleObjects needs ``oss:DeleteObject``. A copy needs ``oss:GetObject`` on its source as well.
Headers that set more than the bytes need their own action too: ``x-oss-tagging`` needs ``oss:PutObjectTagging``
and ``x-oss-object-acl`` needs ``oss:PutObjectAcl`` (OSS error page 0003-00000905: a PutObject with
``x-oss-tagging`` is refused without ``oss:PutObjectTagging``). Every other operation needs ``oss:<its name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from osscallback.local.oss.model.sessionpolicy import resource_arn

_OBJECT_ACTIONS: Mapping[str, str] = {
    "PutObject": "oss:PutObject",
    "PostObject": "oss:PutObject",
    "AppendObject": "oss:PutObject",
    "InitiateMultipartUpload": "oss:PutObject",
    "UploadPart": "oss:PutObject",
    "UploadPartCopy": "oss:PutObject",
    "CompleteMultipartUpload": "oss:PutObject",
    "CopyObject": "oss:PutObject",
    "PutSymlink": "oss:PutObject",
    "GetObject": "oss:GetObject",
    "HeadObject": "oss:GetObject",
    "GetObjectMeta": "oss:GetObject",
    "GetSymlink": "oss:GetObject",
    "DeleteObject": "oss:DeleteObject",
    "AbortMultipartUpload": "oss:AbortMultipartUpload",
    "ListParts": "oss:ListParts",
    "PutObjectACL": "oss:PutObjectAcl",
    "GetObjectACL": "oss:GetObjectAcl",
}
_BUCKET_ACTIONS: Mapping[str, str] = {
    "ListObjects": "oss:ListObjects",
    "ListObjectsV2": "oss:ListObjects",
    "HeadBucket": "oss:GetBucketInfo",
}
#: Operations whose headers may create tags or set an ACL besides writing the object.
_WRITES = frozenset({"PutObject", "PostObject", "AppendObject", "InitiateMultipartUpload", "CopyObject"})
#: Answered for anyone (a CORS preflight carries no credentials).
UNCHECKED = frozenset({"Options"})


def required(
    operation: str, region: str, bucket: str, key: str, headers: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The ``(action, resource ARN)`` pairs ``operation`` on ``bucket``/``key`` needs, in the order OSS checks them."""
    if operation in UNCHECKED:
        return []
    if operation == "ListBuckets":
        return [("oss:ListBuckets", "acs:oss:*:*:*")]
    if operation == "DeleteMultipleObjects":
        # Each key needs oss:DeleteObject; the keys are in the body, so the whole bucket is asked for (stricter than
        # OSS when a policy allows deleting under one prefix only: refused here, never widened).
        return [("oss:DeleteObject", resource_arn(region, bucket, "*"))]
    if key and operation in _OBJECT_ACTIONS:
        needs = [(_OBJECT_ACTIONS[operation], resource_arn(region, bucket, key))]
        if operation in _WRITES and headers.get("x-oss-tagging"):
            needs.append(("oss:PutObjectTagging", resource_arn(region, bucket, key)))
        if operation in _WRITES and headers.get("x-oss-object-acl"):
            needs.append(("oss:PutObjectAcl", resource_arn(region, bucket, key)))
        source = headers.get("x-oss-copy-source")
        if source and operation in ("CopyObject", "UploadPartCopy"):
            src_bucket, _, src_key = unquote(source.split("?", 1)[0]).lstrip("/").partition("/")
            needs.append(("oss:GetObject", resource_arn(region, src_bucket, src_key)))
        return needs
    if key:
        return [(f"oss:{operation}", resource_arn(region, bucket, key))]
    return [(_BUCKET_ACTIONS.get(operation, f"oss:{operation}"), resource_arn(region, bucket))]
