"""oss-callback-fc: safe, easy OSS upload callbacks on Alibaba Cloud Function Compute.

The public API is the names in ``__all__`` here and in the subpackages' ``__all__`` (docs/ARCHITECTURE.md, "Public
API"); every other module and name is internal and may change without notice.

The package is deliberately light to import: the callback function's cold start goes through here, so nothing
heavy (and never ``oss2``) is imported at package level. The names below are re-exported lazily: each is imported
from its module on first access (``osscallback._lazy``), so ``import osscallback`` imports no submodule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from osscallback._lazy import by_module, lazy_exports

__version__ = "0.1.0"

_EXPORTS = by_module({
    # the callback function: the transport-free app, its adapters, its configuration, what an action receives
    "osscallback.callback.core": ("CallbackApp", "CallbackRequest", "CallbackResponse", "load_app"),
    "osscallback.callback.config": ("CallbackConfig",),
    "osscallback.callback.actions": ("CallbackEvent",),
    "osscallback.callback.wsgi": ("make_wsgi_handler",),
    "osscallback.callback.fc3": ("make_fc3_handler",),
    "osscallback.callback.oss_event": ("load_event_app", "make_oss_event_handler"),
    # the idempotency store: CALLBACK_IDEMPOTENCY_STORE's URLs (memory, redis://, oss://) and the factory
    "osscallback.callback.idempotency.factory": ("StoreSpec", "open_store"),
    # uploads with a callback
    "osscallback.upload.uploader": ("Uploader", "UploadEvent", "UploadSettings", "UploadResult"),
    "osscallback.upload.templates": ("build_callback", "CallbackSpec"),
    # the local stand-ins for the cloud
    "osscallback.local.oss": ("LocalOSS",),
    "osscallback.local.fc": ("LocalFCHost",),
    "osscallback.local.stack": ("LocalStack",),
    # errors
    "osscallback.errors": (
        "OssCallbackError", "ConfigError", "CallbackRejected", "TemplateError", "UploadError", "IdempotencyError",
        "StoreUnavailable", "ClaimInProgress", "IdempotencyKeyMismatch",
    ),
})

__all__ = [
    "__version__",
    "CallbackApp",
    "CallbackRequest",
    "CallbackResponse",
    "load_app",
    "CallbackConfig",
    "CallbackEvent",
    "make_wsgi_handler",
    "make_fc3_handler",
    "load_event_app",
    "make_oss_event_handler",
    "StoreSpec",
    "open_store",
    "Uploader",
    "UploadEvent",
    "UploadSettings",
    "UploadResult",
    "build_callback",
    "CallbackSpec",
    "LocalOSS",
    "LocalFCHost",
    "LocalStack",
    "OssCallbackError",
    "ConfigError",
    "CallbackRejected",
    "TemplateError",
    "UploadError",
    "IdempotencyError",
    "StoreUnavailable",
    "ClaimInProgress",
    "IdempotencyKeyMismatch",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name is imported on first access
    from osscallback.callback.actions import CallbackEvent
    from osscallback.callback.config import CallbackConfig
    from osscallback.callback.core import CallbackApp, CallbackRequest, CallbackResponse, load_app
    from osscallback.callback.fc3 import make_fc3_handler
    from osscallback.callback.idempotency.factory import StoreSpec, open_store
    from osscallback.callback.oss_event import load_event_app, make_oss_event_handler
    from osscallback.callback.wsgi import make_wsgi_handler
    from osscallback.errors import (
        CallbackRejected,
        ClaimInProgress,
        ConfigError,
        IdempotencyError,
        IdempotencyKeyMismatch,
        OssCallbackError,
        StoreUnavailable,
        TemplateError,
        UploadError,
    )
    from osscallback.local.fc import LocalFCHost
    from osscallback.local.oss import LocalOSS
    from osscallback.local.stack import LocalStack
    from osscallback.upload.templates import CallbackSpec, build_callback
    from osscallback.upload.uploader import Uploader, UploadEvent, UploadResult, UploadSettings
