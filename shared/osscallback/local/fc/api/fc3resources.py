"""The FC 3.0 control plane's documents and code: ``Function``/``Trigger`` documents, code packages, the spec to run.

Pure helpers of :mod:`.controlplane` (no locks, no registry): they build FC 3.0's documents (data structures
``Function`` and ``Trigger``, ``triggerConfig`` a JSON string as in the API), unpack a code location
(``code.zipFile`` or ``code.ossBucketName`` + ``ossObjectName``, checked against ``code.checksum``: CRC-64/ECMA in
decimal, as FC and ``fc3`` compute it) and turn a function with its triggers into the
:class:`~osscallback.local.fc.spec.FunctionSpec` the registry runs. Errors are FC's (:mod:`..errors`).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from osscallback.deploy.fcyaml import OssTriggerConfig
from osscallback.local.fc.api import fc3asyncconfig
from osscallback.local.fc.errors import InvalidArgument, LocalFCError
from osscallback.local.fc.osstrigger import OssTrigger
from osscallback.local.fc.spec import ALL_METHODS, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, FunctionSpec
from osscallback.local.fc.timertrigger import TimerTrigger

#: ``code_fetcher(bucket, key) -> bytes``: a code zip from (local) OSS.
CodeFetcher = Callable[[str, str], bytes]

SUPPORTED_TRIGGERS = ("http", "oss", "timer")
FUNCTION_FIELDS = (
    "functionName", "handler", "runtime", "memorySize", "timeout", "cpu", "diskSize", "environmentVariables",
    "description", "internetAccess", "role", "logConfig", "instanceConcurrency", "layers", "vpcConfig",
    "nasConfig", "ossMountConfig", "tracingConfig", "customDNS", "customRuntimeConfig", "customContainerConfig",
    "gpuConfig", "instanceLifecycleConfig", "instanceIsolationMode", "sessionAffinity", "sessionAffinityConfig",
    "disableOndemand", "idleTimeout", "resourceGroupId", "tags", "disableInjectCredentials",
)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Function:
    """One FC 3.0 function as the control plane keeps it; ``spec`` is the last spec handed to the registry.

    ``async_config`` is its ``AsyncConfig`` document for ``LATEST`` (:mod:`.fc3asyncconfig`), ``None`` if unset.
    """

    doc: dict[str, Any]
    code_dir: Path
    module: str = ""
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)
    spec: FunctionSpec | None = None
    async_config: dict[str, Any] | None = None


@dataclass(frozen=True)
class Arn:
    """Where ARNs point: ``acs:fc:<region>:<account>:functions/<name>``."""

    region: str
    account_id: str

    def function(self, name: str) -> str:
        return f"acs:fc:{self.region}:{self.account_id}:functions/{name}"

    def bucket(self, bucket: str) -> str:
        return f"acs:oss:{self.region}:{self.account_id}:{bucket}"


def function_doc(arn: Arn, body: Mapping[str, Any], *, checksum: str, size: int) -> dict[str, Any]:
    """A new ``Function`` document: FC's defaults, then the fields ``body`` gives."""
    name = str(body["functionName"])
    created = now()
    doc: dict[str, Any] = {
        "functionName": name,
        "functionId": str(uuid.uuid4()),
        "functionArn": arn.function(name),
        "description": "",
        "memorySize": DEFAULT_MEMORY_MB,
        "timeout": int(DEFAULT_TIMEOUT),
        "cpu": 0.35,
        "diskSize": 512,
        "instanceConcurrency": 1,
        "internetAccess": True,
        "environmentVariables": {},
        "layers": [],
        "role": "",
        "state": "Active",
        "lastUpdateStatus": "Successful",
        "createdTime": created,
        "lastModifiedTime": created,
        "codeChecksum": checksum,
        "codeSize": size,
    }
    for key in FUNCTION_FIELDS:
        if key in body and body[key] is not None:
            doc[key] = body[key]
    return doc


def trigger_doc(arn: Arn, function: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A new ``Trigger`` document (its ``triggerConfig`` checked to be a JSON object)."""
    created = now()
    config = body.get("triggerConfig")
    doc = {
        "triggerName": str(body["triggerName"]),
        "triggerType": str(body["triggerType"]),
        "triggerId": str(uuid.uuid4()),
        "triggerConfig": config if isinstance(config, str) else json.dumps(config or {}),
        "qualifier": str(body.get("qualifier") or "LATEST"),
        "description": str(body.get("description") or ""),
        "sourceArn": str(body.get("sourceArn") or ""),
        "invocationRole": str(body.get("invocationRole") or ""),
        "targetArn": arn.function(function),
        "status": "Success",
        "createdTime": created,
        "lastModifiedTime": created,
    }
    trigger_config(doc)
    return doc


def adopted(arn: Arn, spec: FunctionSpec) -> Function:
    """A template's FC 3.0 function (already in the registry) as the control plane keeps it."""
    doc = function_doc(arn, {"functionName": spec.name, "handler": spec.handler, "runtime": spec.runtime,
                             "memorySize": spec.memory_mb, "timeout": int(round(spec.timeout)),
                             "environmentVariables": dict(spec.env)}, checksum="", size=0)
    fn = Function(doc, spec.code_dir, module=spec.module, spec=spec,
                  async_config=fc3asyncconfig.from_spec(arn.function(spec.name), spec, now()))
    if spec.http_methods is not None:
        fn.triggers[spec.http_trigger or "http"] = trigger_doc(arn, spec.name, {
            "triggerName": spec.http_trigger or "http", "triggerType": "http", "qualifier": "LATEST",
            "triggerConfig": json.dumps({"authType": spec.http_auth, "methods": list(spec.http_methods),
                                         "disableURLInternet": False})})
    for trigger in spec.oss_triggers:
        fn.triggers[trigger.name] = trigger_doc(arn, spec.name, {
            "triggerName": trigger.name, "triggerType": "oss", "qualifier": "LATEST",
            "sourceArn": arn.bucket(trigger.bucket),
            "triggerConfig": json.dumps({"events": list(trigger.events),
                                         "filter": {"key": {"prefix": trigger.prefix, "suffix": trigger.suffix}}})})
    for timer in spec.timer_triggers:  # FC 3.0's TimerTriggerConfig: cronExpression, enable, payload
        fn.triggers[timer.name] = trigger_doc(arn, spec.name, {
            "triggerName": timer.name, "triggerType": "timer", "qualifier": "LATEST",
            "triggerConfig": json.dumps({"cronExpression": timer.schedule.expression, "enable": timer.enable,
                                         "payload": timer.payload})})
    return fn


def spec_of(fn: Function) -> FunctionSpec:
    """The spec the registry runs for ``fn`` as it now is (its last spec, or a new one, updated)."""
    doc = fn.doc
    http = next((t for t in fn.triggers.values() if t["triggerType"] == "http"), None)
    methods: tuple[str, ...] | None = None
    auth = "anonymous"
    if http is not None:
        config = trigger_config(http)
        methods = tuple(str(m).upper() for m in config.get("methods") or ()) or ALL_METHODS
        auth = str(config.get("authType") or "anonymous")
    oss = tuple(
        OssTrigger.from_config(t["triggerName"], OssTriggerConfig.parse(trigger_config(t), t["sourceArn"]))
        for t in fn.triggers.values() if t["triggerType"] == "oss"
    )
    try:
        timers = tuple(TimerTrigger.from_config(t["triggerName"], trigger_config(t))
                       for t in fn.triggers.values() if t["triggerType"] == "timer")
    except LocalFCError as exc:
        raise InvalidArgument(str(exc)) from None
    env = doc.get("environmentVariables") or {}
    if not isinstance(env, Mapping):
        raise InvalidArgument("environmentVariables must be an object")
    try:
        timeout, memory = float(doc.get("timeout") or DEFAULT_TIMEOUT), int(doc.get("memorySize") or 0)
    except (TypeError, ValueError):
        raise InvalidArgument("timeout and memorySize must be numbers") from None
    base = fn.spec or FunctionSpec(service="", name=str(doc["functionName"]), handler="", code_dir=fn.code_dir,
                                   fc_version=3, module=fn.module)
    return replace(base, handler=str(doc["handler"]), code_dir=fn.code_dir, runtime=str(doc["runtime"]),
                   timeout=timeout, memory_mb=memory or DEFAULT_MEMORY_MB,
                   env={str(k): str(v) for k, v in env.items()}, http_methods=methods,
                   http_trigger=http["triggerName"] if http else "", http_auth=auth, oss_triggers=oss,
                   timer_triggers=timers, **fc3asyncconfig.spec_fields(fn.async_config))


@dataclass(frozen=True)
class CodeStore:
    """Where code packages are unpacked (``root/<function>/<random>/``) and how OSS code locations are read."""

    root: Path
    fetcher: CodeFetcher | None = None

    def unpack(self, name: str, code: Any) -> tuple[Path, str, int]:
        """``(code directory, CRC-64 checksum, zip size)`` for a ``code`` location (InputCodeLocation)."""
        from osscallback.local.oss.crc64 import crc64_of_bytes

        if not isinstance(code, Mapping) or not (code.get("zipFile") or code.get("ossBucketName")):
            raise InvalidArgument("code must give zipFile (base64) or ossBucketName and ossObjectName")
        data = self._read(code)
        checksum = str(crc64_of_bytes(data))
        if code.get("checksum") and str(code["checksum"]) != checksum:
            raise InvalidArgument(f"code checksum {code['checksum']} does not match the code ({checksum})")
        target = self.root / name / uuid.uuid4().hex
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise InvalidArgument(f"the code zip has an unsafe path: {member!r}")
                target.mkdir(parents=True)
                archive.extractall(target)
        except zipfile.BadZipFile:
            shutil.rmtree(target, ignore_errors=True)
            raise InvalidArgument("the code is not a zip file") from None
        return target, checksum, len(data)

    def _read(self, code: Mapping[str, Any]) -> bytes:
        if code.get("zipFile"):
            try:
                return base64.b64decode(str(code["zipFile"]), validate=True)
            except (binascii.Error, ValueError):
                raise InvalidArgument("code.zipFile is not valid base64") from None
        bucket, key = str(code.get("ossBucketName") or ""), str(code.get("ossObjectName") or "")
        if not key:
            raise InvalidArgument("code.ossObjectName is required with ossBucketName")
        if self.fetcher is None:
            raise InvalidArgument("this local FC host cannot read code from OSS "
                                  "(run it inside the local stack: `osscallback local`)")
        try:
            return self.fetcher(bucket, key)
        except Exception as exc:  # noqa: BLE001 - any OSS failure is the caller's InvalidArgument
            raise InvalidArgument(f"cannot read code from oss://{bucket}/{key}: {exc}") from None

    def remove(self, code_dir: Path, *, function_dir: bool = False) -> None:
        """Delete an unpacked package (or the function's whole directory) — only ever one of ours."""
        if code_dir.is_relative_to(self.root):
            shutil.rmtree(code_dir.parent if function_dir else code_dir, ignore_errors=True)


def check_runtime(runtime: str) -> None:
    if not runtime.startswith("python3"):
        raise InvalidArgument(f"runtime '{runtime}' cannot run in the local FC host (Python runtimes only)")


def trigger_config(doc: Mapping[str, Any]) -> dict[str, Any]:
    raw = doc.get("triggerConfig") or "{}"
    try:
        config = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise InvalidArgument("triggerConfig must be a JSON object (a string in the API)") from None
    if not isinstance(config, dict):
        raise InvalidArgument("triggerConfig must be a JSON object")
    return config


def page(items: list[dict[str, Any]], names: list[str], query: Mapping[str, str], key: str) -> dict[str, Any]:
    """FC's paging: ``limit`` items from the name ``nextToken`` on; ``nextToken`` of the next page, if any."""
    try:
        limit = max(1, min(100, int(query.get("limit") or 20)))
    except ValueError:
        raise InvalidArgument("limit must be a number") from None
    token = unquote(query.get("nextToken") or "")
    start = next((i for i, n in enumerate(names) if n >= token), len(names)) if token else 0
    out: dict[str, Any] = {key: items[start:start + limit]}
    if start + limit < len(items):
        out["nextToken"] = names[start + limit]
    return out


__all__ = ["Arn", "CodeFetcher", "CodeStore", "FUNCTION_FIELDS", "Function", "SUPPORTED_TRIGGERS", "adopted",
           "check_runtime", "function_doc", "page", "spec_of", "trigger_config", "trigger_doc"]
