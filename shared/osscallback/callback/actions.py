"""What the callback function does with a verified upload: the configured action, run once per upload.

An action is any callable ``action(event: CallbackEvent) -> JSON-able | None``, named by ``CALLBACK_ACTION``:
``none`` (default: nothing to do, the answer template echoes the callback), ``log`` (one structured log line), or
``package.module:function`` for user code shipped with the function. Its result is available to the answer
template as ``action``. The same action receives the same typed record whichever path delivered the upload: the
callback (``source="callback"``), the OSS-event backstop (``source="oss_event"``) or reconciliation
(``source="reconcile"``, :mod:`osscallback.callback.reconcile`).

OSS may deliver the same upload more than once (a replayed callback is valid by design: the signature covers only
the path and body; OSS tries each ``;``-separated callback URL in turn; the OSS event arrives as well), so actions
run behind an idempotency key (:func:`idempotency_key`, :func:`upload_key`) through the configured store
(:mod:`osscallback.callback.idempotency`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from osscallback.callback.body import CallbackBody
from osscallback.callback.idempotency.base import Idempotency
from osscallback.callback.idempotency.memory import MemoryLayer
from osscallback.errors import ConfigError

log = logging.getLogger("osscallback.action")


SOURCES = ("callback", "oss_event", "reconcile")


@dataclass(frozen=True)
class CallbackEvent:
    """One upload as actions see it, whichever path delivered it.

    ``source`` is ``"callback"`` (a verified OSS upload callback: ``body`` is the parsed callback body, ``path``
    and ``query`` the URL OSS called) or ``"oss_event"`` (the OSS-event backstop: ``body`` holds what the event
    says, namely bucket, object, ETag, size, the upload's request id as ``req_id``, the operation and the client
    IP, and ``event_name`` is e.g. ``ObjectCreated:PutObject``) or ``"reconcile"`` (a stored object whose upload
    no other path delivered: bucket, object, ETag, size, and ``req_id`` ``reconcile:<Last-Modified>``, since a
    listing shows no request id). ``idempotency_key`` is the same on the first two paths for one upload when the
    callback body carries what :func:`upload_key` needs; the delivered index ties reconciliation to both.
    """

    body: CallbackBody
    request_id: str
    idempotency_key: str
    path: str = ""
    query: str = ""
    source: str = "callback"
    event_name: str | None = None


Action = Callable[[CallbackEvent], Any]


def _none(event: CallbackEvent) -> None:
    return None


def _log(event: CallbackEvent) -> dict[str, Any]:
    log.info(json.dumps({"action": "log", "source": event.source, "request_id": event.request_id,
                         "idempotency_key": event.idempotency_key, "callback": event.body.as_dict()},
                        ensure_ascii=False))
    return {"logged": True}


BUILTIN_ACTIONS: dict[str, Action] = {"none": _none, "log": _log}


def load_action(spec: str) -> Action:
    """Resolve ``CALLBACK_ACTION``: a built-in name or ``module:function``."""
    if spec in BUILTIN_ACTIONS:
        return BUILTIN_ACTIONS[spec]
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"CALLBACK_ACTION={spec!r}: use one of {', '.join(BUILTIN_ACTIONS)} or 'package.module:function'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"CALLBACK_ACTION={spec!r}: cannot import {module_name!r}: {exc}") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise ConfigError(f"CALLBACK_ACTION={spec!r}: {module_name}.{attr} is not a callable")
    return func


def normalize_etag(etag: str) -> str:
    """``"d41d8..."`` (an HTTP header, quoted, any case) and ``D41D8...`` (OSS's ``${etag}``) are one ETag."""
    return etag.strip().strip('"').upper()


def upload_key(bucket: str, obj: str, etag: str, req_id: str) -> str:
    """The dedupe key of one upload, computed alike by the callback and the OSS-event path.

    Both payloads carry the upload's OSS request id (the callback's ``${reqId}``, the event's
    ``responseElements.requestId``), bucket, object key and ETag. The request id is what makes an upload *this*
    upload (the same bytes uploaded again are another upload, with another id); bucket, object and ETag bind the
    key to the object the event says was written. Why all four (docs/SECURITY.md): a callback body is text the
    uploader's template chooses, so a body may *claim* any request id. With the object and ETag in the key, a
    body that borrows another upload's request id gets a key of its own and can neither suppress that upload's
    action nor collect its result; to collide it must repeat bucket, object, ETag and id exactly, and then a
    different body is refused (the stored fingerprint), while a byte-identical one is a replay.
    """
    material = "\n".join((bucket, obj, normalize_etag(etag), req_id))
    return "upload:" + hashlib.sha256(material.encode("utf-8")).hexdigest()


def idempotency_key(body: CallbackBody, raw_body: bytes, signed: bytes) -> str:
    """What makes two callbacks "the same" for running the action once.

    With ``${bucket}``, ``${object}``, ``${etag}`` and ``${reqId}`` in the body (every shipped template sends
    them): :func:`upload_key`, shared with the OSS-event backstop. With a reqId but not the rest: OSS's request
    id *and* a hash of the body (the reqId alone is text the uploader controls), which deduplicates callbacks
    but not the event, so the backstop would run such an upload a second time. Without a reqId: a hash of the
    signed bytes (path, query and body); two uploads producing identical bodies then count as one.
    """
    if body.req_id and body.bucket and body.object and body.etag:
        return upload_key(body.bucket, body.object, body.etag, body.req_id)
    if body.req_id:
        return f"reqId:{body.req_id}:{hashlib.sha256(raw_body).hexdigest()[:32]}"
    return "sha256:" + hashlib.sha256(signed).hexdigest()


def body_fingerprint(raw_body: bytes) -> str:
    """What a duplicate callback must repeat byte for byte to get the stored result of the one that ran."""
    return hashlib.sha256(raw_body).hexdigest()


class IdempotencyStore(Idempotency):
    """The default store as one object: this process's bounded LRU (:class:`MemoryLayer`) and its orchestration.

    ``run(key, func)`` runs ``func`` once per key and returns ``(result, duplicate)``; concurrent duplicates wait
    for the first run (bounded); a failed run is not remembered; ``max_entries=0`` turns deduplication off.
    """

    def __init__(self, max_entries: int = 10_000, **options: float) -> None:
        super().__init__(MemoryLayer(max_entries), **options)  # type: ignore[arg-type]
        self.max_entries = max_entries
