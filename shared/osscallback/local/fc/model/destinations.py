"""Asynchronous-invocation destinations, as FC sends them: on success or on failure, to another function.

FC's "Result callback" (https://help.aliyun.com/zh/functioncompute/user-guide/result-callback; FC 2.0:
https://help.aliyun.com/document_detail/422720.htm, "异步调用目标的事件内容"): once an asynchronous invocation
succeeded, or failed after its retries, FC sends the configured destination (another function, MNS, RocketMQ,
EventBridge) a record of it::

    {"timestamp": <ms>, "requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
     "requestPayload": <the original payload, text>, "responseContext": {"statusCode": 200, "functionError"},
     "responsePayload": <the function's answer, text>}

``condition`` is documented as the invocation's error code and ``functionError`` as its error information, with
one example (``FunctionResourceExhausted``) and no list. Here: on success both are ``""``; after failed retries
both are the last attempt's ``X-Fc-Error-Type`` (``UnhandledInvocationError``, ``HandledInvocationError``); an
event older than ``maxAsyncEventAgeInSeconds`` gets ``condition`` ``Expired`` (the status FC's AsyncTask API gives
such an invocation). ``statusCode`` stays 200: function errors are answered 200 (FC's "Retry policies" table);
anything else is a system error, which the local host does not produce.

Only function destinations are modelled (``acs:fc:...:functions/<name>`` or FC 2.0's ``services/<svc>/functions/
<name>``): the record goes to that function of the host by asynchronous invocation, with its own retries. Any other
destination (MNS, EventBridge, ...) is logged and skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from osscallback.deploy.asyncconfig import FunctionArn
from osscallback.local.fc.errors import UnknownFunctionError
from osscallback.local.fc.model.asyncinvoke import EXPIRED, SUCCEEDED, AsyncInvocation
from osscallback.local.fc.model.process import LogSink
from osscallback.local.fc.model.registry import Registry
from osscallback.local.fc.spec import FunctionSpec

#: ``condition`` for an event FC discarded for its age (FC's AsyncTask status for it).
EXPIRED_CONDITION = "Expired"

Submit = Callable[[FunctionSpec, bytes, str], Any]


def function_arn(spec: FunctionSpec, region: str, account: str) -> str:
    """The function's ARN as FC writes it in the record (FC 3.0 and FC 2.0 forms of the documented examples)."""
    if spec.is_fc3 or not spec.service:
        return f"acs:fc:{region}:{account}:functions/{spec.name}"
    return f"acs:fc:{region}:{account}:services/{spec.service}/functions/{spec.name}"


def destination_record(invocation: AsyncInvocation, spec: FunctionSpec, region: str, account: str) -> dict[str, Any]:
    """FC's record of a finished asynchronous invocation."""
    last = invocation.attempts[-1] if invocation.attempts else None
    if invocation.status == SUCCEEDED:
        condition = error = ""
    elif invocation.status == EXPIRED:
        condition, error = EXPIRED_CONDITION, (last.error_type or "") if last else ""
    else:
        condition = error = (last.error_type or "UnhandledInvocationError") if last else "UnhandledInvocationError"
    finished = invocation.finished if invocation.finished is not None else time.time()
    return {
        "timestamp": int(finished * 1000),
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": function_arn(spec, region, account),
            "condition": condition,
            "approximateInvokeCount": len(invocation.attempts),
        },
        "requestPayload": invocation.payload.decode("utf-8", "replace"),
        "responseContext": {"statusCode": 200, "functionError": error},
        "responsePayload": invocation.result.decode("utf-8", "replace"),
    }


class Destinations:
    """Sends each finished invocation's record to its function's destination, if it has one for the outcome."""

    def __init__(self, registry: Registry, submit: Submit, log_sink: LogSink, *, region: str, account: str) -> None:
        self.registry = registry
        self.submit = submit
        self.log_sink = log_sink
        self.region = region
        self.account = account

    def __call__(self, invocation: AsyncInvocation) -> None:
        try:
            spec = self.registry.spec(invocation.function, invocation.service or None)
        except UnknownFunctionError:
            return  # undeployed meanwhile
        arn = spec.async_on_success if invocation.status == SUCCEEDED else spec.async_on_failure
        if not arn:
            return
        target = self._target(arn, spec)
        if target is None:
            self.log_sink(spec.name, f"destination {arn} is not a function of this host: not sent")
            return
        record = destination_record(invocation, spec, self.region, self.account)
        self.log_sink(spec.name, f"FC Destination RequestId: {invocation.request_id}, "
                                 f"{'onSuccess' if invocation.status == SUCCEEDED else 'onFailure'} -> {target.name}")
        self.submit(target, json.dumps(record, ensure_ascii=False).encode("utf-8"), f"destination:{spec.name}")

    def _target(self, arn: str, source: FunctionSpec) -> FunctionSpec | None:
        parsed = FunctionArn.parse(arn)
        if parsed is None:
            return None
        service = parsed.service if parsed.service is not None else (None if source.is_fc3 else source.service)
        try:
            return self.registry.spec(parsed.function, service)
        except UnknownFunctionError:
            return None


__all__ = ["Destinations", "EXPIRED_CONDITION", "destination_record", "function_arn"]
