"""`osscallback local` serves the inspector: its URL is printed, and `--json` carries it as `inspector_url` in the
endpoints line; the page lists the callbacks of the events the command ran."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support import ROOT
from tests.support.inspector import call

CLI = [sys.executable, "-m", "osscallback.cli"]


def _lines(proc: subprocess.Popen[str], want: str, timeout: float = 120) -> list[str]:
    """Stdout lines until one contains ``want`` (a reader thread: select() misses lines Python already buffered)."""
    got: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            got.put(line)
        got.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = got.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if want in line:
            return seen
    raise AssertionError(f"no line with {want!r} in {seen}")


def _run_local(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*CLI, "local", "--quiet-functions", "--data-dir", str(tmp_path), "--event",
                             "events/upload-put.json", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_json_endpoints_line_carries_the_inspector_url(tmp_path: Path) -> None:
    proc = _run_local(tmp_path, "--json")
    try:
        lines = [json.loads(line) for line in _lines(proc, '"inspector_url"')]
        event, ready = lines[0], lines[-1]
        assert {"oss_endpoint", "callback_url", "fc_endpoint"} <= set(ready)
        url = ready["inspector_url"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        status, _, doc = call(url + "api/callbacks")
        assert status == 200
        [row] = doc["callbacks"]
        assert row["object"] == event["key"] and row["verification"]["outcome"] == "verified"
        assert row["callback_url"] == ready["callback_url"]
    finally:
        _stop(proc)


def test_the_human_output_prints_the_inspector_url(tmp_path: Path) -> None:
    proc = _run_local(tmp_path)
    try:
        line = next(x for x in _lines(proc, "Inspector: ") if "Inspector: " in x)
        url = line.split("Inspector: ", 1)[1].split()[0]
        status, headers, _ = call(url)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
    finally:
        _stop(proc)
