"""Uploads to OSS with a callback: the upload function's logic, usable from any Python code.

Each action takes a typed :class:`UploadEvent` and returns an :class:`UploadResult`; a failed *callback* is not a
failed *upload* (OSS answers 203 ``CallbackFailed`` and keeps the object), so it is reported as
``callback_status="failed"`` with OSS's message, and ``ok`` stays true. Bad events, files outside the allowed
roots and template errors raise :class:`~osscallback.errors.UploadError` (or a ``TemplateError``) before anything
is sent. A multipart upload that fails part-way is aborted, so no orphan parts are left behind.

Actions: ``put`` (inline content), ``put_file``, ``multipart`` (parallel parts, then complete with callback),
``presign_put`` (a presigned PUT URL carrying the callback in its query) and ``post_policy`` (what a browser needs
for a direct PostObject upload with callback, SPEC §5).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import oss2
from oss2.models import PartInfo

from osscallback.errors import OssCallbackError, UploadError
from osscallback.upload.templates import CallbackSpec, TemplateLibrary, build_callback

log = logging.getLogger("osscallback.upload.uploader")

ACTIONS = ("put", "put_file", "multipart", "presign_put", "post_policy")
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 100 * 1024  # OSS's minimum for every part but the last
MAX_PARTS = 10_000
DEFAULT_THREADS = 4
DEFAULT_TEMPLATE = "form-basic"
NO_CALLBACK = ("", "none")
#: FC's only writable directory, where a function stages files to upload.
FC_TMP = "/tmp"  # noqa: S108

Progress = Callable[[int, int], None]


class MultipartAborted(UploadError):
    """A multipart upload failed part-way and was aborted: no parts are left behind."""

    def __init__(self, key: str, upload_id: str, cause: BaseException) -> None:
        detail = f"{cause.__class__.__name__}: {cause}"[:300]
        super().__init__(f"multipart upload {upload_id} of {key!r} failed and was aborted: {detail}")
        self.key = key
        self.upload_id = upload_id
        self.cause = cause


# --------------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None


@dataclass(frozen=True)
class UploadSettings:
    """Where and as whom to upload: from the FC context and environment, with event overrides."""

    endpoint: str
    bucket: str
    credentials: Credentials
    auth_version: str = "v1"
    region: str | None = None
    part_size: int = DEFAULT_PART_SIZE
    threads: int = DEFAULT_THREADS
    allowed_roots: tuple[str, ...] = (FC_TMP,)
    base_dir: str = "."
    callback_url: str | None = None
    default_template: str = DEFAULT_TEMPLATE
    template_dir: str | None = None

    @classmethod
    def resolve(
        cls,
        event: UploadEvent,
        context: Any = None,
        env: Mapping[str, str] | None = None,
        base_dir: str | None = None,
    ) -> UploadSettings:
        """``base_dir`` is the function's code directory: relative paths resolve there, and it is an allowed root."""
        env = os.environ if env is None else env
        base = os.path.abspath(base_dir or os.getcwd())
        creds = _credentials(context, env)
        endpoint = event.endpoint or env.get("OSS_ENDPOINT", "")
        bucket = event.bucket or env.get("OSS_BUCKET", "")
        if not endpoint:
            raise UploadError("No OSS endpoint: set OSS_ENDPOINT or give 'endpoint' in the event.")
        if not bucket:
            raise UploadError("No bucket: set OSS_BUCKET or give 'bucket' in the event.")
        if "://" not in endpoint:
            endpoint = "https://" + endpoint
        roots_env = env.get("UPLOAD_ALLOWED_ROOTS", "")
        roots = tuple(r for r in roots_env.split(os.pathsep) if r) if roots_env else (FC_TMP, base)
        return cls(
            endpoint=endpoint,
            bucket=bucket,
            credentials=creds,
            auth_version=(event.auth_version or env.get("OSS_AUTH_VERSION", "v1")).lower(),
            region=event.region or env.get("OSS_REGION") or getattr(context, "region", None) or None,
            part_size=event.part_size or _env_int(env, "UPLOAD_PART_SIZE", DEFAULT_PART_SIZE),
            threads=event.threads or _env_int(env, "UPLOAD_THREADS", DEFAULT_THREADS),
            allowed_roots=roots,
            base_dir=base,
            callback_url=env.get("CALLBACK_URL") or None,
            default_template=env.get("CALLBACK_TEMPLATE") or DEFAULT_TEMPLATE,
            template_dir=env.get("CALLBACK_TEMPLATE_DIR") or None,
        )


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise UploadError(f"{name}={raw!r} is not an integer.") from None


def _credentials(context: Any, env: Mapping[str, str]) -> Credentials:
    """FC's temporary STS credentials from the context when running on FC, else the environment."""
    creds = getattr(context, "credentials", None)
    key_id = getattr(creds, "access_key_id", None) or getattr(creds, "accessKeyId", None)
    if key_id:
        return Credentials(
            str(key_id),
            str(getattr(creds, "access_key_secret", None) or getattr(creds, "accessKeySecret", "")),
            getattr(creds, "security_token", None) or getattr(creds, "securityToken", None) or None,
        )
    key_id = env.get("OSS_ACCESS_KEY_ID", "")
    secret = env.get("OSS_ACCESS_KEY_SECRET", "")
    if not key_id or not secret:
        raise UploadError(
            "No credentials: run on FC with a service role, or set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET."
        )
    return Credentials(key_id, secret, env.get("OSS_SESSION_TOKEN") or None)


def make_bucket(settings: UploadSettings) -> oss2.Bucket:
    c = settings.credentials
    auth: Any
    if settings.auth_version == "v4":
        provider = oss2.credentials.StaticCredentialsProvider(c.access_key_id, c.access_key_secret, c.security_token)
        auth = oss2.ProviderAuthV4(provider)
        if not settings.region:
            raise UploadError("V4 signing needs a region: set OSS_REGION or give 'region' in the event.")
    elif c.security_token:
        auth = oss2.StsAuth(c.access_key_id, c.access_key_secret, c.security_token)
    else:
        auth = oss2.Auth(c.access_key_id, c.access_key_secret)
    return oss2.Bucket(auth, settings.endpoint, settings.bucket, region=settings.region)


# --------------------------------------------------------------------------------------------------- event
@dataclass(frozen=True)
class UploadEvent:
    """The upload function's event (JSON). Names match the event contract in docs/FUNCTIONS.md."""

    action: str
    key: str = ""
    content: str | None = None
    content_base64: str | None = None
    path: str | None = None
    template: str | None = None
    template_vars: dict[str, Any] = field(default_factory=dict)
    custom_vars: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    part_size: int | None = None
    threads: int | None = None
    expires: int = 3600
    key_prefix: str | None = None
    min_size: int = 0
    max_size: int = 1 << 30
    success_action_status: str = "200"
    auth_version: str | None = None
    endpoint: str | None = None
    bucket: str | None = None
    region: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> UploadEvent:
        """Accept FC's ``bytes`` event, a JSON string or a dict; raise :class:`UploadError` if unusable."""
        if isinstance(raw, (bytes, bytearray)):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise UploadError("The event is not UTF-8 JSON.") from None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise UploadError("The event is not valid JSON.") from None
        if not isinstance(raw, dict):
            raise UploadError("The event must be a JSON object.")
        action = raw.get("action")
        if action not in ACTIONS:
            raise UploadError(f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}.")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise UploadError(f"Unknown event field(s): {', '.join(unknown)}.")
        for name in ("template_vars", "custom_vars"):
            if name in raw and not isinstance(raw[name], dict):
                raise UploadError(f"'{name}' must be a JSON object.")
        for name in ("part_size", "threads", "expires", "min_size", "max_size"):
            if name in raw and (not isinstance(raw[name], int) or isinstance(raw[name], bool) or raw[name] < 0):
                raise UploadError(f"'{name}' must be a non-negative integer.")
        for name in ("key", "content", "content_base64", "path", "template", "content_type", "key_prefix",
                     "auth_version", "endpoint", "bucket", "region"):
            if name in raw and raw[name] is not None and not isinstance(raw[name], str):
                raise UploadError(f"'{name}' must be a string.")
        if "success_action_status" in raw:
            raw = {**raw, "success_action_status": str(raw["success_action_status"])}
        event = cls(**raw)
        if action in ("put", "put_file", "multipart", "presign_put") and not event.key:
            raise UploadError(f"Action {action!r} needs 'key' (the object name).")
        if action == "put" and (event.content is None) == (event.content_base64 is None):
            raise UploadError("Action 'put' needs exactly one of 'content' or 'content_base64'.")
        if action in ("put_file", "multipart") and not event.path:
            raise UploadError(f"Action {action!r} needs 'path' (a file under an allowed root).")
        return event


# --------------------------------------------------------------------------------------------------- result
@dataclass
class UploadResult:
    ok: bool
    action: str
    key: str | None = None
    request_id: str | None = None
    etag: str | None = None
    crc64: str | None = None
    callback_status: str = "none"  # "ok" | "failed" | "none"
    callback: Any = None
    callback_error: dict[str, Any] | None = None
    size: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        details = data.pop("details")
        if data["callback_error"] is None:
            del data["callback_error"]
        data.update(details)
        return data


def _connection_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words, from the exception chain oss2 -> requests -> urllib3 -> socket."""
    import socket
    import ssl

    seen: set[int] = set()
    pending: list[Any] = [exc]
    found: list[BaseException] = []
    while pending:  # every exception reachable through causes, contexts, urllib3's .reason and args
        item = pending.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        pending += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    names = {type(e).__name__ for e in found}
    for e in reversed(found):  # the innermost cause says it best
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror) or "NameResolutionError" in names:
            return "host name not found"
        if isinstance(e, ssl.SSLError):
            return f"TLS failed: {e.reason or e}"
        if isinstance(e, ConnectionResetError):
            return "connection reset"
        if isinstance(e, TimeoutError) or type(e).__name__ in ("ConnectTimeout", "ReadTimeout", "ConnectTimeoutError"):
            return "timed out"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror[:1].lower() + e.strerror[1:]
    return type(found[-1]).__name__ if found else "unknown error"


def describe_oss_error(exc: oss2.exceptions.OssError, endpoint: str | None = None, bucket: str | None = None) -> str:
    """One readable sentence for an oss2 error: what happened and what to check.

    OSS's own errors carry a code and a message. oss2's client-side ones carry neither, only a body such as
    ``RequestError: HTTPConnectionPool(...)`` (formatted as is, they read ``OSS -2 : ``): a connection that failed
    names the endpoint and why, an invalid bucket name names the name and the rule.
    """
    if isinstance(exc, oss2.exceptions.RequestError):
        where = endpoint or "(endpoint not set)"
        return f"cannot connect to OSS endpoint {where} ({_connection_reason(exc.exception)})"
    if isinstance(exc, oss2.exceptions.ClientError):
        text = str(exc.body or "")
        text = text[len("ClientError: "):] if text.startswith("ClientError: ") else text
        if "bucket_name is invalid" in text or "Bucket name should not be null" in text:
            return f"bucket name {bucket or ''!r} is invalid (3 to 63 lowercase letters, digits or -)"
        return f"OSS client error: {text}" if text else "OSS client error"
    return f"OSS {exc.status} {exc.code}: {exc.message}"


def error_result(action: str | None, exc: BaseException, settings: UploadSettings | None = None) -> dict[str, Any]:
    """The structured result of a refused or failed event (never a traceback), with the usual result keys.

    ``settings`` (when the event got that far) lets an oss2 client-side error name the endpoint or bucket."""
    result: dict[str, Any] = {"ok": False, "action": action, "request_id": None, "etag": None, "crc64": None,
                              "callback_status": "none", "callback": None}
    if isinstance(exc, oss2.exceptions.OssError):
        result.update(error=exc.code or exc.__class__.__name__, request_id=exc.request_id or None,
                      message=describe_oss_error(exc, settings.endpoint if settings else None,
                                                 settings.bucket if settings else None))
    else:
        result.update(error=exc.__class__.__name__, message=str(exc))
    return result


def _parse_oss_error(body: bytes) -> dict[str, Any]:
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - OSS's own error document over our connection
    except ElementTree.ParseError:
        return {"Code": "CallbackFailed", "Message": body[:500].decode("utf-8", "replace")}
    return {child.tag: (child.text or "") for child in root}


def _callback_outcome(result: Any, spec: CallbackSpec | None, out: UploadResult) -> UploadResult:
    """Fill the callback fields from an upload's response: 200 carries the callback's JSON, 203 OSS's error."""
    out.request_id = result.request_id
    out.etag = result.etag
    out.crc64 = None if result.crc is None else str(result.crc)
    if spec is None:
        out.callback_status = "none"
        return out
    body = result.resp.read()
    if result.status == 203:
        error = _parse_oss_error(body)
        out.callback_status = "failed"
        out.callback_error = {
            "code": error.get("Code", "CallbackFailed"),
            "message": error.get("Message", ""),
            "request_id": error.get("RequestId") or result.request_id,
        }
        log.warning(json.dumps({"event": "callback_failed", "key": out.key, **out.callback_error}))
        return out
    out.callback_status = "ok"
    try:
        out.callback = json.loads(body) if body else None
    except ValueError:
        out.callback = body.decode("utf-8", "replace")
    return out


# --------------------------------------------------------------------------------------------------- uploader
class Uploader:
    """Runs upload events against one bucket. Thread-safe for concurrent events."""

    def __init__(self, settings: UploadSettings, *, bucket: oss2.Bucket | None = None) -> None:
        self.settings = settings
        self.bucket = bucket or make_bucket(settings)

    # -- callback ------------------------------------------------------------------------------------------
    def callback_spec(self, event: UploadEvent) -> CallbackSpec | None:
        name = event.template if event.template is not None else self.settings.default_template
        if name.lower() in NO_CALLBACK:
            return None
        variables = dict(event.template_vars)
        if "callback_url" not in variables:
            if not self.settings.callback_url:
                raise UploadError(
                    "No callback URL: give template_vars.callback_url, set CALLBACK_URL, or use template 'none'."
                )
            variables["callback_url"] = self.settings.callback_url
        library = TemplateLibrary(self.settings.template_dir) if self.settings.template_dir else None
        return build_callback(name, variables, event.custom_vars or None, library=library)

    # -- paths ---------------------------------------------------------------------------------------------
    def checked_path(self, path: str) -> Path:
        """Resolve ``path`` and refuse anything outside the allowed roots (symlinks and ``..`` resolved)."""
        real = Path(os.path.realpath(os.path.join(self.settings.base_dir, path)))
        for root in self.settings.allowed_roots:
            root_real = os.path.realpath(root)
            if os.path.commonpath([root_real, str(real)]) == root_real:
                if not real.is_file():
                    raise UploadError(f"{path!r} is not a readable file.")
                return real
        raise UploadError(
            f"{path!r} is outside the allowed roots ({', '.join(self.settings.allowed_roots)}): "
            "set UPLOAD_ALLOWED_ROOTS to allow another directory."
        )

    # -- actions -------------------------------------------------------------------------------------------
    def run(self, event: UploadEvent, progress: Progress | None = None) -> UploadResult:
        handler = getattr(self, f"_{event.action}")
        result: UploadResult = handler(event, progress)
        return result

    def _headers(self, event: UploadEvent, spec: CallbackSpec | None) -> dict[str, str]:
        headers = dict(spec.headers()) if spec else {}
        if event.content_type:
            headers["Content-Type"] = event.content_type
        return headers

    def _put(self, event: UploadEvent, progress: Progress | None) -> UploadResult:
        if event.content_base64 is not None:
            try:
                data = base64.b64decode(event.content_base64, validate=True)
            except (binascii.Error, ValueError):
                raise UploadError("'content_base64' is not valid base64.") from None
        else:
            data = (event.content or "").encode("utf-8")
        spec = self.callback_spec(event)
        result = self.bucket.put_object(event.key, data, headers=self._headers(event, spec),
                                        progress_callback=progress)
        return _callback_outcome(result, spec, UploadResult(True, "put", event.key, size=len(data)))

    def _put_file(self, event: UploadEvent, progress: Progress | None) -> UploadResult:
        path = self.checked_path(event.path or "")
        spec = self.callback_spec(event)
        result = self.bucket.put_object_from_file(event.key, str(path), headers=self._headers(event, spec),
                                                  progress_callback=progress)
        return _callback_outcome(result, spec, UploadResult(True, "put_file", event.key, size=path.stat().st_size))

    def _multipart(self, event: UploadEvent, progress: Progress | None) -> UploadResult:
        path = self.checked_path(event.path or "")
        spec = self.callback_spec(event)
        size = path.stat().st_size
        part_size = oss2.determine_part_size(size, preferred_size=max(self.settings.part_size, MIN_PART_SIZE))
        count = max(1, -(-size // part_size))
        if count > MAX_PARTS:
            raise UploadError(f"{count} parts exceed OSS's {MAX_PARTS}: raise part_size.")
        threads = max(1, min(self.settings.threads, count, 64))
        headers = {"Content-Type": event.content_type} if event.content_type else None
        upload_id = self.bucket.init_multipart_upload(event.key, headers=headers).upload_id
        log.info(json.dumps({"event": "multipart_start", "key": event.key, "upload_id": upload_id, "size": size,
                             "parts": count, "part_size": part_size, "threads": threads}))
        done = [0]
        lock = threading.Lock()

        def upload_one(number: int) -> PartInfo:
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            with open(path, "rb") as f:
                f.seek(offset)
                result = self.bucket.upload_part(event.key, upload_id, number, oss2.utils.SizedFileAdapter(f, length))
            with lock:
                done[0] += length
                if progress:
                    progress(done[0], size)
                log.info(json.dumps({"event": "multipart_part", "key": event.key, "part": number, "of": count,
                                     "bytes_done": done[0], "size": size}))
            return PartInfo(number, result.etag, size=length, part_crc=result.crc)

        try:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="part") as pool:
                parts = list(pool.map(upload_one, range(1, count + 1)))
            result = self.bucket.complete_multipart_upload(event.key, upload_id, parts,
                                                           headers=spec.headers() if spec else None)
        except BaseException as exc:
            self._abort(event.key, upload_id, exc)
            if isinstance(exc, Exception):
                raise MultipartAborted(event.key, upload_id, exc) from exc
            raise
        out = UploadResult(True, "multipart", event.key, size=size,
                           details={"upload_id": upload_id, "parts": count, "part_size": part_size})
        return _callback_outcome(result, spec, out)

    def _abort(self, key: str, upload_id: str, cause: BaseException) -> None:
        """Abort a failed multipart upload so no parts are left behind (retried: the failure may be flaky)."""
        for attempt in range(3):
            try:
                self.bucket.abort_multipart_upload(key, upload_id)
                log.warning(json.dumps({"event": "multipart_aborted", "key": key, "upload_id": upload_id,
                                        "cause": repr(cause)[:300]}))
                return
            except oss2.exceptions.NoSuchUpload:
                return
            except (oss2.exceptions.OssError, OSError) as exc:
                log.error(json.dumps({"event": "multipart_abort_failed", "key": key, "upload_id": upload_id,
                                      "attempt": attempt + 1, "error": repr(exc)[:300]}))
                time.sleep(0.2 * (attempt + 1))

    def _presign_put(self, event: UploadEvent, progress: Progress | None) -> UploadResult:
        spec = self.callback_spec(event)
        params = spec.query_params() if spec else {}
        headers = {"Content-Type": event.content_type} if event.content_type else None
        url = self.bucket.sign_url("PUT", event.key, event.expires, headers=headers, params=params)
        details = {"url": url, "method": "PUT", "expires": int(time.time()) + event.expires,
                   "headers": headers or {}}
        details["callback_configured"] = spec is not None
        return UploadResult(True, "presign_put", event.key, details=details)

    def _post_policy(self, event: UploadEvent, progress: Progress | None) -> UploadResult:
        spec = self.callback_spec(event)
        policy = PostPolicy(
            bucket=self.settings.bucket,
            key_prefix=event.key_prefix if event.key_prefix is not None else (event.key or ""),
            min_size=event.min_size,
            max_size=event.max_size,
            expires=event.expires,
            success_action_status=event.success_action_status,
        )
        form = policy.sign(
            self.settings.credentials,
            version=self.settings.auth_version,
            region=self.settings.region,
            callback=spec,
        )
        details = {"host": bucket_url(self.settings.endpoint, self.settings.bucket), **form,
                   "callback_configured": spec is not None}
        return UploadResult(True, "post_policy", event.key or None, details=details)


# --------------------------------------------------------------------------------------------------- PostObject
def bucket_url(endpoint: str, bucket: str) -> str:
    """The URL a browser posts to: virtual-host style, or path style for IP/localhost endpoints (as oss2 does)."""
    parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
    host = parts.netloc
    if oss2.utils.is_ip_or_localhost(host):
        return f"{parts.scheme}://{host}/{bucket}"
    return f"{parts.scheme}://{bucket}.{host}"


@dataclass(frozen=True)
class PostPolicy:
    """A PostObject policy: where, how big, until when (SPEC §5)."""

    bucket: str
    key_prefix: str = ""
    min_size: int = 0
    max_size: int = 1 << 30
    expires: int = 3600
    success_action_status: str = "200"

    def sign(
        self,
        credentials: Credentials,
        *,
        version: str = "v1",
        region: str | None = None,
        callback: CallbackSpec | None = None,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """The form fields (and summary fields) a browser needs; V1 (HMAC-SHA1) or V4 (OSS4-HMAC-SHA256)."""
        now = now or dt.datetime.now(dt.timezone.utc)
        expire_at = now + dt.timedelta(seconds=self.expires)
        conditions: list[Any] = [
            {"bucket": self.bucket},
            ["starts-with", "$key", self.key_prefix],
            ["content-length-range", self.min_size, self.max_size],
            {"success_action_status": self.success_action_status},
        ]
        fields: dict[str, str] = {"success_action_status": self.success_action_status}
        if credentials.security_token:
            conditions.append({"x-oss-security-token": credentials.security_token})
            fields["x-oss-security-token"] = credentials.security_token
        if callback is not None:
            conditions.append({"callback": callback.callback_b64})
        if version == "v4":
            if not region:
                raise UploadError("V4 signing needs a region: set OSS_REGION or give 'region' in the event.")
            date = now.strftime("%Y%m%d")
            credential = f"{credentials.access_key_id}/{date}/{region}/oss/aliyun_v4_request"
            v4 = {
                "x-oss-signature-version": "OSS4-HMAC-SHA256",
                "x-oss-credential": credential,
                "x-oss-date": now.strftime("%Y%m%dT%H%M%SZ"),
            }
            conditions.extend({k: v} for k, v in v4.items())
            fields.update(v4)
        doc = {"expiration": expire_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "conditions": conditions}
        policy = base64.b64encode(json.dumps(doc).encode("utf-8")).decode("ascii")
        fields["policy"] = policy
        if version == "v4":
            key = ("aliyun_v4" + credentials.access_key_secret).encode("utf-8")
            for part in (now.strftime("%Y%m%d"), region or "", "oss", "aliyun_v4_request"):
                key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
            fields["x-oss-signature"] = hmac.new(key, policy.encode("ascii"), hashlib.sha256).hexdigest()
            signature = fields["x-oss-signature"]
        else:
            signature = base64.b64encode(
                hmac.new(credentials.access_key_secret.encode("utf-8"), policy.encode("ascii"), hashlib.sha1).digest()
            ).decode("ascii")
            fields["OSSAccessKeyId"] = credentials.access_key_id
            fields["signature"] = signature
        if callback is not None:
            fields.update(callback.post_fields())
        return {
            "fields": fields,
            "accessid": credentials.access_key_id,
            "policy": policy,
            "signature": signature,
            "expire": int(expire_at.timestamp()),
            "dir": self.key_prefix,
            "callback": callback.callback_b64 if callback else None,
        }


# --------------------------------------------------------------------------------------------------- entry
def handle_event(
    raw_event: Any,
    context: Any = None,
    env: Mapping[str, str] | None = None,
    *,
    progress: Progress | None = None,
    base_dir: str | None = None,
) -> dict[str, Any]:
    """The upload function's body: parse, run, and always return a JSON-able result (errors included).

    ``base_dir`` is the function's code directory (FC's ``/code``): relative ``path`` values resolve against it.
    """
    action: str | None = None
    settings: UploadSettings | None = None
    started = time.perf_counter()
    try:
        event = UploadEvent.parse(raw_event)
        action = event.action
        settings = UploadSettings.resolve(event, context, env, base_dir)
        result = Uploader(settings).run(event, progress).to_dict()
    except (OssCallbackError, oss2.exceptions.OssError, OSError) as exc:
        result = error_result(action, exc, settings)
        log.error(json.dumps({"event": "upload_error", "action": action, "error": result["error"],
                              "message": result["message"]}, ensure_ascii=False))
        return result
    log.info(json.dumps({"event": "upload_done", "action": action, "key": result.get("key"),
                         "callback_status": result.get("callback_status"),
                         "latency_ms": round((time.perf_counter() - started) * 1000, 1)}, ensure_ascii=False))
    return result
