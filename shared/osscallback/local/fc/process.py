"""Deprecated: this module is now :mod:`osscallback.local.fc.model.process`.

It re-exports its names for one release and warns on import; it will be removed in the next release
(docs/ARCHITECTURE.md, "Deprecated import paths"). ``LogSink`` and ``print_sink``
are also exported by :mod:`osscallback.local.fc`."""

from __future__ import annotations

from osscallback._lazy import warn_moved
from osscallback.local.fc.model.process import LogSink, WorkerProcess, print_sink

__all__ = ["LogSink", "WorkerProcess", "print_sink"]

warn_moved(__name__, "import from osscallback.local.fc.model.process")
