"""Typed errors of the local FC host, so callers (the CLI, tests) catch what they mean."""

from __future__ import annotations

from osscallback.errors import OssCallbackError


class LocalFCError(OssCallbackError):
    """Base class of the local FC host's errors."""


class WorkerStartError(LocalFCError):
    """A function's worker process did not come up (bad interpreter, crash before serving, start-up timeout)."""


class UnknownFunctionError(LocalFCError):
    """No function (or more than one, for a bare function name) matches the name asked for."""


class FunctionInvocationError(LocalFCError):
    """An invocation answered with ``X-Fc-Error-Type`` (the function raised, timed out or its process died).

    ``error_type`` is the header's value (``UnhandledInvocationError``), ``body`` FC's JSON error document.
    """

    def __init__(self, error_type: str, body: bytes, request_id: str | None = None) -> None:
        super().__init__(f"{error_type}: {body.decode('utf-8', 'replace')}")
        self.error_type = error_type
        self.body = body
        self.request_id = request_id
