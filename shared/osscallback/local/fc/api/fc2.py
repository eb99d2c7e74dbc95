"""The FC 2.0 API (2016-08-15): InvokeFunction, GetFunction, GetTempBucketToken, and the host's JSON index.

Calls must carry the FC 2.0 SDK's signature (``fc2.Client``; :mod:`.fcapi`), checked by :mod:`.dispatch` before
these handlers run. ``<svc>`` may carry a qualifier (``svc.LATEST``), which is ignored. Errors are FC 2.0's
``{"ErrorCode", "ErrorMessage"}`` (:func:`.wire.error_answer`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

from osscallback.local.fc.api.backend import Backend
from osscallback.local.fc.api.invoke import invoke as run_invoke
from osscallback.local.fc.api.wire import Request, json_answer, json_headers, service_name
from osscallback.local.fc.errors import InvalidArgument
from osscallback.local.fc.model.instances import Answer
from osscallback.local.fc.spec import FunctionSpec


def _function(backend: Backend, req: Request) -> FunctionSpec:
    # ['', '2016-08-15', 'services', svc, 'functions', fn, ...]
    return backend.registry.fc2_function(service_name(unquote(req.segments[3])), unquote(req.segments[5]))


def invoke(backend: Backend, req: Request) -> Answer:
    """``POST /2016-08-15/services/<svc>/functions/<fn>/invocations``: an FC 2.0 event function."""
    spec = _function(backend, req)
    if spec.is_http:
        raise InvalidArgument(f"function '{spec.name}' has an HTTP trigger: call it at {backend.url_for(spec)}")
    return run_invoke(backend, spec, req)


def get_function(backend: Backend, req: Request) -> Answer:
    """``GET /2016-08-15/services/<svc>/functions/<fn>``: the function's configuration (FC's field names)."""
    spec = _function(backend, req)
    return json_answer({
        "functionName": spec.name,
        "handler": spec.handler,
        "runtime": spec.runtime,
        "timeout": int(round(spec.timeout)),
        "memorySize": spec.memory_mb,
        "environmentVariables": dict(spec.env),
        "description": f"local function of service {spec.service}",
    }, req.request_id)


def temp_bucket_token(backend: Backend, req: Request) -> Answer:
    """``GET /2016-08-15/tempBucketToken``, which ``fc3`` asks (with FC 2.0's signature) before uploading code."""
    return json_answer(backend.control.temp_bucket_token(), req.request_id)


def index(backend: Backend, req: Request) -> Answer:
    """``GET /``: the functions and their URLs, as JSON."""
    registry = backend.registry
    functions = []
    for spec in registry.specs:
        item: dict[str, Any] = {"service": spec.service, "function": spec.name, "handler": spec.handler,
                                "timeout": spec.timeout, "kind": "http" if spec.is_http else "event",
                                "instances": registry.instance_count(spec)}
        if spec.oss_triggers:
            item["oss_triggers"] = [{"name": t.name, "bucket": t.bucket, "events": list(t.events),
                                     "prefix": t.prefix, "suffix": t.suffix} for t in spec.oss_triggers]
        if spec.is_fc3:
            item["fc_version"] = 3
        if spec.is_http:
            item["url"] = backend.url_for(spec)
            if not spec.is_fc3:
                item["short_url"] = f"{backend.endpoint}/{quote(spec.name)}/"
            item["methods"] = list(spec.http_methods or ())
        if spec.is_fc3 or not spec.is_http:
            item["invoke_url"] = backend.invoke_url(spec)
        functions.append(item)
    body = json.dumps({"endpoint": backend.endpoint, "functions": functions}, indent=2).encode("utf-8")
    return Answer("200 OK", json_headers(), body)


__all__ = ["get_function", "index", "invoke", "temp_bucket_token"]
