"""What the upload function runs on Function Compute: uploads with a callback, and the callback-template library.

Deployed code. :mod:`~osscallback.upload.uploader` drives ``oss2`` (put, put from file, multipart, presigned PUT,
browser PostObject policy); :mod:`~osscallback.upload.templates` turns jinja2 callback templates into OSS callback
parameters (:mod:`~osscallback.upload.callback_params`, also used by the local OSS to read them back). It may import
``osscallback.errors`` and third-party libraries, never the local tooling, the deploy code or the CLI.

This package imports nothing at load time but the lazy-export helper: ``osscallback.upload.templates`` does not pull
in ``oss2``.

The public names below are re-exported lazily (PEP 562, :mod:`osscallback._lazy`): ``Uploader`` loads ``oss2`` on
first access, ``build_callback`` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from osscallback._lazy import by_module, lazy_exports

_EXPORTS = by_module({
    "osscallback.upload.uploader": (
        "Uploader", "UploadEvent", "UploadSettings", "UploadResult", "MultipartAborted", "PostPolicy", "handle_event",
    ),
    "osscallback.upload.templates": ("CallbackSpec", "TemplateLibrary", "build_callback"),
    "osscallback.upload.callback_params": ("CallbackParams",),
})

__all__ = [
    "Uploader",
    "UploadEvent",
    "UploadSettings",
    "UploadResult",
    "MultipartAborted",
    "PostPolicy",
    "handle_event",
    "CallbackSpec",
    "TemplateLibrary",
    "build_callback",
    "CallbackParams",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name is imported on first access
    from osscallback.upload.callback_params import CallbackParams
    from osscallback.upload.templates import CallbackSpec, TemplateLibrary, build_callback
    from osscallback.upload.uploader import (
        MultipartAborted,
        PostPolicy,
        Uploader,
        UploadEvent,
        UploadResult,
        UploadSettings,
        handle_event,
    )
