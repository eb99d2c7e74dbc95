"""The policy endpoint, transport-free: what a browser needs for a V4 PostObject with callback, and the upload page.

Routes (paths relative to the function; the adapters in :mod:`.http` translate FC 2.0's WSGI and FC 3.0's HTTP
event into :class:`HttpRequest`)::

    GET     /                 the upload page (static/index.html), with a strict Content-Security-Policy
    GET     /static/<file>    upload.js, upload.css, favicon.svg
    GET     /policy           the signed form fields for one upload, under the prefix the authorizer grants
    GET     /sts              temporary credentials that may only upload under that prefix, and the callback
                              (:mod:`.sts`; UPLOAD_STS_ROLE_ARN)
    OPTIONS <any>             a CORS preflight, answered for UPLOAD_ALLOWED_ORIGINS only

The policy is the upload function's ``post_policy`` action, run through the same :class:`Uploader` (one
signing core). Its answer has the fields Alibaba's web direct-upload sample hands its page (``host``, ``policy``,
``x-oss-signature-version``, ``x-oss-credential``, ``x-oss-date``, ``x-oss-signature``, ``x-oss-security-token``
when the function runs on STS credentials, ``dir``, ``expire``, ``callback``), the size limit,
``success_action_status`` 200, and ``fields``: every form field in order, for the page to post as they are. The
access key secret never leaves the function: only the derived signature does (and the STS key id and token,
which are worthless without it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from osscallback.errors import ConfigError, OssCallbackError
from osscallback.upload.browser.authorizer import (
    Authorizer,
    UploadRefused,
    UploadRequest,
    checked_prefix,
    load_authorizer,
)
from osscallback.upload.browser.config import PREFLIGHT_MAX_AGE, PageConfig
from osscallback.upload.browser.sts import HOW_TO_CONFIGURE as HOW_TO_CONFIGURE_STS
from osscallback.upload.browser.sts import StsConfig, StsNotIssued, assume_role, session_name, session_policy
from osscallback.upload.browser.sts import answer as sts_answer

log = logging.getLogger("osscallback.upload.browser")

STATIC_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "upload.js": "text/javascript; charset=utf-8",
    "ossv4.js": "text/javascript; charset=utf-8",  # the V4 signer of the page's multipart mode
    "multipart.js": "text/javascript; charset=utf-8",  # the page's multipart upload (with /sts credentials)
    "upload.css": "text/css; charset=utf-8",
    # the page's icon (<link rel="icon">): without one the browser asks for /favicon.ico and logs its 404 as an error
    "favicon.svg": "image/svg+xml",
}
ALLOWED_METHODS = "GET, OPTIONS"


@dataclass(frozen=True)
class HttpRequest:
    """One request, as any adapter sees it. ``path`` is relative to the function (``/``, ``/policy``);
    ``public_path`` is the path the browser asked for (FC 2.0's proxy prefix included), for the page's redirect."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    query: Mapping[str, str] = field(default_factory=dict)
    public_path: str = ""
    context: Any = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _json(status: int, doc: Mapping[str, Any], headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return HttpResponse(status, [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store"),
                                 *(headers or [])], body)


def _error(status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return _json(status, {"ok": False, "error": code, "message": message}, headers)


def _failed(exc: Exception, what: str, outcome: str, code: str, cors: list[tuple[str, str]]) -> HttpResponse:
    """A 500 naming the setting that failed (our errors say which; anything else by its type)."""
    message = str(exc) if isinstance(exc, OssCallbackError) else f"{type(exc).__name__}: {exc}"
    log.warning(json.dumps({what: outcome, "error": message}))
    return _error(500, code, message, cors)


def static_file(name: str) -> bytes:
    return resources.files("osscallback.upload.browser").joinpath("static").joinpath(name).read_bytes()


class PolicyApp:
    """The endpoint's logic; ``env`` and ``sign`` are injectable so the core runs without FC."""

    def __init__(self, config: PageConfig, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.env = env
        self.authorizer: Authorizer = load_authorizer(config.authorizer)
        self.sts = StsConfig.from_env(env)
        if config.multipart_threshold and not self.sts.role_arn:
            raise ConfigError("UPLOAD_MULTIPART_THRESHOLD needs GET /sts: set UPLOAD_STS_ROLE_ARN too "
                              "(docs/DEPLOY.md, 'Mobile and large uploads'), or leave the threshold unset")

    @property
    def multipart_threshold(self) -> int | None:
        """The size from which the page uploads in parts with ``/sts`` credentials (None: never): the setting, else
        anything over ``UPLOAD_MAX_SIZE`` once ``/sts`` is configured."""
        if self.config.multipart_threshold == 0 or not self.sts.role_arn:
            return None
        return self.config.multipart_threshold or self.config.max_size + 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PolicyApp:
        return cls(PageConfig.from_env(env), env)

    # -- dispatch ------------------------------------------------------------------------------------------
    def handle(self, request: HttpRequest) -> HttpResponse:
        cors = self._cors(request)
        method = request.method.upper()
        if method == "OPTIONS":
            return self._preflight(request)
        path = request.path or "/"
        if method not in ("GET", "HEAD"):
            return _error(405, "MethodNotAllowed", f"{method} is not served here: GET the page or the policy.",
                          [("Allow", ALLOWED_METHODS), *cors])
        if path == "/policy":
            return self._policy(request, cors)
        if path == "/sts":
            return self._sts(request, cors)
        if path == "/":
            return self._page(request)
        if path.startswith("/static/") and path[len("/static/"):] in STATIC_TYPES and path != "/static/index.html":
            name = path[len("/static/"):]
            return HttpResponse(200, [("Content-Type", STATIC_TYPES[name]), *self._security_headers()],
                                static_file(name))
        return _error(404, "NotFound",
                      f"nothing at {path}: the page is at /, the policy at /policy, credentials at /sts.", cors)

    # -- CORS ----------------------------------------------------------------------------------------------
    def _cors(self, request: HttpRequest) -> list[tuple[str, str]]:
        origin = request.headers.get("origin")
        if not self.config.allows(origin):
            return []
        allow = "*" if "*" in self.config.allowed_origins and origin not in self.config.allowed_origins else origin
        return [("Access-Control-Allow-Origin", str(allow)), ("Vary", "Origin")]

    def _preflight(self, request: HttpRequest) -> HttpResponse:
        origin = request.headers.get("origin")
        wanted = request.headers.get("access-control-request-method", "").upper()
        if not self.config.allows(origin):
            log.info(json.dumps({"preflight": "refused", "origin": origin}))
            return _error(403, "CorsForbidden", f"origin {origin!r} is not in UPLOAD_ALLOWED_ORIGINS.",
                          [("Vary", "Origin")])
        if wanted not in ("GET", "HEAD"):
            return _error(403, "CorsForbidden", f"method {wanted or 'none'} is not allowed: only GET.",
                          self._cors(request))
        headers = self._cors(request) + [("Access-Control-Allow-Methods", ALLOWED_METHODS),
                                         ("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE))]
        requested = request.headers.get("access-control-request-headers", "")
        if requested:  # the authorizer decides what a header means; the preflight only lets it through
            headers.append(("Access-Control-Allow-Headers", requested))
        return HttpResponse(204, headers, b"")

    # -- the page ------------------------------------------------------------------------------------------
    def _page(self, request: HttpRequest) -> HttpResponse:
        public = request.public_path or "/"
        if not public.endswith("/"):  # the page's relative URLs (static/, policy) need the trailing slash
            return HttpResponse(308, [("Location", public + "/"), ("Cache-Control", "no-store")], b"")
        return HttpResponse(200, [("Content-Type", STATIC_TYPES["index.html"]), *self._security_headers()],
                            static_file("index.html"))

    def _security_headers(self) -> list[tuple[str, str]]:
        """Scripts and styles from this origin only, no inline code; the page may only talk to itself and OSS."""
        connect = " ".join(["'self'", *([self._oss_origin()] if self._oss_origin() else [])])
        return [
            ("Content-Security-Policy",
             f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {connect}; img-src 'self'; "
             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Cache-Control", "no-store"),
        ]

    def _oss_origin(self) -> str:
        from osscallback.upload.postpolicy import bucket_url  # oss2 stays unloaded until a page is asked for

        env = self._env()
        if self.config.host:
            return self.config.host
        endpoint, bucket = env.get("OSS_ENDPOINT", ""), env.get("OSS_BUCKET", "")
        if not endpoint or not bucket:
            return ""
        parts = urlsplit(bucket_url(endpoint, bucket))
        return f"{parts.scheme}://{parts.netloc}"

    def _env(self) -> Mapping[str, str]:
        import os

        return os.environ if self.env is None else self.env

    # -- the policy ----------------------------------------------------------------------------------------
    def _prefix(self, request: HttpRequest, cors: list[tuple[str, str]], what: str) -> str | HttpResponse:
        """The key prefix the authorizer grants this caller, or the refusal to answer."""
        asker = UploadRequest(method=request.method.upper(), path=request.path, headers=dict(request.headers),
                              query=dict(request.query))
        origin = request.headers.get("origin")
        try:
            return checked_prefix(self.authorizer(asker))
        except UploadRefused as refused:
            log.info(json.dumps({what: "refused", "status": refused.status, "origin": origin}))
            return _error(refused.status, refused.code, refused.message, cors)
        except OssCallbackError as exc:
            log.warning(json.dumps({what: "authorizer_failed", "error": str(exc)}))
            return _error(500, "AuthorizerFailed", f"The authorizer failed: {exc}", cors)
        except Exception as exc:  # noqa: BLE001 - a bug in the user's authorizer: refuse, say so, never sign
            log.warning(json.dumps({what: "authorizer_failed", "error": f"{type(exc).__name__}: {exc}"}))
            return _error(500, "AuthorizerFailed", "The authorizer raised an error; see the function's log.", cors)

    def _policy(self, request: HttpRequest, cors: list[tuple[str, str]]) -> HttpResponse:
        prefix = self._prefix(request, cors, "policy")
        if isinstance(prefix, HttpResponse):
            return prefix
        try:
            answer = self.sign(prefix, request.context)
        except Exception as exc:  # noqa: BLE001 - the settings (endpoint, bucket, region, credentials): say which
            return _failed(exc, "policy", "not_signed", "PolicyNotSigned", cors)
        log.info(json.dumps({"policy": "issued", "prefix": prefix, "origin": request.headers.get("origin"),
                             "expire": answer["expire"]}))
        return _json(200, answer, cors)

    # -- temporary credentials -----------------------------------------------------------------------------
    def _sts(self, request: HttpRequest, cors: list[tuple[str, str]]) -> HttpResponse:
        prefix = self._prefix(request, cors, "sts")
        if isinstance(prefix, HttpResponse):
            return prefix
        if not self.sts.role_arn:
            return _error(403, "StsNotConfigured", HOW_TO_CONFIGURE_STS, cors)
        try:
            answer = self.credentials(prefix, request.context)
        except StsNotIssued as exc:
            log.warning(json.dumps({"sts": "not_issued", "code": exc.code, "error": str(exc)}))
            return _error(502, "StsNotIssued", str(exc), cors)
        except Exception as exc:  # noqa: BLE001 - the settings (endpoint, bucket, region, credentials): say which
            return _failed(exc, "sts", "not_issued", "StsNotIssued", cors)
        log.info(json.dumps({"sts": "issued", "prefix": prefix, "origin": request.headers.get("origin"),
                             "expiration": answer["Expiration"]}))
        return _json(200, answer, cors)

    def credentials(self, prefix: str, context: Any = None) -> dict[str, Any]:
        """AssumeRole limited to uploading under ``prefix``, and the callback the client sends (:mod:`.sts`)."""
        from osscallback.upload.event import UploadEvent
        from osscallback.upload.postpolicy import bucket_url
        from osscallback.upload.settings import BucketSettings, callback_spec

        event = UploadEvent(action="post_policy", key_prefix=prefix)
        settings = BucketSettings.resolve(event, context, self._env())
        spec = callback_spec(settings, event)
        policy = session_policy(settings.bucket, prefix)
        creds = assume_role(self.sts, settings.credentials, settings.region, policy, session_name())
        return sts_answer(creds, bucket=settings.bucket, region=settings.region, endpoint=settings.endpoint,
                          host=self.config.host or bucket_url(settings.endpoint, settings.bucket), prefix=prefix,
                          callback=spec, policy=policy)

    def sign(self, prefix: str, context: Any = None) -> dict[str, Any]:
        """The ``post_policy`` action of the upload function, for ``prefix``, reshaped for a browser."""
        from osscallback.upload.event import UploadEvent
        from osscallback.upload.postpolicy import post_policy
        from osscallback.upload.settings import BucketSettings  # not the upload function's file settings

        event = UploadEvent(action="post_policy", key_prefix=prefix, max_size=self.config.max_size,
                            expires=self.config.expires, success_action_status="200")
        settings = BucketSettings.resolve(event, context, self._env())
        result = post_policy(settings, event).to_dict()
        fields: dict[str, str] = dict(result["fields"])
        answer: dict[str, Any] = {
            "ok": True,
            "host": self.config.host or result["host"],
            "version": settings.auth_version,
            "dir": prefix,
            "key_prefix": prefix,
            "expire": result["expire"],
            "min_size": event.min_size,
            "max_size": event.max_size,
            "multipart_threshold": self.multipart_threshold,
            "success_action_status": fields.get("success_action_status", "200"),
            "callback": result["callback"],
            "policy": result["policy"],
        }
        for name in ("x-oss-signature-version", "x-oss-credential", "x-oss-date", "x-oss-signature",
                     "x-oss-security-token", "OSSAccessKeyId", "signature"):
            if name in fields:
                answer[name] = fields[name]
        answer["fields"] = fields
        return answer
