"""``Backend``: what every route works on — the functions, the asynchronous invocations, the control plane, the keys.

Like the local OSS's :mod:`osscallback.local.oss.api.backend`: one object the host builds and the handlers
receive, so a handler module needs no host (the host is above the API, and the API never imports it).
"""

from __future__ import annotations

from dataclasses import dataclass

from osscallback.local.fc.api import wire
from osscallback.local.fc.api.controlplane import ControlPlane
from osscallback.local.fc.context import FCCredentials
from osscallback.local.fc.model.process import LogSink
from osscallback.local.fc.model.registry import Registry
from osscallback.local.fc.model.triggers import AsyncInvocations
from osscallback.local.fc.spec import FunctionSpec


@dataclass(frozen=True)
class Backend:
    registry: Registry
    invocations: AsyncInvocations
    control: ControlPlane
    credentials: FCCredentials
    verify_signatures: bool
    log_sink: LogSink
    endpoint: str  # the host's API endpoint, ``http://127.0.0.1:<port>``

    def url_for(self, spec: FunctionSpec, proxy: bool = True) -> str:
        return wire.url_for(self.registry, self.endpoint, spec, proxy)

    def invoke_url(self, spec: FunctionSpec) -> str:
        return f"{self.endpoint}{wire.invocations_path(spec)}"


__all__ = ["Backend"]
