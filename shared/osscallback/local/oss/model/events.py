"""OSS event notifications: after each stored upload, an ``ObjectCreated`` event handed to an optional sink.

The document is Function Compute's "OSS trigger" event format (FC 3.0's "Trigger event format" page), so a sink
can pass it to an OSS-triggered function unchanged::

    {"events": [{"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss",
                 "eventTime": "2022-08-13T06:45:43.000Z", "eventVersion": "1.0",
                 "oss": {"bucket": {"arn": "acs:oss:cn-hangzhou:<owner>:<bucket>", "name", "ownerIdentity"},
                         "object": {"deltaSize", "eTag": "<upper-case hex, no quotes>", "key",
                                    "objectMeta": {"mimeType", "userMeta": {"x-oss-meta-...": ...}}, "size"},
                         "ossSchemaVersion": "1.0", "ruleId"},
                 "region": "cn-hangzhou", "requestParameters": {"sourceIPAddress"},
                 "responseElements": {"requestId": "<the upload's x-oss-request-id>"},
                 "userIdentity": {"principalId"}}]}

``objectMeta`` is FC 3.0's: its page and the FC Go runtime SDK's sample carry it (``userMeta`` only for an object
with ``x-oss-meta-*`` metadata); FC 2.0's older page shows an object without it. ``tests/callback/golden/`` compares
this document with those official samples field by field.

Why a queue and one worker thread: the sink may be slow (it may invoke a function) or may fail, and neither may
delay or break the upload that caused the event. Events reach the sink in commit order; a sink that raises is
logged and the next event is delivered as usual.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("osscallback.local.oss.events")

#: The receiver of event documents: ``sink({"events": [...]})``.
EventSink = Callable[[dict[str, Any]], None]

#: The ruleId of every event: the local OSS has no notification rules, one implicit rule matches everything.
LOCAL_RULE_ID = "local-oss-all-objects"

#: The ObjectCreated operations (eventName is ``ObjectCreated:<operation>``).
OBJECT_CREATED = frozenset(
    {"PutObject", "PostObject", "CompleteMultipartUpload", "CopyObject", "AppendObject", "PutSymlink"}
)


@dataclass(frozen=True)
class ObjectCreated:
    """What happened, in the local OSS's terms; :meth:`document` renders FC's format."""

    operation: str
    bucket: str
    key: str
    etag: str  # without quotes, as the ETag header carries it inside its quotes
    size: int
    delta_size: int
    region: str
    owner_id: str
    principal_id: str
    source_ip: str
    request_id: str
    time: float
    mime_type: str = "application/octet-stream"
    user_meta: tuple[tuple[str, str], ...] = ()  # x-oss-meta-* (full lower-case names), in a stable order

    def document(self) -> dict[str, Any]:
        return {
            "events": [
                {
                    "eventName": f"ObjectCreated:{self.operation}",
                    "eventSource": "acs:oss",
                    "eventTime": _iso8601_ms(self.time),
                    "eventVersion": "1.0",
                    "oss": {
                        "bucket": {
                            "arn": f"acs:oss:{self.region}:{self.owner_id}:{self.bucket}",
                            "name": self.bucket,
                            "ownerIdentity": self.owner_id,
                        },
                        "object": {
                            "deltaSize": self.delta_size,
                            "eTag": self.etag,
                            "key": self.key,
                            "objectMeta": self._object_meta(),
                            "size": self.size,
                        },
                        "ossSchemaVersion": "1.0",
                        "ruleId": LOCAL_RULE_ID,
                    },
                    "region": self.region,
                    "requestParameters": {"sourceIPAddress": self.source_ip},
                    "responseElements": {"requestId": self.request_id},
                    "userIdentity": {"principalId": self.principal_id},
                }
            ]
        }

    def _object_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"mimeType": self.mime_type}
        if self.user_meta:
            meta["userMeta"] = dict(self.user_meta)
        return meta


def _iso8601_ms(ts: float) -> str:
    millis = int(ts * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{millis:03d}Z"


_STOP = object()


class Notifier:
    """Hands event documents to a sink from one background thread, so uploads never wait on it."""

    def __init__(self, sink: EventSink | None = None) -> None:
        self.sink = sink
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def publish(self, event: ObjectCreated) -> None:
        if self.sink is None:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="local-oss-events", daemon=True)
                self._thread.start()
            self._queue.put(event)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, ObjectCreated)
            sink = self.sink
            if sink is None:
                continue
            try:
                sink(item.document())
            except Exception:  # a failing sink must never break the local OSS (nor the next event)
                log.exception("the on_object_created sink failed for %s %s/%s", item.operation, item.bucket, item.key)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (for at most ``timeout`` seconds), then stop the worker."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(_STOP)
        thread.join(timeout)
