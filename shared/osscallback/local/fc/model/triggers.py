"""Invocations that do not wait: asynchronous InvokeFunction calls and OSS trigger events, run with FC's retries.

Asynchronous invocation (``X-Fc-Invocation-Type: Async``, ``LocalFCHost.invoke_async``, and every OSS trigger
through :meth:`AsyncInvocations.dispatch_oss_event`) answers 202 at once and runs in the background with FC's
retry policy (:mod:`.asyncinvoke`: 3 retries after a failed attempt unless the template says otherwise, and its
maximum event age); each attempt is one synchronous call to one of the function's instances
(:meth:`.registry.Registry.call`). A finished invocation goes to its destination, if the template gives one
(:mod:`.destinations`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from osscallback.local.fc.errors import UnknownFunctionError
from osscallback.local.fc.model.asyncinvoke import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRY_ATTEMPTS,
    AsyncInvocation,
    AsyncInvoker,
    AttemptResult,
    Observer,
)
from osscallback.local.fc.model.destinations import Destinations
from osscallback.local.fc.model.process import LogSink
from osscallback.local.fc.model.registry import Registry
from osscallback.local.fc.protocol import H_ERROR_TYPE, I_REQUEST_ID, INVOKE_PATH, UNHANDLED
from osscallback.local.fc.spec import FunctionSpec


class AsyncInvocations:
    """The asynchronous side of one host: submit, one attempt, OSS event dispatch; ``engine`` keeps the records."""

    def __init__(self, registry: Registry, log_sink: LogSink, *, retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
                 backoff: float = DEFAULT_BACKOFF, observer: Observer | None = None, region: str = "cn-hangzhou",
                 account: str = "") -> None:
        if not 0 <= retry_attempts <= 8:
            raise ValueError("async_retry_attempts must be within FC's range 0-8")
        self.registry = registry
        self.log_sink = log_sink
        self.retry_attempts = retry_attempts
        destinations = Destinations(registry, self.submit, log_sink, region=region, account=account)
        self.engine = AsyncInvoker(self._attempt, backoff=backoff, observer=observer, on_done=destinations)

    def submit(self, spec: FunctionSpec, payload: bytes, source: str) -> AsyncInvocation:
        """Queue one asynchronous invocation of ``spec`` (``source``: ``InvokeFunction`` or ``oss:<trigger>``)."""
        if spec.is_http and not spec.is_fc3:
            raise UnknownFunctionError(f"function {spec.qualified_name} has an HTTP trigger: it is not invoked "
                                       "with events")
        retries = self.retry_attempts if spec.async_retry_attempts is None else spec.async_retry_attempts
        record = AsyncInvocation(request_id=str(uuid.uuid4()), service=spec.service, function=spec.name,
                                 source=source, payload=payload, max_attempts=1 + max(0, retries),
                                 created=time.time(), max_event_age=spec.async_max_event_age)
        return self.engine.submit(record)

    def dispatch_oss_event(self, event: Mapping[str, Any] | bytes | str) -> list[AsyncInvocation]:
        """Deliver an OSS event document to every function whose OSS trigger matches, asynchronously.

        ``event`` is the official OSS trigger event (``{"events": [record, ...]}``). For each function with an
        OSS trigger matching a record (bucket, event name — ``oss:`` prefix and ``*`` wildcards as in the
        template — and key prefix/suffix, see :mod:`..osstrigger`), the function is invoked asynchronously, with
        FC's retries, with the matching records as ``{"events": [...]}`` (the whole document when all match).
        Returns the queued invocations (none when nothing matches).
        """
        if isinstance(event, bytes | str):
            try:
                event = json.loads(event)
            except ValueError as exc:
                raise ValueError(f"not an OSS event document (JSON): {exc}") from None
        if not isinstance(event, Mapping):
            raise ValueError("an OSS event document is a JSON object with an 'events' list")
        queued: list[AsyncInvocation] = []
        records = event.get("events")
        for spec in self.registry.specs:
            for trigger in spec.oss_triggers:
                matching = trigger.select(event)
                if not matching:
                    continue
                doc = dict(event) if len(matching) == len(records or ()) else {**event, "events": matching}
                payload = json.dumps(doc, ensure_ascii=False).encode("utf-8")
                queued.append(self.submit(spec, payload, f"oss:{trigger.name}"))
                break  # one invocation per function and event, however many of its triggers match
        return queued

    def _attempt(self, record: AsyncInvocation) -> AttemptResult:
        """One attempt of an asynchronous invocation: a synchronous call to one of the function's instances."""
        spec = self.registry.spec(record.function, record.service)
        headers = [(I_REQUEST_ID, record.request_id), ("Content-Type", "application/octet-stream")]
        outcome = self.registry.call(spec, "POST", INVOKE_PATH, headers, record.payload)
        if outcome.answer is None:
            message = outcome.failure or "the function failed"
            self.log_sink(outcome.instance or spec.name,
                          f"FC Invoke End RequestId: {record.request_id}, Error: {message}")
            return AttemptResult(UNHANDLED, message, outcome.instance)
        error_type = next((v for k, v in outcome.answer.headers if k.lower() == H_ERROR_TYPE.lower()), None)
        if error_type:
            return AttemptResult(error_type, _error_message(outcome.answer.body), outcome.instance,
                                 outcome.answer.body)
        return AttemptResult(None, None, outcome.instance, outcome.answer.body)


def _error_message(body: bytes) -> str:
    """FC's ``errorMessage`` from a function error document (the raw text when it is not one)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:1000]
    if isinstance(doc, dict) and "errorMessage" in doc:
        return str(doc["errorMessage"])
    return body.decode("utf-8", "replace")[:1000]


__all__ = ["AsyncInvocations"]
