"""What each function needs installed: which functions there are, their runtimes and idempotency-store clients
from the template, and the requirement specifiers (versions from the project's own metadata)."""

from __future__ import annotations

import importlib.metadata
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from osscallback.deploy.errors import BuildError

DISTRIBUTION = "oss-callback-fc"

#: What each shipped function imports at run time (distribution names; versions come from pyproject.toml).
#: A function not listed here may list its needs in ``functions/<name>/requirements.txt``.
FUNCTION_REQUIREMENTS: Mapping[str, tuple[str, ...]] = {
    "callback": ("cryptography", "jinja2"),  # never oss2: it would only slow the cold start OSS waits on
    # alibabacloud-sts20150401: the policy function's GET /sts (same package). FC's python3.9 and python3.10
    # preinstall only the 1.0-generation aliyun-python-sdk-sts (FC's Python runtime page, "Built-in modules"), not
    # this SDK, so it ships; it is imported on the first /sts request only.
    "upload": ("oss2", "jinja2", "alibabacloud-sts20150401"),
}

#: The client each ``CALLBACK_IDEMPOTENCY_STORE`` scheme needs, added to the package of every function whose
#: environment in the template configures that store (and only then: the default ``memory`` store needs none).
STORE_CLIENTS: Mapping[str, str] = {"redis": "redis", "rediss": "redis", "unix": "redis", "oss": "oss2"}
STORE_VARIABLE = "CALLBACK_IDEMPOTENCY_STORE"
#: ``CALLBACK_CONFIRM=head`` HEADs each callback's object through oss2: the package needs it then too.
CONFIRM_VARIABLE = "CALLBACK_CONFIRM"


def available_functions(project_root: Path) -> tuple[str, ...]:
    """Functions that can be built: directories under ``functions/`` with an ``index.py``."""
    base = project_root / "functions"
    if not base.is_dir():
        raise BuildError(f"{project_root} has no functions/ directory (run from the project root or pass --root)")
    return tuple(sorted(p.name for p in base.iterdir() if (p / "index.py").is_file()))

def runtime_versions(template: Path | None) -> dict[str, str]:
    """``{code directory name: "3.12"}`` from the template's runtimes (codeUri ``./.build/callback`` → callback),
    resolved against this process's environment: the deploy's, so ``FC_RUNTIME=python3.10`` (template.yml's
    ``${env('FC_RUNTIME', 'python3.12')}``) packages the wheels for the runtime ``s`` then deploys."""
    if template is None or not template.is_file():
        return {}
    from osscallback.deploy.fcyaml import load_template

    out: dict[str, str] = {}
    for fn in load_template(template, os.environ, strict=False).functions:
        if fn.python_version:
            out[Path(fn.code_uri).name] = fn.python_version
    return out

def store_clients(template: Path | None) -> dict[str, tuple[str, ...]]:
    """``{code directory name: (store client distributions)}``: what the configured idempotency store needs.

    Read from each function's ``CALLBACK_IDEMPOTENCY_STORE`` in the template (only the URL's scheme matters, so
    unresolved ``${env(...)}`` parts do not), and its ``CALLBACK_CONFIRM`` (``head`` needs oss2). Functions
    sharing a code directory (the callback function and the OSS-event function) share the union.
    """
    if template is None or not template.is_file():
        return {}
    from osscallback.deploy.fcyaml import load_template

    out: dict[str, set[str]] = {}
    for fn in load_template(template, os.environ, strict=False).functions:
        value = str(fn.environment.get(STORE_VARIABLE, "")).strip()
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme in STORE_CLIENTS:
            out.setdefault(Path(fn.code_uri).name, set()).add(STORE_CLIENTS[scheme])
        if str(fn.environment.get(CONFIRM_VARIABLE, "")).strip().lower() == "head":
            out.setdefault(Path(fn.code_uri).name, set()).add("oss2")
    return {name: tuple(sorted(dists)) for name, dists in out.items()}

def requirements_for(name: str, project_root: Path, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The requirement specifiers to install for ``name``, versions taken from the project's own metadata.

    ``extra``: distributions the template's configuration adds (:func:`store_clients`).
    """
    req_file = project_root / "functions" / name / "requirements.txt"
    pinned = _declared_requirements()
    added = tuple(pinned.get(canonical(dist), dist) for dist in extra)
    if req_file.is_file():
        lines = (line.split("#", 1)[0].strip() for line in req_file.read_text(encoding="utf-8").splitlines())
        listed = tuple(line for line in lines if line)
        return listed + tuple(a for a in added if a not in listed)
    if name not in FUNCTION_REQUIREMENTS:
        raise BuildError(
            f"no dependency list for function {name!r}: add functions/{name}/requirements.txt "
            "(what it imports at run time)"
        )
    base = tuple(pinned.get(canonical(dist), dist) for dist in FUNCTION_REQUIREMENTS[name])
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
            out[canonical(match.group(0))] = spec.strip()
    return out

def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
