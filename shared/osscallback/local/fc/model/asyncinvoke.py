"""Asynchronous invocation as FC does it: accept now, run later, retry a failed run, keep a record of every try.

FC's asynchronous invocation (InvokeFunction with ``X-Fc-Invocation-Type: Async``, and every OSS trigger) answers
202 at once and runs the function from a queue. When a run fails with ``UnhandledInvocationError`` or
``HandledInvocationError`` (the function raised, timed out, or its instance died), FC runs it again: by default
**3 retries** after the first attempt (``maxAsyncRetryAttempts``, range 0-8; official pages "Retry policies" /
"Configure a retry mechanism" and the FC 3.0 API's ``PutAsyncInvokeConfigInput``), so up to 4 attempts. FC does
not document the delay between those retries; for throttling it documents a binary exponential backoff that starts
at 0.5 s (0.5, 1, 2, 4 s ...), which is what this engine uses for every retry, with the base configurable so tests
need not wait. Every attempt of one invocation keeps the invocation's request id, as FC's asynchronous retries do.

Each invocation is an :class:`AsyncInvocation` record: immutable snapshots, replaced at every change (queued,
running, each attempt's outcome, the final status) and handed to an optional observer, so the local stack's
summary and inspector can list every asynchronous invocation with its attempts without polling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

#: FC's default ``maxAsyncRetryAttempts``: retries after the first failed attempt.
DEFAULT_RETRY_ATTEMPTS = 3
#: First retry delay in seconds; each further retry waits twice as long.
DEFAULT_BACKOFF = 0.5

QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED, EXPIRED, ABANDONED = (
    "queued", "running", "retrying", "succeeded", "failed", "expired", "abandoned")
_DONE = (SUCCEEDED, FAILED, EXPIRED, ABANDONED)
#: Ends that FC reports to a destination (an abandoned invocation is the local host stopping, not FC's verdict).
FINAL = (SUCCEEDED, FAILED, EXPIRED)

log = logging.getLogger("osscallback.local.fc")


@dataclass(frozen=True)
class AttemptResult:
    """What one run of the function gave: ``error_type`` is ``None`` on success."""

    error_type: str | None = None
    error_message: str | None = None
    instance: str = ""
    body: bytes = b""


@dataclass(frozen=True)
class AsyncAttempt:
    """One attempt of an asynchronous invocation."""

    number: int  # 1 for the first run, 2 for the first retry, ...
    started: float  # epoch seconds
    duration_ms: float
    ok: bool
    error_type: str | None = None  # FC's X-Fc-Error-Type, e.g. UnhandledInvocationError
    error_message: str | None = None
    instance: str = ""  # the worker that ran it (``upload``, ``callback#2``)

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "started": self.started, "duration_ms": self.duration_ms, "ok": self.ok,
                "error_type": self.error_type, "error_message": self.error_message, "instance": self.instance}


@dataclass(frozen=True)
class AsyncInvocation:
    """A snapshot of one asynchronous invocation: who, what, and every attempt so far.

    ``status``: ``queued`` → ``running`` → (``retrying`` → ``running``)* → ``succeeded`` | ``failed`` (every
    attempt failed) | ``expired`` (older than ``max_event_age`` before an attempt: FC's ``maxAsyncEventAgeInSeconds``,
    after which FC discards the event, status "Expired" in its AsyncTask API) | ``abandoned`` (the host stopped
    before it finished). ``source`` says what asked for it: ``InvokeFunction`` (the API,
    ``X-Fc-Invocation-Type: Async``), ``oss:<trigger name>`` or ``destination:<function>``.
    """

    request_id: str
    service: str
    function: str
    source: str
    payload: bytes
    max_attempts: int
    status: str = QUEUED
    attempts: tuple[AsyncAttempt, ...] = ()
    created: float = 0.0
    finished: float | None = None
    result: bytes = b""  # the last attempt's answer (the error document when it failed)
    max_event_age: float | None = None  # seconds; None: no limit

    @property
    def done(self) -> bool:
        return self.status in _DONE

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (payload and result as text where they are UTF-8, else omitted with their size)."""
        return {
            "request_id": self.request_id,
            "service": self.service,
            "function": self.function,
            "source": self.source,
            "status": self.status,
            "max_attempts": self.max_attempts,
            "attempts": [a.to_dict() for a in self.attempts],
            "created": self.created,
            "finished": self.finished,
            "payload": _text(self.payload),
            "result": _text(self.result),
            "max_event_age": self.max_event_age,
        }


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


Observer = Callable[[AsyncInvocation], None]
Runner = Callable[[AsyncInvocation], AttemptResult]


class AsyncInvoker:
    """Runs asynchronous invocations in background threads with FC's retry policy; keeps their records.

    ``runner(record)`` makes one attempt (the host's synchronous call to a worker) and says how it went.
    """

    def __init__(self, runner: Runner, *, backoff: float = DEFAULT_BACKOFF, observer: Observer | None = None,
                 keep: int = 10000, on_done: Observer | None = None) -> None:
        self._runner = runner
        self.backoff = backoff
        self.observer = observer
        #: called once with the final snapshot of each invocation that succeeded, failed or expired (destinations)
        self.on_done = on_done
        self._keep = keep
        self._records: dict[str, AsyncInvocation] = {}
        self._threads: set[threading.Thread] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()

    # -- submitting and reading
    def submit(self, record: AsyncInvocation) -> AsyncInvocation:
        """Queue ``record`` (status ``queued``) and start running it; returns the queued snapshot."""
        record = replace(record, status=QUEUED, created=record.created or time.time())
        with self._cond:
            if self._stop.is_set():
                record = replace(record, status=ABANDONED, finished=time.time())
                self._store(record)
                return record
            self._store(record)
            thread = threading.Thread(target=self._run, args=(record,), name=f"localfc-async-{record.function}",
                                      daemon=True)
            self._threads.add(thread)
        self._notify(record)
        thread.start()
        return record

    def records(self) -> list[AsyncInvocation]:
        with self._cond:
            return list(self._records.values())

    def get(self, request_id: str) -> AsyncInvocation | None:
        with self._cond:
            return self._records.get(request_id)

    def wait(self, timeout: float | None = None, request_ids: list[str] | None = None) -> bool:
        """Wait until every invocation (or those of ``request_ids``) is done; ``False`` if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def pending() -> bool:
            wanted = self._records.values() if request_ids is None else (
                self._records[r] for r in request_ids if r in self._records)
            return any(not r.done for r in wanted)

        with self._cond:
            while pending():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left if left is not None else 1.0)
        return True

    def stop(self, grace: float = 3.0) -> None:
        """Stop retrying: waiting invocations are abandoned; a running attempt gets ``grace`` seconds to end."""
        self._stop.set()
        with self._cond:
            threads = list(self._threads)
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._cond:
            for rid, record in list(self._records.items()):
                if not record.done:
                    self._records[rid] = replace(record, status=ABANDONED, finished=time.time())
            self._cond.notify_all()

    # -- internals
    def _store(self, record: AsyncInvocation) -> None:
        self._records[record.request_id] = record
        while len(self._records) > self._keep:
            oldest = next(iter(self._records))
            if not self._records[oldest].done:
                break
            del self._records[oldest]
        self._cond.notify_all()

    def _update(self, record: AsyncInvocation) -> AsyncInvocation:
        with self._cond:
            self._store(record)
        self._notify(record)
        return record

    def _notify(self, record: AsyncInvocation) -> None:
        observer = self.observer
        if observer is None:
            return
        try:
            observer(record)
        except Exception:  # noqa: BLE001 - an observer's bug must not stop the invocation
            log.exception("async invocation observer failed")

    def _finish(self, record: AsyncInvocation) -> None:
        """The final snapshot: its destination is queued first, so that whoever waits for every invocation to be
        done waits for the destination's too."""
        on_done = self.on_done
        if on_done is not None and record.status in FINAL:
            try:
                on_done(record)
            except Exception:  # noqa: BLE001 - a destination's failure must not lose the record
                log.exception("async invocation destination failed")
        self._update(record)

    def _expired(self, record: AsyncInvocation) -> bool:
        return record.max_event_age is not None and time.time() - record.created > record.max_event_age

    def _run(self, record: AsyncInvocation) -> None:
        try:
            for number in range(1, record.max_attempts + 1):
                if number > 1 and self._stop.wait(self.backoff * 2 ** (number - 2)):
                    break
                if self._stop.is_set():
                    break
                if self._expired(record):
                    self._finish(replace(record, status=EXPIRED, finished=time.time()))
                    return
                record = self._update(replace(record, status=RUNNING))
                started, clock = time.time(), time.perf_counter()
                try:
                    result = self._runner(record)
                except Exception as exc:  # noqa: BLE001 - a host fault is a failed attempt, not a lost record
                    result = AttemptResult("UnhandledInvocationError", f"local FC host error: {exc}")
                attempt = AsyncAttempt(
                    number=number, started=started, duration_ms=round((time.perf_counter() - clock) * 1000, 1),
                    ok=result.error_type is None, error_type=result.error_type, error_message=result.error_message,
                    instance=result.instance,
                )
                record = replace(record, attempts=(*record.attempts, attempt))
                if attempt.ok:
                    self._finish(replace(record, status=SUCCEEDED, finished=time.time(), result=result.body))
                    return
                record = replace(record, result=result.body)
                if number == record.max_attempts:
                    self._finish(replace(record, status=FAILED, finished=time.time()))
                    return
                record = self._update(replace(record, status=RETRYING))
            self._update(replace(record, status=ABANDONED, finished=time.time()))
        finally:
            with self._cond:
                self._threads.discard(threading.current_thread())
                self._cond.notify_all()


__all__ = [
    "EXPIRED",
    "FINAL",
    "AsyncAttempt",
    "AsyncInvocation",
    "AsyncInvoker",
    "AttemptResult",
    "DEFAULT_BACKOFF",
    "DEFAULT_RETRY_ATTEMPTS",
]
