"""Service and bucket operations: ListBuckets, PutBucket, DeleteBucket, GetBucketInfo, GetBucketLocation,
GetBucketStat.

The local OSS is one account in one region; buckets are created by the runner (``LocalOSS(buckets=...)``) or by
PutBucket, whose ``x-oss-acl`` header sets the bucket's ACL. A bucket holding objects or unfinished multipart
uploads cannot be deleted (409 ``BucketNotEmpty``), as on OSS.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import OWNER_ID, Backend
from osscallback.local.oss.api.request import Request, Response, xml_response
from osscallback.local.oss.model.acl import parse_bucket_acl
from osscallback.local.oss.xmlresp import OSSError, text


def list_buckets(backend: Backend, req: Request) -> Response:
    root = ET.Element("ListAllMyBucketsResult")
    o = ET.SubElement(root, "Owner")
    text(o, "ID", OWNER_ID)
    text(o, "DisplayName", OWNER_ID)
    node = ET.SubElement(root, "Buckets")
    for name, created in backend.store.list_buckets():
        b = ET.SubElement(node, "Bucket")
        text(b, "CreationDate", xmlresp.iso8601(created))
        text(b, "ExtranetEndpoint", req.host)
        text(b, "IntranetEndpoint", req.host)
        text(b, "Location", f"oss-{backend.region}")
        text(b, "Name", name)
        text(b, "Region", backend.region)
        text(b, "StorageClass", "Standard")
    return xml_response(xmlresp.to_bytes(root))


def valid_bucket_name(name: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return 3 <= len(name) <= 63 and set(name) <= allowed and name[0] != "-" and name[-1] != "-"


def create_bucket(backend: Backend, req: Request) -> Response:
    name = req.bucket
    if not valid_bucket_name(name):
        raise OSSError(400, "InvalidBucketName", "The specified bucket is not valid.", extra={"BucketName": name})
    acl = parse_bucket_acl(req.headers.get("x-oss-acl", "private"))
    req.body.read_all(64 * 1024)  # CreateBucketConfiguration: storage class etc., not needed locally
    if not backend.store.create_bucket(name, acl):
        if "x-oss-acl" in req.headers:
            backend.store.set_bucket_acl(name, acl)
    return Response(200, {"Location": f"/{name}"})


def delete_bucket(backend: Backend, req: Request) -> Response:
    if not backend.store.bucket_is_empty(req.bucket) or backend.store.list_uploads(req.bucket):
        raise OSSError(
            409,
            "BucketNotEmpty",
            "The bucket you tried to delete is not empty.",
            extra={"BucketName": req.bucket},
        )
    backend.store.delete_bucket(req.bucket)
    return Response(204)


def head_bucket(backend: Backend, req: Request) -> Response:
    return Response(200)


def get_bucket_location(backend: Backend, req: Request) -> Response:
    root = ET.Element("LocationConstraint")
    root.text = f"oss-{backend.region}"
    return xml_response(xmlresp.to_bytes(root))


def get_bucket_info(backend: Backend, req: Request) -> Response:
    """GetBucketInfo, with the fields oss2's ``get_bucket_info`` and the v2 SDK read."""
    root = ET.Element("BucketInfo")
    b = ET.SubElement(root, "Bucket")
    text(b, "AccessMonitor", "Disabled")
    text(b, "CreationDate", xmlresp.iso8601(backend.store.bucket_created(req.bucket)))
    text(b, "CrossRegionReplication", "Disabled")
    text(b, "DataRedundancyType", "LRS")
    text(b, "ExtranetEndpoint", req.host)
    text(b, "IntranetEndpoint", req.host)
    text(b, "Location", f"oss-{backend.region}")
    text(b, "Name", req.bucket)
    text(b, "ResourceGroupId", "")
    text(b, "StorageClass", "Standard")
    text(b, "TransferAcceleration", "Disabled")
    o = ET.SubElement(b, "Owner")
    text(o, "DisplayName", OWNER_ID)
    text(o, "ID", OWNER_ID)
    acl = ET.SubElement(b, "AccessControlList")
    text(acl, "Grant", backend.store.bucket_acl(req.bucket))
    sse = ET.SubElement(b, "ServerSideEncryptionRule")
    text(sse, "SSEAlgorithm", "None")
    text(b, "Comment", "")
    return xml_response(xmlresp.to_bytes(root))


#: GetBucketStat's storage classes other than Standard: always zero here (every object is Standard).
_OTHER_CLASSES = ("InfrequentAccess", "Archive", "ColdArchive", "DeepColdArchive")


def get_bucket_stat(backend: Backend, req: Request) -> Response:
    """GetBucketStat from the store itself: bytes and objects (all Standard), multipart uploads and their parts, no
    live channels or delete markers (elements of https://www.alibabacloud.com/help/en/oss/developer-reference/getbucketstat,
    as oss2 and the v2 SDK read them). OSS's figures "may be delayed by more than one hour"; these are current."""
    objects = backend.store.sorted_objects(req.bucket)
    uploads = backend.store.list_uploads(req.bucket)
    storage = sum(meta.size for meta in objects)
    root = ET.Element("BucketStat")
    text(root, "Storage", str(storage))
    text(root, "ObjectCount", str(len(objects)))
    text(root, "MultipartUploadCount", str(len(uploads)))
    text(root, "LiveChannelCount", "0")
    text(root, "LastModifiedTime", str(int(max((m.last_modified for m in objects), default=0))))
    text(root, "StandardStorage", str(storage))
    text(root, "StandardObjectCount", str(len(objects)))
    for storage_class in _OTHER_CLASSES:
        text(root, f"{storage_class}Storage", "0")
        text(root, f"{storage_class}RealStorage", "0")
        text(root, f"{storage_class}ObjectCount", "0")
    parts = [p for u in uploads for p in backend.store.list_parts(req.bucket, u.upload_id)]
    text(root, "MultipartPartCount", str(len(parts)))
    text(root, "MultipartPartStorage", str(sum(p.size for p in parts)))
    text(root, "DeleteMarkerCount", "0")
    return xml_response(xmlresp.to_bytes(root))
