"""HTTP triggers: a request to an HTTP function's URL, forwarded to one of its instances and its answer sent back.

FC 2.0 HTTP functions are reached at ``/2016-08-15/proxy/<svc>/<fn>/<rest>`` (``PATH_INFO`` = ``/<rest>``, the raw
URI kept for ``fc.request_uri``) or at the short ``/<fn>/<rest>`` when exactly one FC 2.0 HTTP function is called
``fn``. FC 3.0 HTTP functions are served, as on FC 3.0, at a function URL of their own (a port of their own on the
same address, :func:`function_url_app`), where every request becomes FC 3.0's HTTP event (:mod:`..httpevent`).

HTTP triggers are anonymous, like the templates'. Refusals carry ``X-Fc-Error-Type: FcCommonError``; a function
that raised, timed out or died answers 502 with ``UnhandledInvocationError`` (FC's HTTP-trigger troubleshooting
table). Hop-by-hop headers and any client-sent ``X-Localfc-*`` header are dropped on the way in, so the host's
private headers cannot be forged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import unquote

from osscallback.local.fc import protocol
from osscallback.local.fc.api.backend import Backend
from osscallback.local.fc.api.fcapi import API_VERSION
from osscallback.local.fc.api.wire import Request, error_answer, json_headers, service_name, with_request_id
from osscallback.local.fc.errors import FCError, FunctionNotFound, MethodNotAllowed, TriggerNotFound
from osscallback.local.fc.model.instances import Answer
from osscallback.local.fc.spec import FunctionSpec

StartResponse = Callable[..., Any]
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "content-length", "expect",
}
#: Set by the worker's own HTTP server, not by the function: the host's server sets its own.
_WORKER_SERVER_HEADERS = {"server", "date", "via"}


def proxy(backend: Backend, req: Request) -> Answer:
    """``ANY /2016-08-15/proxy/<svc>/<fn>/<rest>``: an FC 2.0 HTTP function (``<svc>.<qualifier>`` accepted)."""
    spec = backend.registry.fc2_function(service_name(req.segments[3]), unquote(req.segments[4]))
    return _fc2_trigger(backend, req, spec, "/" + "/".join(req.segments[5:]))


def short_path(backend: Backend, req: Request) -> Answer:
    """``ANY /<fn>/<rest>``: the FC 2.0 HTTP function called ``fn``, when exactly one is."""
    name = unquote(req.segments[1])
    matches = [s for s in backend.registry.specs if s.name == name and s.is_http and not s.is_fc3]
    if len(matches) != 1:
        proxy_path = f"/{API_VERSION}/proxy/<service>/{name}/"
        raise FunctionNotFound(f"no HTTP function named '{name}'" if not matches else
                               f"several HTTP functions are named '{name}': use {proxy_path}")
    return _fc2_trigger(backend, req, matches[0], "/" + "/".join(req.segments[2:]))


def _fc2_trigger(backend: Backend, req: Request, spec: FunctionSpec, rest: str) -> Answer:
    _check_trigger(spec, req.method, spec.name)
    target = rest + (f"?{req.raw_query}" if req.raw_query else "")
    return forward(backend, spec, req, target)


def function_url_app(backend: Callable[[], Backend], function: str) -> Callable[..., Iterable[bytes]]:
    """The WSGI app behind FC 3.0 function ``function``'s URL (``backend`` is read per request)."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        req = Request.from_environ(environ)
        try:
            answer = _function_url(backend(), req, function)
        except FCError as exc:
            answer = error_answer(exc, "fc2", common=True)
        start_response(answer.status, answer.headers)
        return [answer.body]

    return app


def _function_url(backend: Backend, req: Request, function: str) -> Answer:
    spec = _check_trigger(backend.registry.fc3_function(function), req.method, function)
    extra = [(protocol.I_TRIGGER, "http"), (protocol.I_DOMAIN, req.header("HTTP_HOST"))]
    return forward(backend, spec, req, protocol.TRIGGER_PATH, extra)


def _check_trigger(spec: FunctionSpec | None, method: str, name: str) -> FunctionSpec:
    """``spec`` when its HTTP trigger takes ``method``; FC's refusal otherwise."""
    if spec is None or spec.http_methods is None:
        raise TriggerNotFound(f"function '{name}' has no HTTP trigger")
    if method not in spec.http_methods:
        raise MethodNotAllowed(f"method {method} is not allowed by the HTTP trigger of '{spec.name}' "
                               f"(allowed: {', '.join(spec.http_methods)})")
    return spec


def forward(backend: Backend, spec: FunctionSpec, req: Request, target: str,
            extra: Sequence[tuple[str, str]] = ()) -> Answer:
    """One HTTP-trigger request to one of the function's instances, and its answer back."""
    request_id = req.request_id
    headers = _forward_headers(req.environ)
    headers += [
        (protocol.I_REQUEST_ID, request_id),
        (protocol.I_REQUEST_URI, req.raw_uri),
        (protocol.I_REMOTE_ADDR, req.header("REMOTE_ADDR")),
        *extra,
    ]
    outcome = backend.registry.call(spec, req.method, target, headers, req.body)
    if outcome.answer is None:
        backend.log_sink(outcome.instance or spec.name,
                         f"FC Invoke End RequestId: {request_id}, Error: {outcome.failure}")
        error = Answer("502 Bad Gateway", [*json_headers(), (protocol.H_ERROR_TYPE, protocol.UNHANDLED)],
                       protocol.function_error(outcome.failure or ""))
        return with_request_id(error, request_id)
    answer = outcome.answer
    headers_out = [(k, v) for k, v in answer.headers if not _private(k)]
    return with_request_id(Answer(answer.status, headers_out, answer.body), request_id)


def _private(name: str) -> bool:
    lower = name.lower()
    return lower in _HOP_BY_HOP or lower in _WORKER_SERVER_HEADERS or lower.startswith(protocol.INTERNAL_PREFIX)


def _forward_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The client's headers for the worker, minus hop-by-hop and any forged ``X-Localfc-*``."""
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if not key.startswith("HTTP_"):
            continue
        name = key[5:].replace("_", "-").title()
        lower = name.lower()
        if lower in _HOP_BY_HOP or lower.startswith(protocol.INTERNAL_PREFIX):
            continue
        headers.append((name, str(value)))
    if environ.get("CONTENT_TYPE"):
        headers.append(("Content-Type", environ["CONTENT_TYPE"]))
    return headers


__all__ = ["forward", "function_url_app", "proxy", "short_path"]
