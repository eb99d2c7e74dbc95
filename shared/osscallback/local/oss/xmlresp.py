"""OSS's XML: error documents shaped like the real service's and the result documents oss2 parses.

oss2 turns an error response into an exception by its HTTP status and ``<Code>`` (``oss2.exceptions``), and
parses results with ``oss2.xml_utils``: the element names and nesting here follow what those parsers read and
what OSS's API reference shows, so the unmodified SDK sees the emulator as OSS.

Error shape (OSS API reference, "Troubleshoot signature errors")::

    <?xml version="1.0" encoding="UTF-8"?>
    <Error><Code/><Message/><RequestId/><HostId/>...extra elements...<EC/><RecommendDoc/></Error>
"""

from __future__ import annotations

import base64
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from osscallback.errors import OssCallbackError

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

Encoder = Callable[[str], str]


def _identity(value: str) -> str:
    return value


class OSSError(OssCallbackError):
    """An error the emulator answers with, as OSS would: HTTP status, code, message, EC and extra elements."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        ec: str = "",
        extra: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.ec = ec
        self.extra: dict[str, str] = dict(extra or {})
        self.headers: dict[str, str] = dict(headers or {})


def error_xml(err: OSSError, request_id: str, host_id: str) -> bytes:
    root = ET.Element("Error")
    _text(root, "Code", err.code)
    _text(root, "Message", err.message)
    _text(root, "RequestId", request_id)
    _text(root, "HostId", host_id)
    for name, value in err.extra.items():
        _text(root, name, value)
    if err.ec:
        _text(root, "EC", err.ec)
        _text(root, "RecommendDoc", f"https://api.aliyun.com/troubleshoot?q={err.ec}")
    return to_bytes(root)


def error_header(body: bytes) -> str:
    """``x-oss-err``: OSS puts the error document, base64, in this header of HEAD answers (which have no body)."""
    return base64.b64encode(body).decode("ascii")


# --- common errors -----------------------------------------------------------------------------------------------


def no_such_bucket(bucket: str) -> OSSError:
    return OSSError(
        404, "NoSuchBucket", "The specified bucket does not exist.", ec="0015-00000101", extra={"BucketName": bucket}
    )


def no_such_key(key: str) -> OSSError:
    return OSSError(404, "NoSuchKey", "The specified key does not exist.", ec="0026-00000001", extra={"Key": key})


def no_such_upload(upload_id: str) -> OSSError:
    return OSSError(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted "
        "or completed.",
        extra={"UploadId": upload_id},
    )


def access_denied(message: str, ec: str = "") -> OSSError:
    return OSSError(403, "AccessDenied", message, ec=ec)


def invalid_argument(message: str, name: str = "", value: str = "", ec: str = "") -> OSSError:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return OSSError(400, "InvalidArgument", message, ec=ec, extra=extra)


def malformed_xml() -> OSSError:
    return OSSError(
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema.",
    )


def invalid_digest(value: str) -> OSSError:
    return OSSError(400, "InvalidDigest", "The Content-MD5 you specified was invalid.", extra={"Content-MD5": value})


def bad_digest(expected: str, calculated: str) -> OSSError:
    return OSSError(
        400,
        "InvalidDigest",
        "The Content-MD5 you specified did not match what we received.",
        extra={"ExpectedDigest": expected, "CalculatedDigest": calculated},
    )


def not_implemented(what: str) -> OSSError:
    return OSSError(501, "NotImplemented", f"{what} is not implemented by the local OSS emulator.")


# --- result documents --------------------------------------------------------------------------------------------


def iso8601(ts: float) -> str:
    """OSS's timestamp format in XML: ``2012-02-24T08:42:32.000Z`` (always ``.000``: oss2's parser insists)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".000Z"


def http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def url_encode(value: str) -> str:
    """What ``encoding-type=url`` does to keys and prefixes (oss2 undoes it with ``unquote``)."""
    return quote(value, safe="/")


@dataclass(frozen=True)
class ListEntry:
    """One object row of a listing."""

    key: str
    last_modified: float
    etag: str
    object_type: str
    size: int


@dataclass
class Listing:
    """The outcome of a listing walk: objects, common prefixes, and where to continue."""

    entries: list[ListEntry] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    next_marker: str = ""


def list_objects_xml(
    bucket: str, listing: Listing, *, prefix: str, marker: str, delimiter: str, max_keys: int, url: bool, owner: str
) -> bytes:
    enc = url_encode if url else _identity
    root = ET.Element("ListBucketResult")
    _text(root, "Name", bucket)
    _text(root, "Prefix", enc(prefix))
    _text(root, "Marker", enc(marker))
    _text(root, "MaxKeys", str(max_keys))
    _text(root, "Delimiter", enc(delimiter))
    if url:
        _text(root, "EncodingType", "url")
    _text(root, "IsTruncated", "true" if listing.truncated else "false")
    if listing.truncated:
        _text(root, "NextMarker", enc(listing.next_marker))
    _contents(root, listing.entries, enc, owner)
    _common_prefixes(root, listing.prefixes, enc)
    return to_bytes(root)


def list_objects_v2_xml(
    bucket: str,
    listing: Listing,
    *,
    prefix: str,
    start_after: str,
    continuation_token: str,
    next_token: str,
    delimiter: str,
    max_keys: int,
    url: bool,
    owner: str | None,
) -> bytes:
    enc = url_encode if url else _identity
    root = ET.Element("ListBucketResult")
    _text(root, "Name", bucket)
    _text(root, "Prefix", enc(prefix))
    if start_after:
        _text(root, "StartAfter", enc(start_after))
    if continuation_token:
        _text(root, "ContinuationToken", continuation_token)
    _text(root, "MaxKeys", str(max_keys))
    _text(root, "Delimiter", enc(delimiter))
    if url:
        _text(root, "EncodingType", "url")
    _text(root, "IsTruncated", "true" if listing.truncated else "false")
    if listing.truncated:
        _text(root, "NextContinuationToken", next_token)
    _text(root, "KeyCount", str(len(listing.entries) + len(listing.prefixes)))
    _contents(root, listing.entries, enc, owner)
    _common_prefixes(root, listing.prefixes, enc)
    return to_bytes(root)


def list_buckets_xml(buckets: Iterable[tuple[str, float]], *, owner: str, region: str, endpoint_host: str) -> bytes:
    root = ET.Element("ListAllMyBucketsResult")
    o = ET.SubElement(root, "Owner")
    _text(o, "ID", owner)
    _text(o, "DisplayName", owner)
    node = ET.SubElement(root, "Buckets")
    for name, created in buckets:
        b = ET.SubElement(node, "Bucket")
        _text(b, "CreationDate", iso8601(created))
        _text(b, "ExtranetEndpoint", endpoint_host)
        _text(b, "IntranetEndpoint", endpoint_host)
        _text(b, "Location", f"oss-{region}")
        _text(b, "Name", name)
        _text(b, "Region", region)
        _text(b, "StorageClass", "Standard")
    return to_bytes(root)


def initiate_xml(bucket: str, key: str, upload_id: str, *, url: bool) -> bytes:
    root = ET.Element("InitiateMultipartUploadResult")
    _text(root, "Bucket", bucket)
    _text(root, "Key", url_encode(key) if url else key)
    _text(root, "UploadId", upload_id)
    if url:
        _text(root, "EncodingType", "url")
    return to_bytes(root)


@dataclass(frozen=True)
class PartRow:
    number: int
    last_modified: float
    etag: str
    crc64: int
    size: int


def list_parts_xml(
    bucket: str,
    key: str,
    upload_id: str,
    parts: list[PartRow],
    *,
    marker: int,
    max_parts: int,
    truncated: bool,
    url: bool,
) -> bytes:
    root = ET.Element("ListPartsResult")
    _text(root, "Bucket", bucket)
    _text(root, "Key", url_encode(key) if url else key)
    _text(root, "UploadId", upload_id)
    _text(root, "StorageClass", "Standard")
    _text(root, "PartNumberMarker", str(marker))
    _text(root, "NextPartNumberMarker", str(parts[-1].number if parts else marker))
    _text(root, "MaxParts", str(max_parts))
    _text(root, "IsTruncated", "true" if truncated else "false")
    if url:
        _text(root, "EncodingType", "url")
    for p in parts:
        node = ET.SubElement(root, "Part")
        _text(node, "PartNumber", str(p.number))
        _text(node, "LastModified", iso8601(p.last_modified))
        _text(node, "ETag", f'"{p.etag}"')
        _text(node, "HashCrc64ecma", str(p.crc64))
        _text(node, "Size", str(p.size))
    return to_bytes(root)


def complete_xml(location: str, bucket: str, key: str, etag: str, *, url: bool) -> bytes:
    root = ET.Element("CompleteMultipartUploadResult")
    if url:
        _text(root, "EncodingType", "url")
    _text(root, "Location", location)
    _text(root, "Bucket", bucket)
    _text(root, "Key", url_encode(key) if url else key)
    _text(root, "ETag", f'"{etag}"')
    return to_bytes(root)


def post_response_xml(location: str, bucket: str, key: str, etag: str) -> bytes:
    """PostObject's answer body for ``success_action_status=201``."""
    root = ET.Element("PostResponse")
    _text(root, "Bucket", bucket)
    _text(root, "Location", location)
    _text(root, "Key", key)
    _text(root, "ETag", f'"{etag}"')
    return to_bytes(root)


def delete_result_xml(keys: list[str], *, quiet: bool, url: bool) -> bytes:
    root = ET.Element("DeleteResult")
    if url:
        _text(root, "EncodingType", "url")
    if not quiet:
        for key in keys:
            node = ET.SubElement(root, "Deleted")
            _text(node, "Key", url_encode(key) if url else key)
    return to_bytes(root)


# --- helpers -----------------------------------------------------------------------------------------------------


def to_bytes(root: ET.Element) -> bytes:
    return _DECLARATION + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _contents(root: ET.Element, entries: list[ListEntry], encode: Encoder, owner: str | None) -> None:
    for e in entries:
        node = ET.SubElement(root, "Contents")
        _text(node, "Key", encode(e.key))
        _text(node, "LastModified", iso8601(e.last_modified))
        _text(node, "ETag", f'"{e.etag}"')
        _text(node, "Type", e.object_type)
        _text(node, "Size", str(e.size))
        _text(node, "StorageClass", "Standard")
        if owner is not None:
            o = ET.SubElement(node, "Owner")
            _text(o, "ID", owner)
            _text(o, "DisplayName", owner)


def _common_prefixes(root: ET.Element, prefixes: list[str], encode: Encoder) -> None:
    for p in prefixes:
        node = ET.SubElement(root, "CommonPrefixes")
        _text(node, "Prefix", encode(p))
