"""What goes into a function's code directory besides its distributions: the library's top-level modules and
the subpackages the function runs (never local tooling), the function's own files, and nothing that does not run
on FC (console scripts, caches, distributions' test suites)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from osscallback.deploy.errors import BuildError

#: The library's subpackages each function's package carries, beside the top-level modules. The layout is the
#: contract: ``callback/`` is all the callback function runs, ``upload/`` all the upload function runs.
#: A function not listed here gets ``callback/`` (the transport-free core and its adapters).
FUNCTION_SUBPACKAGES: Mapping[str, tuple[str, ...]] = {
    "callback": ("callback",),
    "upload": ("upload",),
}
DEFAULT_SUBPACKAGES = ("callback",)
#: Subpackages that never run on FC, whatever a function asks for: the local stand-ins, the doctor (it checks a
#: deployed endpoint from outside), this build, the CLI.
LOCAL_SUBPACKAGES = ("local", "doctor", "deploy", "cli")
#: Top-level modules that never run on FC: the public test kit (it serves keys and signs like OSS, for tests) and
#: the key generator it, the local OSS and the doctor sign with.
LOCAL_MODULES = ("testing.py", "keygen.py")
JUNK_DIRS = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
#: Test suites inside installed distributions (never imported at run time), e.g. pycryptodome's SelfTest.
TEST_DIRS = ("tests", "test", "SelfTest")


def prune(site: Path) -> None:
    """Remove console scripts, caches and distributions' own test suites: nothing there runs on FC."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for path in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.exists():
            continue
        rel = path.relative_to(site)
        if path.is_dir() and (path.name in JUNK_DIRS or (len(rel.parts) > 1 and path.name in TEST_DIRS)):
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in (".pyc", ".pyo"):
            path.unlink()

def library_root() -> Path:
    """The installed ``osscallback`` package directory (what is copied into the packages)."""
    return Path(__file__).resolve().parent.parent

def subpackages_for(name: str) -> tuple[str, ...]:
    """The library subpackages function ``name`` ships (never one of :data:`LOCAL_SUBPACKAGES`)."""
    wanted = FUNCTION_SUBPACKAGES.get(name, DEFAULT_SUBPACKAGES)
    local = [s for s in wanted if s in LOCAL_SUBPACKAGES]
    if local:
        raise BuildError(f"{name}: {', '.join(local)} is local tooling and never ships to FC")
    return wanted

def copy_library(dest: Path, subpackages: Sequence[str]) -> None:
    """Copy the top-level modules (not the test kit) and ``subpackages`` of the library into ``dest``."""
    library = library_root()
    dest.mkdir(parents=True)
    for item in sorted(library.iterdir()):
        if item.is_file() and item.name not in LOCAL_MODULES and item.suffix in (".py", ".typed"):
            shutil.copy2(item, dest / item.name)
    for sub in subpackages:
        source = library / sub
        if not (source / "__init__.py").is_file():
            raise BuildError(f"the library has no subpackage {sub!r} ({source})")
        shutil.copytree(source, dest / sub, ignore=_junk_ignore)

def _junk_ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in JUNK_DIRS or n.endswith((".pyc", ".pyo"))}

def code_ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in JUNK_DIRS or n in ("tests", "requirements.txt") or n.endswith((".pyc", ".pyo"))}
