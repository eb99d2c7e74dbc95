"""The protocol between the host and a worker: the start-up document, the fixed names, FC's invocation headers.

Kept apart from :mod:`.worker` so the host never imports the worker module (which runs as ``__main__`` in the
worker process: importing it in the package too would load it twice there). Both sides of an invocation use the
names here — the worker sets ``X-Fc-Error-Type`` and the log tail, the instance pool (:mod:`.model.instances`)
sends the ``X-Localfc-*`` headers, the API (:mod:`.api`) answers with them — so they live below both.

Function errors are FC's ``{"errorMessage", "errorType", "stackTrace"}`` with ``X-Fc-Error-Type:
UnhandledInvocationError``: HTTP 200 for InvokeFunction (``fc2`` raises on the header), 502 behind an HTTP trigger
(FC's HTTP-trigger troubleshooting table). API errors (bad signature, unknown function) are another thing:
:mod:`.errors`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from osscallback.local.fc.context import FCContext

#: Key of the one JSON line a worker prints on stdout once it serves: ``{"localfc_ready": {"port", "pid"}}``.
READY_KEY = "localfc_ready"
#: Where event invocations are posted on the worker.
INVOKE_PATH = "/invoke"
#: How the host starts a worker: ``[python, "-m", WORKER_MODULE]``.
WORKER_MODULE = "osscallback.local.fc.worker"

# Headers of FC's protocol.
H_REQUEST_ID = "X-Fc-Request-Id"
H_ERROR_TYPE = "X-Fc-Error-Type"
H_LOG_RESULT = "X-Fc-Log-Result"
H_INVOCATION_TYPE = "X-Fc-Invocation-Type"
H_LOG_TYPE = "X-Fc-Log-Type"

UNHANDLED = "UnhandledInvocationError"
COMMON_ERROR = "FcCommonError"
#: ``X-Fc-Log-Type: Tail`` returns at most this many bytes of the invocation's log.
LOG_TAIL_BYTES = 4096

# Host → worker headers. The host drops any client-sent ``X-Localfc-*`` header first, so they cannot be forged.
INTERNAL_PREFIX = "x-localfc-"
I_REQUEST_ID = "X-Localfc-Request-Id"
I_REQUEST_URI = "X-Localfc-Request-Uri"
I_REMOTE_ADDR = "X-Localfc-Remote-Addr"
I_LOG_TYPE = "X-Localfc-Log-Type"
I_LOG_RESULT = "X-Localfc-Log-Result"
I_TRIGGER = "X-Localfc-Trigger"  # "http": a request to an FC 3.0 function URL, to be made into an HTTP event
I_DOMAIN = "X-Localfc-Domain"  # the Host the client called (requestContext.domainName)
#: Where the host posts FC 3.0 function-URL requests on the worker (the raw URI travels in X-Localfc-Request-Uri).
TRIGGER_PATH = "/http-trigger"


def function_error(message: str, error_type: str | None = None, stack: list[Any] | None = None) -> bytes:
    """FC's function error document (what a failed invocation answers), not an API error (:mod:`.errors`)."""
    doc: dict[str, Any] = {"errorMessage": message}
    if error_type is not None:
        doc["errorType"] = error_type
    if stack is not None:
        doc["stackTrace"] = stack
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def log_tail(log: bytes) -> str:
    """``X-Fc-Log-Result``: base64 of the last 4 KB of an invocation's log."""
    return base64.b64encode(log[-LOG_TAIL_BYTES:]).decode("ascii")


@dataclass(frozen=True)
class WorkerConfig:
    """The start-up document the host writes on the worker's stdin."""

    handler: str
    code_dir: str
    kind: str  # "http" or "event"
    context: FCContext
    threads: int = 8

    def to_json(self) -> str:
        return json.dumps(
            {
                "handler": self.handler,
                "code_dir": self.code_dir,
                "kind": self.kind,
                "context": self.context.to_json(),
                "threads": self.threads,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> WorkerConfig:
        data = json.loads(text)
        return cls(
            handler=str(data["handler"]),
            code_dir=str(data["code_dir"]),
            kind=str(data["kind"]),
            context=FCContext.from_json(data["context"]),
            threads=int(data.get("threads", 8)),
        )
