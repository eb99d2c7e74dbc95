"""Records as the JSON API shows them: a summary per list row, the whole story for the details view.

Bodies are bytes on the wire; the API gives them as text (UTF-8, undecodable bytes replaced) and, when they are
not valid UTF-8, as base64 too, so nothing is lost. Nothing here is HTML: the page puts every value in the DOM
with ``textContent``, and the JSON is served as ``application/json``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from osscallback.callback.signature import string_to_sign, verify
from osscallback.local.inspector.history import CallbackHistory, Entry, EventEntry
from osscallback.local.inspector.verdict import judge
from osscallback.local.oss.callbacks import Attempt, ReceivedAnswer, SentRequest


def _body(data: bytes) -> dict[str, Any]:
    try:
        return {"text": data.decode("utf-8"), "base64": None, "size": len(data)}
    except UnicodeDecodeError:
        return {
            "text": data.decode("utf-8", "replace"),
            "base64": base64.b64encode(data).decode("ascii"),
            "size": len(data),
        }


def summary(entry: Entry, history: CallbackHistory) -> dict[str, Any]:
    """One list row: time, operation, bucket and object, URL, verdict, status, latency, what the uploader got."""
    record = entry.record
    last = record.last
    verdict = judge(record)
    return {
        "id": record.id,
        "number": entry.number,
        "kind": record.kind,
        "parent_id": record.parent_id,
        "parent_number": history.number_of(record.parent_id),
        "sent_at": record.sent_at,
        "operation": record.operation,
        "bucket": record.bucket,
        "object": record.key,
        "callback_url": last.url if last else "",
        "attempts": len(record.attempts),
        "verification": verdict.to_json(),
        "status": last.status if last else None,
        "latency_ms": record.latency_ms,
        "ok": record.ok,
        "message": record.message,
        "uploader": {"status": record.uploader_status, "message": record.message} if record.kind == "upload" else None,
        "signing": record.signing,
        "replays": history.replays_of(record.id),
        "resends": history.resends_of(record.id),
    }


def _request(request: SentRequest, public_key: rsa.RSAPublicKey | None) -> dict[str, Any]:
    own = string_to_sign(request.path, request.query, request.body)
    matches: bool | None = None
    authorization = request.header("Authorization")
    if public_key is not None and authorization:
        try:
            matches = verify(public_key, base64.b64decode(authorization, validate=True), own)
        except ValueError:
            matches = False
    return {
        "method": request.method,
        "url": request.url,
        "target": request.target,
        "path": request.path,
        "query": request.query,
        "headers": [list(h) for h in request.headers],
        "head": request.raw_head(),
        "body": _body(request.body),
        "signed": _body(request.signed),
        "own_string_to_sign": _body(own) if own != request.signed else None,
        "signature_matches": matches,
    }


def _answer(answer: ReceivedAnswer) -> dict[str, Any]:
    return {
        "status": answer.status,
        "reason": answer.reason,
        "headers": [list(h) for h in answer.headers],
        "body": _body(answer.body),
        "truncated": answer.truncated,
    }


def _attempt(attempt: Attempt, public_key: rsa.RSAPublicKey | None) -> dict[str, Any]:
    return {
        "url": attempt.url,
        "ok": attempt.ok,
        "message": attempt.message,
        "status": attempt.status,
        "latency_ms": attempt.latency_ms,
        "request": _request(attempt.request, public_key) if attempt.request else None,
        "answer": _answer(attempt.answer) if attempt.answer else None,
    }


def detail(entry: Entry, history: CallbackHistory, public_key: rsa.RSAPublicKey | None) -> dict[str, Any]:
    """The details view: decoded parameters, each request as sent, the string signed, each answer."""
    record = entry.record
    out = summary(entry, history)
    out.update(
        upload_request_id=record.upload_request_id,
        callback=record.callback,
        callback_var=record.callback_var,
        tries=[_attempt(a, public_key) for a in record.attempts],
        children=[summary(child, history) for child in history.children_of(record.id)],
    )
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def event_view(entry: EventEntry) -> dict[str, Any]:
    """An OSS-trigger event delivery: which event, to which function, and how its attempts went."""
    invocation = entry.invocation
    records: list[Any] = []
    try:
        doc = json.loads(invocation.payload.decode("utf-8"))
        if isinstance(doc, dict) and isinstance(doc.get("events"), list):
            records = [r for r in doc["events"] if isinstance(r, dict)]
    except (UnicodeDecodeError, ValueError, RecursionError):
        pass
    first: dict[str, Any] = records[0] if records else {}
    oss = _dict(first.get("oss"))
    bucket, obj = _dict(oss.get("bucket")), _dict(oss.get("object"))
    last = invocation.attempts[-1] if invocation.attempts else None
    return {
        "number": entry.number,
        "request_id": invocation.request_id,
        "time": invocation.created,
        "trigger": invocation.source.removeprefix("oss:"),
        # FC 2.0 names a function within its service; FC 3.0 functions have no service (no leading "/")
        "function": f"{invocation.service}/{invocation.function}" if invocation.service else invocation.function,
        "event_name": str(first.get("eventName", "")),
        "bucket": str(bucket.get("name", "")),
        "object": str(obj.get("key", "")),
        "records": len(records),
        "outcome": invocation.status,
        "attempts": len(invocation.attempts),
        "max_attempts": invocation.max_attempts,
        "error": (f"{last.error_type}: {last.error_message}" if last is not None and not last.ok else ""),
        "tries": [a.to_dict() for a in invocation.attempts],
        "payload": _body(invocation.payload),
        "result": _body(invocation.result),
    }
