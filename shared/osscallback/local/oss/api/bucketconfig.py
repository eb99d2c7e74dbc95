"""Bucket configurations the local OSS stores but does not enforce, and the listings of features it does not model,
answered as a fresh OSS bucket answers them.

One handler serves every row of :data:`..model.subresources.TABLE`: Get answers the stored document, else the
row's default document or its 404; Put validates the document's shape (root element, required children:
MalformedXML otherwise) and stores it as sent; Delete removes it (204, also when none is stored). What a row marks
not writable answers 501 naming the operation. Live channels and CNAMEs are listed (always empty: none can be
created here); creating them stays 501.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api.backend import OWNER_ID, Backend
from osscallback.local.oss.api.request import MAX_XML_BODY, Request, Response, int_param, xml_response
from osscallback.local.oss.model import buckettags, subresources
from osscallback.local.oss.model.configstore import BucketGone, ConfigStore
from osscallback.local.oss.model.subresources import SubResource
from osscallback.local.oss.xmlresp import OSSError, text

_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "POST": "Post"}
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _configs(backend: Backend) -> ConfigStore:
    return ConfigStore(backend.store.buckets_dir)


def _missing(row: SubResource, bucket: str) -> OSSError:
    assert row.missing is not None
    return OSSError(404, row.missing.code, row.missing.message, extra={"BucketName": bucket})


def _document(row: SubResource, doc: bytes) -> Response:
    if row.json:
        return Response(200, {"Content-Type": "application/json"}, doc)
    return xml_response(doc if doc.lstrip().startswith(b"<?xml") else _DECLARATION + doc)


def handle(backend: Backend, req: Request) -> Response:
    """Get, Put or Delete of the configuration the request's query names."""
    row = subresources.lookup(req.params)
    if row is None:
        raise xmlresp.not_implemented(f"{req.method} of the bucket's {req.params.get('comp', '')!r} configuration")
    operation = f"{_VERBS.get(req.method, req.method)}{row.name}"
    if req.method == "GET":
        return _get(backend, req, row)
    if req.method == "PUT" and row.writable:
        return _put(backend, req, row)
    if req.method == "DELETE" and row.writable and row.deletable:
        if row.name == "BucketTags" and req.params.get("tagging"):
            return _delete_some_tags(backend, req, row)
        _configs(backend).delete(req.bucket, row.name, _key(req, row) if row.keyed_by else "")
        return Response(204)
    raise xmlresp.not_implemented(operation)


def _delete_some_tags(backend: Backend, req: Request, row: SubResource) -> Response:
    """DeleteBucketTags with ``?tagging=k1,k2``: only the named tags go (DeleteBucketTags reference)."""
    configs = _configs(backend)
    doc = configs.get(req.bucket, row.name)
    if doc is not None:
        keys = {k for k in req.params["tagging"].split(",") if k}
        try:
            configs.put(req.bucket, row.name, _canonical(buckettags.without(xmlresp.parse(doc, row.root), keys)))
        except BucketGone:
            raise xmlresp.no_such_bucket(req.bucket) from None
    return Response(204)


def _key(req: Request, row: SubResource) -> str:
    key = req.params.get(row.keyed_by, "")
    if not key:
        raise xmlresp.invalid_argument(f"The {row.keyed_by} parameter is missing.", row.keyed_by, "")
    return key


def _get(backend: Backend, req: Request, row: SubResource) -> Response:
    configs = _configs(backend)
    if row.keyed_by and not req.params.get(row.keyed_by):
        return _list_keyed(configs, req, row)
    doc = configs.get(req.bucket, row.name, _key(req, row) if row.keyed_by else "")
    if doc is not None:
        return _document(row, doc)
    if row.missing is not None:
        raise _missing(row, req.bucket)
    return _document(row, row.default.encode("utf-8"))


def _list_keyed(configs: ConfigStore, req: Request, row: SubResource) -> Response:
    """ListBucketInventory: every stored configuration by id, in one page; 404 when there is none, as on OSS."""
    nodes = [xmlresp.parse(doc, row.root) for doc in configs.keyed(req.bucket, row.name)]
    if not nodes:
        raise _missing(row, req.bucket)
    root = ET.Element("ListInventoryConfigurationsResult")
    for node in sorted(nodes, key=lambda n: n.findtext("Id") or ""):
        root.append(node)
    text(root, "IsTruncated", "false")
    return xml_response(xmlresp.to_bytes(root))


def _put(backend: Backend, req: Request, row: SubResource) -> Response:
    raw = req.body.read_all(MAX_XML_BODY)
    key = _key(req, row) if row.keyed_by else ""
    if row.json:
        try:
            policy = json.loads(raw)
        except ValueError:
            policy = None
        if not isinstance(policy, dict):
            raise OSSError(400, "InvalidPolicyDocument", "The policy is not a JSON object.")
    else:
        root = xmlresp.parse(raw, row.root)
        if any(root.find(path) is None for path in row.required):
            raise xmlresp.malformed_xml()
        if row.rules is not None:
            row.rules(root)
        if key and (root.findtext("Id") or "").strip() != key:
            raise xmlresp.invalid_argument(
                "The inventoryId in the URL differs from the Id in the body.", row.keyed_by, key, ec="0020-00000043"
            )
        raw = _canonical(root)
    try:
        _configs(backend).put(req.bucket, row.name, raw, key)
    except BucketGone:
        raise xmlresp.no_such_bucket(req.bucket) from None
    return Response(200)


def _canonical(root: ET.Element) -> bytes:
    """The document as OSS keeps it: OSS parses a configuration and answers its own rendering, so a boolean sent
    as ``True`` (oss2 writes ``str(True)`` for an inventory's IsEnabled) comes back ``true``, which is what oss2's
    and the v2 SDK's parsers accept."""
    for node in root.iter():
        value = (node.text or "").strip()
        if len(node) == 0 and value.lower() in ("true", "false"):
            node.text = value.lower()
    return xmlresp.to_bytes(root)


# --- features that are never present here ---------------------------------------------------------------------------


def list_live_channels(backend: Backend, req: Request) -> Response:
    """ListLiveChannel: none can be created here, so the list is empty (ListLiveChannel reference's elements)."""
    if req.method != "GET":
        raise xmlresp.not_implemented(f"{_VERBS.get(req.method, req.method)} live channels of a bucket")
    root = ET.Element("ListLiveChannelResult")
    text(root, "Prefix", req.params.get("prefix", ""))
    text(root, "Marker", req.params.get("marker", ""))
    text(root, "MaxKeys", str(int_param(req, "max-keys", 100, low=1)))
    text(root, "IsTruncated", "false")
    text(root, "NextMarker", "")
    return xml_response(xmlresp.to_bytes(root))


def live_channel(backend: Backend, req: Request) -> Response:
    """A named live channel never exists here: 404 NoSuchLiveChannel (oss2's tests/test_live_channel.py expects it
    from GetLiveChannelInfo on a fresh bucket); creating one (PutLiveChannel) is not modelled."""
    if req.method in ("PUT", "POST") and "status" not in req.params:
        raise xmlresp.not_implemented("PutLiveChannel")
    raise OSSError(404, "NoSuchLiveChannel", "The specified live channel does not exist.", extra={"Key": req.key})


def cname(backend: Backend, req: Request) -> Response:
    """ListCname answers the bucket's (empty) list; adding or removing a CNAME is not modelled."""
    if req.method != "GET" or req.params.get("comp"):
        raise xmlresp.not_implemented(f"{_VERBS.get(req.method, req.method)} bucket CNAME")
    root = ET.Element("ListCnameResult")
    text(root, "Bucket", req.bucket)
    text(root, "Owner", OWNER_ID)
    return xml_response(xmlresp.to_bytes(root))
