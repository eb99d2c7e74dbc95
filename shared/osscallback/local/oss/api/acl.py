"""ACL operations: PutObjectACL, GetObjectACL, PutBucketAcl, GetBucketAcl.

The ACL travels in a header (``x-oss-object-acl`` for objects, ``x-oss-acl`` for buckets) and comes back as an
``AccessControlPolicy`` document whose ``AccessControlList/Grant`` the SDKs read. What the values allow an
anonymous request is :mod:`..model.acl`'s business.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import OWNER_ID, Backend
from osscallback.local.oss.api.objects import require_object
from osscallback.local.oss.api.request import Request, Response, xml_response
from osscallback.local.oss.model.acl import parse_bucket_acl, parse_object_acl
from osscallback.local.oss.xmlresp import text


def _policy(grant: str) -> bytes:
    root = ET.Element("AccessControlPolicy")
    owner = ET.SubElement(root, "Owner")
    text(owner, "ID", OWNER_ID)
    text(owner, "DisplayName", OWNER_ID)
    acl = ET.SubElement(root, "AccessControlList")
    text(acl, "Grant", grant)
    return xmlresp.to_bytes(root)


def put_object_acl(backend: Backend, req: Request) -> Response:
    value = req.headers.get("x-oss-object-acl")
    if value is None:
        raise xmlresp.invalid_argument("The x-oss-object-acl header is missing.", "x-oss-object-acl", "")
    acl = parse_object_acl(value)
    require_object(backend, req.bucket, req.key)
    if backend.store.update_object(req.bucket, req.key, acl=acl) is None:
        raise xmlresp.no_such_key(req.key)
    return Response(200)


def get_object_acl(backend: Backend, req: Request) -> Response:
    meta = require_object(backend, req.bucket, req.key)
    return xml_response(_policy(meta.acl))


def put_bucket_acl(backend: Backend, req: Request) -> Response:
    value = req.headers.get("x-oss-acl")
    if value is None:
        raise xmlresp.invalid_argument("The x-oss-acl header is missing.", "x-oss-acl", "")
    backend.store.set_bucket_acl(req.bucket, parse_bucket_acl(value))
    return Response(200)


def get_bucket_acl(backend: Backend, req: Request) -> Response:
    return xml_response(_policy(backend.store.bucket_acl(req.bucket)))
