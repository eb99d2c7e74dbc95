"""Helpers of the local FC host tests (tests/local/fc): log capture, raw HTTP, process checks."""

from __future__ import annotations

import http.client
import os
import threading
import time
from urllib.parse import urlsplit

from tests.support import FIXTURES as _FIXTURES
from tests.support import ROOT

TEMPLATE = ROOT / "template.fc2.yml"  # FC 2.0: services, proxy URLs (template.yml is FC 3.0)
#: The small fixture functions (echo, broken) and the host runner script of the lifecycle tests.
FIXTURES = _FIXTURES / "fc"
SERVICE = "oss-callback-fc"
#: What ${env(...)} resolves to in these tests (the local stack passes its own).
TEMPLATE_ENV = {"FC_REGION": "cn-hangzhou", "OSS_BUCKET": "local-bucket", "CALLBACK_URL": ""}
TIMEOUT = 2.0  # the fixture functions' declared timeout
ACCOUNT = "1234567890123456"  # the local host's default account id


class LogLines:
    """A log sink that keeps every ``(function, line)`` the host printed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lines: list[tuple[str, str]] = []

    def __call__(self, function: str, line: str) -> None:
        with self._lock:
            self.lines.append((function, line))

    def of(self, function: str) -> list[str]:
        with self._lock:
            return [line for name, line in self.lines if name == function]


def request(url: str, method: str = "GET", body: bytes = b"", headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
    """Send ``url``'s raw path and query byte for byte (no normalisation), as OSS does."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children(pid: int) -> list[int]:
    """Live child processes of ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def wait_gone(pids: list[int], within: float = 20.0) -> list[int]:
    """Wait until none of ``pids`` runs; returns those still running after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]
