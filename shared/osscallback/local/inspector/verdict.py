"""Which of the callback function's checks a callback passed, read from the answer it got.

The callback function checks in a fixed order (docs/FUNCTIONS.md): method, size, headers, key URL,
key fetch, signature, body, action, answer; a failure answers a JSON error whose ``error`` code names the check.
So the answer alone says how far a request got: a 200 passed every check, ``SignatureDoesNotMatch`` passed the
checks before the signature and failed there. A receiver that is not this bundle's function answers other codes;
then only the HTTP status is known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from osscallback.local.oss.callbacks import CallbackRecord

#: The callback function's checks, in the order it makes them.
CHECKS: tuple[str, ...] = (
    "method",
    "size",
    "headers",
    "key URL",
    "key fetch",
    "signature",
    "body",
    "action",
    "answer",
)

#: The function's error codes and the check each one reports.
ERROR_CHECK: dict[str, str] = {
    "MethodNotAllowed": "method",
    "BodyTooLarge": "size",
    "MissingAuthorization": "headers",
    "InvalidAuthorization": "headers",
    "MissingPubKeyUrl": "headers",
    "InvalidPubKeyUrl": "headers",
    "UntrustedPubKeyUrl": "key URL",
    "PubKeyFetchFailed": "key fetch",
    "SignatureDoesNotMatch": "signature",
    "InvalidCallbackBody": "body",
    "UnsupportedMediaType": "body",
    "ActionFailed": "action",
    "CallbackInProgress": "action",
    "AnswerTemplateError": "answer",
    "ConfigurationError": "answer",
}

VERIFIED = "verified"
REJECTED = "rejected"
FAILED_AFTER_VERIFY = "failed"
UNREACHABLE = "unreachable"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    """How far the callback got: ``outcome`` is one of verified / rejected / failed (after the signature was
    verified) / unreachable / unknown; ``failed_check`` the check that stopped it (if known), ``passed`` the
    checks before it, ``code`` the function's error code and ``summary`` one line for people."""

    outcome: str
    summary: str
    failed_check: str = ""
    code: str = ""
    passed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "summary": self.summary,
            "failed_check": self.failed_check,
            "code": self.code,
            "passed": list(self.passed),
        }


def error_code(body: bytes) -> str:
    """The ``error`` of a JSON error body, or ``""``."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return ""
    value = doc.get("error") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else ""


def judge(record: CallbackRecord) -> Verdict:
    """The verdict on a record's last attempt."""
    attempt = record.last
    if attempt is None or attempt.answer is None:
        message = attempt.message if attempt is not None else record.message
        return Verdict(UNREACHABLE, f"no answer: {message}" if message else "no answer")
    answer = attempt.answer
    if answer.status == 200:
        if attempt.ok:
            return Verdict(VERIFIED, "verified: every check passed", passed=CHECKS)
        return Verdict(VERIFIED, f"accepted, but OSS refused the answer: {attempt.message}", passed=CHECKS)
    code = error_code(answer.body)
    check = ERROR_CHECK.get(code, "")
    if not check:
        detail = f" ({code})" if code else ""
        return Verdict(UNKNOWN, f"HTTP {answer.status}{detail}: not an answer this bundle's function gives", code=code)
    index = CHECKS.index(check)
    passed = CHECKS[:index]
    if index > CHECKS.index("signature"):
        return Verdict(FAILED_AFTER_VERIFY, f"signature verified, then {check} failed: {code}", check, code, passed)
    return Verdict(REJECTED, f"refused at {check}: {code}", check, code, passed)
