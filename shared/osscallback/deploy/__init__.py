"""Getting the functions onto Function Compute: the package builder and the Serverless Devs template reader.

Never deployed itself (it needs PyYAML and pip). :mod:`~osscallback.deploy.build` decides what goes into each
function's code package by subpackage; :mod:`~osscallback.deploy.fcyaml` reads ``template.yml`` (FC 3.0)
and ``template.fc2.yml`` (FC 2.0), for the build and for the local FC host; :mod:`~osscallback.deploy.templates`
names them. It imports only ``osscallback.errors``.

The public names below are re-exported lazily (PEP 562, :mod:`osscallback._lazy`). ``build()`` itself is
``osscallback.deploy.build.build``: a re-export would hide the ``build`` module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from osscallback._lazy import by_module, lazy_exports

_EXPORTS = by_module({
    "osscallback.deploy.build": ("BuildError", "BuildOptions", "FunctionPackage"),
    "osscallback.deploy.fcyaml": ("Template", "FunctionDef", "load_template"),
})

__all__ = [
    "BuildError",
    "BuildOptions",
    "FunctionPackage",
    "Template",
    "FunctionDef",
    "load_template",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name is imported on first access
    from osscallback.deploy.build import BuildError, BuildOptions, FunctionPackage
    from osscallback.deploy.fcyaml import FunctionDef, Template, load_template
