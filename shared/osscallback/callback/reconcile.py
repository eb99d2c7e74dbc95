"""Reconciliation: the bucket listed against the store, so a stored upload reaches the action even when OSS never
sent its event and its callback failed (or there was none).

Transport-free, like the other adapters' core: the timer-triggered function (``functions/callback/reconcile.py``)
and ``osscallback reconcile`` (which invokes that function) drive :class:`Reconciler`. One run:

1. lists the objects under one of the backstop's key prefixes (``CALLBACK_RECONCILE``, an OSS trigger's prefix;
   the function runs one :class:`Reconciler` per prefix, each with its own checkpoint), 1,000 a request
   (:class:`Lister`), and reads the delivered index for the same page (one merge listing with the ``oss://``
   store, one pipeline with Redis: :mod:`.idempotency.delivered`). An object the index covers costs nothing more;
2. leaves alone the objects younger than the *settle window* (default 600 s: longer than the backstop's longest
   life, the 420 s maximum event age plus the 30 s timeout of its last attempt plus the 60 s claim TTL), so it never
   races a callback or an event still in flight, and those older than its horizon (the first run, or ``since``;
   never past the records' TTL, after which the index forgets);
3. delivers each remaining one through :meth:`CallbackApp.deliver`, the claim-and-run path of the callback and the
   event, with ``source="reconcile"`` and the dedupe key :func:`~osscallback.callback.actions.upload_key` over
   bucket, key, ETag and ``reconcile:<Last-Modified>`` (two runs at once claim the same key: one runs);
4. saves a checkpoint (the last key done) after every page, so a run cut short by the function's timeout resumes
   there; a failed delivery is tried again by the next runs and, after ``max_attempts`` runs, kept as a dead letter
   (:mod:`.deadletter`) whose event redelivers under the same dedupe key.

Each delivered or failed upload logs one line; each run logs one summary line (seen, already delivered, delivered
now, failed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from osscallback.callback.actions import CallbackEvent, upload_key
from osscallback.callback.body import CallbackBody
from osscallback.callback.core import CallbackApp
from osscallback.callback.deadletter import DeadLetter, LetterBox
from osscallback.callback.idempotency.delivered import DeliveredIndex, ListedObject
from osscallback.errors import ClaimInProgress, ConfigError, StoreUnavailable

log = logging.getLogger("osscallback.reconcile")

#: Longer than the backstop's longest life: 420 s event age + 30 s last attempt + 60 s claim TTL (docs/DELIVERY.md).
DEFAULT_SETTLE = 600.0
DEFAULT_MAX_ATTEMPTS = 3
#: The shortest settle window, whatever is asked (``--settle 0`` to rehearse): an upload's callback is sent as soon as
#: the object is stored and answers before the upload does; a few seconds let one still running finish and write
#: its index entry, so a rehearsal run next to live uploads does not race their callbacks (docs/DELIVERY.md).
MIN_SETTLE = 3.0
#: The bundle's own objects (markers, index, dead letters, checkpoints) are never uploads.
OWN_PREFIX = ".osscallback/"
DELIVERED, PLANNED, FAILED, DEAD, BUSY = "delivered", "would deliver", "failed", "dead-lettered", "in progress"


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Lister(Protocol):
    """The bucket's listing: pages of up to 1,000 objects in key order, one request each."""

    requests: int

    def pages(self, prefix: str, start_after: str = "") -> Iterator[list[ListedObject]]: ...


@dataclass(frozen=True)
class Options:
    """What one run does. The timer's event carries none (the defaults); the CLI sends ``{"reconcile": {...}}``."""

    prefix: str = ""  # a sub-prefix of the key prefix
    since: float | None = None  # epoch seconds: older objects are left alone
    settle: float = DEFAULT_SETTLE
    dry_run: bool = False
    budget: float | None = None  # seconds this run may take; then it checkpoints and stops

    @classmethod
    def from_payload(cls, payload: Any, *, settle: float = DEFAULT_SETTLE) -> Options:
        """The options of an invocation: FC's timer event (``{"triggerTime", "triggerName", "payload"}``: the
        defaults) or ``{"reconcile": {"prefix", "since", "settle", "dry_run", "budget"}}``."""
        if isinstance(payload, (bytes, bytearray, str)):
            try:
                payload = json.loads(payload) if payload else {}
            except (ValueError, UnicodeDecodeError):
                raise ConfigError("the invocation payload is not JSON") from None
        raw = payload.get("reconcile") if isinstance(payload, Mapping) else None
        if raw is None:
            return cls(settle=settle)
        if not isinstance(raw, Mapping):
            raise ConfigError("'reconcile' must be an object of options")
        try:
            since = raw.get("since")
            budget = raw.get("budget")
            return cls(prefix=str(raw.get("prefix") or ""), since=None if since is None else float(since),
                       settle=float(raw["settle"]) if raw.get("settle") is not None else settle,
                       dry_run=bool(raw.get("dry_run")), budget=None if budget is None else float(budget))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad reconcile options: {exc}") from None


@dataclass(frozen=True)
class Outcome:
    """One upload reconciliation acted on (objects already delivered are only counted)."""

    key: str
    etag: str
    last_modified: float
    outcome: str
    reason: str = ""
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "last_modified": iso(self.last_modified)}


@dataclass
class Summary:
    seen: int = 0
    already_delivered: int = 0
    delivered: int = 0
    failed: int = 0
    dead_lettered: int = 0
    in_progress: int = 0
    would_deliver: int = 0
    settling: int = 0  # younger than the settle window: the next run's
    before_since: int = 0
    list_requests: int = 0
    index_requests: int = 0
    resumed_after: str = ""
    complete: bool = False
    dry_run: bool = False
    seconds: float = 0.0

    def add(self, other: Mapping[str, Any]) -> None:
        for name, value in other.items():
            if isinstance(value, int) and not isinstance(value, bool) and hasattr(self, name):
                setattr(self, name, getattr(self, name) + value)


@dataclass
class Report:
    summary: Summary
    outcomes: list[Outcome] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"summary": asdict(self.summary), "uploads": [o.to_dict() for o in self.outcomes]}
        if self.error:
            out["error"] = self.error
        return out


def merge_reports(reports: list[Report]) -> Report:
    """One run's report over several key prefixes (each reconciled on its own): counts summed, complete only when
    every prefix's listing is, the uploads and errors of all."""
    if len(reports) == 1:
        return reports[0]
    first = reports[0].summary if reports else Summary()
    summary = Summary(dry_run=first.dry_run, complete=all(r.summary.complete for r in reports))
    for one in reports:
        summary.add({k: v for k, v in asdict(one.summary).items() if k != "seconds"})
        summary.seconds = round(summary.seconds + one.summary.seconds, 3)
        summary.resumed_after = summary.resumed_after or one.summary.resumed_after
    return Report(summary, [o for r in reports for o in r.outcomes], "; ".join(r.error for r in reports if r.error))


class Reconciler:
    """Reconciles one bucket's key prefix against the app's store and delivers through the app."""

    def __init__(self, app: CallbackApp, *, bucket: str, key_prefix: str, lister: Lister,
                 letters: LetterBox | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 horizon: float | None = None, since: float | None = None, clock: Any = time.time,
                 function_arn: str = "") -> None:
        index = app.delivered if app.delivered is not None else app.idempotency.layer.delivered
        if index is None or not app.config.idempotency_store.shared:
            raise ConfigError("reconciliation needs the store the other functions share (CALLBACK_IDEMPOTENCY_STORE="
                              "oss://... or redis://...), not memory")
        self.app, self.index = app, index
        self.bucket, self.key_prefix, self.lister, self.letters = bucket, key_prefix, lister, letters
        self.max_attempts = max_attempts
        self.horizon = app.config.idempotency_ttl if horizon is None else horizon
        self.clock = clock
        self.since = since  # the deployment's horizon (CALLBACK_RECONCILE_SINCE); else the first run's time
        self.function_arn = function_arn

    def state_name(self, prefix: str) -> str:
        digest = hashlib.sha256(f"{self.key_prefix}{prefix}".encode()).hexdigest()[:16]
        return f"{self.bucket}-{digest}"

    def run(self, options: Options, *, invocation_id: str = "", context: Any = None) -> Report:
        """One run (or the rest of a cut-short one). Never raises for an upload; a store outage ends the run."""
        started = self.clock()
        index: DeliveredIndex = self.index
        name = self.state_name(options.prefix)
        try:
            state = index.load_state(name) or {}
        except StoreUnavailable as exc:  # nothing can be decided without the store: the next run tries again
            log.error(json.dumps({"request_id": invocation_id, "source": "reconcile", "error": "StoreUnavailable",
                                  "message": str(exc)}))
            return Report(Summary(dry_run=options.dry_run), error=f"idempotency store unavailable: {exc}")
        state.setdefault("epoch", started)
        state.setdefault("failures", {})
        summary = Summary(dry_run=options.dry_run)
        run = state.get("run") if not options.dry_run and options.since is None else None
        # A checkpoint saved within the claim TTL is a run still going (a live run saves after every page and every
        # delivery, and no action outlives its claim): a second run started beside it makes its own pass, rather
        # than taking over the other's place and reporting the other's counts as its own. Its claims keep each
        # upload to one run; a checkpoint left by a killed run is older, and resumed.
        live = run is not None and started - float(run.get("saved_at") or 0) < self.app.config.idempotency_claim_ttl
        if run and run.get("prefix") == options.prefix and not live:
            summary.resumed_after = str(run.get("after") or "")
            summary.add(run.get("counts") or {})
        else:
            since = options.since if options.since is not None else (
                self.since if self.since is not None else float(state["epoch"]))
            since = max(since, started - self.horizon + options.settle)  # the index forgets after the records' TTL
            run = {"prefix": options.prefix, "after": "", "since": since,
                   "until": started - max(options.settle, MIN_SETTLE)}
        report = Report(summary)
        deadline = None if options.budget is None else started + options.budget
        try:
            self._pages(run, state, report, options, invocation_id, context, deadline)
        except StoreUnavailable as exc:
            report.error = f"idempotency store unavailable: {exc}"
        summary.seconds = round(self.clock() - started, 3)
        if not options.dry_run:
            state["run"] = None if summary.complete else {**run, "counts": self._counts(summary),
                                                          "saved_at": self.clock()}
            try:
                index.save_state(name, state)
            except StoreUnavailable as exc:
                report.error = report.error or f"checkpoint not saved: {exc}"
        record = {"request_id": invocation_id, "source": "reconcile", "bucket": self.bucket,
                  "prefix": self.key_prefix + options.prefix, **asdict(summary)}
        if report.error:
            record["error"] = report.error
        (log.error if report.error else log.info)(json.dumps(record, ensure_ascii=False))
        return report

    @staticmethod
    def _counts(summary: Summary) -> dict[str, int]:
        return {k: v for k, v in asdict(summary).items() if isinstance(v, int) and not isinstance(v, bool)}

    def _pages(self, run: dict[str, Any], state: dict[str, Any], report: Report, options: Options,
               invocation_id: str, context: Any, deadline: float | None) -> None:
        summary = report.summary
        prefix = self.key_prefix + options.prefix
        view = self.index.delivered_view(self.bucket, run["after"])
        lister_before, view_before = self.lister.requests, 0
        pages = self.lister.pages(prefix, run["after"])
        try:
            for page in pages:
                known = view.lookup(page)
                for obj in page:
                    acted = self._one(obj, known.get(obj.key), run, state, report, options, invocation_id, context)
                    if acted:  # a delivery (or a failure) is a checkpoint of its own: a killed run resumes after it
                        run["after"] = obj.key
                        self._save(run, state, summary, options)
                    if deadline is not None and self.clock() > deadline:
                        run["after"] = obj.key
                        return
                if page:
                    run["after"] = page[-1].key
                summary.list_requests += self.lister.requests - lister_before
                summary.index_requests += view.requests - view_before
                lister_before, view_before = self.lister.requests, view.requests
                self._save(run, state, summary, options)
            summary.complete = True
        finally:
            summary.list_requests += self.lister.requests - lister_before
            summary.index_requests += view.requests - view_before

    def _save(self, run: dict[str, Any], state: dict[str, Any], summary: Summary, options: Options) -> None:
        if not options.dry_run:
            self.index.save_state(self.state_name(options.prefix), {**state, "run": {
                **run, "counts": self._counts(summary), "saved_at": self.clock()}})

    def _one(self, obj: ListedObject, entry: Any, run: dict[str, Any], state: dict[str, Any], report: Report,
             options: Options, invocation_id: str, context: Any) -> bool:
        """Count or deliver one listed object; True when it was delivered or failed (worth a checkpoint)."""
        summary = report.summary
        if obj.key.startswith(OWN_PREFIX) or self.app.config.idempotency_store.covers(self.bucket, obj.key):
            return False
        summary.seen += 1
        failures: dict[str, Any] = state["failures"]
        if entry is not None and entry.covers(obj):
            summary.already_delivered += 1
            failures.pop(obj.key, None)
            return False
        if obj.last_modified < run["since"]:
            summary.before_since += 1
            return False
        if obj.last_modified > run["until"]:
            summary.settling += 1
            return False
        failure = failures.get(obj.key)
        if failure and (failure.get("etag"), failure.get("lm")) != (obj.etag, obj.last_modified):
            failures.pop(obj.key)  # another upload replaced the one that failed
            failure = None
        if failure and failure.get("dead_letter"):
            summary.dead_lettered += 1
            return False
        if options.dry_run:
            summary.would_deliver += 1
            report.outcomes.append(Outcome(obj.key, obj.etag, obj.last_modified, PLANNED))
            return False
        outcome = self._deliver(obj, failures, invocation_id, context)
        if outcome is not None:
            report.outcomes.append(outcome)
            summary.delivered += outcome.outcome == DELIVERED
            summary.failed += outcome.outcome in (FAILED, DEAD)
            summary.dead_lettered += outcome.outcome == DEAD
            summary.in_progress += outcome.outcome == BUSY
        else:
            summary.already_delivered += 1
        return outcome is not None

    def event_for(self, obj: ListedObject, invocation_id: str) -> CallbackEvent:
        """The upload as the action gets it; its request id stands for the upload's (which no listing shows)."""
        req_id = f"reconcile:{iso(obj.last_modified)}"
        body = CallbackBody(bucket=self.bucket, object=obj.key, etag=obj.etag, size=obj.size, req_id=req_id,
                            operation="Reconcile", content_type="reconcile")
        return CallbackEvent(body=body, request_id=invocation_id, source="reconcile",
                             idempotency_key=upload_key(self.bucket, obj.key, obj.etag, req_id))

    def _deliver(self, obj: ListedObject, failures: dict[str, Any], invocation_id: str,
                 context: Any) -> Outcome | None:
        event = self.event_for(obj, invocation_id)
        record = {"request_id": invocation_id, "source": "reconcile", "bucket": self.bucket, "object": obj.key,
                  "upload_request_id": event.body.req_id}
        def covered() -> bool:  # asked inside the claim: a callback or event may have delivered it since the listing
            entry = self.index.get_delivered(self.bucket, obj.key)
            return entry is not None and entry.covers(obj)

        try:
            _, duplicate = self.app.deliver(event, context=context, covered=covered)
        except ClaimInProgress as exc:
            log.info(json.dumps({**record, "outcome": BUSY, "reason": str(exc)}, ensure_ascii=False))
            return Outcome(obj.key, obj.etag, obj.last_modified, BUSY, str(exc))
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the action failed: its claim is released; the next run retries
            failure = failures.setdefault(obj.key, {"etag": obj.etag, "lm": obj.last_modified, "attempts": 0})
            failure["attempts"] += 1
            failure["reason"] = f"the action failed: {exc.__class__.__name__}: {exc}"[:500]
            outcome = Outcome(obj.key, obj.etag, obj.last_modified, FAILED, failure["reason"], failure["attempts"])
            if failure["attempts"] >= self.max_attempts and self.letters is not None:
                outcome = self._dead_letter(obj, event, failure, invocation_id) or outcome
            log.warning(json.dumps({**record, "outcome": outcome.outcome, "attempts": failure["attempts"],
                                    "reason": outcome.reason}, ensure_ascii=False))
            return outcome
        failures.pop(obj.key, None)
        if duplicate:
            return None
        log.info(json.dumps({**record, "outcome": DELIVERED}, ensure_ascii=False))
        return Outcome(obj.key, obj.etag, obj.last_modified, DELIVERED)

    def _dead_letter(self, obj: ListedObject, event: CallbackEvent, failure: dict[str, Any],
                     invocation_id: str) -> Outcome | None:
        """Keep the upload as a dead letter whose event the backstop delivers under the same dedupe key."""
        assert self.letters is not None
        document = {"events": [{
            "eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": iso(obj.last_modified),
            "oss": {"bucket": {"name": self.bucket}, "object": {"key": obj.key, "eTag": obj.etag, "size": obj.size}},
            "responseElements": {"requestId": event.body.req_id}, "requestParameters": {"sourceIPAddress": ""},
        }]}
        letter = DeadLetter(request_id=f"{invocation_id or 'reconcile'}-{obj.last_modified:.0f}",
                            function_arn=self.function_arn, condition="ReconcileFailed",
                            attempts=int(failure["attempts"]), reason=str(failure["reason"]), failed_at=self.clock(),
                            event=document)
        name = letter.object_name(self.letters.prefix)
        try:
            self.letters.put(name, letter.to_json())
        except Exception as exc:  # noqa: BLE001 - the box is down: the next runs retry instead
            log.error(json.dumps({"error": "DeadLetterNotWritten", "object": obj.key, "message": str(exc)}))
            return None
        failure["dead_letter"] = name
        return Outcome(obj.key, obj.etag, obj.last_modified, DEAD, f"{failure['reason']} (kept as {name})",
                       int(failure["attempts"]))


__all__ = ["DEFAULT_MAX_ATTEMPTS", "DEFAULT_SETTLE", "MIN_SETTLE", "Lister", "Options", "Outcome", "Reconciler",
           "Report", "Summary", "merge_reports"]
