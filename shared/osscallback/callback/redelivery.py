"""Redelivery: each dead letter's event through the backstop again, then the dead letter removed.

Transport-free: ``osscallback redeliver`` (the FC API, local or deployed) and the inspector (the local FC host)
pass the box and a way to invoke the backstop. The event is sent unchanged, so the backstop derives the same
idempotency key from it (bucket, object, ETag, the upload's request id): an upload delivered meanwhile, by a late
callback or an earlier redelivery, is a duplicate and does not run again. A dead letter is removed only after the
backstop answered without error; one that fails again stays, with nothing lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from osscallback.callback.deadletter import DeadLetter, InvalidDestinationRecord
from osscallback.errors import OssCallbackError


class RedeliveryFailed(OssCallbackError):
    """The backstop failed the event again (or could not be invoked): the dead letter stays."""


class Box(Protocol):
    def names(self, sub_prefix: str = "") -> Iterator[str]: ...

    def read(self, name: str) -> DeadLetter | None: ...

    def remove(self, name: str) -> None: ...


#: Invokes the backstop synchronously with an event; returns its JSON answer, raises :class:`RedeliveryFailed`.
Invoke = Callable[[bytes], dict[str, Any]]

DELIVERED, FAILED, PLANNED, GONE, INVALID = "delivered", "failed", "would redeliver", "gone", "invalid"


@dataclass(frozen=True)
class Redelivery:
    """What became of one dead letter. ``records`` are the backstop's per-upload outcomes (``ran``,
    ``duplicate``, ``skipped``)."""

    name: str
    outcome: str
    request_id: str = ""
    uploads: tuple[str, ...] = ()
    attempts: int = 0
    reason: str = ""  # why it was dead-lettered
    detail: str = ""  # what happened now
    records: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.outcome in (DELIVERED, PLANNED, GONE)

    def runs(self, outcome: str) -> int:
        return sum(1 for r in self.records if r.get("outcome") == outcome)

    def line(self) -> str:
        what = ", ".join(self.uploads) or "(no uploads)"
        if self.outcome == DELIVERED:
            done = f"ran {self.runs('ran')}, already delivered {self.runs('duplicate')}"
            return f"{self.outcome:<15} {what}  ({done}; removed {self.name})"
        tail = self.detail or self.reason
        return f"{self.outcome:<15} {what}  ({tail}; {self.name})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "ok": self.ok, "request_id": self.request_id,
                "uploads": list(self.uploads), "attempts": self.attempts, "reason": self.reason,
                "detail": self.detail, "records": list(self.records)}


def select(letter: DeadLetter, since: float | None = None, until: float | None = None) -> bool:
    """Whether the letter failed within ``[since, until)`` (epoch seconds; either bound optional)."""
    return (since is None or letter.failed_at >= since) and (until is None or letter.failed_at < until)


def redeliver_one(box: Box, name: str, invoke: Invoke, *, dry_run: bool = False,
                  letter: DeadLetter | None = None) -> Redelivery:
    """Send one dead letter's event through the backstop; remove the letter once it was delivered."""
    if letter is None:
        try:
            letter = box.read(name)
        except InvalidDestinationRecord as exc:
            return Redelivery(name, INVALID, detail=str(exc))
        if letter is None:
            return Redelivery(name, GONE, detail="already removed")
    common: dict[str, Any] = {"request_id": letter.request_id, "attempts": letter.attempts, "reason": letter.reason,
                              "uploads": tuple(f"{b}/{k}" for b, k in letter.uploads)}
    if dry_run:
        return Redelivery(name, PLANNED, **common)
    try:
        answer = invoke(letter.payload)
    except RedeliveryFailed as exc:
        return Redelivery(name, FAILED, detail=str(exc), **common)
    records = answer.get("records") if isinstance(answer, dict) else None
    box.remove(name)
    return Redelivery(name, DELIVERED, records=tuple(r for r in records or () if isinstance(r, dict)), **common)


def redeliver(box: Box, invoke: Invoke, *, sub_prefix: str = "", since: float | None = None,
              until: float | None = None, dry_run: bool = False) -> Iterator[Redelivery]:
    """Every dead letter under ``sub_prefix`` that failed within the time window, oldest first."""
    for name in list(box.names(sub_prefix)):
        try:
            letter = box.read(name)
        except InvalidDestinationRecord as exc:
            yield Redelivery(name, INVALID, detail=str(exc))
            continue
        if letter is None or not select(letter, since, until):
            continue
        yield redeliver_one(box, name, invoke, dry_run=dry_run, letter=letter)


__all__ = ["DELIVERED", "FAILED", "GONE", "INVALID", "PLANNED", "Redelivery", "RedeliveryFailed", "redeliver",
           "redeliver_one", "select"]
