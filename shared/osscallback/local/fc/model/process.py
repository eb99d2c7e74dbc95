"""Supervises one function's worker process: start, wait until it serves, pump its logs, kill, restart.

Why a process per function: see :mod:`osscallback.local.fc.worker`. Why these choices:

- The worker's stdin is a pipe the host keeps open; EOF makes the worker exit immediately, so workers die with
  the host even when it is killed with SIGKILL (no ``preexec_fn``/``PR_SET_PDEATHSIG``, which on Linux fires
  when the *thread* that forked exits and is unsafe with threads).
- Each worker leads its own session: Ctrl-C in a terminal reaches only the host, which then stops the workers
  in order; and stopping or killing a worker signals its whole process group, including anything it spawned.
- A *generation* number identifies each started process, so a timed-out request only ever kills the process
  it was talking to, never a fresh one another request already started.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from osscallback.local.fc.errors import WorkerStartError
from osscallback.local.fc.protocol import READY_KEY, WORKER_MODULE, WorkerConfig
from osscallback.local.project import package_parent

#: The directory holding this ``osscallback`` package: where workers start, so ``-m`` finds the bootstrap.
LIBRARY_PARENT = str(package_parent())

#: ``sink(function_label, line)`` receives every line a worker prints.
LogSink = Callable[[str, str], None]


def print_sink(label: str, line: str) -> None:
    """Default log sink: ``<function> | <line>`` on the host's stderr."""
    sys.stderr.write(f"{label} | {line}\n")
    sys.stderr.flush()


@dataclass
class _Instance:
    proc: subprocess.Popen[bytes]
    reader: threading.Thread
    generation: int
    port: int = 0


class WorkerProcess:
    """One function instance. Thread-safe: requests call :meth:`ensure_running` concurrently."""

    def __init__(
        self,
        label: str,
        config: WorkerConfig,
        env: Mapping[str, str],
        *,
        sink: LogSink = print_sink,
        python: str = sys.executable,
        start_timeout: float = 60.0,
        stop_grace: float = 3.0,
    ) -> None:
        self.label = label
        self.config = config
        self.env = dict(env)
        self.sink = sink
        self.python = python
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.generation = 0
        self.restarts = 0
        self._lock = threading.Lock()
        self._current: _Instance | None = None
        self._recent: collections.deque[str] = collections.deque(maxlen=40)
        self._stopped = False

    @property
    def pid(self) -> int | None:
        current = self._current
        return current.proc.pid if current is not None and current.proc.poll() is None else None

    # -------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start the process if it is not running (idempotent); raises :class:`WorkerStartError`."""
        self.ensure_running()

    def ensure_running(self) -> tuple[int, int]:
        """``(generation, port)`` of a serving process, starting one if needed."""
        with self._lock:
            if self._stopped:
                raise WorkerStartError(f"{self.label}: the host is stopping")
            current = self._current
            if current is not None and current.proc.poll() is None:
                return current.generation, current.port
            if current is not None:  # it died (crash, os._exit): reap it and start a new one
                self._current = None
                self._reap(current)
                self.restarts += 1
            current = self._spawn()
            self._current = current
            return current.generation, current.port

    def kill(self, generation: int | None = None) -> None:
        """Kill the process (and its group) now, if it is still ``generation``; the next request restarts it."""
        with self._lock:
            current = self._current
            if current is None or (generation is not None and generation != current.generation):
                return
            self._current = None
            self.restarts += 1
        _signal_group(current.proc, signal.SIGKILL)
        self._reap(current)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_grace`` seconds; waits for the process and its log pump."""
        with self._lock:
            self._stopped = True
            current, self._current = self._current, None
        if current is None:
            return
        proc = current.proc
        _close(proc.stdin)
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
        self._reap(current)

    # -------------------------------------------------------------------------------------------- internals
    def _spawn(self) -> _Instance:
        self.generation += 1
        ready = threading.Event()
        port: list[int] = []
        try:
            proc = subprocess.Popen(
                [self.python, "-m", WORKER_MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Not the code directory: a packaged function ships its own osscallback/, which must not shadow the
                # worker bootstrap (the worker moves into the code directory itself, see worker.main).
                cwd=LIBRARY_PARENT,
                env=self.env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:  # no such interpreter or code directory
            where = self.config.code_dir
            raise WorkerStartError(f"{self.label}: cannot start {self.python} in {where}: {exc}") from exc
        assert proc.stdin is not None and proc.stdout is not None
        reader = threading.Thread(
            target=self._pump, args=(proc.stdout, ready, port), name=f"localfc-log-{self.label}", daemon=True
        )
        reader.start()
        instance = _Instance(proc, reader, self.generation)
        try:
            proc.stdin.write(self.config.to_json().encode("utf-8") + b"\n")
            proc.stdin.flush()
        except OSError:
            pass  # it died already: reported below with its output
        deadline = time.monotonic() + self.start_timeout
        while not ready.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                break
        if not port:
            reason = "did not start in time" if proc.poll() is None else f"exited with code {proc.poll()}"
            _signal_group(proc, signal.SIGKILL)
            self._reap(instance)
            output = "\n".join(self._recent)
            raise WorkerStartError(f"{self.label}: worker {reason}" + (f"; output:\n{output}" if output else ""))
        instance.port = port[0]
        return instance

    def _pump(self, stream: IO[bytes], ready: threading.Event, port: list[int]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not ready.is_set() and line.startswith('{"' + READY_KEY + '"'):
                try:
                    port.append(int(json.loads(line)[READY_KEY]["port"]))
                    ready.set()
                    continue
                except (ValueError, KeyError, TypeError):
                    pass
            self._recent.append(line)
            try:
                self.sink(self.label, line)
            except Exception:  # noqa: BLE001 - a broken sink must not stop the pump (the pipe would fill up)
                fallback = sys.__stderr__
                if fallback is not None:
                    fallback.write(f"{self.label} | {line}\n")
        _close(stream)

    def _reap(self, instance: _Instance) -> None:
        proc = instance.proc
        try:
            proc.wait(self.stop_grace + 5)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        _close(proc.stdin)
        if instance.reader is not threading.current_thread():
            instance.reader.join(timeout=2)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the worker's process group (it leads its own session), falling back to the process."""
    if proc.poll() is not None:
        return
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, sig)
        else:  # pragma: no cover - Windows
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def _close(stream: IO[bytes] | None) -> None:
    if stream is not None:
        try:
            stream.close()
        except OSError:
            pass
