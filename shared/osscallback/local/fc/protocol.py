"""The private protocol between the host and a worker: the start-up document and the fixed names.

Kept apart from :mod:`.worker` so the host never imports the worker module (which runs as ``__main__`` in the
worker process: importing it in the package too would load it twice there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from osscallback.local.fc.context import FCContext

#: Key of the one JSON line a worker prints on stdout once it serves: ``{"localfc_ready": {"port", "pid"}}``.
READY_KEY = "localfc_ready"
#: Where event invocations are posted on the worker.
INVOKE_PATH = "/invoke"
#: How the host starts a worker: ``[python, "-m", WORKER_MODULE]``.
WORKER_MODULE = "osscallback.local.fc.worker"


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
