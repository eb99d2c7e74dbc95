"""HTTP plumbing the routes share: the parsed request, answers with FC's request id, FC's errors rendered, URLs.

:func:`error_answer` is the one place an :class:`~..errors.FCError` becomes an HTTP answer, in the shape of the
API it reached (FC 2.0 ``{"ErrorCode", "ErrorMessage"}``, FC 3.0 ``{"Code", "Message", "RequestId"}``; see
:mod:`..errors` for the sources).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from osscallback.local.fc.api import fc3api, fcapi
from osscallback.local.fc.errors import FCError, UnknownFunctionError
from osscallback.local.fc.model.instances import Answer
from osscallback.local.fc.model.registry import Registry
from osscallback.local.fc.protocol import COMMON_ERROR, H_ERROR_TYPE, H_REQUEST_ID
from osscallback.local.fc.spec import FunctionSpec

REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 500: "Internal Server Error", 502: "Bad Gateway"}
#: Which API's error shape an answer takes.
Api = Literal["fc2", "fc3"]


@dataclass
class Request:
    """One request to the host: the WSGI environ, its raw target split up, and the route's path parameters."""

    environ: dict[str, Any]
    method: str
    raw_uri: str  # the request target as the client sent it (path still percent-encoded)
    raw_path: str
    raw_query: str
    segments: list[str]  # raw_path.split("/"): ['', '2016-08-15', 'proxy', svc, fn, ...]
    params: dict[str, str] = field(default_factory=dict)  # unquoted, from the route's pattern
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _body: bytes | None = None

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        raw_uri = raw_request_uri(environ)
        raw_path, _, raw_query = raw_uri.partition("?")
        return cls(environ, environ.get("REQUEST_METHOD", "GET").upper(), raw_uri, raw_path, raw_query,
                   raw_path.split("/"))

    @property
    def body(self) -> bytes:
        """The request body (read once)."""
        if self._body is None:
            self._body = read_body(self.environ)
        return self._body

    def header(self, wsgi_name: str) -> str:
        """A request header by its WSGI name (``HTTP_X_FC_INVOCATION_TYPE``), ``""`` when absent."""
        return str(self.environ.get(wsgi_name, ""))

    @property
    def headers(self) -> dict[str, str]:
        """The request's headers by lower-case name, as a signature check reads them."""
        environ = self.environ
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = str(environ[key])
        return headers

    def query(self) -> dict[str, str]:
        """The query's parameters (the last value of each)."""
        return {k: v[-1] for k, v in fcapi.parse_query(self.raw_query).items()}


# ------------------------------------------------------------------------------------------------ answers
def json_headers() -> list[tuple[str, str]]:
    return [("Content-Type", "application/json")]


def status_line(status: int, default: str = "OK") -> str:
    return f"{status} {REASONS.get(status, default)}"


def with_request_id(answer: Answer, request_id: str) -> Answer:
    headers = [(k, v) for k, v in answer.headers if k.lower() != H_REQUEST_ID.lower()]
    return Answer(answer.status, [*headers, (H_REQUEST_ID, request_id)], answer.body)


def json_answer(doc: Any, request_id: str, status: int = 200) -> Answer:
    """A JSON document (``None``: no body), tagged with the request id."""
    if doc is None:
        return with_request_id(Answer(status_line(status), [], b""), request_id)
    return with_request_id(Answer(status_line(status), json_headers(), json.dumps(doc).encode("utf-8")), request_id)


def accepted(request_id: str) -> Answer:
    """FC's answer to an asynchronous invocation: 202, no body, the invocation's request id."""
    return with_request_id(Answer("202 Accepted", [("Content-Length", "0")], b""), request_id)


def error_answer(error: FCError, api: Api, request_id: str | None = None, *, common: bool = False) -> Answer:
    """``error`` as the API ``api`` answers it; ``common`` adds ``X-Fc-Error-Type: FcCommonError`` (HTTP triggers)."""
    request_id = request_id or str(uuid.uuid4())
    headers = json_headers()
    if common:
        headers.append((H_ERROR_TYPE, COMMON_ERROR))
    body = error.fc3_body(request_id) if api == "fc3" else error.fc2_body()
    return with_request_id(Answer(status_line(error.status, "Error"), headers, body), request_id)


# ------------------------------------------------------------------------------------------------ requests
def raw_request_uri(environ: dict[str, Any]) -> str:
    """The request target as the client sent it (path still percent-encoded)."""
    raw_uri = str(environ.get("REQUEST_URI") or (quote(environ.get("PATH_INFO", "/")) + (
        "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")))
    if raw_uri.startswith(("http://", "https://")):
        parts = urlsplit(raw_uri)
        raw_uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return raw_uri


def read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = (environ.get("CONTENT_LENGTH") or "").strip()
    if length.isdigit():
        return bytes(stream.read(int(length))) if int(length) else b""
    return bytes(stream.read())


def service_name(segment: str) -> str:
    """``svc.qualifier`` → ``svc`` (FC service names cannot contain dots)."""
    return unquote(segment).partition(".")[0]


# ------------------------------------------------------------------------------------------------ URLs
def invocations_path(spec: FunctionSpec) -> str:
    if spec.is_fc3:
        return f"/{fc3api.API_VERSION}/functions/{quote(spec.name, safe='')}/invocations"
    return f"/{fcapi.API_VERSION}/services/{spec.service}/functions/{spec.name}/invocations"


def url_for(registry: Registry, endpoint: str, spec: FunctionSpec, proxy: bool = True) -> str:
    """URL of an HTTP function: FC 2.0's ``/2016-08-15/proxy/<svc>/<fn>/`` (or the short ``/<fn>/``); for an FC 3.0
    function its function URL, ``http://127.0.0.1:<its port>/``."""
    if spec.is_fc3:
        url = registry.function_url(spec.name)
        if url is None:
            raise UnknownFunctionError(f"function {spec.name!r} has no HTTP trigger")
        return url
    if proxy:
        return f"{endpoint}/{fcapi.API_VERSION}/proxy/{quote(spec.service)}/{quote(spec.name)}/"
    return f"{endpoint}/{quote(spec.name)}/"


__all__ = ["Api", "REASONS", "Request", "accepted", "error_answer", "invocations_path", "json_answer",
           "json_headers", "raw_request_uri", "read_body", "service_name", "url_for", "with_request_id"]
