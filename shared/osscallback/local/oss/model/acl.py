"""Access control lists: the values OSS accepts and what an anonymous request may do under them.

OSS's rules (PutBucketAcl, PutObjectACL references): a bucket is ``private``, ``public-read`` or
``public-read-write``; an object is one of those or ``default``, which means "the bucket's". Signed requests come
from the one account the local OSS has and may do everything; an anonymous request (no signature at all) may

* read an object (GET/HEAD) whose effective ACL is ``public-read`` or ``public-read-write``;
* write an object (PUT, append, multipart, delete) if the bucket is ``public-read-write`` — or, for an existing
  object, if that object itself is ``public-read-write``;
* list a bucket that is ``public-read`` or ``public-read-write``;

and nothing else (ACLs, tagging, listings of uploads, bucket management): those answer 403 ``AccessDenied``.
"""

from __future__ import annotations

from osscallback.local.oss.xmlresp import OSSError, invalid_argument

BUCKET_ACLS = ("private", "public-read", "public-read-write")
OBJECT_ACLS = ("default", *BUCKET_ACLS)
READABLE = frozenset({"public-read", "public-read-write"})


def parse_bucket_acl(value: str) -> str:
    value = value.strip()
    if value not in BUCKET_ACLS:
        raise invalid_argument("no such bucket access control exists", "x-oss-acl", value)
    return value


def parse_object_acl(value: str) -> str:
    value = value.strip()
    if value not in OBJECT_ACLS:
        raise invalid_argument("The object ACL you specified is invalid.", "x-oss-object-acl", value)
    return value


def effective(object_acl: str, bucket_acl: str) -> str:
    return bucket_acl if object_acl == "default" else object_acl


def may_read_object(object_acl: str, bucket_acl: str) -> bool:
    return effective(object_acl, bucket_acl) in READABLE


def may_write_object(existing_acl: str | None, bucket_acl: str) -> bool:
    if bucket_acl == "public-read-write":
        return True
    return existing_acl == "public-read-write"


def may_list(bucket_acl: str) -> bool:
    return bucket_acl in READABLE


def denied() -> OSSError:
    return OSSError(
        403, "AccessDenied", "You have no right to access this object because of bucket acl.", ec="0003-00000001"
    )
