"""What the inspector remembers: the callbacks the local OSS sent (and OSS-trigger events), newest first.

A bounded, thread-safe log with a version number that changes on every addition, so a page polling
``/api/callbacks?since=V`` learns cheaply whether anything is new. Records get a small sequence number for people
(``#12``) beside their id, and the log counts the replays and re-sends made from each record.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from osscallback.local.fc.model.asyncinvoke import AsyncInvocation
from osscallback.local.oss.callbacks import KIND_REPLAY, KIND_RESEND, CallbackRecord

#: Most callbacks remembered; the oldest are forgotten first.
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class Entry:
    """A record as the history holds it: its sequence number and its place in the replay family."""

    number: int
    record: CallbackRecord


@dataclass(frozen=True)
class EventEntry:
    """An OSS-trigger event delivered to a function: the latest snapshot of one asynchronous invocation of the
    local FC host (queued, running, retried, succeeded or failed), under the number it got when first seen."""

    number: int
    invocation: AsyncInvocation


class CallbackHistory:
    """Newest-first log of callback records and OSS-trigger events, bounded to ``limit`` of each."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._events: OrderedDict[str, EventEntry] = OrderedDict()
        self._replays: dict[str, int] = {}
        self._resends: dict[str, int] = {}
        self._numbers = 0
        self._event_numbers = 0
        self._version = 0
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def add(self, record: CallbackRecord) -> Entry:
        """Remember a record (the local OSS's callback observer)."""
        with self._lock:
            self._numbers += 1
            entry = Entry(self._numbers, record)
            self._entries[record.id] = entry
            counts = {KIND_REPLAY: self._replays, KIND_RESEND: self._resends}.get(record.kind)
            if record.parent_id is not None and counts is not None:
                counts[record.parent_id] = counts.get(record.parent_id, 0) + 1
            while len(self._entries) > self.limit:
                old_id, _ = self._entries.popitem(last=False)
                self._replays.pop(old_id, None)
                self._resends.pop(old_id, None)
            self._version += 1
            return entry

    def add_event(self, invocation: AsyncInvocation) -> EventEntry:
        """Remember (or update, by request id) an OSS-trigger event delivery."""
        with self._lock:
            known = self._events.get(invocation.request_id)
            if known is None:
                self._event_numbers += 1
                entry = EventEntry(self._event_numbers, invocation)
            else:
                entry = EventEntry(known.number, invocation)
            self._events[invocation.request_id] = entry
            while len(self._events) > self.limit:
                self._events.popitem(last=False)
            self._version += 1
            return entry

    def get(self, record_id: str) -> Entry | None:
        with self._lock:
            return self._entries.get(record_id)

    def entries(self) -> list[Entry]:
        """Every remembered record, newest first."""
        with self._lock:
            return list(reversed(self._entries.values()))

    def events(self) -> list[EventEntry]:
        """Every remembered OSS-trigger event, newest first."""
        with self._lock:
            return list(reversed(self._events.values()))

    def replays_of(self, record_id: str) -> int:
        with self._lock:
            return self._replays.get(record_id, 0)

    def resends_of(self, record_id: str) -> int:
        with self._lock:
            return self._resends.get(record_id, 0)

    def number_of(self, record_id: str | None) -> int | None:
        if record_id is None:
            return None
        with self._lock:
            entry = self._entries.get(record_id)
            return entry.number if entry else None

    def children_of(self, record_id: str) -> list[Entry]:
        """The replays and re-sends made from a record, oldest first."""
        with self._lock:
            return [e for e in self._entries.values() if e.record.parent_id == record_id]
