"""Routing: which OSS operation a request is, who may perform it, and which family module performs it.

OSS names an operation by its method, its scope (service, bucket or object) and its sub-resource (``?acl``,
``?uploads``, ``?tagging``...) or a header (``x-oss-copy-source`` makes a PUT a copy). The table below says so once
for every supported operation, with the access an anonymous request needs (:mod:`..model.acl`). A request that
names a sub-resource the table does not know — an operation the local OSS does not support — is answered
501 ``NotImplemented`` with the operation's name, never served as a plain GET or PUT by mistake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from osscallback.local.oss import xmlresp
from osscallback.local.oss.api import (
    acl,
    append,
    bucketconfig,
    copy,
    cors,
    listing,
    multipart,
    objects,
    postobject,
    service,
    symlink,
)
from osscallback.local.oss.api import tagging as tagging_api
from osscallback.local.oss.api.backend import Backend, check_key
from osscallback.local.oss.api.request import Request, Response
from osscallback.local.oss.api.sessionpolicy import check as sessionpolicy_check
from osscallback.local.oss.auth import V1_SUBRESOURCES, CredentialStore
from osscallback.local.oss.callbacks import CallbackSender
from osscallback.local.oss.model import acl as acl_rules
from osscallback.local.oss.model import subresources
from osscallback.local.oss.model.events import EventSink, Notifier
from osscallback.local.oss.model.store import ObjectReplaced, Store
from osscallback.local.oss.sigversions import DEFAULT_VERSIONS
from osscallback.local.oss.xmlresp import OSSError

log = logging.getLogger("osscallback.local.oss")
#: How often an operation whose read lost a race with an overwrite is run again (each retry sees a newer write).
READ_RETRIES = 8

Handler = Callable[[Backend, Request], Response]
#: Query parameters that name no operation: signatures, response overrides, operation arguments.
NEUTRAL_PARAMS = frozenset(
    """OSSAccessKeyId Expires Signature security-token x-oss-signature-version x-oss-credential x-oss-date
    x-oss-expires x-oss-signature x-oss-additional-headers x-oss-security-token x-oss-access-key-id
    x-oss-traffic-limit callback callback-var encoding-type prefix marker delimiter max-keys list-type
    continuation-token start-after fetch-owner key-marker upload-id-marker max-uploads max-parts
    part-number-marker partNumber uploadId position version-id-marker x-oss-ac-source-ip x-oss-ac-subnet-mask
    x-oss-ac-vpc-id x-oss-ac-forward-allow x-oss-request-payer""".split()
)
#: Names for sub-resources the local OSS does not implement, for the 501's message.
UNSUPPORTED_NAMES = {
    "restore": "RestoreObject",
    "cleanRestoredObject": "CleanRestoredObject",
    "seal": "SealAppendObject",
    "regions": "DescribeRegions",
    "x-oss-write-get-object-response": "WriteGetObjectResponse",
    "x-oss-process": "data processing (x-oss-process: image processing, SelectObject)",
    "x-oss-async-process": "AsyncProcessObject",
    "versionId": "versioned object access (versionId)",
    "objectInfo": "objectInfo",
    "cors": "CORS configuration",
    "lifecycle": "bucket lifecycle",
    "logging": "bucket logging",
    "website": "bucket website",
    "referer": "bucket referer",
    "policy": "bucket policy",
    "versioning": "bucket versioning",
    "encryption": "bucket encryption",
    "worm": "bucket WORM",
    "replication": "bucket replication",
    "inventory": "bucket inventory",
    "live": "LiveChannel",
    "vod": "LiveChannel VOD",
    "qos": "bucket QoS",
    "requestPayment": "bucket request payment",
    "transferAcceleration": "bucket transfer acceleration",
    "cname": "bucket CNAME",
    "metaQuery": "bucket meta query",
    "accessPoint": "access points",
    "publicAccessBlock": "public access block",
    "resourceGroup": "bucket resource group",
    "style": "image styles",
    "httpsConfig": "bucket HTTPS configuration",
    "asyncFetch": "AsyncFetch",
    "sequential": "sequential multipart upload",
}
_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "POST": "Post", "HEAD": "Head"}
_VERB_NAMES = ("GET", "PUT", "DELETE", "POST")
_SCOPES = {"object": "an object", "bucket": "a bucket", "service": "the service"}


@dataclass(frozen=True)
class Route:
    name: str  # OSS's operation name
    method: str
    scope: str  # "service" | "bucket" | "object"
    handler: Handler
    access: str  # what an anonymous request needs: "read", "write", "list", "owner" (never) or "any" (nothing)
    params: tuple[str, ...] = ()  # sub-resources that must be present
    header: str = ""  # a header that must be present
    form: bool = False  # a multipart/form-data POST (PostObject)
    value: tuple[str, str] | None = None  # a query parameter that must have this value (list-type=2)

    def matches(self, req: Request, scope: str) -> bool:
        if self.method != req.method or self.scope != scope:
            return False
        if any(not req.has(p) for p in self.params):
            return False
        if self.value is not None and req.params.get(self.value[0]) != self.value[1]:
            return False
        if self.header and self.header not in req.headers:
            return False
        return not self.form or postobject.is_form(req)


def _get(head: bool) -> Handler:
    def handler(backend: Backend, req: Request) -> Response:
        return objects.get_object(backend, req, head=head)

    return handler


def _config_routes() -> tuple[Route, ...]:
    """Every method on every configuration of :data:`..model.subresources.TABLE` goes to one handler, which answers
    what OSS answers or 501 naming the operation (a ``comp`` row first: ``?policy&comp=callback`` is not
    ``?policy``)."""
    rows = sorted(subresources.TABLE, key=lambda row: not row.comp)
    return tuple(
        Route(
            f"{_VERBS[method]}{row.name}",
            method,
            "bucket",
            bucketconfig.handle,
            "owner",
            params=(row.param,),
            value=("comp", row.comp) if row.comp else None,
        )
        for row in rows
        for method in ("GET", "PUT", "DELETE", "POST")
    )


ROUTES: tuple[Route, ...] = (
    Route("ListBuckets", "GET", "service", service.list_buckets, "owner"),
    *_config_routes(),
    *(Route("ListLiveChannel", m, "bucket", bucketconfig.list_live_channels, "owner", params=("live",))
      for m in _VERB_NAMES),
    *(Route("BucketCname", m, "bucket", bucketconfig.cname, "owner", params=("cname",)) for m in _VERB_NAMES),
    # --- bucket -------------------------------------------------------------------------------------------------
    Route("PostObject", "POST", "bucket", postobject.post_object, "write", form=True),
    Route("DeleteMultipleObjects", "POST", "bucket", objects.delete_objects, "write", params=("delete",)),
    Route("PutBucketAcl", "PUT", "bucket", acl.put_bucket_acl, "owner", params=("acl",)),
    Route("GetBucketAcl", "GET", "bucket", acl.get_bucket_acl, "owner", params=("acl",)),
    Route("ListMultipartUploads", "GET", "bucket", listing.list_uploads, "owner", params=("uploads",)),
    Route("GetBucketInfo", "GET", "bucket", service.get_bucket_info, "owner", params=("bucketInfo",)),
    Route("GetBucketStat", "GET", "bucket", service.get_bucket_stat, "owner", params=("stat",)),
    Route("GetBucketLocation", "GET", "bucket", service.get_bucket_location, "owner", params=("location",)),
    Route("PutBucketCors", "PUT", "bucket", cors.put_bucket_cors, "owner", params=("cors",)),
    Route("GetBucketCors", "GET", "bucket", cors.get_bucket_cors, "owner", params=("cors",)),
    Route("DeleteBucketCors", "DELETE", "bucket", cors.delete_bucket_cors, "owner", params=("cors",)),
    Route("Options", "OPTIONS", "bucket", cors.preflight, "any"),
    Route("PutBucket", "PUT", "bucket", service.create_bucket, "owner"),
    Route("DeleteBucket", "DELETE", "bucket", service.delete_bucket, "owner"),
    Route("HeadBucket", "HEAD", "bucket", service.head_bucket, "list"),
    Route("ListObjectVersions", "GET", "bucket", listing.list_object_versions, "list", params=("versions",)),
    Route("ListObjectsV2", "GET", "bucket", listing.list_objects_v2, "list", value=("list-type", "2")),
    Route("ListObjects", "GET", "bucket", listing.list_objects, "list"),
    # --- object -------------------------------------------------------------------------------------------------
    *(Route("LiveChannel", m, "object", bucketconfig.live_channel, "owner", params=("live",)) for m in _VERB_NAMES),
    Route(
        "UploadPartCopy",
        "PUT",
        "object",
        copy.upload_part_copy,
        "write",
        params=("uploadId",),
        header="x-oss-copy-source",
    ),
    Route("UploadPart", "PUT", "object", multipart.upload_part, "write", params=("uploadId",)),
    Route("PutObjectACL", "PUT", "object", acl.put_object_acl, "owner", params=("acl",)),
    Route("PutObjectTagging", "PUT", "object", tagging_api.put_object_tagging, "owner", params=("tagging",)),
    Route("PutSymlink", "PUT", "object", symlink.put_symlink, "write", params=("symlink",)),
    Route("CopyObject", "PUT", "object", copy.copy_object, "write", header="x-oss-copy-source"),
    Route("PutObject", "PUT", "object", objects.put_object, "write"),
    Route("InitiateMultipartUpload", "POST", "object", multipart.initiate_upload, "write", params=("uploads",)),
    Route("CompleteMultipartUpload", "POST", "object", multipart.complete_upload, "write", params=("uploadId",)),
    Route("AppendObject", "POST", "object", append.append_object, "write", params=("append",)),
    Route("ListParts", "GET", "object", multipart.list_parts, "write", params=("uploadId",)),
    Route("GetObjectACL", "GET", "object", acl.get_object_acl, "owner", params=("acl",)),
    Route("GetObjectTagging", "GET", "object", tagging_api.get_object_tagging, "owner", params=("tagging",)),
    Route("GetSymlink", "GET", "object", symlink.get_symlink, "read", params=("symlink",)),
    Route("GetObject", "GET", "object", _get(head=False), "read"),
    Route("GetObjectMeta", "HEAD", "object", objects.get_object_meta, "read", params=("objectMeta",)),
    Route("HeadObject", "HEAD", "object", _get(head=True), "read"),
    Route("AbortMultipartUpload", "DELETE", "object", multipart.abort_upload, "write", params=("uploadId",)),
    Route(
        "DeleteObjectTagging", "DELETE", "object", tagging_api.delete_object_tagging, "owner", params=("tagging",)
    ),
    Route("DeleteObject", "DELETE", "object", objects.delete_object, "write"),
    Route("Options", "OPTIONS", "object", cors.preflight, "any"),
)
#: Every sub-resource a route of each scope consumes, with the parameters that only qualify one (``comp``,
#: ``status``, ``inventoryId``). A sub-resource no route of the request's scope consumes is unsupported there.
_QUALIFIERS = frozenset({"list-type", "objectMeta", "comp", "status", "inventoryId"})
_ROUTED_PARAMS: dict[str, frozenset[str]] = {
    scope: frozenset(p for r in ROUTES if r.scope == scope for p in (*r.params, *(r.value[:1] if r.value else ())))
    | _QUALIFIERS
    for scope in ("service", "bucket", "object")
}


def _unsupported(req: Request, scope: str) -> str | None:
    """The name of an unsupported operation this request asks for, or ``None``.

    Only OSS's own sub-resources count (those in :data:`UNSUPPORTED_NAMES` and the ones OSS signs,
    :data:`~..auth.V1_SUBRESOURCES`), and only where no route of the request's scope consumes them (``?lifecycle``
    is a bucket configuration, not an object's): like OSS, any other query parameter (``?v=2`` cache busting) is
    ignored.
    """
    if req.method == "OPTIONS":  # a preflight may name any resource: its rules are the bucket's
        return None
    routed = _ROUTED_PARAMS[scope]
    named = [n for n, _ in req.query if n in UNSUPPORTED_NAMES and n not in routed]
    ignored = NEUTRAL_PARAMS | routed
    others = [n for n, _ in req.query if n in V1_SUBRESOURCES and n not in ignored and not n.startswith("response-")]
    if not named and not others:
        return None
    what = UNSUPPORTED_NAMES[named[0]] if named else f"the {others[0]!r} sub-resource"
    return f"{_VERBS.get(req.method, req.method)} {what} on {_SCOPES[scope]}"


class Operations:
    """OSS's API over a :class:`Store`: the entry point :mod:`..server` calls for every request."""

    def __init__(
        self,
        store: Store,
        credentials: CredentialStore,
        sender: CallbackSender,
        region: str,
        on_object_created: EventSink | None = None,
        signature_versions: frozenset[str] = DEFAULT_VERSIONS,
        old_buckets: frozenset[str] = frozenset(),
    ) -> None:
        self.backend = Backend(
            store, credentials, sender, region, Notifier(on_object_created), signature_versions, old_buckets
        )

    @property
    def store(self) -> Store:
        return self.backend.store

    @property
    def credentials(self) -> CredentialStore:
        return self.backend.credentials

    @property
    def notifier(self) -> Notifier:
        return self.backend.notifier

    def cors_headers(self, req: Request) -> dict[str, str]:
        """The CORS headers every answer to ``req`` carries (the bucket's rules; ``{}`` without any)."""
        return cors.actual_headers(self.backend, req)

    def route(self, req: Request) -> Route:
        scope = "object" if req.key else "bucket" if req.bucket else "service"
        unsupported = _unsupported(req, scope)
        if unsupported:
            raise xmlresp.not_implemented(unsupported)
        for route in ROUTES:
            if route.matches(req, scope):
                if not route.params and route.value is None and route.access != "any":  # a preflight: any path
                    self._refuse_stray_subresource(req, scope)
                return route
        if req.method not in _VERBS:
            raise OSSError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        raise xmlresp.not_implemented(f"{req.method} on {_SCOPES[scope]}")

    @staticmethod
    def _refuse_stray_subresource(req: Request, scope: str) -> None:
        """A plain operation (PutObject, DeleteBucket...) never runs for a request that names a sub-resource some
        other method handles (``DELETE /bucket?acl`` is not DeleteBucket): 501 naming it instead."""
        stray = [n for n, _ in req.query if n in _ROUTED_PARAMS[scope] and n not in _QUALIFIERS]
        if stray:
            raise xmlresp.not_implemented(f"{req.method} of the {stray[0]!r} sub-resource on {_SCOPES[scope]}")

    def handle(self, req: Request) -> Response:
        route = self.route(req)
        if route.scope == "object":
            check_key(req.key)
        if route.scope != "service" and route.name != "PutBucket":
            self.backend.require_bucket(req.bucket)
        if req.anonymous and route.name != "PostObject" and route.access != "any":
            self._check_anonymous(route, req)
        elif not req.anonymous:
            sessionpolicy_check(self.backend, route.name, req)
        for _ in range(READ_RETRIES):
            try:
                return route.handler(self.backend, req)
            except ObjectReplaced:  # raised before anything was written or sent: safe to run again
                continue
        raise OSSError(503, "ServiceUnavailable", "The object kept changing while it was read; please try again.")

    def _check_anonymous(self, route: Route, req: Request) -> None:
        """Anonymous requests get what the bucket's and object's ACLs allow, and nothing else."""
        if route.access == "owner" or not req.bucket:
            raise acl_rules.denied()
        bucket_acl = self.store.bucket_acl(req.bucket)
        meta = self.store.get_object(req.bucket, req.key) if req.key else None
        if route.access == "list":
            allowed = acl_rules.may_list(bucket_acl)
        elif route.access == "read":
            allowed = acl_rules.may_read_object(meta.acl, bucket_acl) if meta else acl_rules.may_list(bucket_acl)
        else:
            allowed = acl_rules.may_write_object(meta.acl if meta else None, bucket_acl)
        if not allowed:
            raise acl_rules.denied()
