"""The functions a host runs: their specs, their instance pools and FC 3.0 function URLs, behind one lock.

:class:`FunctionRegistry` is the small interface the FC 3.0 control plane (:mod:`..api.controlplane`) deploys
through; :class:`Registry` implements it. The control plane depends on the interface, not on the host, so the two
no longer import each other, and the registry never calls the control plane back: its lock is only ever taken
last, which is what keeps "control plane deploys while a request looks a function up" free of deadlocks.

Instances: each function runs in ``instances`` worker processes (default 1; an ``int`` applies to every
HTTP-triggered function, a mapping ``{function name: N}`` to any function); see :mod:`.instances`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from osscallback.local.fc.errors import FunctionNotFound, ServiceNotFound, UnknownFunctionError
from osscallback.local.fc.model.instances import Launcher, Outcome, Pool
from osscallback.local.fc.model.process import WorkerProcess
from osscallback.local.fc.spec import FunctionSpec

#: ``instances=``: a count for every HTTP-triggered function, or a count per function name.
Instances = int | Mapping[str, int]


class FunctionRegistry(Protocol):
    """What the control plane needs from whoever runs the functions: names, deploy, undeploy, function URLs."""

    def names(self) -> set[str]:
        """The name of every function, in any service."""
        ...

    def deploy(self, spec: FunctionSpec, *, restart: bool = True) -> None:
        """Add ``spec``, or replace the function of that name."""
        ...

    def undeploy(self, function: str, service: str = "") -> None:
        """Remove a function: its instances stop and its function URL closes."""
        ...

    def function_url(self, function: str) -> str | None:
        """The FC 3.0 function URL of ``function``, if it has one."""
        ...


class UrlServer(Protocol):
    """The server behind an FC 3.0 function URL (the host makes them: they serve the API's HTTP-trigger app)."""

    @property
    def url(self) -> str: ...

    def start(self) -> object: ...

    def stop(self) -> None: ...


class Registry:
    """Every function of one host (thread-safe). Implements :class:`FunctionRegistry`.

    ``url_server(name)`` makes the server behind an FC 3.0 HTTP function's URL; it is bound at once (so URLs are
    known before :meth:`start`) and served from :meth:`start` on.
    """

    def __init__(self, specs: Sequence[FunctionSpec], *, launcher: Launcher, instances: Instances = 1,
                 url_server: Callable[[str], UrlServer]) -> None:
        seen: set[tuple[str, str]] = set()
        for spec in specs:
            if (spec.service, spec.name) in seen:
                raise ValueError(f"function {spec.qualified_name} is declared twice")
            seen.add((spec.service, spec.name))
        self.instances = instances
        if not all(self.instance_count(s) >= 1 for s in specs):
            raise ValueError(f"instances must be at least 1, got {instances!r}")
        self.launcher = launcher
        self._specs = list(specs)
        self._url_server = url_server
        self._pools: dict[tuple[str, str], Pool] = {}
        self._urls: dict[str, UrlServer] = {}
        self._lock = threading.RLock()  # specs, pools and function URLs change under it (control plane)
        self._started = False
        for spec in self._specs:
            if spec.is_fc3 and spec.is_http:
                self._urls[spec.name] = url_server(spec.name)

    # -------------------------------------------------------------------------------------------- lookups
    @property
    def specs(self) -> list[FunctionSpec]:
        """Every function, in declaration order (a snapshot)."""
        return list(self._specs)

    def names(self) -> set[str]:
        return {s.name for s in self._specs}

    def instance_count(self, spec: FunctionSpec) -> int:
        """How many instances (worker processes) run ``spec``: see ``instances=``."""
        if isinstance(self.instances, Mapping):
            return int(self.instances.get(spec.name, 1))
        return int(self.instances) if spec.is_http else 1

    def spec(self, function: str, service: str | None = None) -> FunctionSpec:
        """The function called ``function`` (in ``service``, if given; else it must be unique)."""
        matches = [s for s in self.specs if s.name == function and (service is None or s.service == service)]
        if len(matches) != 1:
            what = "no function" if not matches else "several functions"
            raise UnknownFunctionError(f"{what} named {function!r}" + (f" in service {service!r}" if service else ""))
        return matches[0]

    def fc2_function(self, service: str, function: str) -> FunctionSpec:
        """An FC 2.0 function by service and name, or FC's ``ServiceNotFound`` / ``FunctionNotFound``."""
        specs = [s for s in self.specs if not s.is_fc3]
        if not any(s.service == service for s in specs):
            raise ServiceNotFound(f"service '{service}' does not exist")
        for spec in specs:
            if spec.service == service and spec.name == function:
                return spec
        raise FunctionNotFound(f"function '{function}' does not exist in service '{service}'")

    def fc3_function(self, function: str) -> FunctionSpec | None:
        return next((s for s in self.specs if s.name == function and s.is_fc3), None)

    def function_url(self, function: str) -> str | None:
        server = self._urls.get(function)
        return None if server is None else f"{server.url}/"

    def url_servers(self) -> list[UrlServer]:
        return list(self._urls.values())

    # -------------------------------------------------------------------------------------------- instances
    def start(self) -> list[WorkerProcess]:
        """Make every function's pool (from now on deploys start instances too); returns the workers to start."""
        with self._lock:
            self._started = True
            for spec in self._specs:
                self._pools[(spec.service, spec.name)] = Pool(self.launcher.make_workers(spec,
                                                                                         self.instance_count(spec)))
            return self.all_workers()

    def all_workers(self) -> list[WorkerProcess]:
        return [w for pool in list(self._pools.values()) for w in pool.workers]

    def workers(self, spec: FunctionSpec) -> list[WorkerProcess]:
        return list(self._pools[(spec.service, spec.name)].workers)

    def worker_pids(self) -> dict[str, int]:
        """PID of each running worker, by ``service/function`` (``service/function#N`` for instance N > 1)."""
        pids: dict[str, int] = {}
        for (service, name), pool in list(self._pools.items()):
            for index, worker in enumerate(pool.workers):
                if worker.pid is not None:
                    pids[f"{service}/{name}" + (f"#{index + 1}" if index else "")] = worker.pid
        return pids

    def call(self, spec: FunctionSpec, method: str, target: str, headers: list[tuple[str, str]],
             body: bytes) -> Outcome:
        """Send one request to one of the function's instances, enforcing the declared timeout."""
        with self._lock:
            pool = self._pools.get((spec.service, spec.name))
        if pool is None:
            return Outcome(failure=f"function {spec.qualified_name} is not deployed")
        return pool.call(spec, method, target, headers, body)

    # -------------------------------------------------------------------------------------------- deploying
    def deploy(self, spec: FunctionSpec, *, restart: bool = True) -> None:
        """Add ``spec``, or replace the function of that name (what the control plane's Create/Update do).

        ``restart=False`` keeps the running instances when only triggers changed. An FC 3.0 HTTP function gets its
        function URL (and keeps it across updates); one that lost its HTTP trigger loses it. Old instances and a
        closed URL's server are stopped after the lock is released (requests running on them end with an error,
        as on FC).
        """
        closed: UrlServer | None = None
        with self._lock:
            key = (spec.service, spec.name)
            old = next((s for s in self._specs if (s.service, s.name) == key), None)
            if spec.is_fc3 and spec.is_http and spec.name not in self._urls:
                server = self._urls[spec.name] = self._url_server(spec.name)
                if self._started:
                    server.start()
            if spec.is_fc3 and not spec.is_http and spec.name in self._urls:
                closed = self._urls.pop(spec.name)
            self._specs = [spec if (s.service, s.name) == key else s for s in self._specs] if old else [
                *self._specs, spec]
            pool = self._pools.get(key)
            keep = pool is not None and not restart and old is not None and \
                self.instance_count(old) == self.instance_count(spec)
            if not keep and self._started:
                self._pools[key] = Pool(self.launcher.make_workers(spec, self.instance_count(spec)))
        if closed is not None:
            closed.stop()
        if pool is not None and not keep:
            for worker in pool.workers:
                worker.stop()

    def undeploy(self, function: str, service: str = "") -> None:
        """Remove a function: its instances stop and its function URL closes."""
        with self._lock:
            key = (service, function)
            self._specs = [s for s in self._specs if (s.service, s.name) != key]
            pool = self._pools.pop(key, None)
            server = self._urls.pop(function, None) if not service else None
        if server is not None:
            server.stop()
        if pool is not None:
            for worker in pool.workers:
                worker.stop()


__all__ = ["FunctionRegistry", "Instances", "Registry", "UrlServer"]
