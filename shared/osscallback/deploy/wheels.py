"""Installing a function's distributions for FC: ``pip install --platform ... --only-binary=:all:``, and for
sdist-only distributions (oss2, crcmod) a pure-Python wheel built here into the wheelhouse first (the build
module's docstring says why only pure Python may be built locally)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from osscallback.deploy.errors import BuildError
from osscallback.deploy.requirements import canonical
from osscallback.deploy.runtime import NATIVE_SUFFIXES

#: Distributions whose locally built wheel may lose its compiled parts because the code falls back to pure Python.
PURE_FALLBACKS: Mapping[str, str] = {
    "crcmod": "crcmod uses its pure-Python CRC (crcmod._crcfunpy) when the optional _crcfunext C extension is absent",
}
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")


def install(
    target: Path,
    requirements: Sequence[str],
    wheelhouse: Path,
    python_version: str,
    platforms: Sequence[str],
    pip_args: Sequence[str],
) -> set[str]:
    """pip-install ``requirements`` for FC into ``target``; sdist-only ones are built into ``wheelhouse`` first."""
    built: set[str] = {dist_of(p.name) for p in wheelhouse.glob("*.whl")}
    tried: set[str] = set()
    cmd = [sys.executable, "-m", "pip", "install", "--target", str(target), "--no-compile", "--no-input"]
    cmd += ["--disable-pip-version-check", "--no-warn-script-location", "--quiet"]
    for platform in platforms:
        cmd += ["--platform", platform]
    cmd += ["--python-version", python_version, "--implementation", "cp", "--only-binary=:all:"]
    cmd += ["--find-links", str(wheelhouse), *pip_args, *requirements]
    while True:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode == 0 and (more := runtime_only_requirements(target, python_version)):
            cmd += [m for m in more if m not in cmd]  # install again with what only FC's Python needs
            if len(tried) > 20:
                raise BuildError(f"dependencies for Python {python_version} keep changing: {', '.join(more)}")
            tried.update(more)
            continue
        if result.returncode == 0:
            used = {canonical(d) for d in installed_distributions(target)}
            return {b for b in built if canonical(b) in used}
        missing = _NO_MATCH.search(result.stderr)
        if not missing or missing.group(1) in tried:
            raise BuildError(f"pip could not install {' '.join(requirements)} for FC:\n{result.stderr.strip()}")
        requirement = missing.group(1)
        tried.add(requirement)
        built.add(dist_of(build_pure_wheel(requirement, wheelhouse, pip_args).name))

def build_pure_wheel(requirement: str, wheelhouse: Path, pip_args: Sequence[str] = ()) -> Path:
    """Build ``requirement`` from its sdist (no deps) and store a pure-Python ``py3-none-any`` wheel of it."""
    with tempfile.TemporaryDirectory(prefix="osscallback-wheel-") as tmp:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", tmp, "--quiet"]
        cmd += ["--disable-pip-version-check", "--no-input", *pip_args, requirement]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            raise BuildError(f"{requirement} has no wheel for FC and building one failed:\n{result.stderr.strip()}")
        return make_pure(wheels[0], wheelhouse)

def make_pure(wheel: Path, wheelhouse: Path) -> Path:
    """Copy ``wheel`` into ``wheelhouse`` as ``py3-none-any``, dropping compiled parts where that is known safe."""
    parts = wheel.name[: -len(".whl")].split("-")
    dist, version = parts[0], parts[1]
    target = wheelhouse / f"{dist}-{version}-py3-none-any.whl"
    if parts[-2:] == ["none", "any"]:
        shutil.copy2(wheel, target)
        return target
    with zipfile.ZipFile(wheel) as src:
        names = src.namelist()
        native = [n for n in names if n.endswith(NATIVE_SUFFIXES)]
        if native and canonical(dist) not in PURE_FALLBACKS:
            raise BuildError(
                f"{dist} {version} publishes no wheel for FC and its sdist compiles native code ({', '.join(native)}); "
                "a wheel built on this machine would not run on FC (build it in FC's image, e.g. `s build`)"
            )
        info = next(n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info"))
        rows: list[list[str]] = []
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in src.infolist():
                if item.filename in native or item.filename == f"{info}/RECORD":
                    continue
                data = src.read(item.filename)
                if item.filename == f"{info}/WHEEL":
                    data = _pure_wheel_metadata(data.decode("utf-8")).encode("utf-8")
                dst.writestr(item.filename, data)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                rows.append([item.filename, f"sha256={digest}", str(len(data))])
            rows.append([f"{info}/RECORD", "", ""])
            record = io.StringIO()
            csv.writer(record, lineterminator="\n").writerows(rows)
            dst.writestr(f"{info}/RECORD", record.getvalue())
    return target

def _pure_wheel_metadata(text: str) -> str:
    lines = [ln for ln in text.splitlines() if not ln.startswith(("Tag:", "Root-Is-Purelib:"))]
    return "\n".join([*lines, "Root-Is-Purelib: true", "Tag: py3-none-any"]) + "\n"

def dist_of(wheel_name: str) -> str:
    return wheel_name.split("-", 1)[0]

def installed_distributions(site: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for info in sorted(site.glob("*.dist-info")):
        meta = info / "METADATA"
        if not meta.is_file():
            continue
        fields = dict(
            line.split(": ", 1) for line in meta.read_text(encoding="utf-8").splitlines()[:20] if ": " in line
        )
        if "Name" in fields:
            out[fields["Name"]] = fields.get("Version", "")
    return out


def runtime_only_requirements(site: Path, python_version: str) -> list[str]:
    """Requirements of the installed distributions whose markers hold on FC's CPython ``python_version`` (Linux
    x86_64) and that are not installed: pip evaluates environment markers against the interpreter running it, even
    with ``--python-version`` (which only selects wheels), so building for python3.10 on 3.11 drops aiohttp's
    ``async-timeout; python_version < "3.11"`` and the package fails on FC with ``No module named 'async_timeout'``.
    """
    from packaging.markers import default_environment
    from packaging.requirements import InvalidRequirement, Requirement

    environment = {k: str(v) for k, v in default_environment().items()}
    environment.update({
        "python_version": python_version, "python_full_version": f"{python_version}.0", "sys_platform": "linux",
        "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython",
        "platform_python_implementation": "CPython", "extra": "",
    })
    installed = {canonical(name) for name in installed_distributions(site)}
    missing: dict[str, str] = {}
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        for line in meta.read_text(encoding="utf-8").splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            try:
                requirement = Requirement(line.split(":", 1)[1].strip())
            except InvalidRequirement:
                continue
            if requirement.marker is None or canonical(requirement.name) in installed:
                continue
            if requirement.marker.evaluate(environment):
                requirement.marker = None
                missing.setdefault(canonical(requirement.name), str(requirement))
    return sorted(missing.values())
