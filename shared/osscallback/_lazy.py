"""Lazy re-exports (PEP 562): a package lists its public names and the modules that define them, and each module
is imported on the first access to one of its names, not when the package is.

Why: ``osscallback`` and ``osscallback.callback`` are on the callback function's cold path, which OSS waits on. A
package that imported what it re-exports would load every submodule (and ``oss2``, ``cryptography``, ...) for a
handler that needs three of them; lazily, ``from osscallback import CallbackApp`` costs ``callback.core`` alone.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def by_module(names: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """``{module: its exported names}`` (as a package's ``TYPE_CHECKING`` imports read) turned into the
    ``{name: module}`` that :func:`lazy_exports` takes, so each module is spelled once."""
    return {name: module for module, exported in names.items() for name in exported}


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` for ``package``, exporting each name of ``exports`` (name -> module).

    A resolved name is stored in the package, so later accesses are plain attribute lookups.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
