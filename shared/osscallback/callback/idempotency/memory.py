"""The default idempotency store: one process's memory, a bounded LRU (``CALLBACK_IDEMPOTENCY_STORE=memory``).

It costs nothing and needs no service, and it is only as wide as one instance: another FC instance, a recycled
instance or an evicted key runs the action again, and the OSS-event backstop (another function) cannot share it.
Results are kept as the Python objects the action returned (no JSON round trip), and a duplicate waits on a
condition variable rather than polling. ``max_entries=0`` turns deduplication off: every delivery runs.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from osscallback.callback.idempotency.base import Claim, PersistenceLayer, Record, Status
from osscallback.callback.idempotency.delivered import MemoryIndex


class MemoryLayer(PersistenceLayer):
    """Completed records in a bounded LRU (with their TTL), claims in a dict, one lock for both."""

    serializes = False
    description = "memory"

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._done: OrderedDict[str, Record] = OrderedDict()
        self._inflight: dict[str, Record] = {}
        self._changed = threading.Condition(threading.Lock())
        self._waiting = 0  # duplicates waiting on _changed: notify only when someone listens (notify_all is slow)
        self.delivered = MemoryIndex()

    def count(self) -> int:
        with self._changed:
            return len(self._done)

    def _completed(self, key: str, now: float) -> Record | None:
        record = self._done.get(key)
        if record is None:
            return None
        if not record.live(now):
            del self._done[key]
            return None
        self._done.move_to_end(key)
        return record

    def try_claim(self, claim: Record) -> tuple[Claim | None, Record | None]:
        if self.max_entries <= 0:
            return Claim(claim), None
        with self._changed:
            done = self._completed(claim.key, time.time())
            if done is not None:
                return None, done
            running = self._inflight.get(claim.key)
            if running is not None:  # a thread of this process: it cannot die without the store dying too
                return None, running
            self._inflight[claim.key] = claim
            return Claim(claim), None

    def get(self, key: str) -> Record | None:
        with self._changed:
            return self._completed(key, time.time()) or self._inflight.get(key)

    def wait(self, key: str, timeout: float) -> Record | None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while key in self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self._inflight[key]
                self._waiting += 1
                try:
                    self._changed.wait(remaining)
                finally:
                    self._waiting -= 1
            return self._completed(key, time.time())

    def complete(self, claim: Claim, record: Record) -> None:
        if self.max_entries <= 0:
            return
        with self._changed:
            self._inflight.pop(claim.record.key, None)
            self._done[record.key] = record
            self._done.move_to_end(record.key)
            while len(self._done) > self.max_entries:
                self._done.popitem(last=False)
            if self._waiting:
                self._changed.notify_all()

    def release(self, claim: Claim) -> None:
        if self.max_entries <= 0:
            return
        with self._changed:
            held = self._inflight.get(claim.record.key)
            if held is not None and held.token == claim.record.token:
                del self._inflight[claim.record.key]
            if self._waiting:
                self._changed.notify_all()


__all__ = ["MemoryLayer", "Status"]
