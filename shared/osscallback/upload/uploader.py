"""Uploads to OSS with a callback: the upload function's logic, usable from any Python code.

Each action takes a typed :class:`UploadEvent` and returns an :class:`UploadResult`; a failed *callback* is not a
failed *upload* (OSS answers 203 ``CallbackFailed`` and keeps the object), so it is reported as
``callback_status="failed"`` with OSS's message, and ``ok`` stays true. Bad events, files outside the allowed
roots and template errors raise :class:`~osscallback.errors.UploadError` (or a ``TemplateError``) before anything
is sent. A multipart upload that fails part-way is aborted, so no orphan parts are left behind.

Actions: ``put`` (inline content), ``put_file``, ``multipart`` (parallel parts, then complete with callback),
``presign_put`` (a presigned PUT URL carrying the callback in its query) and ``post_policy`` (what a browser needs
for a direct PostObject upload with callback, SPEC §5).

The module is the entry point (:class:`Uploader`, :func:`handle_event`); the event, the settings, the results and
the PostObject policy live in their own modules and are re-exported here, where callers import them from.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import oss2
from oss2.models import PartInfo

from osscallback.errors import OssCallbackError, UploadError
from osscallback.logconfig import quiet_client_libraries
from osscallback.upload.event import ACTIONS, UploadEvent
from osscallback.upload.filesettings import (
    DEFAULT_PART_SIZE,
    DEFAULT_THREADS,
    FC_TMP,
    MAX_PARTS,
    MIN_PART_SIZE,
    UploadSettings,
)
from osscallback.upload.postpolicy import PostPolicy, bucket_url, post_policy
from osscallback.upload.results import (
    MultipartAborted,
    UploadResult,
    callback_outcome,
    describe_oss_error,
    error_result,
)
from osscallback.upload.settings import DEFAULT_TEMPLATE, NO_CALLBACK, Credentials, callback_spec, make_bucket
from osscallback.upload.templates import CallbackSpec

__all__ = [
    "ACTIONS", "DEFAULT_PART_SIZE", "DEFAULT_TEMPLATE", "DEFAULT_THREADS", "FC_TMP", "MAX_PARTS", "MIN_PART_SIZE",
    "NO_CALLBACK", "Credentials", "MultipartAborted", "PostPolicy", "Progress", "UploadEvent", "UploadResult",
    "UploadSettings", "Uploader", "bucket_url", "describe_oss_error", "error_result", "handle_event", "make_bucket",
]

log = logging.getLogger("osscallback.upload.uploader")

Progress = Callable[[int, int], None]
#: The longest a V4-signed URL may be valid: ``x-oss-expires`` is 1 to 604800 s, OSS's EC 0002-00000232
#: (https://help.aliyun.com/en/oss/user-guide/0002-00000232); alibabacloud-oss-v2's presigner refuses the same.
MAX_V4_URL_EXPIRES = 7 * 24 * 3600


class Uploader:
    """Runs upload events against one bucket. Thread-safe for concurrent events."""

    def __init__(self, settings: UploadSettings, *, bucket: oss2.Bucket | None = None) -> None:
        self.settings = settings
        quiet_client_libraries()  # oss2 logs each OSS error answer at INFO; the results report them
        self.bucket = bucket or make_bucket(settings)

    # -- callback ------------------------------------------------------------------------------------------
    def callback_spec(self, event: UploadEvent) -> CallbackSpec | None:
        return callback_spec(self.settings, event)

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
        return callback_outcome(result, spec, UploadResult(True, "put", event.key, size=len(data)))

    def _put_file(self, event: UploadEvent, progress: Progress | None) -> UploadResult:
        path = self.checked_path(event.path or "")
        spec = self.callback_spec(event)
        result = self.bucket.put_object_from_file(event.key, str(path), headers=self._headers(event, spec),
                                                  progress_callback=progress)
        return callback_outcome(result, spec, UploadResult(True, "put_file", event.key, size=path.stat().st_size))

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
        return callback_outcome(result, spec, out)

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
        if self.settings.auth_version == "v4" and not 1 <= event.expires <= MAX_V4_URL_EXPIRES:
            raise UploadError(
                f"expires={event.expires}: a V4-signed URL is valid for 1 s to 7 days ({MAX_V4_URL_EXPIRES} s) at "
                "most; OSS refuses longer (EC 0002-00000232)."
            )
        spec = self.callback_spec(event)
        params = spec.query_params() if spec else {}
        headers = {"Content-Type": event.content_type} if event.content_type else None
        url = self.bucket.sign_url("PUT", event.key, event.expires, headers=headers, params=params)
        details = {"url": url, "method": "PUT", "expires": int(time.time()) + event.expires,
                   "headers": headers or {}}
        details["callback_configured"] = spec is not None
        return UploadResult(True, "presign_put", event.key, details=details)

    def _post_policy(self, event: UploadEvent, progress: Progress | None) -> UploadResult:
        return post_policy(self.settings, event)


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
