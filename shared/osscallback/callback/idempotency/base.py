"""The record model and the orchestration every idempotency backend shares.

A record moves ``in_progress`` → ``completed``, as in Powertools' idempotency utility:

- a **claim** (``in_progress``) is written atomically only if no live record exists. It carries
  ``in_progress_until``: a run whose instance died never completes, and its claim lapses then, so a later
  delivery can take over instead of being refused forever;
- a **completed** record holds the action's result until ``expires_at`` (``CALLBACK_IDEMPOTENCY_TTL``), so a
  duplicate on any instance gets the same result, and so the same answer;
- a run that **fails** releases its claim: the failure is not an answer, and the next delivery runs again.

What the orchestration (:class:`Idempotency`) adds on top of a backend: a duplicate that meets a claim in
progress waits for it, bounded (the callback path must answer inside OSS's 5 s), then gets the completed
result, or :class:`~osscallback.errors.ClaimInProgress`; any backend failure is
:class:`~osscallback.errors.StoreUnavailable`, so no action ever runs without a claim; and a *fingerprint* (the
SHA-256 of the callback body that claimed the upload) keeps a different body from collecting another upload's
result under a borrowed key (:class:`~osscallback.errors.IdempotencyKeyMismatch`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from osscallback.callback.idempotency.delivered import DeliveredIndex
from osscallback.callback.ids import UniqueIds
from osscallback.errors import ClaimInProgress, IdempotencyKeyMismatch, StoreUnavailable

log = logging.getLogger("osscallback.idempotency")

DEFAULT_TTL = 7 * 86400.0
#: An unfinished claim older than this belongs to a run whose instance died: both functions' timeouts are shorter.
DEFAULT_CLAIM_TTL = 60.0
#: How long a duplicate waits for a run in progress: well inside OSS's 5 s, next to a key fetch of at most 2 s.
DEFAULT_WAIT = 2.0


def redact_url(url: str) -> str:
    """A store URL without its password, for logs and error messages."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}" if "@" in rest else url


class Status(str, Enum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Record:
    """One idempotency key's state, as every backend stores it (JSON)."""

    key: str
    status: Status
    token: str  # who holds (or held) the claim: a release only ever removes its own
    source: str  # "callback" or "oss_event": which delivery path ran (or runs) the action
    in_progress_until: float
    expires_at: float
    fingerprint: str | None = None  # SHA-256 of the claiming callback body; None for the OSS-event path
    result: Any = None

    def live(self, now: float) -> bool:
        """Whether the record still decides anything: a lapsed claim or an expired result does not."""
        limit = self.in_progress_until if self.status is Status.IN_PROGRESS else self.expires_at
        return now < limit

    def to_json(self) -> bytes:
        doc = {
            "key": self.key, "status": self.status.value, "token": self.token, "source": self.source,
            "in_progress_until": self.in_progress_until, "expires_at": self.expires_at,
            "fingerprint": self.fingerprint, "result": self.result,
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> Record:
        """Parse a stored record; a record that does not parse is a store failure, never "absent"."""
        try:
            doc = json.loads(data)
            return cls(
                key=str(doc["key"]), status=Status(doc["status"]), token=str(doc["token"]),
                source=str(doc["source"]), in_progress_until=float(doc["in_progress_until"]),
                expires_at=float(doc["expires_at"]), fingerprint=doc.get("fingerprint"), result=doc.get("result"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreUnavailable(f"an idempotency record is corrupt ({exc.__class__.__name__})") from None


@dataclass(frozen=True)
class Claim:
    """What a backend hands back for a claim it granted: enough to complete or release exactly that claim."""

    record: Record
    handle: Any = None  # backend-specific (the OSS store's marker generation)


class PersistenceLayer(ABC):
    """One backend. Every method may raise :class:`~osscallback.errors.StoreUnavailable` (and nothing else)."""

    #: JSON round trip of results: a backend that serializes returns what a replay would see.
    serializes = True
    #: Shown in logs and errors: ``memory``, ``redis://host:port/0``, ``oss://bucket/prefix``.
    description = "store"
    #: The delivered index and reconciliation's checkpoints in the same store (:mod:`.delivered`).
    delivered: DeliveredIndex | None = None

    @abstractmethod
    def try_claim(self, claim: Record) -> tuple[Claim | None, Record | None]:
        """Write ``claim`` if no live record exists for its key: ``(granted, None)`` or ``(None, live record)``.

        Atomic against every other instance: of any number of concurrent calls for one key, at most one is granted.
        """

    @abstractmethod
    def get(self, key: str) -> Record | None:
        """The live record for ``key``, or None."""

    @abstractmethod
    def complete(self, claim: Claim, record: Record) -> None:
        """Replace the granted claim by its completed ``record``."""

    @abstractmethod
    def release(self, claim: Claim) -> None:
        """Give up the granted claim (the run failed), unless another run took it over meanwhile."""

    def wait(self, key: str, timeout: float) -> Record | None:
        """Wait up to ``timeout`` for ``key``'s claim to end; the live record then (None if none is left).

        Polls with a growing interval; the memory store overrides this with a condition variable.
        """
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            record = self.get(key)
            if record is None or record.status is Status.COMPLETED:
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return record
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)

    def count(self) -> int:
        """How many records are held (only the memory store knows cheaply; the others raise TypeError)."""
        raise TypeError(f"{self.description} does not count its records")

    def observe_credentials(self, credentials: Any) -> None:  # noqa: B027 - optional hook, no-op by default
        """Take the latest FC credentials (``context.credentials``); only the OSS store needs them."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (tests and the local stack stop stores; FC just freezes the instance)."""


class Idempotency:
    """Runs a function once per key through a :class:`PersistenceLayer`; counts runs and duplicates.

    ``runs`` counts the functions that were called (whether they then returned or raised); a delivery its ``guard``
    refused (a callback OSS did not confirm) never called one, so it is not a run.
    """

    def __init__(
        self,
        layer: PersistenceLayer,
        *,
        ttl: float = DEFAULT_TTL,
        claim_ttl: float = DEFAULT_CLAIM_TTL,
        wait: float = DEFAULT_WAIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.layer = layer
        self.ttl = ttl
        self.claim_ttl = claim_ttl
        self.wait = wait
        self.clock = clock
        self.runs = 0
        self.duplicates = 0
        self._count = threading.Lock()
        self._tokens = UniqueIds()  # claim tokens: unique across instances, no syscall each

    def __len__(self) -> int:
        return self.layer.count()

    def run(
        self,
        key: str,
        func: Callable[[], Any],
        *,
        source: str = "callback",
        fingerprint: str | None = None,
        wait: float | None = None,
        guard: Callable[[], None] | None = None,
    ) -> tuple[Any, bool]:
        """Run ``func`` once for ``key``; return ``(result, duplicate)``.

        ``guard``, if given, is called inside the claim just before ``func`` (the callback's confirmation with OSS):
        if it raises, ``func`` does not run, the claim is released and the exception propagates, as a failed run's
        would, but it is not counted as a run.

        Raises :class:`ClaimInProgress` when another run holds the claim past ``wait`` seconds,
        :class:`StoreUnavailable` when the store cannot be asked (``func`` then never runs),
        :class:`IdempotencyKeyMismatch` when the key was delivered with another body, and whatever ``func`` raises
        (its claim released, so the next delivery runs it again).
        """
        budget = self.wait if wait is None else wait
        deadline = time.monotonic() + budget
        while True:
            now = self.clock()
            proposal = Record(
                key=key, status=Status.IN_PROGRESS, token=self._tokens(), source=source,
                in_progress_until=now + self.claim_ttl, expires_at=now + self.ttl, fingerprint=fingerprint,
            )
            claim, existing = self._ask(self.layer.try_claim, proposal)
            if claim is not None:
                break
            assert existing is not None
            self._check_fingerprint(existing, fingerprint)
            if existing.status is Status.COMPLETED:
                with self._count:
                    self.duplicates += 1
                return existing.result, True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClaimInProgress(
                    f"upload {key} is being processed by another {existing.source} run; it did not finish "
                    f"within {budget:g} s"
                )
            after = self._ask(self.layer.wait, key, remaining)
            if after is not None:
                self._check_fingerprint(after, fingerprint)
                if after.status is Status.COMPLETED:
                    with self._count:
                        self.duplicates += 1
                    return after.result, True
            # the claim ended without a result (released or lapsed): loop and try to claim it ourselves
        try:
            if guard is not None:
                guard()
            with self._count:
                self.runs += 1
            result = func()
        except BaseException:
            try:
                self.layer.release(claim)
            except StoreUnavailable as exc:  # the claim lapses on its own at in_progress_until
                log.error(json.dumps({"error": "IdempotencyReleaseFailed", "key": key, "message": str(exc)}))
            raise
        if self.layer.serializes:
            result = json.loads(json.dumps(result, ensure_ascii=False, default=str))
        claimed = claim.record  # built field by field: dataclasses.replace costs as much as the memory store itself
        done = Record(key=claimed.key, status=Status.COMPLETED, token=claimed.token, source=claimed.source,
                      in_progress_until=claimed.in_progress_until, expires_at=self.clock() + self.ttl,
                      fingerprint=claimed.fingerprint, result=result)
        try:
            self.layer.complete(claim, done)
        except StoreUnavailable as exc:
            # The action ran: its answer stands. Until the claim lapses duplicates get 409; after it, one may run
            # the action again. Loud, because only a monitored log can tell.
            log.error(json.dumps({"error": "IdempotencyRecordNotSaved", "key": key, "message": str(exc)}))
        return result, False

    @staticmethod
    def _check_fingerprint(record: Record, fingerprint: str | None) -> None:
        if record.fingerprint and fingerprint and record.fingerprint != fingerprint:
            raise IdempotencyKeyMismatch(
                f"upload {record.key} was already delivered by a callback with a different body"
            )

    def _ask(self, call: Callable[..., Any], *args: Any) -> Any:
        try:
            return call(*args)
        except StoreUnavailable:
            raise
        except Exception as exc:  # a backend bug or an unexpected client error: still never run unclaimed
            raise StoreUnavailable(f"{self.layer.description}: {exc.__class__.__name__}: {exc}") from exc
