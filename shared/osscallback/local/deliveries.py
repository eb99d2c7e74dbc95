"""What the local stack saw its functions deliver: every action run, by upload and by path, and every duplicate.

The functions run in worker processes, so the stack learns what they did the way an operator would, from their
logs (the local FC host hands every line to the stack's log sink). Three kinds of line count:

- the ``log`` action's line, one per action run (``{"action": "log", "source": "callback" | "oss_event",
  "idempotency_key": ...}``): a *run*, of the upload named by its key;
- the callback function's request line with ``"duplicate": true``: a callback answered from the store;
- the OSS-event function's line with ``"outcome": "duplicate"``: an event already delivered;
- the callback function's error line (``"error"``, ``"message"``) and its request line with a 4xx/5xx ``status``
  and the ``object``: why a callback failed, which ``--once`` shows instead of OSS's bare ``Error status : 503``.

``osscallback local --once`` judges each event by it (the upload ran exactly once) and prints the summary
(:meth:`Deliveries.summary`). Only the shipped ``log`` action announces its runs; with another ``CALLBACK_ACTION``
the stack sees the duplicates but not the runs.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Run:
    """One action run, as its log line tells it."""

    key: str
    source: str
    function: str
    bucket: str | None
    object: str | None


def json_in(line: str) -> dict[str, Any] | None:
    """The JSON object a function log line carries after its prefix (timestamp, request id, level), if any."""
    start = line.find("{")
    if start < 0:
        return None
    try:
        doc = json.loads(line[start:])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


class Deliveries:
    """A thread-safe tally fed with function log lines (:meth:`observe`); read it with the methods below."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.runs: list[Run] = []
        self.duplicates = 0
        self.duplicates_by: Counter[str] = Counter()  # function (instance) label -> duplicates it answered
        self.last_change = time.monotonic()
        self._errors: dict[str, str] = {}  # request id -> "Error: message", from a function's error line
        self._failures: dict[tuple[str, str], str] = {}  # (bucket, object) -> the latest failed request's cause

    def _note_failure(self, doc: dict[str, Any]) -> None:
        request_id = str(doc.get("request_id") or "")
        if doc.get("error") and doc.get("message") and request_id:
            self._errors[request_id] = f"{doc['error']}: {doc['message']}"
        status = doc.get("status")
        if isinstance(status, int) and status >= 400 and doc.get("object"):
            cause = self._errors.pop(request_id, None) or str(doc.get("outcome") or f"HTTP {status}")
            self._failures[(str(doc.get("bucket") or ""), str(doc["object"]))] = cause

    def failure_of(self, bucket: str, key: str) -> str | None:
        """Why the callback function last refused or failed a callback for ``bucket``/``key`` (None: it did not)."""
        with self._lock:
            return self._failures.get((bucket, key))

    def observe(self, function: str, line: str) -> None:
        doc = json_in(line)
        if doc is None:
            return
        with self._lock:
            self._note_failure(doc)
            if doc.get("action") == "log" and doc.get("idempotency_key"):
                raw = doc.get("callback")
                callback: dict[str, Any] = raw if isinstance(raw, dict) else {}
                self.runs.append(Run(str(doc["idempotency_key"]), str(doc.get("source") or "callback"), function,
                                     callback.get("bucket"), callback.get("object")))
            elif doc.get("duplicate") is True or (
                doc.get("source") == "oss_event" and doc.get("outcome") == "duplicate"
            ):
                self.duplicates += 1
                self.duplicates_by[function] += 1
            else:
                return
            self.last_change = time.monotonic()
            self._lock.notify_all()

    def runs_of(self, key: str) -> list[Run]:
        with self._lock:
            return [r for r in self.runs if r.key == key]

    def wait_for(self, key: str, timeout: float) -> list[Run]:
        """Wait until ``key`` has run at least once (or ``timeout``); its runs so far."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not any(r.key == key for r in self.runs):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            return [r for r in self.runs if r.key == key]

    def quiet_for(self) -> float:
        with self._lock:
            return time.monotonic() - self.last_change

    def summary(self, events: int, ok: int) -> dict[str, int]:
        """The ``--once --json`` summary: ``actions_run`` counts distinct uploads, never one twice."""
        with self._lock:
            sources = Counter(r.source for r in self.runs)
            return {
                "events": events,
                "ok": ok,
                "actions_run": len({r.key for r in self.runs}),
                "via_callback": sources.get("callback", 0),
                "via_oss_event": sources.get("oss_event", 0),
                "duplicates_suppressed": self.duplicates,
            }
