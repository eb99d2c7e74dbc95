"""A local FC 3.0 control plane (API 2023-03-30): functions and triggers that tools create, run in the local host.

What Serverless Devs' ``fc3`` component and the FC 3.0 SDKs need to deploy and invoke a bundle like this one, and
nothing more (the host answers anything else with ``PathNotSupported``):

| API | route |
| --- | --- |
| CreateFunction / ListFunctions | ``POST`` / ``GET /2023-03-30/functions`` |
| GetFunction / UpdateFunction / DeleteFunction | ``GET`` / ``PUT`` / ``DELETE /2023-03-30/functions/<name>`` |
| CreateTrigger / ListTriggers | ``POST`` / ``GET /2023-03-30/functions/<name>/triggers`` |
| GetTrigger / UpdateTrigger / DeleteTrigger | ``GET`` / ``PUT`` / ``DELETE …/triggers/<trigger>`` |
| InvokeFunction | ``POST /2023-03-30/functions/<name>/invocations`` (the host itself) |
| GetTempBucketToken (FC 2.0) | ``GET /2016-08-15/tempBucketToken`` |

Code comes as ``code.zipFile`` (base64 of a zip) or ``code.ossBucketName`` + ``ossObjectName`` (read from the local
OSS through ``code_fetcher``), is checked against ``code.checksum`` (CRC-64/ECMA, decimal, as FC and ``fc3``
compute it) and unpacked into a directory of its own; only Python runtimes run locally. A function created here
becomes a :class:`~osscallback.local.fc.spec.FunctionSpec` the host runs like a template's (with the host's
environment overrides, so it is wired to the local stack as a template function is); an HTTP trigger gives it a
function URL of its own (``httpTrigger.urlInternet``), an OSS trigger makes it a target of
``dispatch_oss_event``. Other trigger types are refused: nothing local would fire them.

GetTempBucketToken is FC 2.0's: ``fc3`` asks it (through ``@alicloud/fc2``) where to upload code zips before
CreateFunction/UpdateFunction with ``ossBucketName``/``ossObjectName``; it is answered with ``temp_bucket()``,
the local OSS bucket and credentials the stack provides (``FC_CODE_TEMP_OSS_ENDPOINT`` points ``fc3`` at the
local OSS).

Documents use FC 3.0's field names (data structures ``Function`` and ``Trigger``); ``triggerConfig`` is a JSON
string, as in the API. State lives in memory: it is gone when the host stops, like the rest of the local stack.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from osscallback.deploy.fcyaml import OssTriggerConfig
from osscallback.local.fc.osstrigger import OssTrigger
from osscallback.local.fc.spec import ALL_METHODS, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, FunctionSpec

if TYPE_CHECKING:
    from osscallback.local.fc.host import LocalFCHost

#: ``code_fetcher(bucket, key) -> bytes``: a code zip from (local) OSS.
CodeFetcher = Callable[[str, str], bytes]
#: ``temp_bucket() -> {"ossBucket", "objectName", "ossRegion", "credentials": {...}}``: GetTempBucketToken's answer.
TempBucket = Callable[[], Mapping[str, Any]]

SUPPORTED_TRIGGERS = ("http", "oss")
_FUNCTION_FIELDS = (
    "functionName", "handler", "runtime", "memorySize", "timeout", "cpu", "diskSize", "environmentVariables",
    "description", "internetAccess", "role", "logConfig", "instanceConcurrency", "layers", "vpcConfig",
    "nasConfig", "ossMountConfig", "tracingConfig", "customDNS", "customRuntimeConfig", "customContainerConfig",
    "gpuConfig", "instanceLifecycleConfig", "instanceIsolationMode", "sessionAffinity", "sessionAffinityConfig",
    "disableOndemand", "idleTimeout", "resourceGroupId", "tags", "disableInjectCredentials",
)


class ApiError(Exception):
    """An FC 3.0 API error: HTTP status, ``Code``, ``Message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class _Function:
    doc: dict[str, Any]
    code_dir: Path
    module: str = ""
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)


class ControlPlane:
    """The FC 3.0 resources of one host (thread-safe). :meth:`handle` answers one API request."""

    def __init__(self, host: LocalFCHost, *, code_root: Path | None = None, code_fetcher: CodeFetcher | None = None,
                 temp_bucket: TempBucket | None = None) -> None:
        self.host = host
        self.code_fetcher = code_fetcher
        self.temp_bucket = temp_bucket
        self._own_root = code_root is None
        self.code_root = Path(tempfile.mkdtemp(prefix="localfc-code-")) if code_root is None else Path(code_root)
        self._functions: dict[str, _Function] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------------------ templates
    def adopt(self, spec: FunctionSpec) -> None:
        """Register a template's FC 3.0 function (already in the host) so the API sees and can update it."""
        doc = self._new_doc({"functionName": spec.name, "handler": spec.handler, "runtime": spec.runtime,
                             "memorySize": spec.memory_mb, "timeout": int(round(spec.timeout)),
                             "environmentVariables": dict(spec.env)}, checksum="", size=0)
        fn = _Function(doc, spec.code_dir, module=spec.module)
        if spec.http_methods is not None:
            fn.triggers[spec.http_trigger or "http"] = self._trigger_doc(spec.name, {
                "triggerName": spec.http_trigger or "http", "triggerType": "http", "qualifier": "LATEST",
                "triggerConfig": json.dumps({"authType": spec.http_auth, "methods": list(spec.http_methods),
                                             "disableURLInternet": False})})
        for trigger in spec.oss_triggers:
            fn.triggers[trigger.name] = self._trigger_doc(spec.name, {
                "triggerName": trigger.name, "triggerType": "oss", "qualifier": "LATEST",
                "sourceArn": f"acs:oss:{self.host.region}:{self.host.account_id}:{trigger.bucket}",
                "triggerConfig": json.dumps({"events": list(trigger.events),
                                             "filter": {"key": {"prefix": trigger.prefix,
                                                                "suffix": trigger.suffix}}})})
        with self._lock:
            self._functions[spec.name] = fn

    def close(self) -> None:
        if self._own_root:
            shutil.rmtree(self.code_root, ignore_errors=True)

    # ------------------------------------------------------------------------------------------ the API
    def handle(self, method: str, parts: list[str], query: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        """``parts`` = the path after ``/2023-03-30/``, unquoted. Returns ``(status, JSON document or None)``."""
        with self._lock:
            if parts == ["functions"] and method == "POST":
                return 200, self.create_function(_json(body))
            if parts == ["functions"] and method == "GET":
                return 200, self.list_functions(query)
            if len(parts) == 2 and parts[0] == "functions":
                name = parts[1]
                if method == "GET":
                    return 200, self._get(name).doc
                if method == "PUT":
                    return 200, self.update_function(name, _json(body))
                if method == "DELETE":
                    self.delete_function(name)
                    return 204, None
            if len(parts) == 3 and parts[0] == "functions" and parts[2] == "triggers":
                if method == "POST":
                    return 200, self.create_trigger(parts[1], _json(body))
                if method == "GET":
                    return 200, self.list_triggers(parts[1], query)
            if len(parts) == 4 and parts[0] == "functions" and parts[2] == "triggers":
                fn, trigger = parts[1], parts[3]
                if method == "GET":
                    return 200, self._get_trigger(fn, trigger)
                if method == "PUT":
                    return 200, self.update_trigger(fn, trigger, _json(body))
                if method == "DELETE":
                    self.delete_trigger(fn, trigger)
                    return 204, None
        raise ApiError(400, "PathNotSupported", f"'{method}' against '/2023-03-30/{'/'.join(parts)}' is not "
                       "supported by the local FC host (see osscallback.local.fc.controlplane for the API subset)")

    def temp_bucket_token(self) -> dict[str, Any]:
        if self.temp_bucket is None:
            raise ApiError(400, "InvalidArgument", "this local FC host has no OSS to take code uploads "
                           "(run it inside the local stack: `osscallback local`)")
        return dict(self.temp_bucket())

    # -- functions
    def create_function(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = str(body.get("functionName") or "")
        if not name:
            raise ApiError(400, "InvalidArgument", "functionName is required")
        if name in self._functions or any(s.name == name for s in self.host.specs):
            raise ApiError(409, "FunctionAlreadyExists", f"function '{name}' already exists")
        for required in ("handler", "runtime"):
            if not body.get(required):
                raise ApiError(400, "InvalidArgument", f"{required} is required")
        _check_runtime(str(body["runtime"]))
        code_dir, checksum, size = self._unpack(name, body.get("code"))
        doc = self._new_doc(body, checksum=checksum, size=size)
        fn = _Function(doc, code_dir)
        self._functions[name] = fn
        try:
            self._deploy(fn, restart=True)
        except BaseException:
            del self._functions[name]
            raise
        return doc

    def list_functions(self, query: Mapping[str, str]) -> dict[str, Any]:
        names = sorted(n for n in self._functions if n.startswith(query.get("prefix", "")))
        return _page([self._functions[n].doc for n in names], names, query, "functions")

    def update_function(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        fn = self._get(name)
        if body.get("runtime"):
            _check_runtime(str(body["runtime"]))
        doc = dict(fn.doc)
        for key in _FUNCTION_FIELDS:
            if key in body and key != "functionName" and body[key] is not None:
                doc[key] = body[key]
        if body.get("code"):
            old_dir = fn.code_dir
            fn.code_dir, doc["codeChecksum"], doc["codeSize"] = self._unpack(name, body["code"])
            if old_dir.is_relative_to(self.code_root):
                shutil.rmtree(old_dir, ignore_errors=True)
        doc["lastModifiedTime"] = _now()
        fn.doc = doc
        self._deploy(fn, restart=True)
        return doc

    def delete_function(self, name: str) -> None:
        fn = self._get(name)
        if fn.triggers:
            raise ApiError(409, "FunctionNotEmpty", f"function '{name}' has active triggers")
        self.host.undeploy(name)
        del self._functions[name]
        if fn.code_dir.is_relative_to(self.code_root):
            shutil.rmtree(fn.code_dir.parent, ignore_errors=True)

    # -- triggers
    def create_trigger(self, function: str, body: Mapping[str, Any]) -> dict[str, Any]:
        fn = self._get(function)
        name = str(body.get("triggerName") or "")
        kind = str(body.get("triggerType") or "")
        if not name or not kind:
            raise ApiError(400, "InvalidArgument", "triggerName and triggerType are required")
        if name in fn.triggers:
            raise ApiError(409, "TriggerAlreadyExists", f"trigger '{name}' already exists in function '{function}'")
        if kind not in SUPPORTED_TRIGGERS:
            raise ApiError(400, "InvalidArgument", f"trigger type '{kind}' is not served by the local FC host "
                           f"(supported: {', '.join(SUPPORTED_TRIGGERS)})")
        if kind == "http" and any(t["triggerType"] == "http" for t in fn.triggers.values()):
            raise ApiError(400, "InvalidArgument", f"function '{function}' already has an HTTP trigger")
        doc = self._trigger_doc(function, body)
        fn.triggers[name] = doc
        try:
            self._deploy(fn, restart=False)
        except BaseException:
            del fn.triggers[name]
            raise
        return self._get_trigger(function, name)

    def list_triggers(self, function: str, query: Mapping[str, str]) -> dict[str, Any]:
        fn = self._get(function)
        names = sorted(n for n in fn.triggers if n.startswith(query.get("prefix", "")))
        return _page([self._get_trigger(function, n) for n in names], names, query, "triggers")

    def update_trigger(self, function: str, trigger: str, body: Mapping[str, Any]) -> dict[str, Any]:
        fn = self._get(function)
        doc = dict(self._get_trigger(function, trigger))
        for key in ("triggerConfig", "qualifier", "description", "invocationRole", "sourceArn"):
            if body.get(key) is not None:
                doc[key] = body[key]
        _trigger_config(doc)  # valid JSON before anything changes
        doc["lastModifiedTime"] = _now()
        old = fn.triggers[trigger]
        fn.triggers[trigger] = doc
        try:
            self._deploy(fn, restart=False)
        except BaseException:
            fn.triggers[trigger] = old
            raise
        return self._get_trigger(function, trigger)

    def delete_trigger(self, function: str, trigger: str) -> None:
        fn = self._get(function)
        self._get_trigger(function, trigger)
        old = fn.triggers.pop(trigger)
        try:
            self._deploy(fn, restart=False)
        except BaseException:
            fn.triggers[trigger] = old
            raise

    # ------------------------------------------------------------------------------------------ internals
    def _get(self, name: str) -> _Function:
        fn = self._functions.get(name)
        if fn is None:
            raise ApiError(404, "FunctionNotFound", f"function '{name}' does not exist")
        return fn

    def _get_trigger(self, function: str, trigger: str) -> dict[str, Any]:
        doc = self._get(function).triggers.get(trigger)
        if doc is None:
            raise ApiError(404, "TriggerNotFound", f"trigger '{trigger}' does not exist in function '{function}'")
        doc = dict(doc)
        if doc["triggerType"] == "http" and self.host.has_function_url(function):
            url = self.host.url_for(function)
            doc["httpTrigger"] = {"urlInternet": url, "urlIntranet": url}
        return doc

    def _new_doc(self, body: Mapping[str, Any], *, checksum: str, size: int) -> dict[str, Any]:
        name = str(body["functionName"])
        now = _now()
        doc: dict[str, Any] = {
            "functionName": name,
            "functionId": str(uuid.uuid4()),
            "functionArn": f"acs:fc:{self.host.region}:{self.host.account_id}:functions/{name}",
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
            "createdTime": now,
            "lastModifiedTime": now,
            "codeChecksum": checksum,
            "codeSize": size,
        }
        for key in _FUNCTION_FIELDS:
            if key in body and body[key] is not None:
                doc[key] = body[key]
        return doc

    def _trigger_doc(self, function: str, body: Mapping[str, Any]) -> dict[str, Any]:
        now = _now()
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
            "targetArn": f"acs:fc:{self.host.region}:{self.host.account_id}:functions/{function}",
            "status": "Success",
            "createdTime": now,
            "lastModifiedTime": now,
        }
        _trigger_config(doc)
        return doc

    def _unpack(self, name: str, code: Any) -> tuple[Path, str, int]:
        """``(code directory, CRC-64 checksum, zip size)`` for a ``code`` location (InputCodeLocation)."""
        from osscallback.local.oss.crc64 import crc64_of_bytes

        if not isinstance(code, Mapping) or not (code.get("zipFile") or code.get("ossBucketName")):
            raise ApiError(400, "InvalidArgument", "code must give zipFile (base64) or ossBucketName and "
                           "ossObjectName")
        if code.get("zipFile"):
            try:
                data = base64.b64decode(str(code["zipFile"]), validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, "InvalidArgument", "code.zipFile is not valid base64") from None
        else:
            bucket, key = str(code.get("ossBucketName") or ""), str(code.get("ossObjectName") or "")
            if not key:
                raise ApiError(400, "InvalidArgument", "code.ossObjectName is required with ossBucketName")
            if self.code_fetcher is None:
                raise ApiError(400, "InvalidArgument", "this local FC host cannot read code from OSS "
                               "(run it inside the local stack: `osscallback local`)")
            try:
                data = self.code_fetcher(bucket, key)
            except Exception as exc:  # noqa: BLE001 - any OSS failure is the caller's InvalidArgument
                raise ApiError(400, "InvalidArgument", f"cannot read code from oss://{bucket}/{key}: {exc}") from None
        checksum = str(crc64_of_bytes(data))
        if code.get("checksum") and str(code["checksum"]) != checksum:
            raise ApiError(400, "InvalidArgument", f"code checksum {code['checksum']} does not match the code "
                           f"({checksum})")
        target = self.code_root / name / uuid.uuid4().hex
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise ApiError(400, "InvalidArgument", f"the code zip has an unsafe path: {member!r}")
                target.mkdir(parents=True)
                archive.extractall(target)
        except zipfile.BadZipFile:
            shutil.rmtree(target, ignore_errors=True)
            raise ApiError(400, "InvalidArgument", "the code is not a zip file") from None
        return target, checksum, len(data)

    def _deploy(self, fn: _Function, *, restart: bool) -> None:
        """Hand the function, as it now is, to the host."""
        doc = fn.doc
        http = next((t for t in fn.triggers.values() if t["triggerType"] == "http"), None)
        methods: tuple[str, ...] | None = None
        auth = "anonymous"
        if http is not None:
            config = _trigger_config(http)
            methods = tuple(str(m).upper() for m in config.get("methods") or ()) or ALL_METHODS
            auth = str(config.get("authType") or "anonymous")
        oss = tuple(
            OssTrigger.from_config(t["triggerName"], OssTriggerConfig.parse(_trigger_config(t), t["sourceArn"]))
            for t in fn.triggers.values() if t["triggerType"] == "oss"
        )
        env = doc.get("environmentVariables") or {}
        if not isinstance(env, Mapping):
            raise ApiError(400, "InvalidArgument", "environmentVariables must be an object")
        try:
            timeout, memory = float(doc.get("timeout") or DEFAULT_TIMEOUT), int(doc.get("memorySize") or 0)
        except (TypeError, ValueError):
            raise ApiError(400, "InvalidArgument", "timeout and memorySize must be numbers") from None
        current = next((s for s in self.host.specs if s.name == doc["functionName"] and not s.service), None)
        base = current or FunctionSpec(service="", name=str(doc["functionName"]), handler="", code_dir=fn.code_dir,
                                       fc_version=3, module=fn.module)
        spec = replace(base, handler=str(doc["handler"]), code_dir=fn.code_dir, runtime=str(doc["runtime"]),
                       timeout=timeout, memory_mb=memory or DEFAULT_MEMORY_MB,
                       env={str(k): str(v) for k, v in env.items()}, http_methods=methods,
                       http_trigger=http["triggerName"] if http else "", http_auth=auth, oss_triggers=oss)
        self.host.deploy(spec, restart=restart or current is None)


def _check_runtime(runtime: str) -> None:
    if not runtime.startswith("python3"):
        raise ApiError(400, "InvalidArgument", f"runtime '{runtime}' cannot run in the local FC host (Python "
                       "runtimes only)")


def _trigger_config(doc: Mapping[str, Any]) -> dict[str, Any]:
    raw = doc.get("triggerConfig") or "{}"
    try:
        config = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise ApiError(400, "InvalidArgument", "triggerConfig must be a JSON object (a string in the API)") from None
    if not isinstance(config, dict):
        raise ApiError(400, "InvalidArgument", "triggerConfig must be a JSON object")
    return config


def _json(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        doc = json.loads(body)
    except ValueError:
        raise ApiError(400, "InvalidArgument", "the request body is not JSON") from None
    if not isinstance(doc, dict):
        raise ApiError(400, "InvalidArgument", "the request body must be a JSON object")
    return doc


def _page(items: list[dict[str, Any]], names: list[str], query: Mapping[str, str], key: str) -> dict[str, Any]:
    """FC's paging: ``limit`` items from the name ``nextToken`` on; ``nextToken`` of the next page, if any."""
    try:
        limit = max(1, min(100, int(query.get("limit") or 20)))
    except ValueError:
        raise ApiError(400, "InvalidArgument", "limit must be a number") from None
    token = unquote(query.get("nextToken") or "")
    start = next((i for i, n in enumerate(names) if n >= token), len(names)) if token else 0
    page = items[start:start + limit]
    out: dict[str, Any] = {key: page}
    if start + limit < len(items):
        out["nextToken"] = names[start + limit]
    return out


__all__ = ["ApiError", "CodeFetcher", "ControlPlane", "TempBucket", "SUPPORTED_TRIGGERS"]
