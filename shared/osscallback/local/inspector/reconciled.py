"""The inspector's ``via reconcile`` rows: one per upload reconciliation delivered, whoever started the run.

A reconcile run may be the timer's (an asynchronous invocation the host records) or ``osscallback reconcile``'s (a
synchronous InvokeFunction, which the host does not record), so the rows come from what the function itself says:
its one log line per upload delivered (``{"source": "reconcile", "outcome": "delivered", "bucket", "object",
"request_id"}``, :mod:`osscallback.callback.reconcile`), which the stack hands to :meth:`Inspector.observe_log`. Each
becomes an event row like an OSS-trigger delivery's, named ``via reconcile``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from osscallback.local.deliveries import json_in
from osscallback.local.fc.model.asyncinvoke import AsyncAttempt, AsyncInvocation


def _record(line: str) -> dict[str, Any] | None:
    return json_in(line) if '"reconcile"' in line else None


def delivery_of(function: str, line: str) -> AsyncInvocation | None:
    """The row for a reconcile function's ``delivered`` log line (None for any other line)."""
    doc = _record(line)
    if doc is None or doc.get("source") != "reconcile" or doc.get("outcome") != "delivered" or not doc.get("object"):
        return None
    now = time.time()
    key, bucket = str(doc["object"]), str(doc.get("bucket") or "")
    event = {"events": [{"eventName": "via reconcile", "oss": {"bucket": {"name": bucket}, "object": {"key": key}},
                         "responseElements": {"requestId": str(doc.get("upload_request_id") or "")}}]}
    attempt = AsyncAttempt(number=1, started=now, duration_ms=0.0, ok=True, instance=function)
    return AsyncInvocation(request_id=f"{doc.get('request_id') or 'reconcile'}/{key}", service="",
                           function=function.split("#", 1)[0], source="reconcile", payload=json.dumps(event).encode(),
                           max_attempts=1, status="succeeded", attempts=(attempt,), created=now, finished=now,
                           result=line[line.find("{"):].encode())


__all__ = ["delivery_of"]
