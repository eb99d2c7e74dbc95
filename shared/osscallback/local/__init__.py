"""Local development tooling that is never deployed: stand-ins for the cloud on 127.0.0.1.

- :mod:`~osscallback.local.oss`: the local OSS (oss2-compatible, performs real signed upload callbacks);
- :mod:`~osscallback.local.fc`: the local Function Compute host, driven by the Serverless Devs template;
- :mod:`~osscallback.local.stack`: both wired together like a deployment, running the events in ``events/``;
- :mod:`~osscallback.local.httpserver`: waitress in a thread, for the servers above;
- :mod:`~osscallback.local.clientsteps`: what an uploader's client does (PUT a presigned URL, POST a form).

It may import the deployed packages (it runs them) and :mod:`osscallback.deploy` (the template reader), never the
CLI. ``osscallback build`` never ships it.

The public names below are re-exported lazily (PEP 562, :mod:`osscallback._lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from osscallback._lazy import by_module, lazy_exports

_EXPORTS = by_module({
    "osscallback.local.oss": ("LocalOSS",),
    "osscallback.local.fc": ("LocalFCHost",),
    "osscallback.local.stack": ("LocalStack", "LocalStackError", "StackInfo", "EventResult"),
    "osscallback.local.inspector": ("Inspector",),
})

__all__ = [
    "LocalOSS",
    "LocalFCHost",
    "LocalStack",
    "LocalStackError",
    "StackInfo",
    "EventResult",
    "Inspector",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name is imported on first access
    from osscallback.local.fc import LocalFCHost
    from osscallback.local.inspector import Inspector
    from osscallback.local.oss import LocalOSS
    from osscallback.local.stack import EventResult, LocalStack, LocalStackError, StackInfo
