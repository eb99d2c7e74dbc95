"""Failures the local stack causes on purpose, so a user can rehearse them: OSS events dropped for chosen keys.

OSS documents its event notifications as asynchronous and gives no delivery guarantee we could cite; together with
a failed callback, a lost event is the one way an upload used to miss its action (docs/DELIVERY.md). ``LocalStack(
drop_events=["examples/lost-*"])`` / ``osscallback local --drop-events 'examples/lost-*'`` make the local OSS's
event notification drop every record whose object key matches one of the globs (``fnmatch``: ``*``, ``?``,
``[...]``; ``*`` also crosses ``/``), as if OSS never sent it; each drop is logged as one line, so the rehearsal
shows what it did. Reconciliation (``osscallback reconcile``, the timer) then finds those uploads.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Sequence
from typing import Any


class EventDrops:
    """Which OSS event records to drop: those whose ``oss.object.key`` matches a glob."""

    def __init__(self, globs: Sequence[str] = ()) -> None:
        self.globs = tuple(g for g in globs if g)
        self.dropped: list[str] = []  # the keys whose events were dropped, in order

    def matches(self, key: str) -> bool:
        return any(fnmatch.fnmatchcase(key, glob) for glob in self.globs)

    def wrap(self, sink: Callable[[dict[str, Any]], None], log: Callable[[str, str], None]) \
            -> Callable[[dict[str, Any]], None]:
        """``sink`` (the stack's event sink), called with what is left of each document after the drops."""
        def filtered(document: dict[str, Any]) -> None:
            if (kept := self.filter(document, log)) is not None:
                sink(kept)
        return filtered

    def filter(self, document: dict[str, Any], log: Callable[[str, str], None]) -> dict[str, Any] | None:
        """The document without the dropped records (None when none is left)."""
        records = document.get("events")
        if not self.globs or not isinstance(records, list):
            return document
        kept = []
        for record in records:
            key = str(((record.get("oss") or {}).get("object") or {}).get("key", "")) if isinstance(record, dict) \
                else ""
            if key and self.matches(key):
                self.dropped.append(key)
                log("local-oss", json.dumps({"fault": "DroppedOssEvent", "object": key,
                                             "message": "OSS event dropped on purpose (--drop-events)"}))
            else:
                kept.append(record)
        if not kept:
            return None
        return document if len(kept) == len(records) else {**document, "events": kept}


__all__ = ["EventDrops"]
