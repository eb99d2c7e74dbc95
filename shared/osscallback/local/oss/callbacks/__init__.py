"""Upload callbacks as OSS performs them: fill the body template, sign, POST to each URL in turn, judge the answer.

Rules followed (SPEC §1-4, OSS "Callback" API reference and the "HTTP status code 203" page), one module per job:

* :mod:`.variables`: the body is ``callbackBody`` with ``${…}`` replaced by system and custom variables
  (``render_body`` in :mod:`osscallback.upload.callback_params`: form values URL-encoded, JSON values as JSON
  strings);
* :mod:`.compose`: the signed ``POST`` for one URL (or an edited copy of a recorded one, for the inspector);
* :mod:`.wire`: one POST within OSS's 5 second budget, no redirects, and OSS's verdict on the answer (200, at most
  3 MB, JSON; otherwise 203 ``CallbackFailed`` with OSS's message for the case);
* :mod:`.records`: what was sent and what came back, as the observers (the local inspector) receive it;
* :mod:`.sender`: :class:`CallbackSender`, which tries each URL in turn, records, replays and re-sends.

The names below were one module's before the split; they stay importable from here.
"""

from __future__ import annotations

from osscallback.local.oss.callbacks.compose import MAX_RESEND_BODY, USER_AGENT
from osscallback.local.oss.callbacks.records import (
    KIND_REPLAY,
    KIND_RESEND,
    KIND_UPLOAD,
    RECORD_ANSWER_BYTES,
    SIGNATURE_KEPT,
    SIGNED_BY_OSS,
    Attempt,
    CallbackObserver,
    CallbackRecord,
    CallbackResendError,
    CallbackResult,
    Headers,
    ReceivedAnswer,
    SentRequest,
)
from osscallback.local.oss.callbacks.sender import CallbackSender
from osscallback.local.oss.callbacks.variables import ImageInfo, UploadFacts, image_info, needs_image_info, variables
from osscallback.local.oss.callbacks.wire import (
    CALLBACK_TIMEOUT,
    MAX_ANSWER_BYTES,
    MSG_CONNECT,
    MSG_IMAGE,
    MSG_LENGTH,
    MSG_NOT_JSON,
    MSG_TIMEOUT,
    RECORD_READ_SECONDS,
    msg_status,
)

__all__ = [
    "CALLBACK_TIMEOUT",
    "KIND_REPLAY",
    "KIND_RESEND",
    "KIND_UPLOAD",
    "MAX_ANSWER_BYTES",
    "MAX_RESEND_BODY",
    "MSG_CONNECT",
    "MSG_IMAGE",
    "MSG_LENGTH",
    "MSG_NOT_JSON",
    "MSG_TIMEOUT",
    "RECORD_ANSWER_BYTES",
    "RECORD_READ_SECONDS",
    "SIGNATURE_KEPT",
    "SIGNED_BY_OSS",
    "USER_AGENT",
    "Attempt",
    "CallbackObserver",
    "CallbackRecord",
    "CallbackResendError",
    "CallbackResult",
    "CallbackSender",
    "Headers",
    "ImageInfo",
    "ReceivedAnswer",
    "SentRequest",
    "UploadFacts",
    "image_info",
    "msg_status",
    "needs_image_info",
    "variables",
]
