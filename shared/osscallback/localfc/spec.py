"""What the local host needs to run one function: :class:`FunctionSpec`, and :func:`load_specs` from ``template.yml``.

``template.yml`` (the file Serverless Devs deploys) is the only list of functions; this module never keeps a
second one. Reading the YAML is :mod:`osscallback.fcyaml`'s job — :func:`load_specs` only turns its typed records
into the runtime description the host uses (absolute code directory, timeout, environment, HTTP methods).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import LocalFCError

#: FC's defaults when a template leaves them out.
DEFAULT_TIMEOUT = 3.0
DEFAULT_MEMORY_MB = 128


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the host runs it.

    ``handler`` is FC's ``<module>.<function>`` (``index.handler``), looked up in ``code_dir``.
    ``http_methods`` is the HTTP trigger's method list, or ``None`` for an event function (invoked through the
    InvokeFunction API). ``timeout`` is in seconds, as in ``template.yml``.
    """

    service: str
    name: str
    handler: str
    code_dir: Path
    runtime: str = "python3.10"
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    env: dict[str, str] = field(default_factory=dict)
    http_methods: tuple[str, ...] | None = None
    log_project: str = ""
    log_store: str = ""

    @property
    def is_http(self) -> bool:
        return self.http_methods is not None

    @property
    def qualified_name(self) -> str:
        return f"{self.service}/{self.name}"

    def with_env(self, overrides: Mapping[str, str]) -> FunctionSpec:
        """A copy whose environment has ``overrides`` merged over the template's values."""
        return replace(self, env={**self.env, **overrides})


def load_specs(template_path: Path, env: Mapping[str, str]) -> list[FunctionSpec]:
    """Every function ``template.yml`` declares, ``${env(...)}`` / ``${vars.x}`` resolved against ``env``.

    Delegates the YAML to :mod:`osscallback.fcyaml`; code directories are resolved against the template's
    directory, as Serverless Devs does.
    """
    try:
        fcyaml: Any = importlib.import_module("osscallback.fcyaml")
    except ImportError as exc:  # the reader ships in the same package; this only guards a partial checkout
        raise LocalFCError(f"osscallback.fcyaml is not available to read {template_path}: {exc}") from exc
    template_path = Path(template_path)
    project = fcyaml.load_template(template_path, env)
    base = template_path.resolve().parent
    specs: list[FunctionSpec] = []
    for fn in project.functions:
        code_dir = Path(fn.code_uri)
        if not code_dir.is_absolute():
            code_dir = base / code_dir
        methods = _http_methods(fn)
        specs.append(
            FunctionSpec(
                service=fn.service,
                name=fn.name,
                handler=fn.handler,
                code_dir=code_dir.resolve(),
                runtime=fn.runtime,
                timeout=float(fn.timeout or DEFAULT_TIMEOUT),
                memory_mb=int(fn.memory_size or DEFAULT_MEMORY_MB),
                env={str(k): str(v) for k, v in (fn.environment or {}).items()},
                http_methods=methods,
                log_project=str(getattr(fn, "log_project", "") or ""),
                log_store=str(getattr(fn, "log_store", "") or ""),
            )
        )
    return specs


def _http_methods(fn: Any) -> tuple[str, ...] | None:
    for trigger in getattr(fn, "triggers", ()) or ():
        if str(getattr(trigger, "type", "")).lower() == "http":
            methods = getattr(trigger, "methods", None) or ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH")
            return tuple(str(m).upper() for m in methods)
    return None


__all__ = ["FunctionSpec", "load_specs", "DEFAULT_TIMEOUT", "DEFAULT_MEMORY_MB"]
