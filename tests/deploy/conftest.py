"""Builds the FC packages once per session: for FC's runtime (as deployed) and for this interpreter (to run here).

Wheels come through pip's cache and the project's wheelhouse (``.build/.wheelhouse``, where sdist-only
dependencies are built once), so only the first run on a machine downloads anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from osscallback.deploy.build import WHEELHOUSE, BuildOptions, FunctionPackage, build
from tests.support.deploy import HOST_VERSION, ROOT


def _build(out: Path, python_version: str | None) -> dict[str, FunctionPackage]:
    options = BuildOptions(
        project_root=ROOT,
        out_dir=out,
        python_version=python_version,
        wheelhouse=ROOT / ".build" / WHEELHOUSE,
    )
    return {p.name: p for p in build(options)}


@pytest.fixture(scope="session")
def runtime_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FunctionPackage]:
    """Packages exactly as `osscallback build` makes them for deployment (the runtime in template.yml)."""
    return _build(tmp_path_factory.mktemp("fc-runtime"), None)


@pytest.fixture(scope="session")
def host_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FunctionPackage]:
    """The same packages with wheels for the interpreter running the tests, so they can run here."""
    return _build(tmp_path_factory.mktemp(f"fc-host-{HOST_VERSION}"), HOST_VERSION)
