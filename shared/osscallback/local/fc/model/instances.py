"""A function's instances: how one is launched, how a request picks one, and one request to it under the timeout.

Each instance is its own worker process (:mod:`.process`) with its own memory, its own ``FC_INSTANCE_ID`` and its
own log label (``callback#2``), as FC scales a function out over instances. A request goes to the instance with
the fewest requests in flight, ties broken round-robin (:class:`Pool`), so consecutive requests alternate between
idle instances and a bug that only shows across instances (state kept in one process's memory) shows on a laptop.

A request is cut off after the function's declared timeout: FC's timeout error is answered, and the process is
killed (a runaway function stops running) and started again on the next call (:func:`call`).
"""

from __future__ import annotations

import http.client
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from osscallback.local.fc.context import FCContext, FCCredentials, FunctionMeta, ServiceMeta
from osscallback.local.fc.errors import WorkerStartError
from osscallback.local.fc.model.abi import host_fit_note
from osscallback.local.fc.model.process import LIBRARY_PARENT, LogSink, WorkerProcess, print_sink
from osscallback.local.fc.protocol import WorkerConfig
from osscallback.local.fc.spec import FunctionSpec

#: Host environment variables a function instance inherits (FC instances start from a clean environment; these
#: keep the interpreter, locale, temp dir, CA bundle and proxy settings of the developer's machine working).
INHERITED_ENV = (
    "PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT",
    "VIRTUAL_ENV", "PYTHONPATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "COVERAGE_PROCESS_START",
)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: a worker's reply, or what the API sends back (``status`` is the whole status line)."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """What came back from a worker: an answer, or ``failure`` (FC's errorMessage) when there was none."""

    answer: Answer | None = None
    failure: str | None = None
    instance: str = ""  # the label of the worker that handled it


@dataclass
class Launcher:
    """What every instance of this host is started with: FC's context, the environment, the worker's settings.

    ``overrides`` (set when the host starts) is merged over every function's ``template.yml`` environment.
    """

    credentials: FCCredentials
    region: str
    account_id: str
    log_sink: LogSink = print_sink
    python: str = sys.executable
    start_timeout: float = 60.0
    stop_grace: float = 3.0
    worker_threads: int = 8
    overrides: Mapping[str, str] = field(default_factory=dict)

    def make_workers(self, spec: FunctionSpec, count: int) -> list[WorkerProcess]:
        """``count`` instances of ``spec``, labelled ``fn``, ``fn#2``, ... (not started).

        Says once when the package's native modules are for another Python than this host's (:mod:`.abi`).
        """
        note = host_fit_note(spec.runtime, spec.code_dir)
        if note:
            self.log_sink(spec.name, note)
        return [self.make_worker(spec, spec.name + (f"#{i + 1}" if i else "")) for i in range(count)]

    def make_worker(self, spec: FunctionSpec, label: str) -> WorkerProcess:
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
            threads=self.worker_threads,
        )
        return WorkerProcess(label, config, self.function_env(spec, config), sink=self.log_sink, python=self.python,
                             start_timeout=self.start_timeout, stop_grace=self.stop_grace)

    def function_env(self, spec: FunctionSpec, config: WorkerConfig) -> dict[str, str]:
        """Inherited basics, then the template's variables, then the overrides, then FC's system variables."""
        env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
        env.update(spec.env)
        env.update(self.overrides)
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
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if LIBRARY_PARENT not in paths:
            env["PYTHONPATH"] = os.pathsep.join([*paths, LIBRARY_PARENT])
        return env


class Pool:
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

    def call(self, spec: FunctionSpec, method: str, target: str, headers: list[tuple[str, str]],
             body: bytes) -> Outcome:
        """Send one request to the least busy instance."""
        index = self.acquire()
        try:
            return call(spec, self.workers[index], method, target, headers, body)
        finally:
            self.release(index)


def call(spec: FunctionSpec, worker: WorkerProcess, method: str, target: str, headers: list[tuple[str, str]],
         body: bytes) -> Outcome:
    """One request to one instance, cut off after the function's declared timeout (the process is then killed)."""
    label = worker.label
    try:
        generation, port = worker.ensure_running()
    except WorkerStartError as exc:
        return Outcome(failure=f"Function instance failed to start: {exc}", instance=label)
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
        return Outcome(Answer(f"{resp.status} {resp.reason}", resp.getheaders(), data), instance=label)
    except TimeoutError:  # socket.timeout is TimeoutError since 3.10
        worker.kill(generation)
        return Outcome(failure=f"Function timed out after {_seconds(spec.timeout)} seconds", instance=label)
    except (OSError, http.client.HTTPException):
        worker.kill(generation)  # half-dead or gone: start afresh on the next call
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(failure=f"Process exited unexpectedly before completing request (duration: {elapsed}ms)",
                       instance=label)
    finally:
        conn.close()


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


__all__ = ["INHERITED_ENV", "Answer", "Launcher", "Outcome", "Pool", "call"]
