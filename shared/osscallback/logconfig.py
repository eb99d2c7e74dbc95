"""Logging set-up for the CLI and local servers: one line per record on stderr, messages already JSON.

FC configures the root logger itself on the platform, so the library never calls :func:`configure` on import.

Quiet logs: the functions log what they decided, not a client library's expected control flow. ``oss2`` logs every
error answer OSS gives at INFO (``Exception: {'status': 409, ... 'FileAlreadyExists' ...}``), and the ``oss://``
idempotency store gets such answers on every normal duplicate check (a claim refused with 409, a probe of the next
marker answered 404 ``NoSuchKey``). :func:`quiet_client_libraries` keeps ``oss2``'s logger at WARNING: the code that
builds an ``oss2`` client calls it (the deployed functions under FC's own logging, and so the local FC host's
workers, which run the same code), and so do :func:`configure`, the local OSS command and ``LocalStack.start`` (the
local stack's own process). The local FC worker does not call it itself: a user's own ``oss2`` client logs there
as it would on FC. ``oss2``'s warnings and errors still show.
"""

from __future__ import annotations

import logging
import sys

#: Client libraries held at WARNING: their INFO lines narrate answers our code expects and handles.
QUIET_LOGGERS = ("oss2",)


def quiet_client_libraries() -> None:
    """Hold the :data:`QUIET_LOGGERS` at WARNING, unless the application already set a level of its own on one
    (``logging.getLogger("oss2").setLevel(logging.DEBUG)`` before, to debug a client, keeps working)."""
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def configure(level: str | int = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_osscallback", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler._osscallback = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    quiet_client_libraries()
