"""The FC-shaped ``context`` a function receives, built by the worker from what the host tells it.

Attribute names follow FC 2.0's Python runtime (SPEC §6): ``context.request_id``, ``context.credentials.
access_key_id / access_key_secret / security_token``, ``context.function.name / handler / memory / timeout``,
``context.service.name / log_project / log_store / qualifier / version_id``, ``context.region``,
``context.account_id``. Code that runs under the local host therefore reads the same fields it reads on FC.

Everything except the request id is fixed for the life of a worker, so it travels once (as JSON, in the
worker's start-up document) and :meth:`FCContext.for_request` stamps the per-invocation id on a copy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class FCCredentials:
    """An AccessKey pair (plus optional STS token): what FC puts in ``context.credentials``.

    Under the local stack this is the local OSS server's key pair, and the same pair signs FC API calls
    (``fc2.Client(accessKeyID=..., accessKeySecret=...)``) to the local host.
    """

    access_key_id: str
    access_key_secret: str
    security_token: str = ""


#: The pair the host uses when the caller gives none (the local stack passes its own).
LOCAL_CREDENTIALS = FCCredentials("local-access-key-id", "local-access-key-secret")


@dataclass(frozen=True)
class FunctionMeta:
    name: str
    handler: str
    memory: int
    timeout: int
    initializer: str = ""
    initialization_timeout: int = 0


@dataclass(frozen=True)
class ServiceMeta:
    name: str
    log_project: str = ""
    log_store: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass(frozen=True)
class FCContext:
    request_id: str
    credentials: FCCredentials
    function: FunctionMeta
    service: ServiceMeta
    region: str
    account_id: str

    def for_request(self, request_id: str) -> FCContext:
        return replace(self, request_id=request_id)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FCContext:
        return cls(
            request_id=str(data.get("request_id", "")),
            credentials=FCCredentials(**data["credentials"]),
            function=FunctionMeta(**data["function"]),
            service=ServiceMeta(**data["service"]),
            region=str(data["region"]),
            account_id=str(data["account_id"]),
        )


__all__ = ["FCContext", "FCCredentials", "FunctionMeta", "LOCAL_CREDENTIALS", "ServiceMeta"]
