"""What the callback function does with a verified callback: the configured action, run once per upload.

An action is any callable ``action(event: CallbackEvent) -> JSON-able | None``, named by ``CALLBACK_ACTION``:
``none`` (default: nothing to do, the answer template echoes the callback), ``log`` (one structured log line), or
``package.module:function`` for user code shipped with the function. Its result is available to the answer
template as ``action``.

OSS may deliver the same callback more than once (a replay is valid by design: the signature covers only the
path and body), so actions run behind an idempotency key: OSS's ``reqId`` when the body carries it, else a hash
of the signed bytes. A bounded store remembers recent keys and their results, and concurrent duplicates wait for
the first run instead of running side effects twice.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from osscallback.callback.body import CallbackBody
from osscallback.errors import ConfigError

log = logging.getLogger("osscallback.action")


@dataclass(frozen=True)
class CallbackEvent:
    """A verified, parsed callback as actions see it."""

    body: CallbackBody
    request_id: str
    idempotency_key: str
    path: str
    query: str


Action = Callable[[CallbackEvent], Any]


def _none(event: CallbackEvent) -> None:
    return None


def _log(event: CallbackEvent) -> dict[str, Any]:
    log.info(json.dumps({"action": "log", "request_id": event.request_id, "callback": event.body.as_dict()}))
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


def idempotency_key(body: CallbackBody, raw_body: bytes, signed: bytes) -> str:
    """What makes two callbacks "the same" for running the action once.

    With ``${reqId}`` in the body: OSS's request id *and* a hash of the body. The reqId alone is not enough, since
    it is text in a body whose template the uploader controls (a body could claim another upload's reqId); the
    body is rendered once per upload, so OSS's retries of one callback to its other URLs still share the key.
    Without a reqId: a hash of the signed bytes (path, query and body). Put ``${reqId}`` in callback bodies:
    without it, two uploads producing identical bodies within the store's window count as one.
    """
    if body.req_id:
        return f"reqId:{body.req_id}:{hashlib.sha256(raw_body).hexdigest()[:32]}"
    return "sha256:" + hashlib.sha256(signed).hexdigest()


class IdempotencyStore:
    """Bounded LRU of idempotency key -> action result, with single-flight for concurrent duplicates."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._done: OrderedDict[str, Any] = OrderedDict()
        self._inflight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.runs = 0
        self.duplicates = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._done)

    def run(self, key: str, func: Callable[[], Any]) -> tuple[Any, bool]:
        """Run ``func`` once for ``key``; return ``(result, duplicate)``. A failed run is not remembered."""
        if self.max_entries <= 0:
            self.runs += 1
            return func(), False
        while True:
            with self._lock:
                if key in self._done:
                    self._done.move_to_end(key)
                    self.duplicates += 1
                    return self._done[key], True
                waiter = self._inflight.get(key)
                if waiter is None:
                    done = threading.Event()
                    self._inflight[key] = done
                    self.runs += 1
                    break
            waiter.wait()
        try:
            result = func()
        except BaseException:
            with self._lock:
                del self._inflight[key]
            done.set()
            raise
        with self._lock:
            self._done[key] = result
            while len(self._done) > self.max_entries:
                self._done.popitem(last=False)
            del self._inflight[key]
        done.set()
        return result, False
