"""Real parts for the delivery tests: a ``redis-server`` on a free 127.0.0.1 port, callback-function processes,
and a counting action whose runs are visible across processes (one line per run, appended to a file)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support import FIXTURES as _FIXTURES
from tests.support import ROOT

REGION = "cn-hangzhou"
MARKERS = ".osscallback/idempotency/"
#: The directory holding ``counting_action.py`` (put on PYTHONPATH, as a user's action module would be).
FIXTURES = _FIXTURES / "actions"
REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A port nothing listens on (bound and released): connections to it are refused."""
    return free_port()


def stop_process(proc: subprocess.Popen[Any] | None) -> None:
    """SIGTERM, then SIGKILL after 10 s: a child never outlives its fixture."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def start_cli(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """``osscallback <args>`` as a child process, and the one JSON line it prints once it serves."""
    proc = subprocess.Popen([sys.executable, "-m", "osscallback.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"osscallback {args[0]} exited with {proc.wait()}")
    return proc, json.loads(line)


class RedisServer:
    """``redis-server`` as a child process: no persistence, its own temp directory, a free port."""

    def __init__(self, workdir: Path) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            self.port = free_port()
            if self._launch():
                return self
            self.stop()  # the port was taken meanwhile, or the server died: another port
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def restart(self) -> RedisServer:
        """Start again on the same port (empty: no persistence), as a store coming back after an outage."""
        assert self.proc is None and self.port
        if self._launch():
            return self
        raise RuntimeError(f"redis-server did not start again on port {self.port}")

    def _launch(self) -> bool:
        """Run redis-server on :attr:`port`; True once it answers PING, False if it died or did not within 10 s."""
        self.proc = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                time.sleep(0.05)
        return False

    def flush(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        client.flushall()
        client.close()


def runs(log: Path) -> list[dict[str, Any]]:
    """The action's runs recorded by ``tests/support/fixtures/actions/counting_action.py``, in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


class CallbackProcess:
    """``osscallback serve`` in its own process: one FC instance of the callback function."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> CallbackProcess:
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join([str(FIXTURES), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        self.proc, info = start_cli(["serve", "--port", "0", "--json", "--threads", "48"], env)
        self.url = info["callback_url"]
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


class LocalOSSProcess:
    """``osscallback local oss`` in its own process, as OSS is a service of its own: a test that drives 64 client
    threads must not share its interpreter's GIL with the server holding the markers, or a loaded machine can stall
    a marker request past the store's timeout (a correct 503 that the test did not set out to provoke)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def start(self) -> LocalOSSProcess:
        self.proc, self.info = start_cli(["local", "oss", "--json", "--data-dir", str(self.data_dir)])
        return self

    def store_env(self, prefix: str = MARKERS) -> dict[str, str]:
        """The oss:// store on this server, signed with its AccessKey pair (no STS token: it has no API for one)."""
        url = f"oss://{self.info['bucket']}/{prefix}?region={REGION}&endpoint={self.info['endpoint']}&timeout=4"
        return {
            "CALLBACK_IDEMPOTENCY_STORE": url,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": self.info["access_key_id"],
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": self.info["access_key_secret"],
        }

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def oss_store_env(oss: Any, prefix: str = MARKERS) -> dict[str, str]:
    """What a function needs for the oss:// store on a local OSS: the URL and the function's credentials."""
    key_id, secret, token = oss.issue_sts_token()
    return {
        # timeout=4: the local OSS shares this loaded 2-core machine with 64-thread tests; OSS answers in ms
        "CALLBACK_IDEMPOTENCY_STORE": f"oss://{oss.bucket}/{prefix}?region={REGION}&endpoint={oss.endpoint}&timeout=4",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
        "ALIBABA_CLOUD_SECURITY_TOKEN": token,
    }
