"""InvokeFunction, as FC 2.0's and FC 3.0's APIs both answer it: run now and answer, or queue (``Async``) and 202.

A synchronous invocation answers 200 with the function's result; when the function raised, timed out or its
instance died, 200 with FC's function error document and ``X-Fc-Error-Type: UnhandledInvocationError`` (``fc2``
and the FC 3.0 SDK raise on the header). ``X-Fc-Log-Type: Tail`` adds the invocation's log tail
(``X-Fc-Log-Result``). A synchronous answer also says which instance ran it and which version (``X-Fc-Instance-Id``,
``X-Fc-Invocation-Service-Version: LATEST``), as FC's InvokeFunction reference lists and a real answer shows
(``x-fc-instance-id: c-62b761c4-5a85e238b3ce404c817d``, Serverless Devs' invoke docs); fc3's ``s invoke`` prints
them (devsapp/fc3 ``src/subCommands/invoke/index.ts`` ``showLog``), "undefined" without them.
"""

from __future__ import annotations

import hashlib
import os

from osscallback.local.fc import protocol
from osscallback.local.fc.api.backend import Backend
from osscallback.local.fc.api.wire import Request, accepted, json_headers, with_request_id
from osscallback.local.fc.model.instances import Answer
from osscallback.local.fc.spec import FunctionSpec


def invoke(backend: Backend, spec: FunctionSpec, req: Request) -> Answer:
    """Run ``spec`` with the request's body, or queue it when the request says ``X-Fc-Invocation-Type: Async``."""
    payload = req.body
    if req.header("HTTP_X_FC_INVOCATION_TYPE").lower() == "async":
        record = backend.invocations.submit(spec, payload, "InvokeFunction")
        return accepted(record.request_id)
    return sync_invoke(backend, spec, req, payload)


def sync_invoke(backend: Backend, spec: FunctionSpec, req: Request, payload: bytes) -> Answer:
    """The answer, or FC's error document with ``X-Fc-Error-Type``."""
    request_id = req.request_id
    tail = req.header("HTTP_X_FC_LOG_TYPE").lower() == "tail"
    headers = [(protocol.I_REQUEST_ID, request_id), ("Content-Type", "application/octet-stream")]
    if tail:
        headers.append((protocol.I_LOG_TYPE, "Tail"))
    outcome = backend.registry.call(spec, "POST", protocol.INVOKE_PATH, headers, payload)
    if outcome.answer is None:
        message = f"FC Invoke End RequestId: {request_id}, Error: {outcome.failure}"
        backend.log_sink(outcome.instance or spec.name, message)
        out = json_headers() + [(protocol.H_ERROR_TYPE, protocol.UNHANDLED)]
        if tail:
            out.append((protocol.H_LOG_RESULT, protocol.log_tail(message.encode("utf-8") + b"\n")))
        return with_request_id(Answer("200 OK", out, protocol.function_error(outcome.failure or "")), request_id)
    answer = outcome.answer
    out = [("X-Fc-Instance-Id", instance_id(outcome.instance or spec.name)),
           ("X-Fc-Invocation-Service-Version", "LATEST")]
    for name, value in answer.headers:
        lower = name.lower()
        if lower == protocol.I_LOG_RESULT.lower():
            out.append((protocol.H_LOG_RESULT, value))
        elif lower in ("content-type", protocol.H_ERROR_TYPE.lower()):
            out.append((name, value))
    return with_request_id(Answer("200 OK", out, answer.body), request_id)


def instance_id(label: str) -> str:
    """FC's shape of an instance id (``c-62b761c4-5a85e238b3ce404c817d``), one per worker of this host."""
    digest = hashlib.sha256(f"{os.getpid()}/{label}".encode()).hexdigest()
    return f"c-{digest[:8]}-{digest[8:28]}"


__all__ = ["instance_id", "invoke", "sync_invoke"]
