"""Packages each function into one self-contained FC code directory: code, the library, and Linux wheels.

Function Compute runs the code directory as it is (``/code`` on ``sys.path``, nothing installed for you), on
Linux x86_64 with the runtime's CPython. So each function gets its own directory holding:

- the function's own files (``functions/<name>/``: ``index.py``, samples, ...);
- the part of the ``osscallback`` library the function runs: the top-level modules (``errors``, ``logconfig``)
  plus the subpackages named in :data:`FUNCTION_SUBPACKAGES` (``callback/`` for the callback function, ``upload/``
  for the upload function). ``local/``, ``doctor/``, ``deploy/``, ``cli/`` and the test kit never ship; the tree
  says what runs where, and ``lint-imports`` proves the shipped part never imports the rest;
- only the distributions that function imports at run time — the callback function gets cryptography and
  jinja2 (never oss2 for its own sake: cold start), plus the client of the idempotency store its template
  configures (``redis`` for ``redis://``, oss2 for ``oss://``, nothing for ``memory``); the upload function
  oss2 and jinja2 — installed with
  ``pip install --target --platform manylinux2014_x86_64 --only-binary=:all: --python-version <runtime>
  --implementation cp``, so the wheels match FC and not the machine that builds;
- ``.osscallback-build.json``: what was built for which runtime, so tests can check it against template.yml.

Some dependencies publish no wheel at all (oss2 and crcmod are sdist-only on PyPI). ``--only-binary=:all:`` then
cannot resolve them, so they are built locally with ``pip wheel --no-deps`` into a wheelhouse (cached between
builds) and installed from there. A locally built wheel must be pure Python — one built on this machine would
carry this machine's native code — so compiled parts are only dropped for distributions known to fall back to
pure Python without them (crcmod: its ``_crcfunext`` C extension is optional); anything else is a BuildError.

Tests, caches and console scripts are pruned; the size of each directory (and of the zip Serverless Devs will
upload) is reported, because FC limits code packages.

This module runs the build and reports it; each step has its own module, and the names callers import from here
are re-exported: ``requirements.py`` (what each function needs), ``wheels.py`` (installing them for FC),
``contents.py`` (the library part and the function's files), ``runtime.py`` (fitting FC's CPython), ``errors.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from osscallback.deploy.contents import (
    DEFAULT_SUBPACKAGES,
    FUNCTION_SUBPACKAGES,
    LOCAL_MODULES,
    LOCAL_SUBPACKAGES,
    code_ignore,
    copy_library,
    library_root,
    prune,
    subpackages_for,
)
from osscallback.deploy.errors import BuildError
from osscallback.deploy.requirements import (
    DISTRIBUTION,
    FUNCTION_REQUIREMENTS,
    STORE_CLIENTS,
    STORE_VARIABLE,
    available_functions,
    requirements_for,
    runtime_versions,
    store_clients,
)
from osscallback.deploy.runtime import compile_for_runtime, runtime_interpreter, tag_fits, verify_package, wheel_tags
from osscallback.deploy.wheels import PURE_FALLBACKS, build_pure_wheel, install, installed_distributions, make_pure

__all__ = [
    "DEFAULT_OUT", "DEFAULT_PLATFORMS", "DEFAULT_PYTHON_VERSION", "DEFAULT_SUBPACKAGES", "DISTRIBUTION",
    "FUNCTION_REQUIREMENTS", "FUNCTION_SUBPACKAGES", "LOCAL_MODULES", "LOCAL_SUBPACKAGES", "MANIFEST",
    "PURE_FALLBACKS", "STORE_CLIENTS", "STORE_VARIABLE", "WHEELHOUSE", "BuildError", "BuildOptions",
    "FunctionPackage", "available_functions", "build", "build_pure_wheel", "compile_for_runtime", "copy_library",
    "describe", "human_size", "library_root", "make_pure", "read_manifest", "requirements_for", "runtime_interpreter",
    "runtime_versions", "store_clients", "subpackages_for", "tag_fits", "verify_package", "wheel_tags",
]

DEFAULT_OUT = ".build"
DEFAULT_PYTHON_VERSION = "3.12"  # template.yml's runtime (python3.12); a template's runtime wins
DEFAULT_PLATFORMS = ("manylinux2014_x86_64",)
MANIFEST = ".osscallback-build.json"
WHEELHOUSE = ".wheelhouse"


@dataclass(frozen=True)
class FunctionPackage:
    """One built code directory and what went into it."""

    name: str
    path: Path
    python_version: str
    platforms: tuple[str, ...]
    requirements: tuple[str, ...]
    distributions: Mapping[str, str]  # name -> version, as installed
    locally_built: tuple[str, ...]  # wheels built here from sdists (pure Python)
    size_bytes: int
    zip_bytes: int
    file_count: int
    bytecode: str | None = None  # "cpython-310" when compiled for the runtime; None: sources only

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["path"] = str(self.path)
        out["distributions"] = dict(self.distributions)
        return out


@dataclass(frozen=True)
class BuildOptions:
    """Where to read the project, where to write, and which FC runtime to build for."""

    project_root: Path
    out_dir: Path
    python_version: str | None = None  # None: the function's runtime in template.yml, else DEFAULT_PYTHON_VERSION
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    template: Path | None = None  # None: <project_root>/template.yml when it exists
    wheelhouse: Path | None = None  # None: <out_dir>/.wheelhouse
    pip_args: tuple[str, ...] = field(default=())  # extra pip options, e.g. ("--cache-dir", "...")


def build(options: BuildOptions, functions: Sequence[str] | None = None) -> list[FunctionPackage]:
    """Build ``functions`` (default: all) into ``options.out_dir/<name>/``; returns what was built."""
    root = options.project_root.resolve()
    known = available_functions(root)
    wanted = tuple(functions) if functions else known
    unknown = [f for f in wanted if f not in known]
    if unknown:
        raise BuildError(f"unknown function(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}")
    template = options.template if options.template is not None else root / "template.yml"
    versions = runtime_versions(template)
    clients = store_clients(template)
    out_dir = options.out_dir if options.out_dir.is_absolute() else root / options.out_dir
    wheelhouse = options.wheelhouse or out_dir / WHEELHOUSE
    wheelhouse.mkdir(parents=True, exist_ok=True)
    return [
        _build_one(
            root,
            name,
            out_dir,
            wheelhouse,
            python_version=options.python_version or versions.get(name, DEFAULT_PYTHON_VERSION),
            platforms=options.platforms,
            pip_args=options.pip_args,
            extra=clients.get(name, ()),
        )
        for name in wanted
    ]

def _build_one(
    root: Path,
    name: str,
    out_dir: Path,
    wheelhouse: Path,
    *,
    python_version: str,
    platforms: tuple[str, ...],
    pip_args: tuple[str, ...],
    extra: Sequence[str] = (),
) -> FunctionPackage:
    if not re.fullmatch(r"3\.\d+", python_version):
        raise BuildError(f"python version must look like 3.10, got {python_version!r}")
    requirements = requirements_for(name, root, extra)
    final = out_dir / name
    work = out_dir / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        built = install(work, requirements, wheelhouse, python_version, platforms, pip_args)
        prune(work)
        copy_library(work / "osscallback", subpackages_for(name))
        shutil.copytree(root / "functions" / name, work, ignore=code_ignore, dirs_exist_ok=True)
        distributions = installed_distributions(work)
        problems = verify_package(work, python_version)
        if problems:
            raise BuildError(f"{name}: the package does not fit Python {python_version}: " + "; ".join(problems))
        bytecode = compile_for_runtime(work, python_version)
        manifest = {
            "function": name,
            "python_version": python_version,
            "implementation": "cp",
            "platforms": list(platforms),
            "requirements": list(requirements),
            "distributions": distributions,
            "locally_built": sorted(built),
            "bytecode": bytecode,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    size, count = _tree_size(final)
    return FunctionPackage(
        name=name,
        path=final,
        python_version=python_version,
        platforms=platforms,
        requirements=requirements,
        distributions=distributions,
        locally_built=tuple(sorted(built)),
        size_bytes=size,
        zip_bytes=_zip_size(final),
        file_count=count,
        bytecode=bytecode,
    )

def _tree_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)

def _zip_size(path: Path) -> int:
    """Bytes of the deflated zip Serverless Devs uploads (FC limits code packages; see docs/DEPLOY.md)."""
    with tempfile.TemporaryFile() as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                archive.write(file, file.relative_to(path).as_posix())
        tmp.seek(0, os.SEEK_END)
        return tmp.tell()

def read_manifest(package_dir: Path) -> dict[str, object]:
    """The ``.osscallback-build.json`` a build left in ``package_dir``."""
    try:
        data = json.loads((package_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildError(f"{package_dir} is not a built package ({MANIFEST}: {exc})") from None
    if not isinstance(data, dict):
        raise BuildError(f"{package_dir / MANIFEST} is not a JSON object")
    return data

def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - unreachable

def describe(packages: Iterable[FunctionPackage]) -> str:
    """One line per package: name, size, zipped size, files, where."""
    lines = []
    for p in packages:
        lines.append(
            f"{p.name:<10} {human_size(p.size_bytes):>10} ({human_size(p.zip_bytes)} zipped, {p.file_count} files) "
            f"python{p.python_version} -> {p.path}"
        )
        if p.bytecode is None:
            lines.append(
                f"{'':<10} note: no Python {p.python_version} here, so no bytecode shipped: FC will compile the "
                "modules at every cold start (install that Python and build again)"
            )
    return "\n".join(lines)
