"""The OSS operations the emulator implements, independent of the HTTP plumbing in :mod:`.server`.

Each operation takes a parsed :class:`Request` and returns a :class:`Response` or raises
:class:`~osscallback.local.oss.xmlresp.OSSError`. Uploads that carry callback parameters (PutObject, PostObject,
CompleteMultipartUpload) store the object first and then run the callback, as OSS does: a failed callback turns
the answer into 203 ``CallbackFailed`` but never removes the object.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import mimetypes
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from osscallback.local.oss import xmlresp
from osscallback.local.oss.auth import CredentialStore, verify_post_signature
from osscallback.local.oss.callbacks import (
    MSG_NOT_JSON,
    CallbackSender,
    UploadFacts,
    image_info,
    needs_image_info,
    variables,
)
from osscallback.local.oss.postobject import PostForm, check_policy, decode_policy, parse_form
from osscallback.local.oss.storage import ObjectMeta, PartMeta, StagedFile, Store
from osscallback.local.oss.xmlresp import OSSError
from osscallback.upload.callback_params import (
    CallbackParamError,
    CallbackParams,
    decode_callback_var,
    validate_custom_var_key,
)

log = logging.getLogger("osscallback.local.oss")

MAX_KEY_BYTES = 1023
MAX_OBJECT_SIZE = 5 * 1024**3
MIN_PART_SIZE = 100 * 1024
MAX_PART_NUMBER = 10000
MAX_COMPLETE_XML = 4 * 1024 * 1024
OWNER_ID = "1234567890"
_STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
_RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


class BodyReader:
    """The request body: ``read(n)`` returns ``b""`` at its end; raises ``IncompleteBody`` if it ends early."""

    length: int | None  # None: chunked, size unknown

    def read(self, n: int) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def read_all(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while chunk := self.read(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise xmlresp.invalid_argument("The request body is too large.")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass
class Request:
    method: str
    host: str
    bucket: str
    key: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: BodyReader
    client_ip: str
    request_id: str
    endpoint: str  # scheme://host:port of this server, for Location values

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self.query)


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: Path | None = None
    offset: int = 0
    length: int = 0


class Operations:
    """OSS's API over a :class:`Store`."""

    def __init__(self, store: Store, credentials: CredentialStore, sender: CallbackSender, region: str) -> None:
        self.store = store
        self.credentials = credentials
        self.sender = sender
        self.region = region

    # --- dispatch ------------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        m = req.method
        if not req.bucket:
            if m == "GET":
                return self.list_buckets(req)
            raise OSSError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        if not req.key:
            return self._bucket_op(req)
        self._check_key(req.key)
        return self._object_op(req)

    def _bucket_op(self, req: Request) -> Response:
        m = req.method
        if m == "PUT" and not req.query:
            return self.create_bucket(req)
        self._require_bucket(req.bucket)
        if m == "POST" and _is_form(req):
            return self.post_object(req)
        if m == "GET" and req.has("uploads"):
            return self.list_uploads(req)
        if m == "GET" and req.params.get("list-type") == "2":
            return self.list_objects_v2(req)
        if m == "GET" and req.has("bucketInfo"):
            raise xmlresp.not_implemented("GetBucketInfo")
        if m == "GET":
            return self.list_objects(req)
        if m == "HEAD":
            return Response(200)
        if m == "POST" and req.has("delete"):
            return self.delete_objects(req)
        if m == "DELETE" and not req.query:
            return self.delete_bucket(req)
        raise xmlresp.not_implemented(f"{m} on a bucket with {sorted(req.params)}")

    def _object_op(self, req: Request) -> Response:
        m = req.method
        self._require_bucket(req.bucket)
        p = req.params
        if m == "PUT" and "uploadId" in p:
            return self.upload_part(req)
        if m == "PUT" and (req.has("acl") or req.has("tagging") or req.has("symlink")):
            raise xmlresp.not_implemented("object sub-resources")
        if m == "PUT" and "x-oss-copy-source" in req.headers:
            raise xmlresp.not_implemented("CopyObject")
        if m == "PUT":
            return self.put_object(req)
        if m == "POST" and req.has("uploads"):
            return self.initiate_upload(req)
        if m == "POST" and "uploadId" in p:
            return self.complete_upload(req)
        if m == "POST" and req.has("append"):
            raise xmlresp.not_implemented("AppendObject")
        if m == "GET" and "uploadId" in p:
            return self.list_parts(req)
        if m in ("GET", "HEAD"):
            return self.get_object(req, head=m == "HEAD")
        if m == "DELETE" and "uploadId" in p:
            return self.abort_upload(req)
        if m == "DELETE":
            return self.delete_object(req)
        raise OSSError(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")

    # --- helpers -------------------------------------------------------------------------------------------------

    def _require_bucket(self, bucket: str) -> None:
        if not self.store.bucket_exists(bucket):
            raise xmlresp.no_such_bucket(bucket)

    @staticmethod
    def _check_key(key: str) -> None:
        size = len(key.encode("utf-8"))
        if size > MAX_KEY_BYTES or key.startswith(("/", "\\")):
            raise OSSError(
                400,
                "InvalidObjectName",
                "The specified object is not valid.",
                ec="0016-00000005",
                extra={"ObjectName": key[:200]},
            )

    def _location(self, req: Request, key: str = "") -> str:
        return f"{req.endpoint}/{req.bucket}/{key}"

    @staticmethod
    def _object_headers(meta: ObjectMeta) -> dict[str, str]:
        headers = {
            "ETag": f'"{meta.etag}"',
            "x-oss-hash-crc64ecma": str(meta.crc64),
            "Last-Modified": xmlresp.http_date(meta.last_modified),
            "Content-Type": meta.content_type,
            "x-oss-object-type": meta.object_type,
            "x-oss-storage-class": "Standard",
            "Accept-Ranges": "bytes",
        }
        if meta.content_md5:
            headers["Content-MD5"] = meta.content_md5
        for name, value in meta.headers.items():
            headers[name.title()] = value
        for name, value in meta.user_meta.items():
            headers[name] = value
        return headers

    @staticmethod
    def _content_type(req: Request, key: str) -> str:
        given = req.headers.get("content-type")
        if given:
            return given
        guessed, _ = mimetypes.guess_type(key)
        return guessed or "application/octet-stream"

    @staticmethod
    def _meta_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        user = {k: v for k, v in headers.items() if k.startswith("x-oss-meta-")}
        stored = {k: v for k, v in headers.items() if k in _STORED_HEADERS}
        return user, stored

    @staticmethod
    def _callback_params(req: Request) -> tuple[CallbackParams | None, dict[str, str]]:
        """Callback parameters from ``x-oss-callback[-var]`` headers or ``callback[-var]`` query parameters."""
        p = req.params
        raw = req.headers.get("x-oss-callback") or p.get("callback")
        raw_var = req.headers.get("x-oss-callback-var") or p.get("callback-var")
        if not raw:
            return None, {}
        try:
            params = CallbackParams.from_base64(raw.strip())
            custom = decode_callback_var(raw_var.strip()) if raw_var else {}
        except CallbackParamError as exc:
            raise _callback_param_error(exc) from None
        return params, custom

    @staticmethod
    def _expected_md5(req: Request) -> bytes | None:
        value = req.headers.get("content-md5")
        if value is None:
            return None
        try:
            digest = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise xmlresp.invalid_digest(value) from None
        if len(digest) != 16:
            raise xmlresp.invalid_digest(value)
        return digest

    def _stage_body(self, req: Request, limit: int) -> StagedFile:
        if req.body.length is not None and req.body.length > limit:
            raise OSSError(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.", ec="0026-00000013"
            )
        stager = self.store.stager()
        try:
            while chunk := req.body.read(1024 * 1024):
                stager.write(chunk)
                if stager.size > limit:
                    raise OSSError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
            return stager.finish()
        except BaseException:
            stager.discard()
            raise

    def _finish_upload(
        self,
        req: Request,
        meta: ObjectMeta,
        callback: CallbackParams | None,
        custom: Mapping[str, str],
        operation: str,
        ok: Callable[[], Response],
    ) -> Response:
        """The answer to a finished upload: ``ok()``, or the callback's outcome if a callback was asked for."""
        if callback is None:
            return ok()
        image = None
        if needs_image_info(callback):
            image = image_info(self.store.object_path(req.bucket, meta))
        facts = UploadFacts(
            bucket=req.bucket,
            key=meta.key,
            etag=meta.etag,
            size=meta.size,
            mime_type=meta.content_type,
            crc64=meta.crc64,
            content_md5=meta.content_md5 if operation != "CompleteMultipartUpload" else "",
            client_ip=req.client_ip,
            request_id=req.request_id,
            operation=operation,
            image=image,
        )
        result = self.sender.send(callback, variables(facts, custom))
        headers = {"ETag": f'"{meta.etag}"', "x-oss-hash-crc64ecma": str(meta.crc64)}
        if result.ok:
            headers["Content-Type"] = "application/json"
            return Response(200, headers, result.body)
        # Only the "not valid json" case has a documented EC (0007-00000205); the others are sent without one.
        ec = "0007-00000205" if result.message == MSG_NOT_JSON else ""
        err = OSSError(203, "CallbackFailed", result.message, ec=ec)
        headers["Content-Type"] = "application/xml"
        if err.ec:
            headers["x-oss-ec"] = err.ec
        return Response(203, headers, xmlresp.error_xml(err, req.request_id, req.host))

    # --- service & buckets ---------------------------------------------------------------------------------------

    def list_buckets(self, req: Request) -> Response:
        body = xmlresp.list_buckets_xml(
            self.store.list_buckets(), owner=OWNER_ID, region=self.region, endpoint_host=req.host
        )
        return Response(200, {"Content-Type": "application/xml"}, body)

    def create_bucket(self, req: Request) -> Response:
        name = req.bucket
        if not _valid_bucket_name(name):
            raise OSSError(400, "InvalidBucketName", "The specified bucket is not valid.", extra={"BucketName": name})
        req.body.read_all(64 * 1024)  # CreateBucketConfiguration: storage class etc., not needed locally
        self.store.create_bucket(name)
        return Response(200, {"Location": f"/{name}"})

    def delete_bucket(self, req: Request) -> Response:
        if not self.store.bucket_is_empty(req.bucket) or self.store.list_uploads(req.bucket):
            raise OSSError(
                409,
                "BucketNotEmpty",
                "The bucket you tried to delete is not empty.",
                extra={"BucketName": req.bucket},
            )
        self.store.delete_bucket(req.bucket)
        return Response(204)

    # --- listing -------------------------------------------------------------------------------------------------

    @staticmethod
    def _max_keys(req: Request, name: str = "max-keys", default: int = 100) -> int:
        raw = req.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise xmlresp.invalid_argument(f"Argument {name} must be an integer.", name, raw) from None
        if not 0 <= value <= 1000:
            raise xmlresp.invalid_argument(f"Argument {name} must be between 0 and 1000.", name, raw)
        return value

    @staticmethod
    def _encoding(req: Request) -> bool:
        enc = req.params.get("encoding-type")
        if enc not in (None, "", "url"):
            raise xmlresp.invalid_argument("The encoding-type must be url.", "encoding-type", enc or "")
        return enc == "url"

    def _walk(self, bucket: str, prefix: str, after: str, delimiter: str, max_keys: int) -> xmlresp.Listing:
        listing = xmlresp.Listing()
        count = 0
        for meta in self.store.sorted_objects(bucket):
            key = meta.key
            if key <= after or not key.startswith(prefix):
                continue
            common = None
            if delimiter:
                idx = key.find(delimiter, len(prefix))
                if idx >= 0:
                    common = key[: idx + len(delimiter)]
            if common is not None:
                if common <= after or (listing.prefixes and listing.prefixes[-1] == common):
                    continue
            if count >= max_keys:
                listing.truncated = True
                break
            if common is not None:
                listing.prefixes.append(common)
                listing.next_marker = common
            else:
                listing.entries.append(
                    xmlresp.ListEntry(key, meta.last_modified, meta.etag, meta.object_type, meta.size)
                )
                listing.next_marker = key
            count += 1
        return listing

    def list_objects(self, req: Request) -> Response:
        p = req.params
        prefix, marker, delimiter = p.get("prefix", ""), p.get("marker", ""), p.get("delimiter", "")
        max_keys = self._max_keys(req)
        url = self._encoding(req)
        listing = self._walk(req.bucket, prefix, marker, delimiter, max_keys)
        body = xmlresp.list_objects_xml(
            req.bucket,
            listing,
            prefix=prefix,
            marker=marker,
            delimiter=delimiter,
            max_keys=max_keys,
            url=url,
            owner=OWNER_ID,
        )
        return Response(200, {"Content-Type": "application/xml"}, body)

    def list_objects_v2(self, req: Request) -> Response:
        p = req.params
        prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
        start_after = p.get("start-after", "")
        token = p.get("continuation-token", "")
        after = start_after
        if token:
            try:
                after = max(after, base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8"))
            except (binascii.Error, ValueError, UnicodeError):
                raise xmlresp.invalid_argument(
                    "The continuation token is invalid.", "continuation-token", token
                ) from None
        max_keys = self._max_keys(req)
        url = self._encoding(req)
        listing = self._walk(req.bucket, prefix, after, delimiter, max_keys)
        next_token = base64.urlsafe_b64encode(listing.next_marker.encode("utf-8")).decode("ascii")
        body = xmlresp.list_objects_v2_xml(
            req.bucket,
            listing,
            prefix=prefix,
            start_after=start_after,
            continuation_token=token,
            next_token=next_token,
            delimiter=delimiter,
            max_keys=max_keys,
            url=url,
            owner=OWNER_ID if p.get("fetch-owner") == "true" else None,
        )
        return Response(200, {"Content-Type": "application/xml"}, body)

    def list_uploads(self, req: Request) -> Response:
        root = ET.Element("ListMultipartUploadsResult")
        url = self._encoding(req)
        prefix = req.params.get("prefix", "")
        for tag, text in (
            ("Bucket", req.bucket),
            ("KeyMarker", ""),
            ("UploadIdMarker", ""),
            ("NextKeyMarker", ""),
            ("NextUploadIdMarker", ""),
            ("Delimiter", ""),
            ("Prefix", prefix),
            ("MaxUploads", "1000"),
            ("IsTruncated", "false"),
        ):
            ET.SubElement(root, tag).text = text
        if url:
            ET.SubElement(root, "EncodingType").text = "url"
        for upload in self.store.list_uploads(req.bucket):
            if not upload.key.startswith(prefix):
                continue
            node = ET.SubElement(root, "Upload")
            ET.SubElement(node, "Key").text = xmlresp.url_encode(upload.key) if url else upload.key
            ET.SubElement(node, "UploadId").text = upload.upload_id
            ET.SubElement(node, "StorageClass").text = "Standard"
            ET.SubElement(node, "Initiated").text = xmlresp.iso8601(upload.initiated)
        return Response(200, {"Content-Type": "application/xml"}, xmlresp.to_bytes(root))

    # --- objects -------------------------------------------------------------------------------------------------

    def put_object(self, req: Request) -> Response:
        callback, custom = self._callback_params(req)
        expected_md5 = self._expected_md5(req)
        if req.headers.get("x-oss-forbid-overwrite", "").lower() == "true" and self.store.get_object(
            req.bucket, req.key
        ):
            raise OSSError(
                409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten."
            )
        staged = self._stage_body(req, MAX_OBJECT_SIZE)
        try:
            if expected_md5 is not None and expected_md5 != staged.md5:
                raise xmlresp.bad_digest(base64.b64encode(expected_md5).decode(), staged.md5_b64)
            user_meta, stored = self._meta_headers(req.headers)
            meta = self.store.put_object(
                req.bucket,
                req.key,
                staged,
                content_type=self._content_type(req, req.key),
                user_meta=user_meta,
                headers=stored,
            )
        finally:
            staged.path.unlink(missing_ok=True)

        def ok() -> Response:
            return Response(
                200,
                {"ETag": f'"{meta.etag}"', "x-oss-hash-crc64ecma": str(meta.crc64), "Content-MD5": meta.content_md5},
            )

        return self._finish_upload(req, meta, callback, custom, "PutObject", ok)

    def get_object(self, req: Request, *, head: bool) -> Response:
        meta = self.store.get_object(req.bucket, req.key)
        if meta is None:
            raise xmlresp.no_such_key(req.key)
        headers = self._object_headers(meta)
        for param, header in _RESPONSE_OVERRIDES.items():
            if param in req.params and not head:
                headers[header] = req.params[param]
        status = self._preconditions(req, meta)
        if status == 304:
            return Response(304, {"ETag": headers["ETag"], "Last-Modified": headers["Last-Modified"]})
        path = self.store.object_path(req.bucket, meta)
        start, end = 0, meta.size - 1
        status = 200
        rng = None if head else _parse_range(req.headers.get("range", ""), meta.size)
        if isinstance(rng, str):  # unsatisfiable
            if req.headers.get("x-oss-range-behavior", "").lower() == "standard":
                raise OSSError(
                    416,
                    "InvalidRange",
                    "The requested range cannot be satisfied",
                    extra={"RangeRequested": req.headers.get("range", ""), "ActualObjectSize": str(meta.size)},
                )
        elif rng is not None:
            start, end = rng
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{meta.size}"
        length = max(end - start + 1, 0)
        headers["Content-Length"] = str(length)
        if head:
            return Response(200, headers)
        return Response(status, headers, file=path, offset=start, length=length)

    @staticmethod
    def _preconditions(req: Request, meta: ObjectMeta) -> int:
        etag = f'"{meta.etag}"'
        if_match = req.headers.get("if-match")
        if if_match is not None and if_match.strip() not in (etag, meta.etag, "*"):
            raise OSSError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.")
        if_none = req.headers.get("if-none-match")
        if if_none is not None and if_none.strip() in (etag, meta.etag, "*"):
            return 304
        return 200

    def delete_object(self, req: Request) -> Response:
        self.store.delete_object(req.bucket, req.key)
        return Response(204)

    def delete_objects(self, req: Request) -> Response:
        raw = req.body.read_all(MAX_COMPLETE_XML)
        expected = self._expected_md5(req)
        if expected is not None and hashlib.md5(raw).digest() != expected:  # noqa: S324 - protocol MD5
            raise xmlresp.bad_digest(base64.b64encode(expected).decode(), "")
        url = self._encoding(req)
        try:
            root = ET.fromstring(raw)  # noqa: S314 - size-capped; expat >= 2.4 bounds entity expansion
        except ET.ParseError:
            raise xmlresp.malformed_xml() from None
        if root.tag != "Delete":
            raise xmlresp.malformed_xml()
        quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
        keys = []
        for node in root.findall("Object"):
            key = node.findtext("Key")
            if key is None:
                raise xmlresp.malformed_xml()
            if url:
                key = unquote(key)
            keys.append(key)
        if len(keys) > 1000:
            raise xmlresp.malformed_xml()
        for key in keys:
            self.store.delete_object(req.bucket, key)
        body = xmlresp.delete_result_xml(keys, quiet=quiet, url=url)
        return Response(200, {"Content-Type": "application/xml"}, body)

    # --- multipart -----------------------------------------------------------------------------------------------

    def _upload(self, req: Request) -> Any:
        upload_id = req.params.get("uploadId", "")
        upload = self.store.get_upload(req.bucket, upload_id)
        if upload is None or upload.key != req.key:
            raise xmlresp.no_such_upload(upload_id)
        return upload

    def initiate_upload(self, req: Request) -> Response:
        user_meta, stored = self._meta_headers(req.headers)
        upload = self.store.init_upload(
            req.bucket, req.key, content_type=self._content_type(req, req.key), user_meta=user_meta, headers=stored
        )
        body = xmlresp.initiate_xml(req.bucket, req.key, upload.upload_id, url=self._encoding(req))
        return Response(200, {"Content-Type": "application/xml"}, body)

    def upload_part(self, req: Request) -> Response:
        upload = self._upload(req)
        raw = req.params.get("partNumber", "")
        try:
            number = int(raw)
        except ValueError:
            number = -1
        if not 1 <= number <= MAX_PART_NUMBER:
            raise xmlresp.invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive.", "partNumber", raw, ec="0017-00000220"
            )
        expected_md5 = self._expected_md5(req)
        staged = self._stage_body(req, MAX_OBJECT_SIZE)
        try:
            if expected_md5 is not None and expected_md5 != staged.md5:
                raise xmlresp.bad_digest(base64.b64encode(expected_md5).decode(), staged.md5_b64)
            try:
                part = self.store.put_part(req.bucket, upload.upload_id, number, staged)
            except FileNotFoundError:  # completed or aborted while this part was arriving
                raise xmlresp.no_such_upload(upload.upload_id) from None
        finally:
            staged.path.unlink(missing_ok=True)
        return Response(
            200,
            {"ETag": f'"{part.etag}"', "x-oss-hash-crc64ecma": str(part.crc64), "Content-MD5": staged.md5_b64},
        )

    def list_parts(self, req: Request) -> Response:
        upload = self._upload(req)
        max_parts = self._max_keys(req, "max-parts", 1000)
        raw_marker = req.params.get("part-number-marker", "") or "0"
        try:
            marker = int(raw_marker)
        except ValueError:
            raise xmlresp.invalid_argument("Invalid part-number-marker.", "part-number-marker", raw_marker) from None
        parts = [p for p in self.store.list_parts(req.bucket, upload.upload_id) if p.number > marker]
        truncated = len(parts) > max_parts
        rows = [xmlresp.PartRow(p.number, p.last_modified, p.etag, p.crc64, p.size) for p in parts[:max_parts]]
        body = xmlresp.list_parts_xml(
            req.bucket,
            req.key,
            upload.upload_id,
            rows,
            marker=marker,
            max_parts=max_parts,
            truncated=truncated,
            url=self._encoding(req),
        )
        return Response(200, {"Content-Type": "application/xml"}, body)

    def abort_upload(self, req: Request) -> Response:
        upload = self._upload(req)
        self.store.drop_upload(req.bucket, upload.upload_id)
        return Response(204)

    def _requested_parts(self, req: Request, upload_id: str) -> list[PartMeta]:
        stored = {p.number: p for p in self.store.list_parts(req.bucket, upload_id)}
        raw = req.body.read_all(MAX_COMPLETE_XML)
        if req.headers.get("x-oss-complete-all", "").lower() == "yes":
            if raw.strip():
                raise xmlresp.invalid_argument(
                    "Should not specify both complete-all header and body.", "x-oss-complete-all", "yes"
                )
            if not stored:
                raise xmlresp.invalid_argument("The upload has no parts.", "x-oss-complete-all", "yes")
            chosen = [stored[n] for n in sorted(stored)]
        else:
            chosen = []
            try:
                root = ET.fromstring(raw)  # noqa: S314 - size-capped; expat >= 2.4 bounds entity expansion
            except ET.ParseError:
                raise xmlresp.malformed_xml() from None
            nodes = root.findall("Part")
            if root.tag != "CompleteMultipartUpload" or not nodes:
                raise xmlresp.malformed_xml()
            last = 0
            for node in nodes:
                number_text, etag_text = node.findtext("PartNumber"), node.findtext("ETag")
                if number_text is None or etag_text is None:
                    raise xmlresp.malformed_xml()
                try:
                    number = int(number_text.strip())
                except ValueError:
                    raise xmlresp.malformed_xml() from None
                if number <= last:
                    raise OSSError(
                        400,
                        "InvalidPartOrder",
                        "The list of parts was not in ascending order. Parts list must specified in order by part "
                        "number.",
                        ec="0042-00000209",
                    )
                last = number
                etag = etag_text.strip().strip('"').upper()
                part = stored.get(number)
                if part is None or part.etag != etag:
                    raise OSSError(
                        400,
                        "InvalidPart",
                        "One or more of the specified parts could not be found or the specified entity tag might "
                        "not have matched the part's entity tag.",
                        extra={"ETag": etag_text.strip(), "PartNumber": str(number), "UploadId": upload_id},
                    )
                chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART_SIZE:
                raise OSSError(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size.",
                    extra={
                        "MinSizeAllowed": str(MIN_PART_SIZE),
                        "ProposedSize": str(part.size),
                        "PartNumber": str(part.number),
                    },
                )
        return chosen

    def complete_upload(self, req: Request) -> Response:
        upload = self._upload(req)
        callback, custom = self._callback_params(req)
        parts = self._requested_parts(req, upload.upload_id)
        try:
            staged = self.store.assemble(req.bucket, upload.upload_id, parts)
        except FileNotFoundError:  # a concurrent complete or abort won
            raise xmlresp.no_such_upload(upload.upload_id) from None
        try:
            md5s = b"".join(bytes.fromhex(p.md5_hex) for p in parts)
            etag = hashlib.md5(md5s).hexdigest().upper() + f"-{len(parts)}"  # noqa: S324 - OSS's multipart ETag
            meta = self.store.put_object(
                req.bucket,
                req.key,
                staged,
                content_type=upload.content_type,
                user_meta=upload.user_meta,
                headers=upload.headers,
                object_type="Multipart",
                etag=etag,
                content_md5="",
            )
        finally:
            staged.path.unlink(missing_ok=True)
        self.store.drop_upload(req.bucket, upload.upload_id)
        url = self._encoding(req)

        def ok() -> Response:
            body = xmlresp.complete_xml(self._location(req, req.key), req.bucket, req.key, meta.etag, url=url)
            return Response(
                200,
                {"Content-Type": "application/xml", "ETag": f'"{meta.etag}"', "x-oss-hash-crc64ecma": str(meta.crc64)},
                body,
            )

        return self._finish_upload(req, meta, callback, custom, "CompleteMultipartUpload", ok)

    # --- PostObject ----------------------------------------------------------------------------------------------

    def post_object(self, req: Request) -> Response:
        form = parse_form(req.body.read, req.headers.get("content-type", ""), self.store.stager)
        staged = form.staged
        try:
            return self._post_object(req, form, staged)
        finally:
            if staged is not None:
                staged.path.unlink(missing_ok=True)

    def _post_object(self, req: Request, form: PostForm, staged: StagedFile | None) -> Response:
        fields = form.fields
        if staged is None:
            raise xmlresp.invalid_argument("The file form field is missing.", "file", "")
        cred_fields = ("ossaccesskeyid", "x-oss-credential")
        if not any(f in fields for f in cred_fields):
            raise xmlresp.access_denied("You have no right to access this object because of bucket acl.")
        if "policy" not in fields:
            raise xmlresp.invalid_argument("The policy form field is missing.", "policy", "")
        verify_post_signature(fields, self.credentials)
        key = fields.get("key", "").replace("${filename}", form.filename)
        if not key:
            raise xmlresp.invalid_argument("The key form field is missing or empty.", "key", "")
        self._check_key(key)
        check_policy(decode_policy(fields["policy"]), fields, req.bucket, staged.size)
        callback = None
        custom: dict[str, str] = {}
        if fields.get("callback"):
            try:
                callback = CallbackParams.from_base64(fields["callback"].strip())
                for name, value in form.custom.items():
                    validate_custom_var_key(name)
                    custom[name] = value
            except CallbackParamError as exc:
                raise _callback_param_error(exc) from None
        expected = fields.get("content-md5")
        if expected is not None:
            try:
                digest = base64.b64decode(expected, validate=True)
            except (binascii.Error, ValueError):
                raise xmlresp.invalid_digest(expected) from None
            if digest != staged.md5:
                raise xmlresp.bad_digest(expected, staged.md5_b64)
        content_type = fields.get("content-type") or mimetypes.guess_type(key)[0] or "application/octet-stream"
        user_meta = {k: v for k, v in fields.items() if k.startswith("x-oss-meta-")}
        stored = {k: v for k, v in fields.items() if k in _STORED_HEADERS}
        meta = self.store.put_object(
            req.bucket, key, staged, content_type=content_type, user_meta=user_meta, headers=stored
        )
        status_field = fields.get("success_action_status", "")
        status = int(status_field) if status_field in ("200", "201", "204") else 204

        def ok() -> Response:
            headers = {
                "ETag": f'"{meta.etag}"',
                "x-oss-hash-crc64ecma": str(meta.crc64),
                "Content-MD5": meta.content_md5,
                "Location": self._location(req, key),
            }
            if status == 201:
                headers["Content-Type"] = "application/xml"
                body = xmlresp.post_response_xml(self._location(req, key), req.bucket, key, meta.etag)
                return Response(201, headers, body)
            return Response(status, headers)

        return self._finish_upload(req, meta, callback, custom, "PostObject", ok)


# --- module helpers --------------------------------------------------------------------------------------------------


def _callback_param_error(exc: CallbackParamError) -> OSSError:
    return OSSError(400, exc.code, exc.message, ec=exc.ec)


def _is_form(req: Request) -> bool:
    return req.headers.get("content-type", "").lower().startswith("multipart/form-data")


def _valid_bucket_name(name: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return 3 <= len(name) <= 63 and set(name) <= allowed and name[0] != "-" and name[-1] != "-"


def _parse_range(value: str, size: int) -> tuple[int, int] | str | None:
    """``(start, end)`` for a satisfiable single ``bytes=`` range, ``"unsatisfiable"``, or ``None`` (no range or
    one OSS ignores, e.g. malformed or multi-range: the whole object is returned)."""
    value = value.strip()
    if not value.startswith("bytes="):
        return None
    spec = value[6:].strip()
    if "," in spec or "-" not in spec:
        return None
    first, _, last = spec.partition("-")
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return None
            return (max(size - n, 0), size - 1) if size else "unsatisfiable"
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or (last and end < start):
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)
