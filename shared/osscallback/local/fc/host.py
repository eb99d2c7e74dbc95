"""The local FC host: every function of a template behind one multi-threaded WSGI server, shaped like FC.

Routes on :attr:`LocalFCHost.endpoint` (``<svc>`` may carry a qualifier, ``svc.LATEST``, which is ignored):

| request | goes to |
| --- | --- |
| ``ANY /2016-08-15/proxy/<svc>/<fn>/<rest>`` | FC 2.0 HTTP fn ``fn`` (``PATH_INFO`` = ``/<rest>``, raw URI kept) |
| ``ANY /<fn>/<rest>`` (short path) | the same, when exactly one FC 2.0 HTTP function is called ``fn`` |
| ``POST /2016-08-15/services/<svc>/functions/<fn>/invocations`` | FC 2.0 event function ``fn`` (InvokeFunction) |
| ``GET /2016-08-15/services/<svc>/functions/<fn>`` | the function's configuration (GetFunction) |
| ``POST /2023-03-30/functions/<fn>/invocations`` | FC 3.0 function ``fn`` (FC 3.0's InvokeFunction) |
| ``/2023-03-30/functions…``, ``GET /2016-08-15/tempBucketToken`` | the FC 3.0 control plane (:mod:`.controlplane`) |
| ``GET /`` | JSON index of the functions and their URLs |

FC 3.0 HTTP functions are served, as on FC 3.0, at a function URL of their own (:meth:`LocalFCHost.url_for`: a
port of their own on the same address), where every request becomes FC 3.0's HTTP event (:mod:`.httpevent`).

API calls must carry the FC 2.0 SDK's signature (``fc2.Client``; :mod:`.fcapi`) or the FC 3.0 SDKs' ACS3 signature
(:mod:`.fc3api`), made with the host's credentials (``verify_signatures=False`` accepts any), as FC does; a wrong
key gets FC's error document. HTTP triggers are anonymous, like the templates'. Every invocation gets a new request
id (``X-Fc-Request-Id``), runs in its function's own worker process with its ``template.yml`` environment, and is
cut off after the declared timeout: FC's timeout error is answered and the process is killed (a runaway function
stops running) and started again on the next call. Logs are printed prefixed with the function's name.

Instances: each function runs in ``instances`` worker processes (default 1; an ``int`` applies to every
HTTP-triggered function, a mapping ``{function name: N}`` to any function). Each instance is its own process with
its own memory, its own ``FC_INSTANCE_ID`` and its own log label (``callback#2``), as FC scales a function out
over instances; a request goes to the instance with the fewest requests in flight, ties broken round-robin, so
consecutive requests alternate between idle instances and a bug that only shows across instances (state kept in
one process's memory) shows on a laptop. Requests to one instance run concurrently in it, like an FC instance
with instance concurrency > 1.

Asynchronous invocation (``X-Fc-Invocation-Type: Async``, :meth:`LocalFCHost.invoke_async`, and every OSS
trigger through :meth:`LocalFCHost.dispatch_oss_event`) answers 202 at once and runs in the background with FC's
retry policy (:mod:`.asyncinvoke`: 3 retries after a failed attempt unless the template says otherwise); each
invocation and its attempts are recorded (:meth:`LocalFCHost.async_invocations`, ``async_observer``).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from osscallback.local.fc import fc3api, fcapi
from osscallback.local.fc.asyncinvoke import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRY_ATTEMPTS,
    AsyncInvocation,
    AsyncInvoker,
    AttemptResult,
    Observer,
)
from osscallback.local.fc.context import LOCAL_CREDENTIALS, FCContext, FCCredentials, FunctionMeta, ServiceMeta
from osscallback.local.fc.controlplane import ApiError, CodeFetcher, ControlPlane, TempBucket
from osscallback.local.fc.errors import FunctionInvocationError, UnknownFunctionError, WorkerStartError
from osscallback.local.fc.process import LogSink, WorkerProcess, print_sink
from osscallback.local.fc.protocol import INVOKE_PATH, WorkerConfig
from osscallback.local.fc.spec import FunctionSpec
from osscallback.local.httpserver import WSGIServer

StartResponse = Callable[..., Any]
EnvOverrides = Mapping[str, str] | Callable[["LocalFCHost"], Mapping[str, str]]
#: ``instances=``: a count for every HTTP-triggered function, or a count per function name.
Instances = int | Mapping[str, int]

#: Host environment variables a function instance inherits (FC instances start from a clean environment; these
#: keep the interpreter, locale, temp dir, CA bundle and proxy settings of the developer's machine working).
INHERITED_ENV = (
    "PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT",
    "VIRTUAL_ENV", "PYTHONPATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "COVERAGE_PROCESS_START",
)
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "content-length", "expect",
}
#: Set by the worker's own HTTP server, not by the function: the host's server sets its own.
_WORKER_SERVER_HEADERS = {"server", "date", "via"}
_REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 500: "Internal Server Error", 502: "Bad Gateway"}


@dataclass(frozen=True)
class _Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class _Outcome:
    """What came back from a worker: an answer, or ``failure`` (FC's errorMessage) when there was none."""

    answer: _Answer | None = None
    failure: str | None = None
    instance: str = ""  # the label of the worker that handled it


class _Pool:
    """The instances of one function, and how many requests each has in flight (thread-safe)."""

    def __init__(self, workers: list[WorkerProcess]) -> None:
        self.workers = workers
        self.in_flight = [0] * len(workers)
        self._cursor = 0
        self._lock = threading.Lock()

    def acquire(self) -> int:
        """The least busy instance (ties: the next one round-robin); counts the request as in flight on it."""
        with self._lock:
            n = len(self.workers)
            order = [(self._cursor + i) % n for i in range(n)]
            index = min(order, key=lambda i: self.in_flight[i])
            self.in_flight[index] += 1
            self._cursor = (index + 1) % n
            return index

    def release(self, index: int) -> None:
        with self._lock:
            self.in_flight[index] -= 1


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
        seen: set[tuple[str, str]] = set()
        for spec in specs:
            if (spec.service, spec.name) in seen:
                raise ValueError(f"function {spec.qualified_name} is declared twice")
            seen.add((spec.service, spec.name))
        self.specs = list(specs)
        self.instances = instances
        if not all(self.instance_count(s) >= 1 for s in self.specs):
            raise ValueError(f"instances must be at least 1, got {instances!r}")
        if not 0 <= async_retry_attempts <= 8:
            raise ValueError("async_retry_attempts must be within FC's range 0-8")
        self.async_retry_attempts = async_retry_attempts
        self.credentials = credentials
        self.region = region
        self.account_id = account_id
        self.verify_signatures = verify_signatures
        self.log_sink = log_sink
        self._env_overrides = env_overrides
        self._python = python
        self._start_timeout = start_timeout
        self._stop_grace = stop_grace
        self._worker_threads = worker_threads
        self._bind = host
        self._threads = threads
        self._server = WSGIServer(self._app, host=host, port=port, threads=threads)
        self._pools: dict[tuple[str, str], _Pool] = {}
        self._overrides: Mapping[str, str] = {}
        self._lock = threading.RLock()  # specs, pools and function URLs change under it (control plane)
        #: FC 3.0 HTTP functions' own servers (their function URLs), by function name; bound now, so URLs are known.
        self._function_urls: dict[str, WSGIServer] = {}
        for spec in self.specs:
            if spec.is_fc3 and spec.is_http:
                self._function_urls[spec.name] = self._url_server(spec.name)
        self.control = ControlPlane(self, code_root=None if code_root is None else Path(code_root),
                                    code_fetcher=code_fetcher, temp_bucket=temp_bucket)
        for spec in self.specs:
            if spec.is_fc3:
                self.control.adopt(spec)
        self._async = AsyncInvoker(self._async_attempt, backoff=async_backoff, observer=async_observer)
        self._started = False
        self._stopped = False

    # -------------------------------------------------------------------------------------------- public API
    @property
    def endpoint(self) -> str:
        """The FC endpoint to give ``fc2.Client(endpoint=...)``, e.g. ``http://127.0.0.1:41234``."""
        return self._server.url

    def spec(self, function: str, service: str | None = None) -> FunctionSpec:
        """The function called ``function`` (in ``service``, if given; else it must be unique)."""
        matches = [s for s in list(self.specs) if s.name == function and (service is None or s.service == service)]
        if len(matches) != 1:
            what = "no function" if not matches else "several functions"
            raise UnknownFunctionError(f"{what} named {function!r}" + (f" in service {service!r}" if service else ""))
        return matches[0]

    def url_for(self, function: str, proxy: bool = True, service: str | None = None) -> str:
        """URL of an HTTP function: FC 2.0's ``/2016-08-15/proxy/<svc>/<fn>/`` (or the short ``/<fn>/``); for an
        FC 3.0 function its function URL, ``http://127.0.0.1:<its port>/``."""
        spec = self.spec(function, service)
        if spec.is_fc3:
            server = self._function_urls.get(spec.name)
            if server is None:
                raise UnknownFunctionError(f"function {spec.name!r} has no HTTP trigger")
            return f"{server.url}/"
        if proxy:
            return f"{self.endpoint}/{fcapi.API_VERSION}/proxy/{quote(spec.service)}/{quote(spec.name)}/"
        return f"{self.endpoint}/{quote(spec.name)}/"

    def invoke_url(self, function: str, service: str | None = None) -> str:
        spec = self.spec(function, service)
        return f"{self.endpoint}{_invocations_path(spec)}"

    def has_function_url(self, function: str) -> bool:
        return function in self._function_urls

    # -------------------------------------------------------------------------------------------- deploying
    def deploy(self, spec: FunctionSpec, *, restart: bool = True) -> None:
        """Add ``spec``, or replace the function of that name (what the control plane's Create/Update do).

        ``restart=False`` keeps the running instances when only triggers changed. An FC 3.0 HTTP function gets its
        function URL (and keeps it across updates); one that lost its HTTP trigger loses it.
        """
        with self._lock:
            key = (spec.service, spec.name)
            old = next((s for s in self.specs if (s.service, s.name) == key), None)
            if spec.is_fc3 and spec.is_http and spec.name not in self._function_urls:
                server = self._function_urls[spec.name] = self._url_server(spec.name)
                if self._started:
                    server.start()
            if spec.is_fc3 and not spec.is_http and spec.name in self._function_urls:
                self._function_urls.pop(spec.name).stop()
            self.specs = [spec if (s.service, s.name) == key else s for s in self.specs] if old else [*self.specs,
                                                                                                      spec]
            pool = self._pools.get(key)
            if pool is not None and not restart and old is not None and self.instance_count(old) == \
                    self.instance_count(spec):
                return
            if self._started:
                count = self.instance_count(spec)
                self._pools[key] = _Pool([self._make_worker(spec, self._overrides,
                                                            spec.name + (f"#{i + 1}" if i else ""))
                                          for i in range(count)])
        if pool is not None:
            for worker in pool.workers:  # requests already running on them end with an error, as on FC
                worker.stop()

    def undeploy(self, function: str, service: str = "") -> None:
        """Remove a function: its instances stop and its function URL closes."""
        with self._lock:
            key = (service, function)
            self.specs = [s for s in self.specs if (s.service, s.name) != key]
            pool = self._pools.pop(key, None)
            server = self._function_urls.pop(function, None) if not service else None
        if server is not None:
            server.stop()
        if pool is not None:
            for worker in pool.workers:
                worker.stop()

    def instance_count(self, spec: FunctionSpec) -> int:
        """How many instances (worker processes) run ``spec``: see ``instances=``."""
        if isinstance(self.instances, Mapping):
            return int(self.instances.get(spec.name, 1))
        return int(self.instances) if spec.is_http else 1

    def worker_pids(self) -> dict[str, int]:
        """PID of each running worker, by ``service/function`` (``service/function#N`` for instance N > 1)."""
        pids: dict[str, int] = {}
        for (service, name), pool in self._pools.items():
            for index, worker in enumerate(pool.workers):
                if worker.pid is not None:
                    pids[f"{service}/{name}" + (f"#{index + 1}" if index else "")] = worker.pid
        return pids

    def worker(self, function: str, service: str | None = None) -> WorkerProcess:
        """The function's first instance (see :meth:`workers` for all of them)."""
        return self.workers(function, service)[0]

    def workers(self, function: str, service: str | None = None) -> list[WorkerProcess]:
        """Every instance of the function, in order (``callback``, ``callback#2``, ...)."""
        spec = self.spec(function, service)
        return list(self._pools[(spec.service, spec.name)].workers)

    # -------------------------------------------------------------------------------------------- async
    @property
    def async_observer(self) -> Observer | None:
        """Called with a fresh :class:`AsyncInvocation` snapshot at every change of every async invocation."""
        return self._async.observer

    @async_observer.setter
    def async_observer(self, observer: Observer | None) -> None:
        self._async.observer = observer

    def async_invocations(self) -> list[AsyncInvocation]:
        """Every asynchronous invocation so far (latest snapshot of each), oldest first."""
        return self._async.records()

    def async_invocation(self, request_id: str) -> AsyncInvocation | None:
        return self._async.get(request_id)

    def wait_async(self, timeout: float | None = None, request_ids: list[str] | None = None) -> bool:
        """Wait until every asynchronous invocation (or those named) is done, retries included."""
        return self._async.wait(timeout, request_ids)

    def invoke_async(
        self,
        function: str,
        payload: bytes | str | Mapping[str, Any] | None = None,
        *,
        service: str | None = None,
        source: str = "InvokeFunction",
    ) -> AsyncInvocation:
        """Queue an asynchronous invocation of an event function (as ``X-Fc-Invocation-Type: Async`` does)."""
        return self._submit_async(self.spec(function, service), _payload_bytes(payload), source)

    def dispatch_oss_event(self, event: Mapping[str, Any] | bytes | str) -> list[AsyncInvocation]:
        """Deliver an OSS event document to every function whose OSS trigger matches, asynchronously.

        ``event`` is the official OSS trigger event (``{"events": [record, ...]}``). For each function with an
        OSS trigger matching a record (bucket, event name — ``oss:`` prefix and ``*`` wildcards as in the
        template — and key prefix/suffix, see :mod:`.osstrigger`), the function is invoked asynchronously, with
        FC's retries, with the matching records as ``{"events": [...]}`` (the whole document when all match).
        Returns the queued invocations (none when nothing matches).
        """
        if isinstance(event, bytes | str):
            try:
                event = json.loads(event)
            except ValueError as exc:
                raise ValueError(f"not an OSS event document (JSON): {exc}") from None
        if not isinstance(event, Mapping):
            raise ValueError("an OSS event document is a JSON object with an 'events' list")
        queued: list[AsyncInvocation] = []
        records = event.get("events")
        for spec in list(self.specs):
            for trigger in spec.oss_triggers:
                matching = trigger.select(event)
                if not matching:
                    continue
                doc = dict(event) if len(matching) == len(records or ()) else {**event, "events": matching}
                payload = json.dumps(doc, ensure_ascii=False).encode("utf-8")
                queued.append(self._submit_async(spec, payload, f"oss:{trigger.name}"))
                break  # one invocation per function and event, however many of its triggers match
        return queued

    def _submit_async(self, spec: FunctionSpec, payload: bytes, source: str) -> AsyncInvocation:
        if spec.is_http and not spec.is_fc3:
            raise UnknownFunctionError(f"function {spec.qualified_name} has an HTTP trigger: it is not invoked "
                                       "with events")
        retries = self.async_retry_attempts if spec.async_retry_attempts is None else spec.async_retry_attempts
        record = AsyncInvocation(request_id=str(uuid.uuid4()), service=spec.service, function=spec.name,
                                 source=source, payload=payload, max_attempts=1 + max(0, retries),
                                 created=time.time())
        return self._async.submit(record)

    def _async_attempt(self, record: AsyncInvocation) -> AttemptResult:
        """One attempt of an asynchronous invocation: a synchronous call to one of the function's instances."""
        spec = self.spec(record.function, record.service)
        headers = [(fcapi.I_REQUEST_ID, record.request_id), ("Content-Type", "application/octet-stream")]
        outcome = self._call(spec, "POST", INVOKE_PATH, headers, record.payload)
        if outcome.answer is None:
            message = outcome.failure or "the function failed"
            self.log_sink(outcome.instance or spec.name,
                          f"FC Invoke End RequestId: {record.request_id}, Error: {message}")
            return AttemptResult(fcapi.UNHANDLED, message, outcome.instance)
        error_type = next((v for k, v in outcome.answer.headers if k.lower() == fcapi.H_ERROR_TYPE.lower()), None)
        if error_type:
            return AttemptResult(error_type, _error_message(outcome.answer.body), outcome.instance,
                                 outcome.answer.body)
        return AttemptResult(None, None, outcome.instance, outcome.answer.body)

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
        path = _invocations_path(spec)
        if spec.is_fc3:
            headers = {"content-type": "application/octet-stream", "host": f"{self._server.host}:{self._server.port}",
                       "x-fc-invocation-type": "Sync"}
            if log_type:
                headers["x-fc-log-type"] = log_type
            return self._send_invoke(spec, path, body, fc3api.sign(self.credentials, "POST", path, "", headers, body))
        headers = {
            "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
            "Content-Type": "application/octet-stream",
            fcapi.H_INVOCATION_TYPE: "Sync",
        }
        if log_type:
            headers[fcapi.H_LOG_TYPE] = log_type
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
            error_type = resp.getheader(fcapi.H_ERROR_TYPE)
            request_id = resp.getheader(fcapi.H_REQUEST_ID)
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
        self._overrides = dict(overrides)
        with self._lock:
            for spec in self.specs:
                count = self.instance_count(spec)
                self._pools[(spec.service, spec.name)] = _Pool(
                    [self._make_worker(spec, overrides, spec.name + (f"#{i + 1}" if i else "")) for i in range(count)])
            workers = [w for pool in self._pools.values() for w in pool.workers]
        if workers:
            with ThreadPoolExecutor(max_workers=min(len(workers), 16), thread_name_prefix="localfc-start") as pool:
                futures = [pool.submit(w.start) for w in workers]
                errors = [f.exception() for f in futures]
            failed = [e for e in errors if e is not None]
            if failed:
                self.stop()
                raise failed[0]
        self._server.start()
        for server in list(self._function_urls.values()):
            server.start()
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
        self._server.stop()
        for server in list(self._function_urls.values()):
            server.stop()
        self._async.stop(grace=0)  # no new attempts; the running ones end with their workers below
        workers = [w for pool in self._pools.values() for w in pool.workers]
        if workers:
            with ThreadPoolExecutor(max_workers=min(len(workers), 16), thread_name_prefix="localfc-stop") as pool:
                list(pool.map(lambda w: w.stop(), workers))
        self._async.stop(grace=self._stop_grace)
        self.control.close()

    def __enter__(self) -> LocalFCHost:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -------------------------------------------------------------------------------------------- workers
    def _make_worker(self, spec: FunctionSpec, overrides: Mapping[str, str], label: str) -> WorkerProcess:
        context = FCContext(
            request_id="",
            credentials=self.credentials,
            function=FunctionMeta(spec.name, spec.handler, spec.memory_mb, int(round(spec.timeout))),
            service=ServiceMeta(spec.service, spec.log_project, spec.log_store),
            region=self.region,
            account_id=self.account_id,
        )
        config = WorkerConfig(
            handler=spec.handler,
            code_dir=str(Path(spec.code_dir).resolve()),
            kind="fc3" if spec.is_fc3 else "http" if spec.is_http else "event",
            context=context,
            threads=self._worker_threads,
        )
        return WorkerProcess(
            label,
            config,
            self._function_env(spec, config, overrides),
            sink=self.log_sink,
            python=self._python,
            start_timeout=self._start_timeout,
            stop_grace=self._stop_grace,
        )

    def _function_env(self, spec: FunctionSpec, config: WorkerConfig, overrides: Mapping[str, str]) -> dict[str, str]:
        """Inherited basics, then the template's variables, then the overrides, then FC's system variables."""
        env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
        env.update(spec.env)
        env.update(overrides)
        creds = self.credentials
        env.update(
            {
                "FC_FUNC_CODE_PATH": config.code_dir,
                "FC_FUNCTION_NAME": spec.name,
                "FC_FUNCTION_HANDLER": spec.handler,
                "FC_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "FC_REGION": self.region,
                "FC_ACCOUNT_ID": self.account_id,
                "FC_INSTANCE_ID": uuid.uuid4().hex,
                "ALIBABA_CLOUD_ACCESS_KEY_ID": creds.access_key_id,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": creds.access_key_secret,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if creds.security_token:
            env["ALIBABA_CLOUD_SECURITY_TOKEN"] = creds.security_token
        # The worker bootstrap (this package) must import even when the host runs from a source tree.
        package_root = str(Path(__file__).resolve().parents[3])  # the directory holding osscallback/
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if package_root not in paths:
            env["PYTHONPATH"] = os.pathsep.join([*paths, package_root])
        return env

    def _call(
        self, spec: FunctionSpec, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> _Outcome:
        """Send one request to one of the function's instances, enforcing the declared timeout."""
        with self._lock:
            pool = self._pools.get((spec.service, spec.name))
        if pool is None:
            return _Outcome(failure=f"function {spec.qualified_name} is not deployed")
        index = pool.acquire()
        try:
            return self._call_instance(spec, pool.workers[index], method, target, headers, body)
        finally:
            pool.release(index)

    def _call_instance(
        self, spec: FunctionSpec, worker: WorkerProcess, method: str, target: str, headers: list[tuple[str, str]],
        body: bytes,
    ) -> _Outcome:
        label = worker.label
        try:
            generation, port = worker.ensure_running()
        except WorkerStartError as exc:
            return _Outcome(failure=f"Function instance failed to start: {exc}", instance=label)
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=spec.timeout)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            if conn.sock is not None:
                conn.sock.settimeout(max(0.001, spec.timeout - (time.monotonic() - started)))
            resp = conn.getresponse()
            data = resp.read()
            return _Outcome(_Answer(f"{resp.status} {resp.reason}", resp.getheaders(), data), instance=label)
        except TimeoutError:  # socket.timeout is TimeoutError since 3.10
            worker.kill(generation)
            return _Outcome(failure=f"Function timed out after {_seconds(spec.timeout)} seconds", instance=label)
        except (OSError, http.client.HTTPException):
            worker.kill(generation)  # half-dead or gone: start afresh on the next call
            elapsed = int((time.monotonic() - started) * 1000)
            return _Outcome(failure=f"Process exited unexpectedly before completing request (duration: {elapsed}ms)",
                            instance=label)
        finally:
            conn.close()

    # -------------------------------------------------------------------------------------------- routing
    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raw_uri = _raw_uri(environ)
        raw_path, _, raw_query = raw_uri.partition("?")
        segments = raw_path.split("/")  # ['', '2016-08-15', 'proxy', svc, fn, ...]
        method = environ.get("REQUEST_METHOD", "GET").upper()
        answer: _Answer
        if len(segments) >= 3 and segments[1] == fcapi.API_VERSION and segments[2] == "proxy":
            if len(segments) < 5 or not segments[4]:
                answer = _api_error(404, "PathNotSupported", f"'{method}' against '{raw_path}' is not supported")
            else:
                rest = "/" + "/".join(segments[5:])
                answer = self._http_route(environ, _service_name(segments[3]), unquote(segments[4]), rest,
                                          raw_query, raw_uri)
        elif len(segments) >= 3 and segments[1] == fcapi.API_VERSION and segments[2] == "services":
            answer = self._api_route(environ, method, raw_path, raw_query, segments)
        elif raw_path == f"/{fcapi.API_VERSION}/tempBucketToken":
            answer = self._temp_bucket_route(environ, method, raw_path, raw_query)
        elif len(segments) >= 2 and segments[1] == fc3api.API_VERSION:
            answer = self._fc3_route(environ, method, raw_path, raw_query, segments)
        elif raw_path in ("", "/"):
            answer = self._index()
        else:
            name = unquote(segments[1])
            matches = [s for s in list(self.specs) if s.name == name and s.is_http and not s.is_fc3]
            if len(matches) != 1:
                proxy = f"/{fcapi.API_VERSION}/proxy/<service>/{name}/"
                message = (f"no HTTP function named '{name}'" if not matches else
                           f"several HTTP functions are named '{name}': use {proxy}")
                answer = _api_error(404, "FunctionNotFound", message, common=True)
            else:
                rest = "/" + "/".join(segments[2:])
                answer = self._http_route(environ, matches[0].service, name, rest, raw_query, raw_uri)
        start_response(answer.status, answer.headers)
        return [answer.body]

    def _find(self, service: str, function: str) -> FunctionSpec | _Answer:
        specs = [s for s in list(self.specs) if not s.is_fc3]
        if not any(s.service == service for s in specs):
            return _api_error(404, "ServiceNotFound", f"service '{service}' does not exist")
        for spec in specs:
            if spec.service == service and spec.name == function:
                return spec
        return _api_error(404, "FunctionNotFound", f"function '{function}' does not exist in service '{service}'")

    def _http_route(
        self, environ: dict[str, Any], service: str, function: str, rest: str, raw_query: str, raw_uri: str
    ) -> _Answer:
        found = self._find(service, function)
        if isinstance(found, _Answer):
            return _with_common_error(found)
        spec = found
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if spec.http_methods is None:
            return _api_error(404, "TriggerNotFound", f"function '{spec.name}' has no HTTP trigger", common=True)
        if method not in spec.http_methods:
            return _api_error(403, "MethodNotAllowed",
                              f"method {method} is not allowed by the HTTP trigger of '{spec.name}' "
                              f"(allowed: {', '.join(spec.http_methods)})", common=True)
        target = rest + (f"?{raw_query}" if raw_query else "")
        return self._forward_http(spec, environ, method, target, raw_uri)

    def _forward_http(self, spec: FunctionSpec, environ: dict[str, Any], method: str, target: str, raw_uri: str,
                      extra: Sequence[tuple[str, str]] = ()) -> _Answer:
        """One HTTP-trigger request to one of the function's instances, and its answer back."""
        request_id = str(uuid.uuid4())
        body = _read_body(environ)
        headers = _forward_headers(environ)
        headers += [
            (fcapi.I_REQUEST_ID, request_id),
            (fcapi.I_REQUEST_URI, raw_uri),
            (fcapi.I_REMOTE_ADDR, str(environ.get("REMOTE_ADDR", ""))),
            *extra,
        ]
        outcome = self._call(spec, method, target, headers, body)
        if outcome.answer is None:
            self.log_sink(outcome.instance or spec.name,
                          f"FC Invoke End RequestId: {request_id}, Error: {outcome.failure}")
            error = _Answer("502 Bad Gateway", _json_headers(), fcapi.function_error(outcome.failure or ""))
            error.headers.append((fcapi.H_ERROR_TYPE, fcapi.UNHANDLED))
            return _with_request_id(error, request_id)
        answer = outcome.answer
        headers_out = [(k, v) for k, v in answer.headers if not _private(k)]
        return _with_request_id(_Answer(answer.status, headers_out, answer.body), request_id)

    def _api_route(
        self, environ: dict[str, Any], method: str, raw_path: str, raw_query: str, segments: list[str]
    ) -> _Answer:
        # ['', '2016-08-15', 'services', svc, 'functions', fn, ('invocations')]
        is_function = len(segments) >= 6 and segments[4] == "functions" and segments[5]
        invocations = is_function and len(segments) == 7 and segments[6] == "invocations" and method == "POST"
        metadata = is_function and len(segments) == 6 and method == "GET"
        if not (invocations or metadata):
            return _api_error(400, "PathNotSupported", f"'{method}' against '{raw_path}' is not supported")
        if self.verify_signatures:
            problem = fcapi.check_signature(self.credentials, method, unquote(raw_path), raw_query,
                                            _request_headers(environ))
            if problem is not None:
                status, code, message = problem
                return _api_error(status, code, message)
        found = self._find(_service_name(unquote(segments[3])), unquote(segments[5]))
        if isinstance(found, _Answer):
            return found
        if metadata:
            return _with_request_id(_Answer("200 OK", _json_headers(), json.dumps(_function_doc(found)).encode()),
                                    str(uuid.uuid4()))
        return self._invoke_route(environ, found)

    def _invoke_route(self, environ: dict[str, Any], spec: FunctionSpec) -> _Answer:
        if spec.is_http:
            url = self.url_for(spec.name, True, spec.service)
            return _api_error(400, "InvalidArgument", f"function '{spec.name}' has an HTTP trigger: call it at {url}")
        payload = _read_body(environ)
        if environ.get("HTTP_X_FC_INVOCATION_TYPE", "").lower() == "async":
            record = self._submit_async(spec, payload, "InvokeFunction")
            return _with_request_id(_Answer("202 Accepted", [("Content-Length", "0")], b""), record.request_id)
        return self._sync_invoke(spec, environ, payload, str(uuid.uuid4()))

    def _sync_invoke(self, spec: FunctionSpec, environ: dict[str, Any], payload: bytes, request_id: str) -> _Answer:
        """InvokeFunction (FC 2.0 and 3.0 alike): the answer, or FC's error document with ``X-Fc-Error-Type``."""
        tail = environ.get("HTTP_X_FC_LOG_TYPE", "").lower() == "tail"
        headers = [(fcapi.I_REQUEST_ID, request_id), ("Content-Type", "application/octet-stream")]
        if tail:
            headers.append((fcapi.I_LOG_TYPE, "Tail"))
        outcome = self._call(spec, "POST", INVOKE_PATH, headers, payload)
        if outcome.answer is None:
            message = f"FC Invoke End RequestId: {request_id}, Error: {outcome.failure}"
            self.log_sink(outcome.instance or spec.name, message)
            out = _json_headers() + [(fcapi.H_ERROR_TYPE, fcapi.UNHANDLED)]
            if tail:
                out.append((fcapi.H_LOG_RESULT, fcapi.log_tail(message.encode("utf-8") + b"\n")))
            return _with_request_id(_Answer("200 OK", out, fcapi.function_error(outcome.failure or "")), request_id)
        answer = outcome.answer
        out = []
        for name, value in answer.headers:
            lower = name.lower()
            if lower == fcapi.I_LOG_RESULT.lower():
                out.append((fcapi.H_LOG_RESULT, value))
            elif lower in ("content-type", fcapi.H_ERROR_TYPE.lower()):
                out.append((name, value))
        return _with_request_id(_Answer("200 OK", out, answer.body), request_id)

    # -------------------------------------------------------------------------------------------- FC 3.0
    def _url_server(self, function: str) -> WSGIServer:
        """The server behind an FC 3.0 function URL (port bound now, served once the host starts)."""

        def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            answer = self._function_url_route(function, environ)
            start_response(answer.status, answer.headers)
            return [answer.body]

        return WSGIServer(app, host=self._bind, port=0, threads=self._threads)

    def _function_url_route(self, function: str, environ: dict[str, Any]) -> _Answer:
        spec = next((s for s in list(self.specs) if s.name == function and s.is_fc3), None)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if spec is None or spec.http_methods is None:
            return _api_error(404, "TriggerNotFound", f"function '{function}' has no HTTP trigger", common=True)
        if method not in spec.http_methods:
            return _api_error(403, "MethodNotAllowed",
                              f"method {method} is not allowed by the HTTP trigger of '{spec.name}' "
                              f"(allowed: {', '.join(spec.http_methods)})", common=True)
        raw_uri = _raw_uri(environ)
        extra = [(fcapi.I_TRIGGER, "http"), (fcapi.I_DOMAIN, str(environ.get("HTTP_HOST", "")))]
        return self._forward_http(spec, environ, method, fcapi.TRIGGER_PATH, raw_uri, extra)

    def _fc3_route(self, environ: dict[str, Any], method: str, raw_path: str, raw_query: str,
                   segments: list[str]) -> _Answer:
        request_id = str(uuid.uuid4())
        body = _read_body(environ)
        if self.verify_signatures:
            problem = fc3api.check_signature(self.credentials, method, raw_path, raw_query, _request_headers(environ),
                                             body)
            if problem is not None:
                return _fc3_error(problem[0], problem[1], problem[2], request_id)
        parts = [unquote(p) for p in segments[2:]]
        query = {k: v[-1] for k, v in fcapi.parse_query(raw_query).items()}
        if len(parts) == 3 and parts[0] == "functions" and parts[2] == "invocations" and method == "POST":
            return self._fc3_invoke(environ, parts[1], body, request_id)
        try:
            status, doc = self.control.handle(method, parts, query, body)
        except ApiError as exc:
            return _fc3_error(exc.status, exc.code, exc.message, request_id)
        data = b"" if doc is None else json.dumps(doc).encode("utf-8")
        headers = _json_headers() if doc is not None else []
        return _with_request_id(_Answer(f"{status} {_REASONS.get(status, 'OK')}", headers, data), request_id)

    def _fc3_invoke(self, environ: dict[str, Any], function: str, payload: bytes, request_id: str) -> _Answer:
        spec = next((s for s in list(self.specs) if s.name == function and s.is_fc3), None)
        if spec is None:
            return _fc3_error(404, "FunctionNotFound", f"function '{function}' does not exist", request_id)
        if environ.get("HTTP_X_FC_INVOCATION_TYPE", "").lower() == "async":
            record = self._submit_async(spec, payload, "InvokeFunction")
            return _with_request_id(_Answer("202 Accepted", [("Content-Length", "0")], b""), record.request_id)
        return self._sync_invoke(spec, environ, payload, request_id)

    def _temp_bucket_route(self, environ: dict[str, Any], method: str, raw_path: str, raw_query: str) -> _Answer:
        """FC 2.0's GetTempBucketToken, which fc3 asks (with FC 2.0's signature) before uploading code to OSS."""
        if method != "GET":
            return _api_error(400, "PathNotSupported", f"'{method}' against '{raw_path}' is not supported")
        if self.verify_signatures:
            problem = fcapi.check_signature(self.credentials, method, unquote(raw_path), raw_query,
                                            _request_headers(environ))
            if problem is not None:
                return _api_error(*problem)
        try:
            doc = self.control.temp_bucket_token()
        except ApiError as exc:
            return _api_error(exc.status, exc.code, exc.message)
        return _with_request_id(_Answer("200 OK", _json_headers(), json.dumps(doc).encode("utf-8")),
                                str(uuid.uuid4()))

    def _index(self) -> _Answer:
        functions = []
        for spec in list(self.specs):
            item: dict[str, Any] = {"service": spec.service, "function": spec.name, "handler": spec.handler,
                                    "timeout": spec.timeout, "kind": "http" if spec.is_http else "event",
                                    "instances": self.instance_count(spec)}
            if spec.oss_triggers:
                item["oss_triggers"] = [{"name": t.name, "bucket": t.bucket, "events": list(t.events),
                                         "prefix": t.prefix, "suffix": t.suffix} for t in spec.oss_triggers]
            if spec.is_fc3:
                item["fc_version"] = 3
            if spec.is_http:
                item["url"] = self.url_for(spec.name, True, spec.service)
                if not spec.is_fc3:
                    item["short_url"] = f"{self.endpoint}/{quote(spec.name)}/"
                item["methods"] = list(spec.http_methods or ())
            if spec.is_fc3 or not spec.is_http:
                item["invoke_url"] = self.invoke_url(spec.name, spec.service)
            functions.append(item)
        body = json.dumps({"endpoint": self.endpoint, "functions": functions}, indent=2).encode("utf-8")
        return _Answer("200 OK", _json_headers(), body)


# ------------------------------------------------------------------------------------------------ helpers
def _invocations_path(spec: FunctionSpec) -> str:
    if spec.is_fc3:
        return f"/{fc3api.API_VERSION}/functions/{quote(spec.name, safe='')}/invocations"
    return f"/{fcapi.API_VERSION}/services/{spec.service}/functions/{spec.name}/invocations"


def _raw_uri(environ: dict[str, Any]) -> str:
    """The request target as the client sent it (path still percent-encoded)."""
    raw_uri = str(environ.get("REQUEST_URI") or (quote(environ.get("PATH_INFO", "/")) + (
        "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")))
    if raw_uri.startswith(("http://", "https://")):
        parts = urlsplit(raw_uri)
        raw_uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return raw_uri


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers by lower-case name, as a signature check reads them."""
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _fc3_error(status: int, code: str, message: str, request_id: str) -> _Answer:
    answer = _Answer(f"{status} {_REASONS.get(status, 'Error')}", _json_headers(), fc3api.error(code, message,
                                                                                                request_id))
    return _with_request_id(answer, request_id)


def _service_name(segment: str) -> str:
    """``svc.qualifier`` → ``svc`` (FC service names cannot contain dots)."""
    return unquote(segment).partition(".")[0]


def _payload_bytes(payload: bytes | str | Mapping[str, Any] | None) -> bytes:
    if isinstance(payload, Mapping):
        return json.dumps(payload).encode("utf-8")
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return payload or b""


def _error_message(body: bytes) -> str:
    """FC's ``errorMessage`` from a function error document (the raw text when it is not one)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:1000]
    if isinstance(doc, dict) and "errorMessage" in doc:
        return str(doc["errorMessage"])
    return body.decode("utf-8", "replace")[:1000]


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _json_headers() -> list[tuple[str, str]]:
    return [("Content-Type", "application/json")]


def _api_error(status: int, code: str, message: str, *, common: bool = False) -> _Answer:
    headers = _json_headers()
    if common:
        headers.append((fcapi.H_ERROR_TYPE, fcapi.COMMON_ERROR))
    answer = _Answer(f"{status} {_REASONS.get(status, 'Error')}", headers, fcapi.api_error(code, message))
    return _with_request_id(answer, str(uuid.uuid4()))


def _with_common_error(answer: _Answer) -> _Answer:
    if any(k == fcapi.H_ERROR_TYPE for k, _ in answer.headers):
        return answer
    return _Answer(answer.status, [*answer.headers, (fcapi.H_ERROR_TYPE, fcapi.COMMON_ERROR)], answer.body)


def _with_request_id(answer: _Answer, request_id: str) -> _Answer:
    headers = [(k, v) for k, v in answer.headers if k.lower() != fcapi.H_REQUEST_ID.lower()]
    return _Answer(answer.status, [*headers, (fcapi.H_REQUEST_ID, request_id)], answer.body)


def _private(name: str) -> bool:
    lower = name.lower()
    return lower in _HOP_BY_HOP or lower in _WORKER_SERVER_HEADERS or lower.startswith(fcapi.INTERNAL_PREFIX)


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = (environ.get("CONTENT_LENGTH") or "").strip()
    if length.isdigit():
        return bytes(stream.read(int(length))) if int(length) else b""
    return bytes(stream.read())


def _forward_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The client's headers for the worker, minus hop-by-hop and any forged ``X-Localfc-*``."""
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if not key.startswith("HTTP_"):
            continue
        name = key[5:].replace("_", "-").title()
        lower = name.lower()
        if lower in _HOP_BY_HOP or lower.startswith(fcapi.INTERNAL_PREFIX):
            continue
        headers.append((name, str(value)))
    if environ.get("CONTENT_TYPE"):
        headers.append(("Content-Type", environ["CONTENT_TYPE"]))
    return headers


def _function_doc(spec: FunctionSpec) -> dict[str, Any]:
    """GetFunction's answer (the fields a client reads; FC's names)."""
    return {
        "functionName": spec.name,
        "handler": spec.handler,
        "runtime": spec.runtime,
        "timeout": int(round(spec.timeout)),
        "memorySize": spec.memory_mb,
        "environmentVariables": dict(spec.env),
        "description": f"local function of service {spec.service}",
    }


__all__ = ["LocalFCHost", "INHERITED_ENV"]
