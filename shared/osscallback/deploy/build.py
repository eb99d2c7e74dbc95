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
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from osscallback.errors import OssCallbackError

DEFAULT_OUT = ".build"
DEFAULT_PYTHON_VERSION = "3.10"
DEFAULT_PLATFORMS = ("manylinux2014_x86_64",)
MANIFEST = ".osscallback-build.json"
WHEELHOUSE = ".wheelhouse"
DISTRIBUTION = "oss-callback-fc"

#: What each shipped function imports at run time (distribution names; versions come from pyproject.toml).
#: A function not listed here may list its needs in ``functions/<name>/requirements.txt``.
FUNCTION_REQUIREMENTS: Mapping[str, tuple[str, ...]] = {
    "callback": ("cryptography", "jinja2"),  # never oss2: it would only slow the cold start OSS waits on
    "upload": ("oss2", "jinja2"),
}

#: The client each ``CALLBACK_IDEMPOTENCY_STORE`` scheme needs, added to the package of every function whose
#: environment in the template configures that store (and only then: the default ``memory`` store needs none).
STORE_CLIENTS: Mapping[str, str] = {"redis": "redis", "rediss": "redis", "unix": "redis", "oss": "oss2"}
STORE_VARIABLE = "CALLBACK_IDEMPOTENCY_STORE"

#: Distributions whose locally built wheel may lose its compiled parts because the code falls back to pure Python.
PURE_FALLBACKS: Mapping[str, str] = {
    "crcmod": "crcmod uses its pure-Python CRC (crcmod._crcfunpy) when the optional _crcfunext C extension is absent",
}

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
#: Top-level modules that never run on FC: the public test kit (it serves keys and signs like OSS, for tests).
LOCAL_MODULES = ("testing.py",)
_JUNK_DIRS = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")
#: Test suites inside installed distributions (never imported at run time), e.g. pycryptodome's SelfTest.
_TEST_DIRS = ("tests", "test", "SelfTest")
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib")
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")


class BuildError(OssCallbackError):
    """The package cannot be built as asked (missing function, unresolvable or non-portable dependency)."""


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


# ------------------------------------------------------------------------------------------------ discovery
def available_functions(project_root: Path) -> tuple[str, ...]:
    """Functions that can be built: directories under ``functions/`` with an ``index.py``."""
    base = project_root / "functions"
    if not base.is_dir():
        raise BuildError(f"{project_root} has no functions/ directory (run from the project root or pass --root)")
    return tuple(sorted(p.name for p in base.iterdir() if (p / "index.py").is_file()))


def runtime_versions(template: Path | None) -> dict[str, str]:
    """``{code directory name: "3.10"}`` from template.yml's runtimes (codeUri ``./.build/callback`` → callback)."""
    if template is None or not template.is_file():
        return {}
    from osscallback.deploy.fcyaml import load_template

    out: dict[str, str] = {}
    for fn in load_template(template, {}, strict=False).functions:
        if fn.python_version:
            out[Path(fn.code_uri).name] = fn.python_version
    return out


def store_clients(template: Path | None) -> dict[str, tuple[str, ...]]:
    """``{code directory name: (store client distributions)}``: what the configured idempotency store needs.

    Read from each function's ``CALLBACK_IDEMPOTENCY_STORE`` in the template (only the URL's scheme matters, so
    unresolved ``${env(...)}`` parts do not). Functions sharing a code directory (the callback function and the
    OSS-event function) share the union.
    """
    if template is None or not template.is_file():
        return {}
    from osscallback.deploy.fcyaml import load_template

    out: dict[str, set[str]] = {}
    for fn in load_template(template, {}, strict=False).functions:
        value = str(fn.environment.get(STORE_VARIABLE, "")).strip()
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme in STORE_CLIENTS:
            out.setdefault(Path(fn.code_uri).name, set()).add(STORE_CLIENTS[scheme])
    return {name: tuple(sorted(dists)) for name, dists in out.items()}


def requirements_for(name: str, project_root: Path, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The requirement specifiers to install for ``name``, versions taken from the project's own metadata.

    ``extra``: distributions the template's configuration adds (:func:`store_clients`).
    """
    req_file = project_root / "functions" / name / "requirements.txt"
    pinned = _declared_requirements()
    added = tuple(pinned.get(_canonical(dist), dist) for dist in extra)
    if req_file.is_file():
        lines = (line.split("#", 1)[0].strip() for line in req_file.read_text(encoding="utf-8").splitlines())
        listed = tuple(line for line in lines if line)
        return listed + tuple(a for a in added if a not in listed)
    if name not in FUNCTION_REQUIREMENTS:
        raise BuildError(
            f"no dependency list for function {name!r}: add functions/{name}/requirements.txt "
            "(what it imports at run time)"
        )
    base = tuple(pinned.get(_canonical(dist), dist) for dist in FUNCTION_REQUIREMENTS[name])
    return base + tuple(a for a in added if a not in base)


def _declared_requirements() -> dict[str, str]:
    """``{canonical name: "name>=x"}`` from the installed project's metadata (pyproject.toml's dependencies)."""
    try:
        declared = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    out: dict[str, str] = {}
    for spec in declared:
        if ";" in spec:  # extras (dev, image) are not run-time needs
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec)
        if match:
            out[_canonical(match.group(0))] = spec.strip()
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---------------------------------------------------------------------------------------------------- build
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
        built = _install(work, requirements, wheelhouse, python_version, platforms, pip_args)
        _prune(work)
        copy_library(work / "osscallback", subpackages_for(name))
        shutil.copytree(root / "functions" / name, work, ignore=_code_ignore, dirs_exist_ok=True)
        distributions = _installed(work)
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


def _install(
    target: Path,
    requirements: Sequence[str],
    wheelhouse: Path,
    python_version: str,
    platforms: Sequence[str],
    pip_args: Sequence[str],
) -> set[str]:
    """pip-install ``requirements`` for FC into ``target``; sdist-only ones are built into ``wheelhouse`` first."""
    built: set[str] = {_dist_of(p.name) for p in wheelhouse.glob("*.whl")}
    tried: set[str] = set()
    cmd = [sys.executable, "-m", "pip", "install", "--target", str(target), "--no-compile", "--no-input"]
    cmd += ["--disable-pip-version-check", "--no-warn-script-location", "--quiet"]
    for platform in platforms:
        cmd += ["--platform", platform]
    cmd += ["--python-version", python_version, "--implementation", "cp", "--only-binary=:all:"]
    cmd += ["--find-links", str(wheelhouse), *pip_args, *requirements]
    while True:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            used = {_canonical(d) for d in _installed(target)}
            return {b for b in built if _canonical(b) in used}
        missing = _NO_MATCH.search(result.stderr)
        if not missing or missing.group(1) in tried:
            raise BuildError(f"pip could not install {' '.join(requirements)} for FC:\n{result.stderr.strip()}")
        requirement = missing.group(1)
        tried.add(requirement)
        built.add(_dist_of(build_pure_wheel(requirement, wheelhouse, pip_args).name))


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
        native = [n for n in names if n.endswith(_NATIVE_SUFFIXES)]
        if native and _canonical(dist) not in PURE_FALLBACKS:
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


def _dist_of(wheel_name: str) -> str:
    return wheel_name.split("-", 1)[0]


# ------------------------------------------------------------------------------------------------ contents
def _prune(site: Path) -> None:
    """Remove console scripts, caches and distributions' own test suites: nothing there runs on FC."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for path in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.exists():
            continue
        rel = path.relative_to(site)
        if path.is_dir() and (path.name in _JUNK_DIRS or (len(rel.parts) > 1 and path.name in _TEST_DIRS)):
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
    return {n for n in names if n in _JUNK_DIRS or n.endswith((".pyc", ".pyo"))}


def _code_ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _JUNK_DIRS or n in ("tests", "requirements.txt") or n.endswith((".pyc", ".pyo"))}


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


def _installed(site: Path) -> dict[str, str]:
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
        if not path.is_file() or not path.name.endswith(_NATIVE_SUFFIXES):
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
