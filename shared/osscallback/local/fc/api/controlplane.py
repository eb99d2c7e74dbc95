"""A local FC 3.0 control plane (API 2023-03-30): functions and triggers that tools create, run in the local host.

What Serverless Devs' ``fc3`` component and the FC 3.0 SDKs need to deploy and invoke a bundle like this one, and
nothing more (anything else is answered ``PathNotSupported``; the routes are in :mod:`.dispatch`):

| API | route |
| --- | --- |
| CreateFunction / ListFunctions | ``POST`` / ``GET /2023-03-30/functions`` |
| GetFunction / UpdateFunction / DeleteFunction | ``GET`` / ``PUT`` / ``DELETE /2023-03-30/functions/<name>`` |
| CreateTrigger / ListTriggers | ``POST`` / ``GET /2023-03-30/functions/<name>/triggers`` |
| GetTrigger / UpdateTrigger / DeleteTrigger | ``GET`` / ``PUT`` / ``DELETE …/triggers/<trigger>`` |
| Get/Put/DeleteAsyncInvokeConfig | ``GET``/``PUT``/``DELETE …/<name>/async-invoke-config`` (:mod:`.fc3asyncconfig`) |
| ListAsyncInvokeConfigs | ``GET /2023-03-30/async-invoke-configs`` |
| InvokeFunction | ``POST /2023-03-30/functions/<name>/invocations`` (:mod:`.fc3`) |
| GetTempBucketToken (FC 2.0) | ``GET /2016-08-15/tempBucketToken`` |

The configurations a function may have beside it (VPC bindings, scaling, provision and concurrency) are answered as
FC answers for a function that has none (:mod:`.fc3configs`); an asynchronous-invocation configuration is kept and
applied: a PutAsyncInvokeConfig changes the retries, event age and destinations of the function's asynchronous
invocations from then on.

Code comes as a zip or from the local OSS (:class:`~.fc3resources.CodeStore`); only Python runtimes run locally.
A function created here becomes a :class:`~osscallback.local.fc.spec.FunctionSpec` the registry runs like a
template's (with the host's environment overrides, so it is wired to the local stack as a template function is);
an HTTP trigger gives it a function URL of its own (``httpTrigger.urlInternet``), an OSS trigger makes it a target
of ``dispatch_oss_event``, a timer trigger fires on its schedule (:mod:`..model.timers`). Other trigger types
are refused: nothing local would fire them.

GetTempBucketToken is FC 2.0's: ``fc3`` asks it (through ``@alicloud/fc2``) where to upload code zips before
CreateFunction/UpdateFunction with ``ossBucketName``/``ossObjectName``; it is answered with ``temp_bucket()``,
the local OSS bucket and credentials the stack provides (``FC_CODE_TEMP_OSS_ENDPOINT`` points ``fc3`` at the
local OSS).

Locking: the control plane deploys through a :class:`~osscallback.local.fc.model.registry.FunctionRegistry` and
never calls it while holding its own lock. A change is decided under the lock (documents updated, the new spec
computed, a turn taken), then handed to the registry outside it, in the order the turns were taken, so two
concurrent updates of one function reach the registry in the order they were made. Slow work (reading code from
OSS, unzipping, stopping old instances) happens outside the lock too, so reads are never held up by a deploy.
State lives in memory: it is gone when the host stops, like the rest of the local stack.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from osscallback.local.fc.api import fc3asyncconfig
from osscallback.local.fc.api import fc3resources as res
from osscallback.local.fc.errors import (
    AsyncConfigNotExists,
    FunctionAlreadyExists,
    FunctionNotEmpty,
    FunctionNotFound,
    InvalidArgument,
    TriggerAlreadyExists,
    TriggerNotFound,
)
from osscallback.local.fc.model.registry import FunctionRegistry
from osscallback.local.fc.spec import FunctionSpec

#: ``temp_bucket() -> {"ossBucket", "objectName", "ossRegion", "credentials": {...}}``: GetTempBucketToken's answer.
TempBucket = Callable[[], Mapping[str, Any]]
CodeFetcher = res.CodeFetcher
SUPPORTED_TRIGGERS = res.SUPPORTED_TRIGGERS


class _Turns:
    """Runs actions one at a time in the order their turns were taken (a ticket lock; no caller lock is held)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0

    def take(self) -> int:
        with self._cond:
            self._next += 1
            return self._next - 1

    def run(self, turn: int, action: Callable[[], None]) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._serving == turn)
        try:
            action()
        finally:
            with self._cond:
                self._serving += 1
                self._cond.notify_all()


class ControlPlane:
    """The FC 3.0 resources of one host (thread-safe); each method is one API operation, raising FC's errors."""

    def __init__(self, registry: FunctionRegistry, *, region: str, account_id: str, code_root: Path | None = None,
                 code_fetcher: CodeFetcher | None = None, temp_bucket: TempBucket | None = None) -> None:
        self.registry = registry
        self.arn = res.Arn(region, account_id)
        self.temp_bucket = temp_bucket
        self._own_root = code_root is None
        self.code = res.CodeStore(Path(tempfile.mkdtemp(prefix="localfc-code-")) if code_root is None
                                  else Path(code_root), code_fetcher)
        self._functions: dict[str, res.Function] = {}
        self._lock = threading.Lock()  # guards _functions and every Function in it; never held across a call out
        self._turns = _Turns()

    @property
    def code_root(self) -> Path:
        return self.code.root

    def adopt(self, spec: FunctionSpec) -> None:
        """Register a template's FC 3.0 function (already in the registry) so the API sees and can update it."""
        fn = res.adopted(self.arn, spec)
        with self._lock:
            self._functions[spec.name] = fn

    def close(self) -> None:
        if self._own_root:
            shutil.rmtree(self.code.root, ignore_errors=True)

    def temp_bucket_token(self) -> dict[str, Any]:
        if self.temp_bucket is None:
            raise InvalidArgument("this local FC host has no OSS to take code uploads "
                                  "(run it inside the local stack: `osscallback local`)")
        return dict(self.temp_bucket())

    # ------------------------------------------------------------------------------------------ functions
    def create_function(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = str(body.get("functionName") or "")
        if not name:
            raise InvalidArgument("functionName is required")
        taken = self.registry.names()
        with self._lock:
            self._check_free(name, taken)
        for required in ("handler", "runtime"):
            if not body.get(required):
                raise InvalidArgument(f"{required} is required")
        res.check_runtime(str(body["runtime"]))
        code_dir, checksum, size = self.code.unpack(name, body.get("code"))
        doc = res.function_doc(self.arn, body, checksum=checksum, size=size)
        fn = res.Function(doc, code_dir)
        try:
            with self._lock:
                self._check_free(name, taken)
                spec = res.spec_of(fn)
                fn.spec = spec
                self._functions[name] = fn
                turn = self._turns.take()
        except BaseException:
            self.code.remove(code_dir)
            raise
        try:
            self._turns.run(turn, lambda: self.registry.deploy(spec, restart=True))
        except BaseException:
            with self._lock:
                if self._functions.get(name) is fn:
                    del self._functions[name]
            raise
        return doc

    def list_functions(self, query: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            names = sorted(n for n in self._functions if n.startswith(query.get("prefix", "")))
            return res.page([self._functions[n].doc for n in names], names, query, "functions")

    def get_function(self, name: str) -> dict[str, Any]:
        with self._lock:
            return self._get(name).doc

    def update_function(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if body.get("runtime"):
            res.check_runtime(str(body["runtime"]))
        with self._lock:
            self._get(name)
        unpacked = self.code.unpack(name, body["code"]) if body.get("code") else None
        try:
            with self._lock:
                fn = self._get(name)
                doc = dict(fn.doc)
                for key in res.FUNCTION_FIELDS:
                    if key in body and key != "functionName" and body[key] is not None:
                        doc[key] = body[key]
                old_dir = fn.code_dir
                code_dir = old_dir
                if unpacked is not None:
                    code_dir, doc["codeChecksum"], doc["codeSize"] = unpacked
                doc["lastModifiedTime"] = res.now()
                spec = res.spec_of(replace(fn, doc=doc, code_dir=code_dir))
                fn.doc, fn.code_dir, fn.spec = doc, code_dir, spec
                turn = self._turns.take()
        except BaseException:
            if unpacked is not None:
                self.code.remove(unpacked[0])
            raise
        self._turns.run(turn, lambda: self.registry.deploy(spec, restart=True))
        if unpacked is not None:
            self.code.remove(old_dir)
        return doc

    def delete_function(self, name: str) -> None:
        with self._lock:
            fn = self._get(name)
            if fn.triggers:
                raise FunctionNotEmpty(f"function '{name}' has active triggers")
            del self._functions[name]
            turn = self._turns.take()
        self._turns.run(turn, lambda: self.registry.undeploy(name))
        self.code.remove(fn.code_dir, function_dir=True)

    # ------------------------------------------------------------------------------------------ async config
    def get_async_invoke_config(self, name: str, qualifier: str) -> dict[str, Any]:
        with self._lock:
            doc = self._get(name).async_config
            if doc is None:
                raise AsyncConfigNotExists(name, qualifier)
            return dict(doc)

    def put_async_invoke_config(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Store the configuration and apply it: the function's later asynchronous invocations obey it."""
        return self._set_async_config(name, body)

    def delete_async_invoke_config(self, name: str, qualifier: str) -> None:
        with self._lock:
            if self._get(name).async_config is None:
                raise AsyncConfigNotExists(name, qualifier)
        self._set_async_config(name, None)

    def list_async_invoke_configs(self, query: Mapping[str, str]) -> dict[str, Any]:
        wanted = query.get("functionName") or ""
        with self._lock:
            names = sorted(n for n, fn in self._functions.items()
                           if fn.async_config is not None and (not wanted or n == wanted))
            docs = [dict(self._functions[n].async_config or {}) for n in names]
        return res.page(docs, names, query, "configs")

    def _set_async_config(self, name: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        with self._lock:
            fn = self._get(name)
            doc = None if body is None else fc3asyncconfig.config_doc(self.arn.function(name), body,
                                                                        fn.async_config, res.now())
            spec = res.spec_of(replace(fn, async_config=doc))
            fn.async_config, fn.spec = doc, spec
            turn = self._turns.take()
        self._turns.run(turn, lambda: self.registry.deploy(spec, restart=False))
        return dict(doc or {})

    # ------------------------------------------------------------------------------------------ triggers
    def create_trigger(self, function: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name = str(body.get("triggerName") or "")
        kind = str(body.get("triggerType") or "")
        with self._lock:
            fn = self._get(function)
            if not name or not kind:
                raise InvalidArgument("triggerName and triggerType are required")
            if name in fn.triggers:
                raise TriggerAlreadyExists(f"trigger '{name}' already exists in function '{function}'")
            if kind not in res.SUPPORTED_TRIGGERS:
                raise InvalidArgument(f"trigger type '{kind}' is not served by the local FC host "
                                      f"(supported: {', '.join(res.SUPPORTED_TRIGGERS)})")
            if kind == "http" and any(t["triggerType"] == "http" for t in fn.triggers.values()):
                raise InvalidArgument(f"function '{function}' already has an HTTP trigger")
            doc = res.trigger_doc(self.arn, function, body)
            turn, spec = self._change_triggers(fn, name, doc)
        self._deploy_triggers(fn, turn, spec, name, None, doc)
        return self.get_trigger(function, name)

    def list_triggers(self, function: str, query: Mapping[str, str]) -> dict[str, Any]:
        with self._lock:
            fn = self._get(function)
            names = sorted(n for n in fn.triggers if n.startswith(query.get("prefix", "")))
            docs = [dict(fn.triggers[n]) for n in names]
        return res.page([self._with_url(function, d) for d in docs], names, query, "triggers")

    def get_trigger(self, function: str, trigger: str) -> dict[str, Any]:
        with self._lock:
            doc = dict(self._trigger(function, trigger))
        return self._with_url(function, doc)

    def update_trigger(self, function: str, trigger: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            fn = self._get(function)
            old = self._trigger(function, trigger)
            doc = dict(old)
            for key in ("triggerConfig", "qualifier", "description", "invocationRole", "sourceArn"):
                if body.get(key) is not None:
                    doc[key] = body[key]
            res.trigger_config(doc)  # valid JSON before anything changes
            doc["lastModifiedTime"] = res.now()
            turn, spec = self._change_triggers(fn, trigger, doc)
        self._deploy_triggers(fn, turn, spec, trigger, old, doc)
        return self.get_trigger(function, trigger)

    def delete_trigger(self, function: str, trigger: str) -> None:
        with self._lock:
            fn = self._get(function)
            old = self._trigger(function, trigger)
            turn, spec = self._change_triggers(fn, trigger, None)
        self._deploy_triggers(fn, turn, spec, trigger, old, None)

    # ------------------------------------------------------------------------------------------ internals
    def _check_free(self, name: str, taken: set[str]) -> None:
        if name in self._functions or name in taken:
            raise FunctionAlreadyExists(f"function '{name}' already exists")

    def _get(self, name: str) -> res.Function:
        fn = self._functions.get(name)
        if fn is None:
            raise FunctionNotFound(f"function '{name}' does not exist")
        return fn

    def _trigger(self, function: str, trigger: str) -> dict[str, Any]:
        doc = self._get(function).triggers.get(trigger)
        if doc is None:
            raise TriggerNotFound(f"trigger '{trigger}' does not exist in function '{function}'")
        return doc

    def _with_url(self, function: str, doc: dict[str, Any]) -> dict[str, Any]:
        if doc["triggerType"] == "http":
            url = self.registry.function_url(function)
            if url is not None:
                doc["httpTrigger"] = {"urlInternet": url, "urlIntranet": url}
        return doc

    def _change_triggers(self, fn: res.Function, name: str, doc: dict[str, Any] | None) -> tuple[int, FunctionSpec]:
        """Under the lock: set (or remove) one trigger, compute the spec, take a turn. Unchanged if it raises."""
        triggers = {k: v for k, v in fn.triggers.items() if k != name}
        if doc is not None:
            triggers = {**fn.triggers, name: doc}
        spec = res.spec_of(replace(fn, triggers=triggers))
        fn.triggers, fn.spec = triggers, spec
        return self._turns.take(), spec

    def _deploy_triggers(self, fn: res.Function, turn: int, spec: FunctionSpec, name: str,
                         old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """Outside the lock: hand the new spec to the registry; on failure put the trigger back (if still ours)."""
        try:
            self._turns.run(turn, lambda: self.registry.deploy(spec, restart=False))
        except BaseException:
            with self._lock:
                if fn.triggers.get(name) is new:
                    if old is None:
                        fn.triggers = {k: v for k, v in fn.triggers.items() if k != name}
                    else:
                        fn.triggers = {**fn.triggers, name: old}
            raise


__all__ = ["CodeFetcher", "ControlPlane", "SUPPORTED_TRIGGERS", "TempBucket"]
