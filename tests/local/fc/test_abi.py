"""The local FC host says when a deployed package's native modules are for another Python than its own.

Found by running the packages ``osscallback build`` makes for ``python3.12`` under ``python3.11 -I -S``: every
function but the policy one fails with ``No module named '_cffi_backend'`` (cryptography's Rust bindings import
cffi's backend, packaged as ``_cffi_backend.cpython-312-x86_64-linux-gnu.so``), while under ``python3.12 -I -S``
they all import. The host runs deployed code with its own interpreter, which then takes its own installed copy.
CPython loads only its own ``importlib.machinery.EXTENSION_SUFFIXES`` (PEP 3149; abi3 loads anywhere).
"""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

from osscallback.local.fc.context import FCCredentials
from osscallback.local.fc.model.abi import foreign_extensions, host_fit_note
from osscallback.local.fc.model.instances import Launcher
from osscallback.local.fc.spec import FunctionSpec

OTHER = f"3{sys.version_info.minor + 1}"  # a CPython that is not this one


def package(root: Path) -> Path:
    (root / "cryptography" / "hazmat" / "bindings").mkdir(parents=True)
    (root / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so").write_bytes(b"")
    (root / f"_cffi_backend.cpython-{OTHER}-x86_64-linux-gnu.so").write_bytes(b"")
    (root / "markupsafe").mkdir()
    (root / "markupsafe" / f"_speedups.cpython-{OTHER}-x86_64-linux-gnu.so").write_bytes(b"")
    (root / "markupsafe" / f"_native{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    (root / "index.py").write_text("def handler(event, context):\n    return 'ok'\n")
    return root


def test_foreign_extensions_are_those_this_python_cannot_load(tmp_path: Path) -> None:
    assert foreign_extensions(package(tmp_path)) == ["_cffi_backend", "markupsafe._speedups"]


def test_a_package_for_this_python_or_pure_gets_no_note(tmp_path: Path) -> None:
    (tmp_path / f"_cffi_backend{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    (tmp_path / "index.py").write_text("")
    assert host_fit_note(f"python3.{sys.version_info.minor}", tmp_path) is None


def test_the_launcher_says_so_once_per_function(tmp_path: Path) -> None:
    said: list[tuple[str, str]] = []
    launcher = Launcher(FCCredentials("id", "secret"), "cn-hangzhou", "1", log_sink=lambda *a: said.append(a))
    spec = FunctionSpec("", "oss-callback-fc-callback", "index.handler", package(tmp_path),
                        runtime=f"python{OTHER[0]}.{OTHER[1:]}", fc_version=3)
    workers = launcher.make_workers(spec, 2)
    assert len(workers) == 2 and len(said) == 1, said
    name, line = said[0]
    assert name == "oss-callback-fc-callback"
    assert f"built for python{OTHER[0]}.{OTHER[1:]}" in line
    assert f"Python 3.{sys.version_info.minor}" in line and "_cffi_backend, markupsafe._speedups" in line
