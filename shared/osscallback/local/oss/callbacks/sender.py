"""The callback sender: for each upload, fill the body, try each URL of ``callbackUrl`` in turn, record it all.

Up to 5 URLs are tried in order until one answers well (:mod:`.wire` judges each answer); when none does, the
upload answers 203 ``CallbackFailed`` with OSS's message for the last failure. The object is stored either way.

Every callback sent becomes a :class:`~.records.CallbackRecord` handed to the sender's observers (the local
inspector shows them). :meth:`CallbackSender.replay` and :meth:`CallbackSender.resend` send a recorded request
again, as is or edited, signed again with the local OSS key or not.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.local.oss.callbacks.compose import build_request, edited_request
from osscallback.local.oss.callbacks.records import (
    KIND_REPLAY,
    KIND_RESEND,
    KIND_UPLOAD,
    SIGNATURE_KEPT,
    SIGNED_BY_OSS,
    Attempt,
    CallbackObserver,
    CallbackRecord,
    CallbackResendError,
    CallbackResult,
    SentRequest,
)
from osscallback.local.oss.callbacks.wire import CALLBACK_TIMEOUT, MAX_ANSWER_BYTES, MSG_CONNECT, deliver, ms_since
from osscallback.upload.callback_params import CallbackParams, render_body

# The name the module had before it became a package: log configuration and readers of the logs keep working.
log = logging.getLogger("osscallback.local.oss.callbacks")


class CallbackSender:
    """Delivers callbacks signed with the local OSS's key pair, records each one, and can send it again.

    Every callback becomes a :class:`CallbackRecord` handed to each observer (the local inspector is one) after
    it was sent; an observer that raises is logged and ignored, so watching never breaks an upload.
    :meth:`replay` re-sends a recorded request byte for byte (same signature: OSS signs no timestamp, so a replay
    is valid, and only idempotency stops it running the action twice); :meth:`resend` sends an edited copy,
    signed again by the local OSS key or, to show what a tampered request gets, with the old signature.
    """

    def __init__(
        self,
        private_key: rsa.RSAPrivateKey,
        key_url: str,
        *,
        timeout: float = CALLBACK_TIMEOUT,
        max_answer: int = MAX_ANSWER_BYTES,
        observers: Iterable[CallbackObserver] = (),
    ) -> None:
        self.private_key = private_key
        self.key_url = key_url
        self.timeout = timeout
        self.max_answer = max_answer
        self._observers: list[CallbackObserver] = list(observers)

    def add_observer(self, observer: CallbackObserver) -> None:
        self._observers.append(observer)

    def remove_observer(self, observer: CallbackObserver) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    # --- an upload's callback --------------------------------------------------------------------------------------

    def send(self, params: CallbackParams, values: Mapping[str, object]) -> CallbackResult:
        sent_at = time.time()
        started = time.perf_counter()
        body = render_body(params.body, params.body_type, values)
        attempts: list[Attempt] = []
        answer = b""
        for url in params.urls:
            request = build_request(
                url,
                params,
                body,
                self.private_key,
                self.key_url,
                bucket=str(values.get("bucket", "")),
                request_id=str(values.get("reqId", "")),
            )
            if request is None:
                attempts.append(Attempt(url, False, MSG_CONNECT))
                continue
            attempt, answer = deliver(request, self.timeout, self.max_answer)
            attempts.append(attempt)
            if attempt.ok:
                log.info("callback to %s succeeded", url)
                break
            log.info("callback to %s failed: %s", url, attempt.message)
        ok = bool(attempts) and attempts[-1].ok
        message = "" if ok else (attempts[-1].message if attempts else MSG_CONNECT)
        result = CallbackResult(ok, answer if ok else b"", message, tuple(attempts))
        self._notify(
            CallbackRecord(
                id=uuid.uuid4().hex,
                kind=KIND_UPLOAD,
                parent_id=None,
                sent_at=sent_at,
                latency_ms=ms_since(started),
                operation=str(values.get("operation", "")),
                bucket=str(values.get("bucket", "")),
                key=str(values.get("object", "")),
                upload_request_id=str(values.get("reqId", "")),
                callback=params.to_document(),
                callback_var={k: str(v) for k, v in values.items() if k.startswith("x:")},
                signing=SIGNED_BY_OSS,
                attempts=result.attempts,
                ok=ok,
                message=message,
            )
        )
        return result

    # --- sending a recorded callback again -------------------------------------------------------------------------

    def replay(self, record: CallbackRecord) -> CallbackRecord:
        """Send the request of ``record``'s last attempt again, byte for byte (headers, signature, body)."""
        request = self._recorded_request(record)
        return self._send_again(record, request, KIND_REPLAY, record.signing)

    def resend(
        self,
        record: CallbackRecord,
        *,
        body: bytes | None = None,
        target: str | None = None,
        resign: bool = True,
    ) -> CallbackRecord:
        """Send an edited copy of ``record``'s last request: a new body and/or path (``/path[?query]``).

        ``resign=True`` signs it with the local OSS key as OSS would have; ``resign=False`` keeps the old
        ``Authorization`` (and the string it covers), which is what a tampered request looks like.
        """
        request = edited_request(
            self._recorded_request(record),
            body=body,
            target=target,
            resign=resign,
            private_key=self.private_key,
            key_url=self.key_url,
        )
        return self._send_again(record, request, KIND_RESEND, SIGNED_BY_OSS if resign else SIGNATURE_KEPT)

    @staticmethod
    def _recorded_request(record: CallbackRecord) -> SentRequest:
        for attempt in reversed(record.attempts):
            if attempt.request is not None:
                return attempt.request
        raise CallbackResendError("this callback never reached a server (no URL could be used): nothing to re-send")

    def _send_again(self, record: CallbackRecord, request: SentRequest, kind: str, signing: str) -> CallbackRecord:
        sent_at = time.time()
        started = time.perf_counter()
        attempt, _ = deliver(request, self.timeout, self.max_answer)
        log.info("callback %s to %s: %s", kind, request.url, "ok" if attempt.ok else attempt.message)
        again = replace(
            record,
            id=uuid.uuid4().hex,
            kind=kind,
            parent_id=record.id,
            sent_at=sent_at,
            latency_ms=ms_since(started),
            signing=signing,
            attempts=(attempt,),
            ok=attempt.ok,
            message=attempt.message,
        )
        self._notify(again)
        return again

    def _notify(self, record: CallbackRecord) -> None:
        for observer in list(self._observers):
            try:
                observer(record)
            except Exception:  # an observer must never break an upload
                log.exception("callback observer %r failed", observer)
