"""The deploy room's typed error, in a module of its own so that every part of the build raises the same class."""

from __future__ import annotations

from osscallback.errors import OssCallbackError


class BuildError(OssCallbackError):
    """The package cannot be built as asked (missing function, unresolvable or non-portable dependency)."""
