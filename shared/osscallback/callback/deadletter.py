"""Dead letters: the backstop's events whose every retry failed, kept as objects so no upload is lost unheard.

FC discards an asynchronous invocation whose retries ran out (or whose event grew older than
``maxAsyncEventAgeInSeconds``) unless the function has an on-failure destination; then it sends the destination a
record of the failure. The templates make the dead-letter function (``functions/callback/deadletter.py``) the
backstop's on-failure destination, and this module is its transport-free core: it reads FC's record, and writes
one :class:`DeadLetter` per failed event, with the reason and the attempts, as a JSON object under a prefix of the
bucket that the OSS trigger's filter excludes. ``osscallback redeliver`` and the inspector read them back.

FC's record ("Result callback" / "结果回调", https://help.aliyun.com/zh/functioncompute/user-guide/result-callback,
FC 2.0: https://help.aliyun.com/document_detail/422720.htm, section "异步调用目标的事件内容")::

    {"timestamp": 1660120276975,
     "requestContext": {"requestId": "xxx", "functionArn": "acs:fc:{regionid}:{accountid}:functions/xxxx",
                        "condition": "FunctionResourceExhausted", "approximateInvokeCount": 3},
     "requestPayload": "", "responseContext": {"statusCode": 200, "functionError": ""}, "responsePayload": ""}

``requestPayload`` is the original event (text), ``approximateInvokeCount`` the attempts made, ``condition`` the
invocation's error code, ``functionError`` the error, ``responsePayload`` the function's last answer (its error
document ``{"errorMessage", "errorType"}`` when it raised).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from osscallback.errors import ConfigError, OssCallbackError
from osscallback.osslocation import resolve_location

log = logging.getLogger("osscallback.deadletter")

VARIABLE = "CALLBACK_DEAD_LETTERS"
#: The templates' prefix, beside the idempotency markers and outside the OSS trigger's filter.
DEFAULT_PREFIX = ".osscallback/dead-letters/"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class InvalidDestinationRecord(OssCallbackError):
    """The invocation's payload is not FC's destination record (nothing to keep; retrying would not help)."""


@dataclass(frozen=True)
class DeadLetter:
    """One failed event: what it was, how often it was tried, and why it failed."""

    request_id: str  # the failed asynchronous invocation's id (every attempt shares it)
    function_arn: str
    condition: str
    attempts: int
    reason: str
    failed_at: float  # epoch seconds (FC's record carries milliseconds)
    event: Any  # the original event: the OSS trigger's JSON document (text when it is not JSON)
    record: Mapping[str, Any] = field(default_factory=dict)  # FC's record as received

    @property
    def uploads(self) -> list[tuple[str, str]]:
        """``(bucket, key)`` of each upload the event announces."""
        entries = self.event.get("events") if isinstance(self.event, Mapping) else None
        out = []
        for entry in entries if isinstance(entries, list) else ():
            oss = entry.get("oss") if isinstance(entry, Mapping) else None
            bucket = (oss or {}).get("bucket", {}).get("name", "") if isinstance(oss, Mapping) else ""
            key = (oss or {}).get("object", {}).get("key", "") if isinstance(oss, Mapping) else ""
            out.append((str(bucket), str(key)))
        return out

    @property
    def payload(self) -> bytes:
        """The event as the backstop gets it: what a redelivery sends."""
        if isinstance(self.event, str):
            return self.event.encode("utf-8")
        return json.dumps(self.event, ensure_ascii=False).encode("utf-8")

    def object_name(self, prefix: str = DEFAULT_PREFIX) -> str:
        """``<prefix><UTC time>-<request id>.json``: sorted by failure time, one object per failed invocation."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.failed_at))
        return f"{prefix}{stamp}-{_UNSAFE.sub('_', self.request_id or 'unknown')[:128]}.json"

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "request_id": self.request_id, "function_arn": self.function_arn,
                "condition": self.condition, "attempts": self.attempts, "reason": self.reason,
                "failed_at": self.failed_at, "event": self.event, "record": dict(self.record)}

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> DeadLetter:
        """A stored dead letter; :class:`InvalidDestinationRecord` when it is not one."""
        try:
            doc = json.loads(data)
            return cls(request_id=str(doc["request_id"]), function_arn=str(doc.get("function_arn", "")),
                       condition=str(doc.get("condition", "")), attempts=int(doc.get("attempts", 0)),
                       reason=str(doc.get("reason", "")), failed_at=float(doc["failed_at"]), event=doc["event"],
                       record=doc.get("record") or {})
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise InvalidDestinationRecord(f"not a dead letter ({exc.__class__.__name__}: {exc})") from None


def _decode(text: Any) -> Any:
    """A payload FC hands over as text: its JSON value when it is JSON, else the text."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _reason(condition: str, function_error: str, response: Any) -> str:
    """The failure in one line: the function's own error message first, then FC's words for it."""
    if isinstance(response, Mapping) and response.get("errorMessage"):
        kind = str(response.get("errorType") or "")
        return f"{kind + ': ' if kind else ''}{response['errorMessage']}"
    if isinstance(response, str) and response.strip():
        return response.strip()[:2000]
    return function_error or condition or "the invocation failed"


def parse_record(payload: Any, *, now: float | None = None) -> DeadLetter:
    """FC's destination record (bytes, text or a mapping) as a :class:`DeadLetter`."""
    doc = _decode(payload)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("requestContext"), Mapping):
        raise InvalidDestinationRecord("the payload is not FC's destination record (no requestContext)")
    context = doc["requestContext"]
    found = doc.get("responseContext")
    response_context: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    condition = str(context.get("condition") or "")
    function_error = str(response_context.get("functionError") or "")
    try:
        attempts = int(context.get("approximateInvokeCount") or 0)
    except (TypeError, ValueError):
        attempts = 0
    stamp = doc.get("timestamp")
    failed_at = float(stamp) / 1000 if isinstance(stamp, (int, float)) else (time.time() if now is None else now)
    return DeadLetter(
        request_id=str(context.get("requestId") or ""), function_arn=str(context.get("functionArn") or ""),
        condition=condition, attempts=attempts,
        reason=_reason(condition, function_error, _decode(doc.get("responsePayload"))),
        failed_at=failed_at, event=_decode(doc.get("requestPayload", "")), record=dict(doc),
    )


@dataclass(frozen=True)
class BoxSpec:
    """``CALLBACK_DEAD_LETTERS=oss://<bucket>/<prefix>[?region=<region>&endpoint=<url>]``, parsed without oss2.

    As for the ``oss://`` idempotency store: the region defaults to ``FC_REGION``, the endpoint to the region's
    internal one; the prefix must not be the bucket root (the OSS trigger's filter must be able to exclude it).
    """

    bucket: str
    prefix: str
    region: str
    endpoint: str

    @property
    def url(self) -> str:
        return f"oss://{self.bucket}/{self.prefix}"

    def covers(self, bucket: str, key: str) -> bool:
        return bucket == self.bucket and key.startswith(self.prefix)

    @classmethod
    def parse(cls, raw: str | None, env: Mapping[str, str] | None = None) -> BoxSpec:
        from urllib.parse import parse_qsl, urlsplit

        env = env or {}
        text = (raw or "").strip()
        parts = urlsplit(text)
        bucket, prefix = parts.netloc, parts.path.lstrip("/")
        if parts.scheme != "oss" or not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", bucket) or not prefix:
            raise ConfigError(f"{VARIABLE}={text!r}: use oss://<bucket>/<prefix>/ (e.g. oss://my-bucket/"
                              f"{DEFAULT_PREFIX}), a prefix the OSS trigger's filter excludes")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(query) - {"region", "endpoint"})
        if unknown:
            raise ConfigError(f"{VARIABLE}={text!r}: unknown option(s) {', '.join(unknown)} (region, endpoint)")
        region, endpoint = resolve_location(VARIABLE, text, query, env)
        return cls(bucket, prefix if prefix.endswith("/") else prefix + "/", region, endpoint)


class LetterBox(Protocol):
    """Where dead letters are kept (the bucket, through :mod:`.deadletter_oss`)."""

    prefix: str

    def put(self, name: str, body: bytes) -> None: ...


class DeadLetterApp:
    """Keeps each failed event FC reports: one object per failed invocation; a failed write raises, so FC retries."""

    def __init__(self, box: LetterBox) -> None:
        self.box = box

    def handle(self, payload: Any, context: Any = None) -> dict[str, Any]:
        letter = parse_record(payload)
        name = letter.object_name(self.box.prefix)
        self.box.put(name, letter.to_json())
        log.warning(json.dumps({"dead_letter": name, "request_id": letter.request_id, "attempts": letter.attempts,
                                "condition": letter.condition, "reason": letter.reason,
                                "uploads": [f"{b}/{k}" for b, k in letter.uploads]}, ensure_ascii=False))
        return {"dead_letter": name, "uploads": len(letter.uploads)}


__all__ = ["BoxSpec", "DEFAULT_PREFIX", "DeadLetter", "DeadLetterApp", "InvalidDestinationRecord", "LetterBox",
           "VARIABLE", "parse_record"]
