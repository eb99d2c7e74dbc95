"""The FC 3.0 API (2023-03-30): InvokeFunction, and the control plane's operations on functions and triggers.

Calls must carry the FC 3.0 SDKs' ACS3 signature (:mod:`.fc3api`), checked by :mod:`.dispatch` before these
handlers run. Each handler reads the request (path parameters, query, JSON body) and calls one operation of
:class:`~.controlplane.ControlPlane`; errors are FC 3.0's ``{"Code", "Message", "RequestId"}``
(:func:`.wire.error_answer`).
"""

from __future__ import annotations

import json
from typing import Any

from osscallback.local.fc.api.backend import Backend
from osscallback.local.fc.api.invoke import invoke as run_invoke
from osscallback.local.fc.api.wire import Request, json_answer
from osscallback.local.fc.errors import FunctionNotFound, InvalidArgument
from osscallback.local.fc.model.instances import Answer


def invoke(backend: Backend, req: Request) -> Answer:
    """``POST /2023-03-30/functions/<fn>/invocations``."""
    function = req.params["function"]
    spec = backend.registry.fc3_function(function)
    if spec is None:
        raise FunctionNotFound(f"function '{function}' does not exist")
    answer = run_invoke(backend, spec, req)
    if answer.status.startswith("200"):  # the checksum of the code that ran, as FC answers (fc3 prints it)
        try:
            checksum = str(backend.control.get_function(function).get("codeChecksum") or "")
        except FunctionNotFound:
            checksum = ""
        if checksum:
            answer = Answer(answer.status, [*answer.headers, ("X-Fc-Code-Checksum", checksum)], answer.body)
    return answer


def create_function(backend: Backend, req: Request) -> Answer:
    return json_answer(backend.control.create_function(request_json(req.body)), req.request_id)


def list_functions(backend: Backend, req: Request) -> Answer:
    return json_answer(backend.control.list_functions(req.query()), req.request_id)


def get_function(backend: Backend, req: Request) -> Answer:
    return json_answer(backend.control.get_function(req.params["function"]), req.request_id)


def update_function(backend: Backend, req: Request) -> Answer:
    return json_answer(backend.control.update_function(req.params["function"], request_json(req.body)), req.request_id)


def delete_function(backend: Backend, req: Request) -> Answer:
    backend.control.delete_function(req.params["function"])
    return json_answer(None, req.request_id, 204)


def create_trigger(backend: Backend, req: Request) -> Answer:
    return json_answer(backend.control.create_trigger(req.params["function"], request_json(req.body)), req.request_id)


def list_triggers(backend: Backend, req: Request) -> Answer:
    return json_answer(backend.control.list_triggers(req.params["function"], req.query()), req.request_id)


def get_trigger(backend: Backend, req: Request) -> Answer:
    return json_answer(backend.control.get_trigger(req.params["function"], req.params["trigger"]), req.request_id)


def update_trigger(backend: Backend, req: Request) -> Answer:
    doc = backend.control.update_trigger(req.params["function"], req.params["trigger"], request_json(req.body))
    return json_answer(doc, req.request_id)


def delete_trigger(backend: Backend, req: Request) -> Answer:
    backend.control.delete_trigger(req.params["function"], req.params["trigger"])
    return json_answer(None, req.request_id, 204)


def request_json(body: bytes) -> dict[str, Any]:
    """A request's JSON object body (``{}`` when empty), or FC's InvalidArgument."""
    if not body:
        return {}
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidArgument("the request body is not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("the request body must be a JSON object")
    return doc


__all__ = ["create_function", "create_trigger", "delete_function", "delete_trigger", "get_function",
           "get_trigger", "invoke", "list_functions", "list_triggers", "request_json", "update_function",
           "update_trigger"]
