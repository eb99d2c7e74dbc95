"""Fitting FC's runtime: which wheel tags and extension modules run on its CPython (Linux x86_64), and bytecode
compiled by a CPython of the runtime's version when this machine has one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from osscallback.deploy.errors import BuildError

NATIVE_SUFFIXES = (".so", ".pyd", ".dylib")


def runtime_interpreter(python_version: str) -> str | None:
    """A CPython ``python_version`` on this machine (``pythonX.Y`` on PATH, or a pyenv install), or None."""
    candidates = [shutil.which(f"python{python_version}")]
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates += sorted(str(p) for p in pyenv.glob(f"{python_version}.*/bin/python{python_version}"))
    probe = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"
    for candidate in dict.fromkeys(filter(None, candidates)):
        try:
            out = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.split() == ["cpython", python_version]:
            return candidate
    return None

def compile_for_runtime(site: Path, python_version: str) -> str | None:
    """Ship bytecode for FC's interpreter: ``__pycache__/*.cpython-XY.pyc`` beside every module.

    FC's code directory is read-only, so without them the runtime compiles every module it imports again at each
    cold start (about 15 ms for the callback function, measured in docs/BENCHMARKS.md) and cannot keep the result.
    Bytecode is only valid for the interpreter version that wrote it, so it is compiled by a CPython of the
    runtime's version when this machine has one; otherwise the package ships sources only (it still works) and the
    build says so. ``unchecked-hash`` pycs are used without comparing timestamps, which zipping and unzipping the
    package would otherwise change.
    """
    interpreter = runtime_interpreter(python_version)
    if interpreter is None:
        return None
    cmd = [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(site)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"compiling the package with {interpreter} failed:\n{(result.stdout + result.stderr).strip()}")
    return f"cpython-{python_version.replace('.', '')}"

def wheel_tags(site: Path) -> dict[str, tuple[str, ...]]:
    """``{distribution directory: its wheel tags}`` from each installed ``*.dist-info/WHEEL``."""
    out: dict[str, tuple[str, ...]] = {}
    for wheel in sorted(site.glob("*.dist-info/WHEEL")):
        lines = wheel.read_text(encoding="utf-8").splitlines()
        tags = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Tag:")]
        out[wheel.parent.name] = tuple(tags)
    return out

def tag_fits(tag: str, python_version: str) -> bool:
    """Whether one wheel tag (``cp39-abi3-manylinux...``) can run on CPython ``python_version`` on Linux x86_64."""
    try:
        interpreter, abi, platform = tag.split("-")
    except ValueError:
        return False
    major, minor = (int(x) for x in python_version.split("."))
    cp = f"cp{major}{minor}"
    platform_ok = any(
        p == "any" or (p.endswith("_x86_64") and (p.startswith("manylinux") or p == "linux_x86_64"))
        for p in platform.split(".")
    )
    if not platform_ok:
        return False
    interpreters = interpreter.split(".")
    if abi == "none":
        return any(i in (f"py{major}", f"py{major}{minor}", cp) for i in interpreters)
    if abi == "abi3":
        return any(i.startswith(f"cp{major}") and int(i[3:] or 0) <= minor for i in interpreters)
    return abi == cp and cp in interpreters

def verify_package(site: Path, python_version: str) -> list[str]:
    """What in ``site`` would not run on FC's CPython ``python_version`` (x86_64 Linux); empty when all fits."""
    problems: list[str] = []
    major, minor = python_version.split(".")
    for dist, tags in wheel_tags(site).items():
        if tags and not any(tag_fits(t, python_version) for t in tags):
            problems.append(f"{dist} is built for {', '.join(tags)}")
    for path in site.rglob("*"):
        if not path.is_file() or not path.name.endswith(NATIVE_SUFFIXES):
            continue
        rel = path.relative_to(site)
        if any(part.endswith(".libs") for part in rel.parts):  # vendored shared libraries (auditwheel)
            continue
        name = path.name
        if not name.endswith(".so"):
            problems.append(f"{rel} is not a Linux shared object")
        elif ".cpython-" in name and f".cpython-{major}{minor}-x86_64-linux-gnu." not in name:
            problems.append(f"{rel} is an extension module for another Python or platform")
    return problems
