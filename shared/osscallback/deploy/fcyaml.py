"""A small typed reader of Serverless Devs templates (``template.yml`` and the others): functions, handlers, runtime,
env, triggers.

One reader is shared by the package build, the template/code consistency test and the local FC host, so the
three can never disagree about what ``template.yml`` means. It understands the two formats this project ships:

- ``edition: 1.0.0`` with component ``devsapp/fc`` (FC 2.0: ``services:`` → ``props.service`` / ``props.function``
  / ``props.triggers``; one function per module, modules sharing a service name form one FC service);
- ``edition: 3.0.0`` with component ``fc3`` (FC 3.0: ``resources:`` → ``props.functionName`` etc.; no services).

Serverless Devs interpolation is resolved against an explicit environment mapping (never implicitly against
``os.environ`` unless asked), so the same file gives the same answer in tests, in the build and in the host:
``${env(NAME)}``, ``${env('NAME')}``, ``${env('NAME', 'default')}``, ``${env.NAME}`` and ``${vars.a.b}``. A value that
is exactly one ``${vars.x}`` keeps its structure (``service: ${vars.service}`` gives a mapping), as Serverless
Devs does. Other expressions (``${config(...)}``, ``${this.x}``, ``${resources.x.output.y}``) are Serverless Devs
features with no local meaning and are left as written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from osscallback.deploy.templates import check_not_renamed
from osscallback.errors import ConfigError

FC2_COMPONENTS = ("devsapp/fc", "fc")
FC3_COMPONENTS = ("devsapp/fc3", "fc3")

_EXPR = re.compile(r"\$\{([^{}]*)\}")
_ENV_CALL = re.compile(
    r"""^env\(\s*(?:'([^']*)'|"([^"]*)"|([A-Za-z_][A-Za-z0-9_]*))\s*"""
    r"""(?:,\s*(?:'([^']*)'|"([^"]*)"|([^)\s]*))\s*)?\)$"""
)
_ENV_DOT = re.compile(r"^env\.([A-Za-z_][A-Za-z0-9_]*)$")
_VARS = re.compile(r"^vars((?:\.[A-Za-z0-9_-]+)+)$")


@dataclass(frozen=True)
class OssTriggerConfig:
    """What an OSS trigger listens to, in one shape whichever template declared it.

    - FC 2.0 (devsapp/fc ``docs/en/yaml/triggers.md``): ``type: oss``, ``config: {bucketName, events,
      filter: {Key: {Prefix, Suffix}}}`` (``sourceArn: acs:oss:<region>:<account>:<bucket>`` optional);
    - FC 3.0 (fc3 ``src/interface/trigger.ts`` / ``schema.json``): ``triggerType: oss``, the bucket only in
      ``sourceArn``, ``triggerConfig: {events, filter: {key: {prefix, suffix}}}`` (lower-case; fc3's ``s2tos3``
      turns ``bucketName`` into ``sourceArn`` and ``Key/Prefix/Suffix`` into ``key/prefix/suffix``).

    Either spelling is read from either template (``bucketName`` first, then the ARN's last field), so a template
    converted by hand half-way still means the same thing. ``bucket`` is ``""`` when neither names one.
    """

    bucket: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    @classmethod
    def parse(cls, config: Mapping[str, Any], source_arn: str = "") -> OssTriggerConfig:
        bucket = str(config.get("bucketName") or "")
        if not bucket and source_arn.startswith("acs:oss:"):
            bucket = source_arn.split(":", 4)[-1] if source_arn.count(":") >= 4 else ""
        raw_events = config.get("events") or ()
        events = tuple(str(e) for e in raw_events) if isinstance(raw_events, list | tuple) else (str(raw_events),)
        flt = config.get("filter") or {}
        key: Any = (flt.get("Key") or flt.get("key") or {}) if isinstance(flt, Mapping) else {}
        if not isinstance(key, Mapping):
            key = {}
        prefix = key.get("Prefix", key.get("prefix")) or ""
        suffix = key.get("Suffix", key.get("suffix")) or ""
        return cls(bucket=bucket, events=events, prefix=str(prefix), suffix=str(suffix))


@dataclass(frozen=True)
class Trigger:
    """One trigger of a function (FC 2.0 ``name/type/config`` or FC 3.0 ``triggerName/triggerType/triggerConfig``)."""

    name: str
    type: str
    config: Mapping[str, Any] = field(default_factory=dict)
    source_arn: str = ""
    qualifier: str = ""

    @property
    def oss(self) -> OssTriggerConfig | None:
        """The OSS trigger's bucket, events and key filter (``None`` for other trigger types)."""
        return OssTriggerConfig.parse(self.config, self.source_arn) if self.type == "oss" else None

    @property
    def methods(self) -> tuple[str, ...]:
        """HTTP methods an HTTP trigger accepts, upper-cased (empty for other trigger types)."""
        raw = self.config.get("methods") or ()
        return tuple(str(m).upper() for m in raw) if isinstance(raw, list | tuple) else ()

    @property
    def auth_type(self) -> str | None:
        value = self.config.get("authType")
        return None if value is None else str(value)


@dataclass(frozen=True)
class FunctionDef:
    """One function as ``template.yml`` declares it, after interpolation."""

    module: str  # the key under services:/resources:, used by ``s <module> deploy``
    component: str
    service: str | None  # FC 2.0 service name; None on FC 3.0
    name: str
    runtime: str
    handler: str
    code_uri: str
    memory_size: int | None
    timeout: int | None
    environment: Mapping[str, str]
    triggers: tuple[Trigger, ...]
    region: str | None = None
    log_config: Any = None  # "auto", a mapping with project/logstore, or None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)  # the interpolated props, for anything else

    @property
    def log_project(self) -> str:
        """The SLS project logs go to ("" when not configured or left to ``logConfig: auto``)."""
        return str(self.log_config.get("project") or "") if isinstance(self.log_config, Mapping) else ""

    @property
    def log_store(self) -> str:
        """The SLS logstore; for FC 2.0 ``logConfig: auto`` the name devsapp/fc generates for the service."""
        if isinstance(self.log_config, Mapping):
            return str(self.log_config.get("logstore") or "")
        if self.log_config == "auto" and self.service:
            return f"fc-service-{self.service}-logstore".lower()
        return ""

    @property
    def handler_module(self) -> str:
        """``index`` for ``index.handler``: the module file FC imports from the code root."""
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_attr(self) -> str:
        return self.handler.rsplit(".", 1)[-1]

    @property
    def http_triggers(self) -> tuple[Trigger, ...]:
        return tuple(t for t in self.triggers if t.type == "http")

    @property
    def oss_triggers(self) -> tuple[Trigger, ...]:
        return tuple(t for t in self.triggers if t.type == "oss")

    @property
    def max_async_retry_attempts(self) -> int | None:
        """``maxAsyncRetryAttempts`` of the function's asynchronous-invocation settings, if the template sets it.

        devsapp/fc calls the block ``asyncConfiguration`` (on the function), fc3 ``asyncInvokeConfig``; both mean
        *retries after the first failed attempt* (FC's default is 3, range 0-8).
        """
        if self.service is not None:
            function = self.raw.get("function")
            block = function.get("asyncConfiguration") if isinstance(function, Mapping) else None
        else:
            block = self.raw.get("asyncInvokeConfig")
        if not isinstance(block, Mapping):
            return None
        return _int(block.get("maxAsyncRetryAttempts"))

    @property
    def python_version(self) -> str | None:
        """``3.10`` for runtime ``python3.10`` (None for non-Python or the versionless legacy ``python3``)."""
        match = re.fullmatch(r"python(3\.\d+)", self.runtime)
        return match.group(1) if match else None

    def code_dir(self, base: Path) -> Path:
        """The function's code directory, resolved like Serverless Devs does: relative to the template file."""
        return (base / self.code_uri).resolve()


@dataclass(frozen=True)
class Template:
    """A parsed template: its edition, application name, variables and functions in file order."""

    path: Path
    edition: str
    name: str
    vars: Mapping[str, Any]
    functions: tuple[FunctionDef, ...]
    missing: tuple[str, ...] = ()  # unresolved ${env(X)} / ${vars.x} (only when loaded with strict=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def is_fc3(self) -> bool:
        return self.edition.startswith("3.")

    def function(self, name: str, service: str | None = None) -> FunctionDef:
        """The function called ``name`` (in ``service``, when given); ConfigError if absent or ambiguous."""
        found = [f for f in self.functions if f.name == name and (service is None or f.service == service)]
        if len(found) != 1:
            where = f" in service {service!r}" if service else ""
            known = ", ".join(f"{f.service}/{f.name}" if f.service else f.name for f in self.functions)
            problem = "not declared" if not found else "declared more than once"
            raise ConfigError(f"function {name!r}{where} is {problem} in {self.path} (functions: {known})")
        return found[0]

    def services(self) -> dict[str, tuple[FunctionDef, ...]]:
        """FC 2.0 services and their functions (empty on FC 3.0)."""
        out: dict[str, list[FunctionDef]] = {}
        for f in self.functions:
            if f.service is not None:
                out.setdefault(f.service, []).append(f)
        return {k: tuple(v) for k, v in out.items()}


# ------------------------------------------------------------------------------------------- interpolation
class _Resolver:
    """Resolves ``${...}`` in one template against ``env`` and the template's ``vars``; collects what is missing."""

    def __init__(self, env: Mapping[str, str], variables: Mapping[str, Any]) -> None:
        self.env = env
        self.vars = variables
        self.missing: list[str] = []

    def value(self, node: Any) -> Any:
        if isinstance(node, Mapping):
            return {str(k): self.value(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.value(v) for v in node]
        if isinstance(node, str):
            return self.string(node)
        return node

    def string(self, text: str) -> Any:
        whole = _EXPR.fullmatch(text.strip())
        if whole:  # a scalar that is one expression keeps the expression's own type (mapping, number, ...)
            found, result = self.expression(whole.group(1).strip())
            return self.value(result) if found else text
        return _EXPR.sub(self._substitute, text)

    def _substitute(self, match: re.Match[str]) -> str:
        found, result = self.expression(match.group(1).strip())
        if not found:
            return match.group(0)
        return "" if result is None else str(result)

    def expression(self, expr: str) -> tuple[bool, Any]:
        """``(understood, value)``: env and vars lookups; anything else is not ours to resolve."""
        call = _ENV_CALL.match(expr)
        dotted = _ENV_DOT.match(expr)
        if call or dotted:
            if call:
                name = next(g for g in call.groups()[:3] if g is not None)
                default = next((g for g in call.groups()[3:] if g is not None), None)
            else:
                assert dotted is not None
                name, default = dotted.group(1), None
            if name in self.env:
                return True, self.env[name]
            if default is not None:
                return True, default
            self.missing.append(f"environment variable {name}")
            return True, ""
        ref = _VARS.match(expr)
        if ref:
            node: Any = self.vars
            for part in ref.group(1).strip(".").split("."):
                if not isinstance(node, Mapping) or part not in node:
                    self.missing.append(f"vars{ref.group(1)}")
                    return True, ""
                node = node[part]
            return True, node
        return False, None


# ------------------------------------------------------------------------------------------------ loading
def load_template(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None, *, strict: bool = False
) -> Template:
    """Parse ``path``, resolving interpolation against ``env`` (default: ``os.environ``).

    An ``${env(X)}`` with no value and no default, or a ``${vars.x}`` that does not exist, becomes an empty string
    and is listed in :attr:`Template.missing` — what tools that read names and handlers, or override the
    environment anyway (the local FC host), want. With ``strict=True`` it is a :class:`ConfigError` naming every
    one of them instead: what a deployment wants before anything is sent to the cloud.
    """
    file = Path(path)
    check_not_renamed(file)
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from None
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{file} must be a YAML mapping")
    doc = _extended(file, doc)
    edition = str(doc.get("edition", ""))
    raw_vars = doc.get("vars") or {}
    if not isinstance(raw_vars, Mapping):
        raise ConfigError(f"{file}: vars must be a mapping")
    # vars may use ${env(...)} and other vars (the role policy names ${vars.bucket}): resolve to a fixed point.
    resolver = _Resolver(os.environ if env is None else env, raw_vars)
    variables: Any = raw_vars
    for _ in range(8):
        resolver.missing = []
        resolved = resolver.value(raw_vars)
        if resolved == variables:
            break
        variables = resolver.vars = resolved
    resolver.missing = []
    variables = resolver.value(raw_vars)
    if edition.startswith("3."):
        modules = doc.get("resources")
        section = "resources"
    elif edition.startswith(("1.", "2.")):
        modules = doc.get("services")
        section = "services"
    else:
        raise ConfigError(f"{file}: unsupported edition {edition!r} (expected 1.0.0 for devsapp/fc or 3.0.0 for fc3)")
    if not isinstance(modules, Mapping) or not modules:
        raise ConfigError(f"{file}: no {section}: section with modules")

    functions: list[FunctionDef] = []
    for module, spec in modules.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{file}: {section}.{module} must be a mapping")
        component = str(spec.get("component", ""))
        props = resolver.value(spec.get("props") or {})
        if component in FC2_COMPONENTS:
            functions.append(_fc2_function(file, str(module), component, props))
        elif component in FC3_COMPONENTS:
            functions.append(_fc3_function(file, str(module), component, props))
        # other components (oss, ram, domains...) are not functions: skipped
    if strict and resolver.missing:
        names = ", ".join(sorted(set(resolver.missing)))
        raise ConfigError(f"{file}: no value for {names} (set them in the environment or give defaults)")
    return Template(
        path=file.resolve(),
        edition=edition,
        name=str(doc.get("name", "")),
        vars=variables,
        functions=tuple(functions),
        missing=tuple(sorted(set(resolver.missing))),
        raw=doc,
    )


def _extended(file: Path, doc: Mapping[str, Any], depth: int = 0) -> Mapping[str, Any]:
    """Serverless Devs' ``extend: <base.yml>`` (docs/zh/extend.md): this file's keys deep-merged over the base's.

    Mappings merge key by key, anything else replaces the base's value; the base may extend another file.
    """
    base_name = doc.get("extend")
    if not isinstance(base_name, str) or not base_name:
        return doc
    if depth > 8:
        raise ConfigError(f"{file}: extend chain too deep (a cycle?)")
    base_file = (file.parent / base_name).resolve()
    try:
        base = yaml.safe_load(base_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the extended template {base_file}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{base_file} is not valid YAML: {exc}") from None
    if not isinstance(base, Mapping):
        raise ConfigError(f"{base_file} must be a YAML mapping")
    merged = _deep_merge(_extended(base_file, base, depth + 1), {k: v for k, v in doc.items() if k != "extend"})
    return merged


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _fc2_function(file: Path, module: str, component: str, props: Mapping[str, Any]) -> FunctionDef:
    service = props.get("service")
    function = props.get("function")
    if not isinstance(service, Mapping) or not service.get("name"):
        raise ConfigError(f"{file}: services.{module}.props.service.name is required")
    if not isinstance(function, Mapping) or not function.get("name"):
        raise ConfigError(f"{file}: services.{module}.props.function.name is required")
    triggers = tuple(
        Trigger(
            name=str(t.get("name", "")),
            type=str(t.get("type", "")),
            config=dict(t.get("config") or {}),
            source_arn=str(t.get("sourceArn") or ""),
            qualifier=str(t.get("qualifier") or ""),
        )
        for t in _list(file, props.get("triggers"), f"services.{module}.props.triggers")
    )
    return FunctionDef(
        module=module,
        component=component,
        service=str(service["name"]),
        name=str(function["name"]),
        runtime=str(function.get("runtime", "")),
        handler=str(function.get("handler", "")),
        code_uri=str(function.get("codeUri", ".")),
        memory_size=_int(function.get("memorySize")),
        timeout=_int(function.get("timeout")),
        environment=_env(file, function.get("environmentVariables"), module),
        triggers=triggers,
        region=None if props.get("region") is None else str(props.get("region")),
        log_config=service.get("logConfig"),
        raw=props,
    )


def _fc3_function(file: Path, module: str, component: str, props: Mapping[str, Any]) -> FunctionDef:
    if not props.get("functionName"):
        raise ConfigError(f"{file}: resources.{module}.props.functionName is required")
    code = props.get("code", ".")
    code_uri = str(code.get("src", ".")) if isinstance(code, Mapping) else str(code)
    triggers = tuple(
        Trigger(
            name=str(t.get("triggerName", "")),
            type=str(t.get("triggerType", "")),
            config=dict(t.get("triggerConfig") or {}),
            source_arn=str(t.get("sourceArn") or ""),
            qualifier=str(t.get("qualifier") or ""),
        )
        for t in _list(file, props.get("triggers"), f"resources.{module}.props.triggers")
    )
    return FunctionDef(
        module=module,
        component=component,
        service=None,
        name=str(props["functionName"]),
        runtime=str(props.get("runtime", "")),
        handler=str(props.get("handler", "")),
        code_uri=code_uri,
        memory_size=_int(props.get("memorySize")),
        timeout=_int(props.get("timeout")),
        environment=_env(file, props.get("environmentVariables"), module),
        triggers=triggers,
        region=None if props.get("region") is None else str(props.get("region")),
        log_config=props.get("logConfig"),
        raw=props,
    )


def _list(file: Path, value: Any, where: str) -> Sequence[Mapping[str, Any]]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigError(f"{file}: {where} must be a list of mappings")
    return value


def _env(file: Path, value: Any, module: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{file}: environmentVariables of {module} must be a mapping")
    # FC stores every environment value as a string; YAML numbers/booleans are rendered the way FC would see them.
    return {str(k): _scalar(v) for k, v in value.items()}


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a whole number, got {value!r}") from None
