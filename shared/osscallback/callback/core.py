"""The callback function's transport-free core: request in, JSON answer out.

The FC 2.0 WSGI adapter, the FC 3.0 HTTP-event adapter and the tests all drive this one class, so every rule
(what is trusted, what is refused with which status, what is logged) lives here once. The core never raises:
every outcome, including a bug, is a :class:`CallbackResponse` with a JSON body, and each request logs exactly
one structured JSON line.

Order of checks: method (405), size (413), headers (400), key URL policy (403), key fetch (502), signature (403),
body (400/415), allowed bucket (403), idempotency claim (409/503; a replay gets the stored answer here),
confirmation with OSS (403/503), action (500), answer (500). Nothing from the body is looked at before the
signature is verified; so the allowed-bucket check comes after it, yet before any network call the body could
cause (the key fetch before it depends on a header only, goes only to allowed key URLs, and is cached).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from osscallback.callback.actions import Action, CallbackEvent, body_fingerprint, idempotency_key, load_action
from osscallback.callback.answer import AnswerError, AnswerRenderer
from osscallback.callback.body import CallbackBody, parse_body
from osscallback.callback.config import CallbackConfig
from osscallback.callback.confirm import ConfirmationFailed
from osscallback.callback.confirm_factory import open_confirmer
from osscallback.callback.idempotency.delivered import DeliveredIndex
from osscallback.callback.idempotency.factory import open_store
from osscallback.callback.ids import UniqueIds
from osscallback.callback.keys import PublicKeyCache
from osscallback.callback.signature import KeyUrlPolicy, decode_authorization, string_to_sign, verify
from osscallback.errors import (
    CallbackRejected,
    ClaimInProgress,
    ConfigError,
    IdempotencyKeyMismatch,
    StoreUnavailable,
)

log = logging.getLogger("osscallback.callback")

JSON_HEADERS = (("Content-Type", "application/json"),)


@dataclass(frozen=True)
class CallbackRequest:
    """An HTTP request as the core needs it, whatever the transport.

    ``targets`` lists the ``(path, query)`` pairs the signature may cover: the raw path as requested from OSS
    (percent-encoded) and the raw query string. A transport that cannot know the raw form (FC 3.0 gives the query
    as a dict) passes each faithful reconstruction; the signature must match one of them exactly.
    ``body_truncated`` tells that the transport stopped reading at the cap and more was there.
    """

    method: str
    targets: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: bytes
    body_truncated: bool = False
    request_id: str | None = None
    context: Any = None  # FC's context, when the transport has one (its credentials serve the oss:// store)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class CallbackResponse:
    """The JSON answer: status, body and headers (``Content-Length`` is added by :meth:`all_headers`)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = field(default=JSON_HEADERS)

    def all_headers(self) -> list[tuple[str, str]]:
        """Headers including the Content-Length OSS insists on."""
        return [*self.headers, ("Content-Length", str(len(self.body)))]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def declared_length(value: str | None) -> int | None:
    """The Content-Length a request declares: ``None`` when absent, -1 when malformed.

    Only ASCII digits count (``str.isdigit`` also accepts "²" and "①", which ``int`` refuses); a length too long to
    be real is reported as huge rather than parsed, so it is refused as too large instead of costing an int() of
    thousands of digits.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or not text.isascii() or not text.isdigit():
        return -1
    return int(text) if len(text) <= 18 else 1 << 62


#: Request ids for logs when the platform gave none (see :mod:`osscallback.callback.ids`).
RequestIds = UniqueIds


def log_line(record: Mapping[str, Any]) -> str:
    """``json.dumps(record, ensure_ascii=False)``, byte for byte, for the flat records the core logs.

    ``json.dumps`` with a keyword builds a new encoder on every call, which made the one log line per request
    cost as much as parsing the body; strings, numbers, booleans and ``None`` are written here directly, and any
    other value falls back to ``json.dumps``.
    """
    parts = []
    for key, value in record.items():
        kind = type(value)
        if kind is str:
            text = encode_basestring(value)
        elif value is None:
            text = "null"
        elif kind is bool:
            text = "true" if value else "false"
        elif kind is int:
            text = int.__repr__(value)
        elif kind is float and value == value and value not in (float("inf"), float("-inf")):
            text = float.__repr__(value)
        else:
            return json.dumps(record, ensure_ascii=False)
        parts.append(f"{encode_basestring(key)}: {text}")
    return "{" + ", ".join(parts) + "}"


def error_response(
    status: int, code: str, message: str, extra_headers: tuple[tuple[str, str], ...] = ()
) -> CallbackResponse:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False).encode("utf-8")
    return CallbackResponse(status, body, JSON_HEADERS + extra_headers)


def normalize_headers(items: Mapping[str, str] | list[tuple[str, str]]) -> dict[str, str]:
    """Lower-case header names; the first value wins for duplicates (a second Authorization is ignored)."""
    pairs = items.items() if isinstance(items, Mapping) else items
    result: dict[str, str] = {}
    for name, value in pairs:
        result.setdefault(str(name).lower(), str(value))
    return result


class CallbackApp:
    """Verifies, parses and answers OSS callbacks. Thread-safe; build one per process."""

    def __init__(
        self,
        config: CallbackConfig | None = None,
        *,
        key_cache: PublicKeyCache | None = None,
        action: Action | None = None,
    ) -> None:
        self.config = config or CallbackConfig()
        self.policy = KeyUrlPolicy(self.config.key_url_prefixes)
        self.keys = key_cache if key_cache is not None else PublicKeyCache(
            ttl=self.config.key_cache_ttl,
            max_entries=self.config.key_cache_size,
            fetch_timeout=self.config.key_fetch_timeout,
        )
        self.answer = AnswerRenderer(self.config.response_template)
        self.new_request_id = RequestIds()
        self.action = action or load_action(self.config.action)
        config = self.config
        self.idempotency = open_store(
            config.idempotency_store, max_entries=config.idempotency_size, ttl=config.idempotency_ttl,
            claim_ttl=config.idempotency_claim_ttl, wait=config.idempotency_wait, env=config.credentials_env,
        )
        # One OSS client for both when the oss:// store is on too: one credentials holder, one connection pool.
        self.confirmer = open_confirmer(config.confirm, env=config.credentials_env,
                                        client=getattr(self.idempotency.layer, "oss_client", None))
        self.allowed_buckets = frozenset(config.allowed_buckets)
        #: The delivered index (shared stores only): what lets reconciliation and the two paths see each other.
        self.delivered: DeliveredIndex | None = self.idempotency.layer.delivered if config.idempotency_store.shared \
            else None
        for prefix in self.policy.overrides:
            plain = " over plain HTTP, which anyone on the network path can answer" if prefix[:5] == "http:" else ""
            log.warning(
                json.dumps(
                    {
                        "warning": "UntrustedKeyUrlPrefix",
                        "message": f"LOCAL DEVELOPMENT OVERRIDE: public keys will also be fetched from {prefix!r}"
                        f"{plain}. Never deploy this setting: anyone who can serve that prefix can forge callbacks.",
                    }
                )
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CallbackApp:
        return cls(CallbackConfig.from_env(env))

    def handle(self, request: CallbackRequest) -> CallbackResponse:
        """Answer one request. Never raises."""
        started = time.perf_counter()
        request_id = request.request_id or request.headers.get("x-fc-request-id") or self.new_request_id()
        body: CallbackBody | None = None
        duplicate = False
        refused: ConfirmationFailed | None = None
        parsed: list[CallbackBody] = []  # the verified body, once parsed: the log line names it even on refusals
        try:
            body, result, duplicate = self._process(request, request_id, parsed)
            try:
                payload = self.answer.render(body, action=result, request_id=request_id)
                response = CallbackResponse(200, payload)
                outcome = "ok"
            except AnswerError as exc:
                response = error_response(500, "AnswerTemplateError", f"Server misconfiguration: {exc}.")
                outcome = "AnswerTemplateError"
        except CallbackRejected as exc:
            body = parsed[0] if parsed else None
            if isinstance(exc, ConfirmationFailed):
                refused = exc
            extra = (("Allow", "POST"),) if exc.status == 405 else ()
            response = error_response(exc.status, exc.code, exc.message, extra)
            outcome = exc.code
        except Exception:  # a bug must not become a traceback page or a hung request
            log.exception(json.dumps({"request_id": request_id, "error": "InternalError"}))
            response = error_response(500, "InternalError", "The callback function failed unexpectedly.")
            outcome = "InternalError"
        if log.isEnabledFor(logging.INFO):  # FC logs at INFO; elsewhere the line costs nothing
            record: dict[str, Any] = {
                "request_id": request_id,
                "status": response.status,
                "outcome": outcome,
                "bucket": body.bucket if body else None,
                "object": body.object if body else None,
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            if duplicate:
                record["duplicate"] = True
            if refused is not None:  # the confirmation's decision, in the same line
                record["confirm"] = refused.decision
                record["message"] = refused.message
            elif self.confirmer is not None and response.status == 200:
                record["confirm"] = "replay" if duplicate else "ok"
            log.info(log_line(record))
        return response

    def _process(
        self, request: CallbackRequest, request_id: str, parsed: list[CallbackBody]
    ) -> tuple[CallbackBody, Any, bool]:
        if request.method != "POST" and request.method.upper() != "POST":
            raise CallbackRejected(405, "MethodNotAllowed", f"OSS callbacks are POST requests, not {request.method}.")
        cap = self.config.max_body_bytes
        headers = request.headers  # lower-cased names (normalize_headers)
        length = declared_length(headers.get("content-length"))
        if length == -1:
            raise CallbackRejected(400, "InvalidContentLength", "The Content-Length header is not a number.")
        if request.body_truncated or len(request.body) > cap or (length is not None and length > cap):
            raise CallbackRejected(413, "BodyTooLarge", f"The callback body is larger than {cap} bytes.")
        signature = decode_authorization(headers.get("authorization"))
        key_url, fetch_url = self.policy.resolve(headers.get("x-oss-pub-key-url"))
        public_key = self.keys.get(key_url, fetch_url)
        signed = None
        for path, query in request.targets:
            candidate = string_to_sign(path, query, request.body)
            if verify(public_key, signature, candidate):
                signed = candidate
                break
        if signed is None:
            raise CallbackRejected(
                403, "SignatureDoesNotMatch", "The callback signature does not match its path, query and body."
            )
        path, query = request.targets[0]
        body = parse_body(request.body, headers.get("content-type"))
        parsed.append(body)
        allowed = self.allowed_buckets
        if allowed and body.bucket not in allowed:
            raise CallbackRejected(
                403, "BucketNotAllowed",
                f"The callback names bucket {body.bucket!r}, which is not one this function serves "
                "(CALLBACK_ALLOWED_BUCKETS).",
            )
        key = idempotency_key(body, request.body, signed)
        event = CallbackEvent(body=body, request_id=request_id, idempotency_key=key, path=path, query=query)
        try:
            result, duplicate = self.deliver(event, fingerprint=body_fingerprint(request.body),
                                             context=request.context)
        except ConfirmationFailed:
            raise
        except ClaimInProgress as exc:
            raise CallbackRejected(409, "CallbackInProgress", f"{exc}; retry later.") from None
        except IdempotencyKeyMismatch as exc:
            raise CallbackRejected(409, "IdempotencyKeyMismatch", f"{exc}.") from None
        except StoreUnavailable as exc:
            log.error(json.dumps({"request_id": request_id, "error": "IdempotencyStoreUnavailable",
                                  "message": str(exc)}))
            raise CallbackRejected(
                503, "IdempotencyStoreUnavailable",
                "The idempotency store is unreachable, so the action did not run; the upload is delivered again "
                "later (OSS event).",
            ) from None
        except Exception as exc:
            log.exception(json.dumps({"request_id": request_id, "error": "ActionFailed"}))
            raise CallbackRejected(
                500, "ActionFailed", f"The configured action failed: {exc.__class__.__name__}."
            ) from None
        return body, result, duplicate

    def deliver(
        self, event: CallbackEvent, *, fingerprint: str | None = None, context: Any = None,
        covered: Callable[[], bool] | None = None,
    ) -> tuple[Any, bool]:
        """Run the action for one upload, once, through the store: ``(result, duplicate)``.

        The one place both delivery paths meet: the HTTP adapters (through :meth:`handle`) and the OSS-event
        adapter (:mod:`osscallback.callback.oss_event`) call it. Raises the store's
        :class:`~osscallback.errors.IdempotencyError` subclasses, :class:`~osscallback.callback.confirm.
        ConfirmationFailed`, and whatever the action raises.

        ``covered`` (reconciliation's) is asked inside the claim: True means another path delivered the upload
        meanwhile, so it is a duplicate and the action does not run.

        A callback (``event.source == "callback"``) is confirmed with OSS first when ``CALLBACK_CONFIRM=head``:
        inside the claim, so a replay of a delivered upload gets its stored result without asking OSS again, and a
        first delivery never runs the action unconfirmed (a refusal releases the claim like a failed action). An
        OSS event is never confirmed: FC's OSS trigger delivers it with the account's own authority; it does not
        come from the internet.
        """
        if context is not None:
            credentials = getattr(context, "credentials", None)
            self.idempotency.layer.observe_credentials(credentials)
            if self.confirmer is not None:
                self.confirmer.observe_credentials(credentials)
        action = self.action
        confirmer = self.confirmer if event.source == "callback" else None
        body = event.body
        index = self.delivered if body.bucket and body.object and body.etag else None
        check = index if event.source != "reconcile" else None
        guard: Callable[[], None] | None = None
        if check is not None or confirmer is not None or covered is not None:
            def guard() -> None:  # inside the claim, before the action
                if (check is not None and reconciled(check, body)) or (covered is not None and covered()):
                    raise _Reconciled
                if confirmer is not None:
                    confirmer.confirm(body, event.request_id)
        try:
            result, duplicate = self.idempotency.run(event.idempotency_key, lambda: action(event), source=event.source,
                                                     fingerprint=fingerprint, guard=guard)
        except _Reconciled:
            return None, True
        if index is not None and not duplicate:
            try:
                index.put_delivered(str(body.bucket), str(body.object), str(body.etag), event.source)
            except StoreUnavailable as exc:  # the action ran; only a later reconciliation may run it again
                log.error(json.dumps({"request_id": event.request_id, "error": "DeliveredIndexNotWritten",
                                      "object": body.object, "message": str(exc)}))
        return result, duplicate


class _Reconciled(Exception):
    """Raised inside a claim: reconciliation already delivered this upload (its claim is released, nothing ran)."""


def reconciled(index: DeliveredIndex, body: CallbackBody) -> bool:
    """Whether reconciliation delivered ``body``'s object with this ETag: then a callback or event for it (a replay,
    a redelivered dead letter) is a duplicate. A newer upload of the same bytes is taken for it too; reconciliation
    delivers that one at its next run, since the entry is older than the new object (docs/DELIVERY.md)."""
    entry = index.get_delivered(str(body.bucket), str(body.object))
    return entry is not None and entry.source == "reconcile" and entry.matches(str(body.etag))


class BrokenApp:
    """Stands in for :class:`CallbackApp` when configuration is wrong, so every request gets a clear JSON 500
    (and the log says why) instead of the platform's opaque import-error page."""

    def __init__(self, error: ConfigError) -> None:
        self.error = error
        self.config = CallbackConfig()

    def handle(self, request: CallbackRequest) -> CallbackResponse:
        log.error(json.dumps({"error": "ConfigurationError", "message": str(self.error)}))
        return error_response(500, "ConfigurationError", f"Server misconfiguration: {self.error}")


def load_app(env: Mapping[str, str] | None = None) -> CallbackApp | BrokenApp:
    """Build the app from the environment at start-up; a configuration error is logged loudly once."""
    try:
        return CallbackApp.from_env(env)
    except ConfigError as exc:
        log.error(json.dumps({"error": "ConfigurationError", "message": str(exc)}))
        return BrokenApp(exc)
