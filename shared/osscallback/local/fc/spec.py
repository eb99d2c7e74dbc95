"""What the local host needs to run one function: :class:`FunctionSpec`, and :func:`load_specs` from a template.

``template.yml`` (the file Serverless Devs deploys) is the only list of functions; this module never keeps a
second one. Reading the YAML is :mod:`osscallback.deploy.fcyaml`'s job — :func:`load_specs` only turns its typed records
into the runtime description the host uses (absolute code directory, timeout, environment, HTTP methods).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from osscallback.deploy import fcyaml
from osscallback.deploy.asyncconfig import AsyncConfig
from osscallback.local.fc.errors import LocalFCError
from osscallback.local.fc.osstrigger import OssTrigger
from osscallback.local.fc.timertrigger import TimerTrigger

#: FC's defaults when a template leaves them out.
DEFAULT_TIMEOUT = 3.0
DEFAULT_MEMORY_MB = 128
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the host runs it.

    ``handler`` is FC's ``<module>.<function>`` (``index.handler``), looked up in ``code_dir``.
    ``http_methods`` is the HTTP trigger's method list, or ``None`` for an event function (invoked through the
    InvokeFunction API). ``timeout`` is in seconds, as in ``template.yml``. ``oss_triggers`` are the OSS events
    that invoke it asynchronously (:meth:`LocalFCHost.dispatch_oss_event`); ``async_retry_attempts`` is the
    template's ``maxAsyncRetryAttempts`` (``None``: the host's default, FC's 3), ``async_max_event_age`` its
    ``maxAsyncEventAgeInSeconds`` and ``async_on_success`` / ``async_on_failure`` its destinations' ARNs
    (:mod:`osscallback.deploy.asyncconfig`; :mod:`.model.destinations` invokes them).

    ``fc_version`` is 2 for FC 2.0 functions (a ``service``; HTTP handlers are WSGI, served under FC 2.0's proxy
    URLs) and 3 for FC 3.0 functions (``service`` is ``""``; an HTTP trigger is a function URL of its own and the
    handler takes FC 3.0's HTTP event). ``module`` is the template's key for the function (``callback``), which
    names its events and sources even when the FC 3.0 function name differs (``oss-callback-fc-callback``).
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
    oss_triggers: tuple[OssTrigger, ...] = ()
    async_retry_attempts: int | None = None
    async_max_event_age: float | None = None  # maxAsyncEventAgeInSeconds (None: FC's default, a day)
    async_on_success: str = ""  # destination ARNs (destinationConfig / destination)
    async_on_failure: str = ""
    fc_version: int = 2
    module: str = ""
    http_trigger: str = ""  # the HTTP trigger's name
    http_auth: str = "anonymous"
    timer_triggers: tuple[TimerTrigger, ...] = ()  # fired on schedule by :mod:`.model.timers`

    @property
    def is_http(self) -> bool:
        return self.http_methods is not None

    @property
    def is_fc3(self) -> bool:
        return self.fc_version == 3

    @property
    def qualified_name(self) -> str:
        return f"{self.service}/{self.name}" if self.service else self.name

    def with_env(self, overrides: Mapping[str, str]) -> FunctionSpec:
        """A copy whose environment has ``overrides`` merged over the template's values."""
        return replace(self, env={**self.env, **overrides})


def load_specs(
    template_path: str | os.PathLike[str],
    env: Mapping[str, str],
    *,
    code_dirs: Mapping[str, str | os.PathLike[str]] | None = None,
) -> list[FunctionSpec]:
    """Every function ``template.yml`` declares, ``${env(...)}`` / ``${vars.x}`` resolved against ``env``.

    The YAML is read by :func:`osscallback.deploy.fcyaml.load_template`. Code directories come from each function's
    ``codeUri`` (relative to the template, as Serverless Devs resolves them) unless ``code_dirs`` maps the
    function's name (or its template module key) to another directory — e.g. :func:`source_code_dirs` to run the
    sources under ``functions/<module>/`` instead of the packaged ``.build/<module>/``. Both FC 2.0 templates
    (``edition: 1.0.0``, ``devsapp/fc``) and FC 3.0 templates (``edition: 3.0.0``, ``fc3``) are served.
    """
    template = fcyaml.load_template(template_path, env)
    overrides = {name: Path(path) for name, path in (code_dirs or {}).items()}
    specs: list[FunctionSpec] = []
    for fn in template.functions:
        async_config = AsyncConfig.of(fn)
        # by function name or module, else by code directory (functions sharing one package: callback, oss-events)
        override = overrides.get(fn.name) or overrides.get(fn.module) or overrides.get(Path(fn.code_uri).name)
        code_dir = override.resolve() if override is not None else fn.code_dir(template.base_dir)
        if not (code_dir / (fn.handler_module.replace(".", "/") + ".py")).is_file():
            raise LocalFCError(
                f"{fn.service}/{fn.name}: handler module {fn.handler_module!r} not found in {code_dir} "
                "(build the function first, or run its sources with code_dirs=source_code_dirs(template))"
            )
        specs.append(
            FunctionSpec(
                service="" if fn.service is None else str(fn.service),
                name=fn.name,
                handler=fn.handler,
                code_dir=code_dir,
                runtime=fn.runtime,
                timeout=float(fn.timeout or DEFAULT_TIMEOUT),
                memory_mb=int(fn.memory_size or DEFAULT_MEMORY_MB),
                env=dict(fn.environment),
                http_methods=_http_methods(fn),
                log_project=fn.log_project,
                log_store=fn.log_store,
                oss_triggers=_oss_triggers(fn),
                async_retry_attempts=fn.max_async_retry_attempts,
                async_max_event_age=None if async_config.max_event_age is None else float(async_config.max_event_age),
                async_on_success=async_config.on_success,
                async_on_failure=async_config.on_failure,
                fc_version=3 if template.is_fc3 else 2,
                module=fn.module,
                http_trigger=fn.http_triggers[0].name if fn.http_triggers else "",
                http_auth=(fn.http_triggers[0].auth_type or "anonymous") if fn.http_triggers else "anonymous",
                timer_triggers=tuple(TimerTrigger.from_config(t.name, t.config) for t in fn.triggers
                                     if t.type == "timer"),
            )
        )
    return specs


def source_code_dirs(template_path: str | os.PathLike[str]) -> dict[str, Path]:
    """``{name: <template dir>/functions/<name>}`` for every such directory: this project's source layout."""
    root = Path(template_path).resolve().parent / "functions"
    if not root.is_dir():
        return {}
    return {d.name: d for d in sorted(root.iterdir()) if d.is_dir()}


def _oss_triggers(fn: fcyaml.FunctionDef) -> tuple[OssTrigger, ...]:
    """The function's OSS triggers; one that names no bucket is an error here, not a trigger that never fires."""
    found = []
    for trigger in fn.oss_triggers:
        config = trigger.oss
        assert config is not None
        where = f"{fn.service + '/' if fn.service else ''}{fn.name}: OSS trigger {trigger.name!r}"
        if not config.bucket:
            raise LocalFCError(f"{where} names no bucket (config.bucketName, or sourceArn acs:oss:<region>:"
                               "<account>:<bucket>)")
        if not config.events:
            raise LocalFCError(f"{where} lists no events (e.g. oss:ObjectCreated:*)")
        found.append(OssTrigger.from_config(trigger.name, config))
    return tuple(found)


def _http_methods(fn: fcyaml.FunctionDef) -> tuple[str, ...] | None:
    """The HTTP trigger's methods (all of them when it lists none); ``None`` without an HTTP trigger."""
    for trigger in fn.http_triggers:
        return trigger.methods or ALL_METHODS
    return None


__all__ = ["ALL_METHODS", "FunctionSpec", "load_specs", "source_code_dirs", "DEFAULT_TIMEOUT", "DEFAULT_MEMORY_MB"]
