"""Where the project is: the repository checkout that holds ``template.yml`` and ``events/``, and the directory
that holds the ``osscallback`` package.

The local tools default to the repository's own template and events, so they need the checkout; an installed
package (a wheel in site-packages) has none. One place decides, by the checkout's layout rather than by counting
parent directories from whichever module asks, and says clearly what to pass instead when there is no checkout.
"""

from __future__ import annotations

from pathlib import Path

from osscallback.errors import OssCallbackError

#: The ``osscallback`` package directory: this module is ``osscallback/local/project.py``. (Not found through
#: ``import osscallback``: the package's lazy re-exports would make every module that asks depend on all of them.)
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


class ProjectNotFound(OssCallbackError):
    """``osscallback`` runs from an installed package, not from the repository: there is no default template."""


def package_parent() -> Path:
    """The directory holding the ``osscallback`` package: what a child interpreter puts on ``sys.path`` to import
    the same library (``shared/`` in a checkout, ``site-packages`` when installed)."""
    return _PACKAGE_DIR.parent


def project_root() -> Path:
    """The repository checkout this package runs from: ``<root>/shared/osscallback`` with ``<root>/pyproject.toml``
    (``[tool.setuptools.packages.find] where = ["shared"]``). Raises :class:`ProjectNotFound` otherwise."""
    shared = package_parent()
    root = shared.parent
    if shared.name == "shared" and (root / "pyproject.toml").is_file():
        return root
    raise ProjectNotFound(
        f"osscallback is installed ({shared}), not run from the oss-callback-fc repository, so there is no default "
        "template or events directory: pass --template PATH (and --events DIR)"
    )
