"""The local FC host: every function of a template behind one WSGI server, shaped like FC. Small on purpose.

It wires the parts and runs their lifecycle; the parts do the work:

- :mod:`.model.registry`: the functions, their instance pools and FC 3.0 function URLs;
- :mod:`.model.instances`: each function's instances (worker processes) and one request to one of them, cut off
  after the declared timeout (FC's timeout error; the process is killed and started again on the next call);
- :mod:`.model.triggers` and :mod:`.model.asyncinvoke`: asynchronous invocation with FC's retries, OSS triggers;
- :mod:`.api`: the FC 2.0 and FC 3.0 APIs, the FC 3.0 control plane and the HTTP triggers, routed from
  :data:`.api.dispatch.ROUTES` (the table of every route is there).

API calls must carry the FC 2.0 SDK's signature (``fc2.Client``) or the FC 3.0 SDKs' ACS3 signature, made with the
host's credentials (``verify_signatures=False`` accepts any), as FC does; a wrong key gets FC's error document.
HTTP triggers are anonymous, like the templates'. Every invocation gets a new request id (``X-Fc-Request-Id``),
runs in its function's own worker process with its ``template.yml`` environment, and logs are printed prefixed
with the function's name.

Instances: each function runs in ``instances`` worker processes (default 1; an ``int`` applies to every
HTTP-triggered function, a mapping ``{function name: N}`` to any function); a request goes to the least busy one.
Requests to one instance run concurrently in it, like an FC instance with instance concurrency > 1.

Asynchronous invocation (``X-Fc-Invocation-Type: Async``, :meth:`LocalFCHost.invoke_async`, and every OSS
trigger through :meth:`LocalFCHost.dispatch_oss_event`) answers 202 at once and runs in the background with FC's
retry policy (3 retries after a failed attempt unless the template says otherwise); each invocation and its
attempts are recorded (:meth:`LocalFCHost.async_invocations`, ``async_observer``).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from osscallback.local.fc.api import fc3api, fcapi, httpproxy, wire
from osscallback.local.fc.api.backend import Backend
from osscallback.local.fc.api.controlplane import CodeFetcher, ControlPlane, TempBucket
from osscallback.local.fc.api.dispatch import Router
from osscallback.local.fc.context import LOCAL_CREDENTIALS, FCCredentials
from osscallback.local.fc.errors import FunctionInvocationError
from osscallback.local.fc.model.asyncinvoke import DEFAULT_BACKOFF, DEFAULT_RETRY_ATTEMPTS, AsyncInvocation, Observer
from osscallback.local.fc.model.instances import INHERITED_ENV, Launcher
from osscallback.local.fc.model.process import LogSink, WorkerProcess, print_sink
from osscallback.local.fc.model.registry import Instances, Registry
from osscallback.local.fc.model.timers import Timers
from osscallback.local.fc.model.triggers import AsyncInvocations
from osscallback.local.fc.protocol import H_ERROR_TYPE, H_INVOCATION_TYPE, H_LOG_TYPE, H_REQUEST_ID
from osscallback.local.fc.spec import FunctionSpec
from osscallback.local.httpserver import WSGIServer

EnvOverrides = Mapping[str, str] | Callable[["LocalFCHost"], Mapping[str, str]]


class LocalFCHost:
    """Serve ``specs`` like FC 2.0 on ``host:port`` (0 = any free port).

    ``with LocalFCHost(specs, credentials=...) as fc: fc.endpoint`` — the port is bound at construction, so
    :attr:`endpoint` and :meth:`url_for` work before :meth:`start` (pass ``env_overrides`` as a callable taking
    the host to inject URLs that depend on them, e.g. ``CALLBACK_URL``). ``env_overrides`` is merged over every
    function's ``template.yml`` environment.
    """

    def __init__(
        self,
        specs: Sequence[FunctionSpec],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        credentials: FCCredentials = LOCAL_CREDENTIALS,
        region: str = "cn-hangzhou",
        account_id: str = "1234567890123456",
        env_overrides: EnvOverrides | None = None,
        log_sink: LogSink = print_sink,
        verify_signatures: bool = True,
        instances: Instances = 1,
        async_retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        async_backoff: float = DEFAULT_BACKOFF,
        async_observer: Observer | None = None,
        code_root: str | os.PathLike[str] | None = None,
        code_fetcher: CodeFetcher | None = None,
        temp_bucket: TempBucket | None = None,
        threads: int = 32,
        worker_threads: int = 8,
        python: str = sys.executable,
        start_timeout: float = 60.0,
        stop_grace: float = 3.0,
    ) -> None:
        self.credentials = credentials
        self.region = region
        self.account_id = account_id
        self.verify_signatures = verify_signatures
        self.log_sink = log_sink
        self._env_overrides = env_overrides
        self._stop_grace = stop_grace

        def url_server(function: str) -> WSGIServer:
            """The server behind an FC 3.0 function URL (port bound now, served once the host starts)."""
            return WSGIServer(httpproxy.function_url_app(self._api, function), host=host, port=0, threads=threads)

        launcher = Launcher(credentials, region, account_id, log_sink=log_sink, python=python,
                            start_timeout=start_timeout, stop_grace=stop_grace, worker_threads=worker_threads)
        self.registry = Registry(specs, launcher=launcher, instances=instances, url_server=url_server)
        self._async = AsyncInvocations(self.registry, log_sink, retry_attempts=async_retry_attempts,
                                       backoff=async_backoff, observer=async_observer, region=region,
                                       account=account_id)
        self._server = WSGIServer(Router(self._api), host=host, port=port, threads=threads)
        self.timers = Timers(lambda: self.registry.specs, self._async.submit)  # timer triggers, on their schedule
        self.control = ControlPlane(self.registry, region=region, account_id=account_id,
                                    code_root=None if code_root is None else Path(code_root),
                                    code_fetcher=code_fetcher, temp_bucket=temp_bucket)
        for spec in self.registry.specs:
            if spec.is_fc3:
                self.control.adopt(spec)
        self._backend = Backend(self.registry, self._async, self.control, credentials, verify_signatures, log_sink,
                                self._server.url)
        self._started = False
        self._stopped = False

    def _api(self) -> Backend:
        return self._backend

    # -------------------------------------------------------------------------------------------- functions
    @property
    def endpoint(self) -> str:
        """The FC endpoint to give ``fc2.Client(endpoint=...)``, e.g. ``http://127.0.0.1:41234``."""
        return self._server.url

    @property
    def specs(self) -> list[FunctionSpec]:
        """Every function the host runs (template's and control plane's), a snapshot."""
        return self.registry.specs

    @property
    def instances(self) -> Instances:
        return self.registry.instances

    @property
    def async_retry_attempts(self) -> int:
        return self._async.retry_attempts

    def spec(self, function: str, service: str | None = None) -> FunctionSpec:
        """The function called ``function`` (in ``service``, if given; else it must be unique)."""
        return self.registry.spec(function, service)

    def url_for(self, function: str, proxy: bool = True, service: str | None = None) -> str:
        """URL of an HTTP function: FC 2.0's ``/2016-08-15/proxy/<svc>/<fn>/`` (or the short ``/<fn>/``); for an
        FC 3.0 function its function URL, ``http://127.0.0.1:<its port>/``."""
        return self._backend.url_for(self.spec(function, service), proxy)

    def invoke_url(self, function: str, service: str | None = None) -> str:
        return self._backend.invoke_url(self.spec(function, service))

    def has_function_url(self, function: str) -> bool:
        return self.registry.function_url(function) is not None

    def deploy(self, spec: FunctionSpec, *, restart: bool = True) -> None:
        """Add ``spec``, or replace the function of that name (see :meth:`.model.registry.Registry.deploy`)."""
        self.registry.deploy(spec, restart=restart)

    def undeploy(self, function: str, service: str = "") -> None:
        """Remove a function: its instances stop and its function URL closes."""
        self.registry.undeploy(function, service)

    def instance_count(self, spec: FunctionSpec) -> int:
        """How many instances (worker processes) run ``spec``: see ``instances=``."""
        return self.registry.instance_count(spec)

    def worker_pids(self) -> dict[str, int]:
        """PID of each running worker, by ``service/function`` (``service/function#N`` for instance N > 1)."""
        return self.registry.worker_pids()

    def worker(self, function: str, service: str | None = None) -> WorkerProcess:
        """The function's first instance (see :meth:`workers` for all of them)."""
        return self.workers(function, service)[0]

    def workers(self, function: str, service: str | None = None) -> list[WorkerProcess]:
        """Every instance of the function, in order (``callback``, ``callback#2``, ...)."""
        return self.registry.workers(self.spec(function, service))

    # -------------------------------------------------------------------------------------------- async
    @property
    def async_observer(self) -> Observer | None:
        """Called with a fresh :class:`AsyncInvocation` snapshot at every change of every async invocation."""
        return self._async.engine.observer

    @async_observer.setter
    def async_observer(self, observer: Observer | None) -> None:
        self._async.engine.observer = observer

    def async_invocations(self) -> list[AsyncInvocation]:
        """Every asynchronous invocation so far (latest snapshot of each), oldest first."""
        return self._async.engine.records()

    def async_invocation(self, request_id: str) -> AsyncInvocation | None:
        return self._async.engine.get(request_id)

    def wait_async(self, timeout: float | None = None, request_ids: list[str] | None = None) -> bool:
        """Wait until every asynchronous invocation (or those named) is done, retries included."""
        return self._async.engine.wait(timeout, request_ids)

    def invoke_async(
        self,
        function: str,
        payload: bytes | str | Mapping[str, Any] | None = None,
        *,
        service: str | None = None,
        source: str = "InvokeFunction",
    ) -> AsyncInvocation:
        """Queue an asynchronous invocation of an event function (as ``X-Fc-Invocation-Type: Async`` does)."""
        return self._async.submit(self.spec(function, service), _payload_bytes(payload), source)

    def dispatch_oss_event(self, event: Mapping[str, Any] | bytes | str) -> list[AsyncInvocation]:
        """Deliver an OSS event document to every function whose OSS trigger matches, asynchronously.

        See :meth:`.model.triggers.AsyncInvocations.dispatch_oss_event`; returns the queued invocations.
        """
        return self._async.dispatch_oss_event(event)

    def fire_timer(self, function: str, trigger: str | None = None) -> AsyncInvocation:
        """Fire ``function``'s timer trigger now with FC's time-trigger event, as its schedule would."""
        return self.timers.fire(function, trigger)

    # -------------------------------------------------------------------------------------------- invoke
    def invoke(
        self,
        function: str,
        payload: bytes | str | Mapping[str, Any] | None = None,
        *,
        service: str | None = None,
        log_type: str | None = None,
    ) -> bytes:
        """Invoke an event function through the InvokeFunction API (signed, as ``fc2.Client`` does).

        Returns the function's answer; raises :class:`FunctionInvocationError` when FC would set
        ``X-Fc-Error-Type`` (the function raised, timed out or its process died).
        """
        spec = self.spec(function, service)
        body = _payload_bytes(payload)
        path = wire.invocations_path(spec)
        if spec.is_fc3:
            headers = {"content-type": "application/octet-stream", "host": f"{self._server.host}:{self._server.port}",
                       "x-fc-invocation-type": "Sync"}
            if log_type:
                headers["x-fc-log-type"] = log_type
            return self._send_invoke(spec, path, body, fc3api.sign(self.credentials, "POST", path, "", headers, body))
        headers = {
            "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
            "Content-Type": "application/octet-stream",
            H_INVOCATION_TYPE: "Sync",
        }
        if log_type:
            headers[H_LOG_TYPE] = log_type
        if self.credentials.security_token:
            headers["X-Fc-Security-Token"] = self.credentials.security_token
        headers["Authorization"] = fcapi.sign(self.credentials, fcapi.string_to_sign("POST", path, headers))
        return self._send_invoke(spec, path, body, headers)

    def _send_invoke(self, spec: FunctionSpec, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        conn = http.client.HTTPConnection(self._server.host, self._server.port, timeout=spec.timeout + 30)
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            error_type = resp.getheader(H_ERROR_TYPE)
            request_id = resp.getheader(H_REQUEST_ID)
        finally:
            conn.close()
        if error_type or resp.status >= 300:
            raise FunctionInvocationError(error_type or f"HTTP {resp.status}", data, request_id)
        return data

    # -------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> LocalFCHost:
        """Start every function's worker (in parallel), then serve. Raises :class:`WorkerStartError`."""
        if self._started:
            return self
        self._started = True
        overrides = self._env_overrides(self) if callable(self._env_overrides) else (self._env_overrides or {})
        self.registry.launcher.overrides = dict(overrides)
        workers = self.registry.start()
        if workers:
            with ThreadPoolExecutor(max_workers=min(len(workers), 16), thread_name_prefix="localfc-start") as pool:
                futures = [pool.submit(w.start) for w in workers]
                errors = [f.exception() for f in futures]
            failed = [e for e in errors if e is not None]
            if failed:
                self.stop()
                raise failed[0]
        self._server.start()
        for server in self.registry.url_servers():
            server.start()
        self.timers.start()
        return self

    def serve_forever(self) -> None:
        """Start (if needed) and serve in the calling thread until :meth:`stop`, SIGTERM or Ctrl-C."""
        import signal

        if not self._started:
            self.start()
        stop = threading.Event()
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
        try:
            while not stop.wait(0.5):
                if self._stopped:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
            self.stop()

    def stop(self) -> None:
        """Stop serving, then stop every worker (SIGTERM, SIGKILL after the grace period). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.timers.stop()
        self._server.stop()
        for server in self.registry.url_servers():
            server.stop()
        self._async.engine.stop(grace=0)  # no new attempts; the running ones end with their workers below
        workers = self.registry.all_workers()
        if workers:
            with ThreadPoolExecutor(max_workers=min(len(workers), 16), thread_name_prefix="localfc-stop") as pool:
                list(pool.map(lambda w: w.stop(), workers))
        self._async.engine.stop(grace=self._stop_grace)
        self.control.close()

    def __enter__(self) -> LocalFCHost:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _payload_bytes(payload: bytes | str | Mapping[str, Any] | None) -> bytes:
    if isinstance(payload, Mapping):
        return json.dumps(payload).encode("utf-8")
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return payload or b""


__all__ = ["LocalFCHost", "INHERITED_ENV"]
