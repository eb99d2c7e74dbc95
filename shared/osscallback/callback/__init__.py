"""What the callback function runs on Function Compute: verify, parse, act once, answer.

Deployed code. It may import only the standard library, ``cryptography``, ``jinja2`` (answer templates) and the
top-level ``osscallback.errors``; never ``osscallback.upload`` (that would pull ``oss2`` onto the cold path that OSS
waits on), the local tooling, the deploy code or the CLI. ``lint-imports`` enforces this (see ``.importlinter``).

The core is transport-free (:mod:`osscallback.callback.core`); :mod:`~osscallback.callback.wsgi` (FC 2.0) and
:mod:`~osscallback.callback.fc3` (FC 3.0) are thin adapters over it. Import the submodule you need: this package
imports nothing at load time (but the lazy-export helper), so ``import osscallback.callback.x`` costs only ``x``.

The public names below are re-exported lazily (PEP 562, :mod:`osscallback._lazy`): each is imported from its module
on first access, so ``import osscallback.callback`` still imports nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from osscallback._lazy import by_module, lazy_exports

_EXPORTS = by_module({
    "osscallback.callback.core": ("CallbackApp", "CallbackRequest", "CallbackResponse", "BrokenApp", "load_app"),
    "osscallback.callback.config": ("CallbackConfig",),
    "osscallback.callback.actions": ("CallbackEvent",),
    "osscallback.callback.wsgi": ("make_wsgi_handler",),
    "osscallback.callback.fc3": ("make_fc3_handler",),
    "osscallback.callback.oss_event": ("OssEventApp", "load_event_app", "make_oss_event_handler"),
    "osscallback.callback.idempotency.factory": ("StoreSpec", "open_store"),
})

__all__ = [
    "CallbackApp",
    "CallbackRequest",
    "CallbackResponse",
    "BrokenApp",
    "load_app",
    "CallbackConfig",
    "CallbackEvent",
    "make_wsgi_handler",
    "make_fc3_handler",
    "OssEventApp",
    "load_event_app",
    "make_oss_event_handler",
    "StoreSpec",
    "open_store",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name is imported on first access
    from osscallback.callback.actions import CallbackEvent
    from osscallback.callback.config import CallbackConfig
    from osscallback.callback.core import BrokenApp, CallbackApp, CallbackRequest, CallbackResponse, load_app
    from osscallback.callback.fc3 import make_fc3_handler
    from osscallback.callback.idempotency.factory import StoreSpec, open_store
    from osscallback.callback.oss_event import OssEventApp, load_event_app, make_oss_event_handler
    from osscallback.callback.wsgi import make_wsgi_handler
