"""The OSS-event backstop: FC's OSS trigger as the third thin adapter over :class:`~osscallback.callback.core.
CallbackApp`.

OSS sends an upload callback once, with a 5 s limit and no retry: when the callback function is down, slow or
answers wrong, the object is stored and the business never hears of it. OSS *event notifications* are the
backstop. A function with an OSS trigger (``oss:ObjectCreated:PutObject``, ``PostObject``,
``CompleteMultipartUpload``) gets every stored upload, asynchronously, with FC's retries, and runs the same
configured action through the same shared idempotency store, under the same key the callback path uses
(:func:`~osscallback.callback.actions.upload_key` over bucket, object, ETag and the upload's OSS request id,
which the event carries as ``responseElements.requestId`` and the callback as ``${reqId}``). So an upload whose
callback succeeded runs once, and an upload whose callback failed (or that had none) runs once, here.

The event path never runs the action without a claim. When the claim is held by a callback still in progress,
when the store is unreachable, or when the action fails, the invocation fails, so that FC's asynchronous retry
delivers the event again later. The ``memory`` store is refused at start-up: this function cannot share
another function's memory, and every upload would run twice.

The event format is FC's "trigger event format" for OSS triggers: ``{"events": [{"eventName":
"ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime", "region", "oss": {"bucket": {"name"},
"object": {"key", "eTag", "size"}}, "responseElements": {"requestId"}, "requestParameters":
{"sourceIPAddress"}}]}``. Objects under the ``oss://`` store's own marker prefix are skipped (the trigger's filter
should exclude them already), as are events this function does not handle.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osscallback.callback.actions import CallbackEvent, upload_key
from osscallback.callback.body import CallbackBody
from osscallback.callback.config import CallbackConfig
from osscallback.callback.confirm import ConfirmSpec
from osscallback.callback.core import CallbackApp
from osscallback.errors import ClaimInProgress, ConfigError, OssCallbackError, StoreUnavailable

log = logging.getLogger("osscallback.oss_event")

#: The uploads OSS can also announce with a callback (SPEC §1): what the backstop delivers.
HANDLED_EVENTS = ("ObjectCreated:PutObject", "ObjectCreated:PostObject", "ObjectCreated:CompleteMultipartUpload")


class InvalidOssEvent(OssCallbackError):
    """The invocation's payload is not an OSS trigger event (retrying would not help: it is logged and dropped)."""


class DeliveryFailed(OssCallbackError):
    """At least one upload of the event could not be delivered now; raised so that FC retries the invocation."""


@dataclass(frozen=True)
class ObjectCreated:
    """One ``events[]`` entry of an OSS trigger event, the fields the backstop needs."""

    event_name: str
    bucket: str
    key: str
    etag: str
    size: int | None
    request_id: str
    region: str
    source_ip: str
    event_time: str

    @property
    def operation(self) -> str:
        """``PutObject`` for ``ObjectCreated:PutObject``: the callback's ``${operation}``."""
        return self.event_name.rsplit(":", 1)[-1]

    def as_event(self, invocation_id: str) -> CallbackEvent:
        """The typed record the action gets, as from a callback, with ``source="oss_event"``."""
        body = CallbackBody(
            bucket=self.bucket, object=self.key, etag=self.etag, size=self.size, req_id=self.request_id,
            operation=self.operation, client_ip=self.source_ip or None, content_type="oss_event",
        )
        return CallbackEvent(
            body=body, request_id=invocation_id, source="oss_event", event_name=self.event_name,
            idempotency_key=upload_key(self.bucket, self.key, self.etag, self.request_id),
        )


def _text(node: Any, *path: str) -> str:
    for name in path:
        node = node.get(name) if isinstance(node, Mapping) else None
    return "" if node is None or isinstance(node, (dict, list)) else str(node)


def parse_event(payload: Any) -> list[ObjectCreated]:
    """The entries of an OSS trigger event (bytes, text or an already-decoded mapping)."""
    if isinstance(payload, (bytes, bytearray, str)):
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidOssEvent("the invocation payload is not JSON") from None
    entries = payload.get("events") if isinstance(payload, Mapping) else None
    if not isinstance(entries, list):
        raise InvalidOssEvent("the invocation payload has no events[] list: not an OSS trigger event")
    out: list[ObjectCreated] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise InvalidOssEvent("an events[] entry is not an object")
        size_text = _text(entry, "oss", "object", "size")
        out.append(ObjectCreated(
            event_name=_text(entry, "eventName").removeprefix("oss:"),
            bucket=_text(entry, "oss", "bucket", "name"),
            key=_text(entry, "oss", "object", "key"),
            etag=_text(entry, "oss", "object", "eTag"),
            size=int(size_text) if size_text.isdigit() else None,
            request_id=_text(entry, "responseElements", "requestId"),
            region=_text(entry, "region"),
            source_ip=_text(entry, "requestParameters", "sourceIPAddress"),
            event_time=_text(entry, "eventTime"),
        ))
    return out


@dataclass(frozen=True)
class Delivery:
    """What became of one entry: ``ran``, ``duplicate`` (already delivered), ``skipped`` or ``failed``."""

    bucket: str
    object: str
    outcome: str
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"bucket": self.bucket, "object": self.object, "outcome": self.outcome}
        if self.reason:
            out["reason"] = self.reason
        return out


class OssEventApp:
    """Delivers OSS trigger events to the action, once per upload, through the callback app's shared store."""

    def __init__(self, app: CallbackApp) -> None:
        spec = app.config.idempotency_store
        if not spec.shared:
            raise ConfigError(
                "CALLBACK_IDEMPOTENCY_STORE=memory: the OSS-event function cannot share memory with the callback "
                "function, so every upload would run its action twice. Set CALLBACK_IDEMPOTENCY_STORE to the store "
                "the callback function uses: oss://<bucket>/<prefix> (the templates' default) or "
                "redis://[:password@]host:port/db"
            )
        self.app = app
        self.store = spec

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OssEventApp:
        """The shared configuration, read and checked whole, but with confirmation off: events are never confirmed
        (:meth:`CallbackApp.deliver`), so building a confirmer would only load oss2 for nothing beside a redis://
        store."""
        config = CallbackConfig.from_env(env)
        return cls(CallbackApp(dataclasses.replace(config, confirm=ConfirmSpec())))

    def handle(self, payload: Any, context: Any = None) -> dict[str, Any]:
        """Deliver every entry; raise :class:`DeliveryFailed` (after trying them all) if any must be retried."""
        invocation_id = str(getattr(context, "request_id", "") or "")
        try:
            entries = parse_event(payload)
        except InvalidOssEvent as exc:
            log.error(json.dumps({"request_id": invocation_id, "error": "InvalidOssEvent", "message": str(exc)}))
            return {"records": [], "error": "InvalidOssEvent", "message": str(exc)}
        results = [self._deliver(entry, invocation_id, context) for entry in entries]
        failed = [r for r in results if r.outcome == "failed"]
        if failed:
            raise DeliveryFailed(
                "; ".join(f"{r.bucket}/{r.object}: {r.reason}" for r in failed) + " (FC retries this invocation)"
            )
        return {"records": [r.as_dict() for r in results]}

    def _deliver(self, entry: ObjectCreated, invocation_id: str, context: Any) -> Delivery:
        started = time.perf_counter()
        result = self._outcome(entry, invocation_id, context)
        record = {
            "request_id": invocation_id, "source": "oss_event", "event": entry.event_name,
            "bucket": entry.bucket, "object": entry.key, "upload_request_id": entry.request_id,
            "outcome": result.outcome, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if result.reason:
            record["reason"] = result.reason
        (log.warning if result.outcome == "failed" else log.info)(json.dumps(record, ensure_ascii=False))
        return result

    def _outcome(self, entry: ObjectCreated, invocation_id: str, context: Any) -> Delivery:
        def skipped(reason: str) -> Delivery:
            return Delivery(entry.bucket, entry.key, "skipped", reason)

        if entry.event_name not in HANDLED_EVENTS:
            return skipped(f"{entry.event_name or 'no eventName'} is not an upload this function delivers")
        if self.store.covers(entry.bucket, entry.key):
            return skipped("an idempotency marker of this function's own store")
        if not (entry.bucket and entry.key and entry.etag and entry.request_id):
            return skipped("the event lacks the bucket, key, eTag or responseElements.requestId the key needs")
        try:
            _, duplicate = self.app.deliver(entry.as_event(invocation_id), context=context)
        except ClaimInProgress as exc:
            return Delivery(entry.bucket, entry.key, "failed", f"in progress elsewhere: {exc}")
        except StoreUnavailable as exc:
            return Delivery(entry.bucket, entry.key, "failed", f"idempotency store unavailable: {exc}")
        except Exception as exc:  # the action failed: its claim is released, so the retry runs it again
            log.exception(json.dumps({"request_id": invocation_id, "error": "ActionFailed", "object": entry.key}))
            return Delivery(entry.bucket, entry.key, "failed", f"the action failed: {exc.__class__.__name__}")
        return Delivery(entry.bucket, entry.key, "duplicate" if duplicate else "ran")


class BrokenEventApp:
    """Stands in for :class:`OssEventApp` when configuration is wrong: every invocation fails with the reason."""

    def __init__(self, error: ConfigError) -> None:
        self.error = error

    def handle(self, payload: Any, context: Any = None) -> dict[str, Any]:
        log.error(json.dumps({"error": "ConfigurationError", "message": str(self.error)}))
        raise self.error


def load_event_app(env: Mapping[str, str] | None = None) -> OssEventApp | BrokenEventApp:
    """Build the event app from the environment at start-up; a configuration error is logged loudly once."""
    try:
        return OssEventApp.from_env(env)
    except ConfigError as exc:
        log.error(json.dumps({"error": "ConfigurationError", "message": str(exc)}))
        return BrokenEventApp(exc)


def make_oss_event_handler(app: OssEventApp | BrokenEventApp) -> Any:
    """An FC event ``handler(event, context)`` (FC 2.0 and 3.0 alike) answering a JSON summary."""

    def handler(event: Any, context: Any = None) -> str:
        return json.dumps(app.handle(event, context), ensure_ascii=False)

    return handler
