"""Start-up and shut-down: Ctrl-C / SIGTERM (and even SIGKILL) of the host leave no process behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from osscallback.local.fc import FunctionSpec, LocalFCHost, WorkerStartError
from tests.support.fc import FIXTURES, ROOT, alive, children, request, wait_gone


@pytest.fixture()
def host_process() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, str(FIXTURES / "run_host.py")], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def started(proc: subprocess.Popen[str]) -> dict[str, object]:
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    pids = list(info["pids"].values())
    assert len(pids) == 2 and all(alive(p) for p in pids)
    assert sorted(children(proc.pid)) == sorted(pids)  # the workers, and nothing else
    status, _, _ = request(info["endpoint"] + "/web/")
    assert status == 200
    return info


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_signal_stops_host_and_every_worker(host_process: subprocess.Popen[str], sig: int) -> None:
    info = started(host_process)
    pids = list(info["pids"].values())
    host_process.send_signal(sig)
    assert host_process.wait(timeout=30) == 0
    assert wait_gone(pids) == []
    assert host_process.stdout is not None and "host stopped" in host_process.stdout.read()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_workers_exit_when_host_is_killed_hard(host_process: subprocess.Popen[str]) -> None:
    info = started(host_process)
    pids = list(info["pids"].values())
    host_process.kill()  # no chance to clean up: the workers notice on their own
    host_process.wait(timeout=30)
    assert wait_gone(pids) == []


def test_context_manager_stops_workers() -> None:
    specs = [FunctionSpec("svc", "echo", "index.handler", FIXTURES / "echo", timeout=5)]
    with LocalFCHost(specs, log_sink=lambda *_: None) as host:
        pid = host.worker_pids()["svc/echo"]
        assert json.loads(host.invoke("echo", {"op": "echo"}))["pid"] == pid
    assert wait_gone([pid]) == []
    assert host.worker_pids() == {}


def test_worker_that_cannot_start_fails_start_up(tmp_path: Path) -> None:
    (tmp_path / "index.py").write_text("import os\nos._exit(7)\n")  # dies during its cold start
    specs = [
        FunctionSpec("svc", "echo", "index.handler", FIXTURES / "echo", timeout=5),
        FunctionSpec("svc", "dies", "index.handler", tmp_path, timeout=5),
        FunctionSpec("svc", "nowhere", "index.handler", tmp_path / "missing", timeout=5),
    ]
    host = LocalFCHost(specs, log_sink=lambda *_: None)
    with pytest.raises(WorkerStartError) as caught:
        host.start()
    assert "dies" in str(caught.value) or "nowhere" in str(caught.value)
    assert host.worker_pids() == {}  # the one that did start was stopped again
