"""Typed exceptions raised by the library.

Every failure a caller can act on has its own class, so callers catch what they mean and tests can assert on
the type rather than on message text.
"""

from __future__ import annotations


class OssCallbackError(Exception):
    """Base class of every error this library raises on purpose."""


class ConfigError(OssCallbackError):
    """The deployment's configuration (environment variables, templates) is wrong: fix it, not the request."""


class CallbackRejected(OssCallbackError):
    """A callback request that must be refused, with the HTTP status and error code to answer with.

    Raised inside the transport-free core and turned into a JSON error answer by it; never escapes to a
    transport adapter.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class TemplateError(OssCallbackError):
    """A callback template is missing, fails to render, or renders to invalid OSS callback parameters."""


class UploadError(OssCallbackError):
    """An upload action could not be carried out (bad event, file outside the allowed roots, OSS error)."""


class IdempotencyError(OssCallbackError):
    """The idempotency store could not decide whether an upload's action may run (base of the three below)."""


class StoreUnavailable(IdempotencyError):
    """The shared idempotency store could not be reached or answered nonsense: never run an action unclaimed.

    The callback path answers a JSON 503 (OSS reports CallbackFailed and the OSS-event backstop delivers the
    upload later); the event path fails the invocation, so FC's asynchronous retry delivers it again.
    """


class ClaimInProgress(IdempotencyError):
    """Another run holds the upload's claim and did not finish within the wait: answered 409, or retried."""


class IdempotencyKeyMismatch(IdempotencyError):
    """A callback claims an upload that another, different callback body already delivered (a forged reqId/ETag)."""
