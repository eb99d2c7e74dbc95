"""Listings: ListObjects (V1), ListObjectsV2, ListObjectVersions (of a bucket without versioning) and
ListMultipartUploads, with OSS's ordering and paging.

Objects are listed in UTF-8 byte order of their keys (Python's ``str`` order is the same for valid UTF-8);
``delimiter`` rolls keys up into ``CommonPrefixes`` which count towards ``max-keys`` like keys. Multipart uploads
are listed by key, then by upload ID (IDs rise with time, :func:`..model.files.new_upload_id`); ``key-marker`` /
``upload-id-marker`` continue after a given upload, ``max-uploads`` pages. ``encoding-type=url`` URL-encodes keys,
prefixes, markers and delimiters in the answer.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import OWNER_ID, Backend
from osscallback.local.oss.api.request import Request, Response, int_param, url_encoding, xml_response
from osscallback.local.oss.model.store import UploadMeta
from osscallback.local.oss.xmlresp import Encoder, text


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


def _roll_up(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    idx = key.find(delimiter, len(prefix))
    return key[: idx + len(delimiter)] if idx >= 0 else None


def walk(backend: Backend, bucket: str, prefix: str, after: str, delimiter: str, max_keys: int) -> Listing:
    listing = Listing()
    count = 0
    for meta in backend.store.objects_from(bucket, max(prefix, after)):  # no walk over the keys before the page
        key = meta.key
        if not key.startswith(prefix):
            if key > prefix:
                break  # sorted: no later key has the prefix either
            continue
        if key <= after:
            continue
        common = _roll_up(key, prefix, delimiter)
        if common is not None and (common <= after or (listing.prefixes and listing.prefixes[-1] == common)):
            continue
        if count >= max_keys:
            listing.truncated = True
            break
        if common is not None:
            listing.prefixes.append(common)
            listing.next_marker = common
        else:
            listing.entries.append(ListEntry(key, meta.last_modified, meta.etag, meta.object_type, meta.size))
            listing.next_marker = key
        count += 1
    return listing


def _contents(root: ET.Element, entries: list[ListEntry], encode: Encoder, owner: str | None) -> None:
    for e in entries:
        node = ET.SubElement(root, "Contents")
        text(node, "Key", encode(e.key))
        _object_fields(node, e, owner)


def _object_fields(node: ET.Element, e: ListEntry, owner: str | None) -> None:
    """An object's elements after ``Key`` (and a version's ``VersionId``/``IsLatest``): the same in ``Contents``
    and ``Version``."""
    text(node, "LastModified", xmlresp.iso8601(e.last_modified))
    text(node, "ETag", f'"{e.etag}"')
    text(node, "Type", e.object_type)
    text(node, "Size", str(e.size))
    text(node, "StorageClass", "Standard")
    if owner is not None:
        o = ET.SubElement(node, "Owner")
        text(o, "ID", owner)
        text(o, "DisplayName", owner)


def _paging(root: ET.Element, max_keys: int, delimiter: str, encode: Encoder, url: bool, truncated: bool) -> None:
    """``MaxKeys`` to ``IsTruncated``, in the order the three object listings answer them."""
    text(root, "MaxKeys", str(max_keys))
    text(root, "Delimiter", encode(delimiter))
    if url:
        text(root, "EncodingType", "url")
    text(root, "IsTruncated", "true" if truncated else "false")


def _common_prefixes(root: ET.Element, prefixes: list[str], encode: Encoder) -> None:
    for p in prefixes:
        node = ET.SubElement(root, "CommonPrefixes")
        text(node, "Prefix", encode(p))


def list_objects(backend: Backend, req: Request) -> Response:
    p = req.params
    prefix, marker, delimiter = p.get("prefix", ""), p.get("marker", ""), p.get("delimiter", "")
    max_keys = int_param(req, "max-keys", 100)
    url = url_encoding(req)
    enc = xmlresp.encoder(url)
    listing = walk(backend, req.bucket, prefix, marker, delimiter, max_keys)
    root = ET.Element("ListBucketResult")
    text(root, "Name", req.bucket)
    text(root, "Prefix", enc(prefix))
    text(root, "Marker", enc(marker))
    _paging(root, max_keys, delimiter, enc, url, listing.truncated)
    if listing.truncated:
        text(root, "NextMarker", enc(listing.next_marker))
    _contents(root, listing.entries, enc, OWNER_ID)
    _common_prefixes(root, listing.prefixes, enc)
    return xml_response(xmlresp.to_bytes(root))


def list_objects_v2(backend: Backend, req: Request) -> Response:
    p = req.params
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    start_after = p.get("start-after", "")
    token = p.get("continuation-token", "")
    after = start_after
    if token:
        try:
            after = max(after, base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8"))
        except (binascii.Error, ValueError, UnicodeError):
            raise xmlresp.invalid_argument("The continuation token is invalid.", "continuation-token", token) from None
    max_keys = int_param(req, "max-keys", 100)
    url = url_encoding(req)
    enc = xmlresp.encoder(url)
    listing = walk(backend, req.bucket, prefix, after, delimiter, max_keys)
    next_token = base64.urlsafe_b64encode(listing.next_marker.encode("utf-8")).decode("ascii")
    root = ET.Element("ListBucketResult")
    text(root, "Name", req.bucket)
    text(root, "Prefix", enc(prefix))
    if start_after:
        text(root, "StartAfter", enc(start_after))
    if token:
        text(root, "ContinuationToken", token)
    _paging(root, max_keys, delimiter, enc, url, listing.truncated)
    if listing.truncated:
        text(root, "NextContinuationToken", next_token)
    text(root, "KeyCount", str(len(listing.entries) + len(listing.prefixes)))
    _contents(root, listing.entries, enc, OWNER_ID if p.get("fetch-owner") == "true" else None)
    _common_prefixes(root, listing.prefixes, enc)
    return xml_response(xmlresp.to_bytes(root))


def list_object_versions(backend: Backend, req: Request) -> Response:
    """ListObjectVersions of a bucket that never had versioning: each object is its own only version, ID ``null``
    and latest, with no delete markers; ``key-marker`` pages as ListObjects' ``marker`` does (with one version per
    key, ``version-id-marker`` adds nothing). Elements as in the ListObjectVersions reference."""
    p = req.params
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    key_marker, version_marker = p.get("key-marker", ""), p.get("version-id-marker", "")
    max_keys = int_param(req, "max-keys", 100)
    url = url_encoding(req)
    enc = xmlresp.encoder(url)
    listing = walk(backend, req.bucket, prefix, key_marker, delimiter, max_keys)
    root = ET.Element("ListVersionsResult")
    text(root, "Name", req.bucket)
    text(root, "Prefix", enc(prefix))
    text(root, "KeyMarker", enc(key_marker))
    text(root, "VersionIdMarker", version_marker)
    _paging(root, max_keys, delimiter, enc, url, listing.truncated)
    if listing.truncated:
        text(root, "NextKeyMarker", enc(listing.next_marker))
        text(root, "NextVersionIdMarker", "null")
    for e in listing.entries:
        node = ET.SubElement(root, "Version")
        text(node, "Key", enc(e.key))
        text(node, "VersionId", "null")
        text(node, "IsLatest", "true")
        _object_fields(node, e, OWNER_ID)
    _common_prefixes(root, listing.prefixes, enc)
    return xml_response(xmlresp.to_bytes(root))


def _after_marker(uploads: list[UploadMeta], key_marker: str, upload_id_marker: str) -> list[UploadMeta]:
    """The uploads after (key-marker, upload-id-marker), as the ListMultipartUploads reference defines them: keys
    greater than ``key-marker``, and, when ``upload-id-marker`` is given, the uploads of ``key-marker`` itself whose
    UploadId is greater; ``upload-id-marker`` without ``key-marker`` is ignored."""
    if not key_marker:
        return uploads
    return [
        u
        for u in uploads
        if u.key > key_marker or (u.key == key_marker and upload_id_marker and u.upload_id > upload_id_marker)
    ]


def list_uploads(backend: Backend, req: Request) -> Response:
    p = req.params
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    key_marker, upload_id_marker = p.get("key-marker", ""), p.get("upload-id-marker", "")
    max_uploads = int_param(req, "max-uploads", 1000)
    url = url_encoding(req)
    enc = xmlresp.encoder(url)
    ordered = sorted(backend.store.list_uploads(req.bucket), key=lambda u: (u.key, u.upload_id))
    candidates = [u for u in _after_marker(ordered, key_marker, upload_id_marker) if u.key.startswith(prefix)]
    rows: list[UploadMeta] = []
    prefixes: list[str] = []
    truncated = False
    next_key = next_id = ""
    for u in candidates:
        common = _roll_up(u.key, prefix, delimiter)
        if common is not None and prefixes and prefixes[-1] == common:
            continue
        if common is not None and key_marker and common <= key_marker:
            continue
        if len(rows) + len(prefixes) >= max_uploads:
            truncated = True
            break
        if common is not None:
            prefixes.append(common)
            next_key, next_id = common, ""
        else:
            rows.append(u)
            next_key, next_id = u.key, u.upload_id
    root = ET.Element("ListMultipartUploadsResult")
    text(root, "Bucket", req.bucket)
    text(root, "KeyMarker", enc(key_marker))
    text(root, "UploadIdMarker", upload_id_marker)
    text(root, "NextKeyMarker", enc(next_key) if truncated else "")
    text(root, "NextUploadIdMarker", next_id if truncated else "")
    text(root, "Delimiter", enc(delimiter))
    text(root, "Prefix", enc(prefix))
    text(root, "MaxUploads", str(max_uploads))
    text(root, "IsTruncated", "true" if truncated else "false")
    if url:
        text(root, "EncodingType", "url")
    for u in rows:
        node = ET.SubElement(root, "Upload")
        text(node, "Key", enc(u.key))
        text(node, "UploadId", u.upload_id)
        text(node, "StorageClass", "Standard")
        text(node, "Initiated", xmlresp.iso8601(u.initiated))
    _common_prefixes(root, prefixes, enc)
    return xml_response(xmlresp.to_bytes(root))
