"""Load: the callback function under a real WSGI server (waitress, in its own process, as a deployment runs it)
holds 64 concurrent keep-alive clients with zero errors and bounded memory.

Every request is a fresh upload (a new ``reqId``), so the idempotency store fills and then evicts for the whole
run; one request in eight is a forgery that must be refused with 403. The server's resident memory is sampled
from ``/proc/<pid>/status`` throughout: after warm-up it must stop growing (a leak in the key cache, the
idempotency store, waitress buffers or per-connection state would show as steady growth).

Short by default (5 s); ``OSSCB_LONG=1`` runs the issue's full 30 s (``OSSCB_LOAD_SECONDS`` overrides either).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from osscallback.testing import KeyServer, OssSigner, form_body
from tests.support.fuzz import LONG

pytestmark = [pytest.mark.usefixtures("quiet_callback_logs")]

CLIENTS = 64
SECONDS = float(os.environ.get("OSSCB_LOAD_SECONDS", "").strip() or (30 if LONG else 5))
IDEMPOTENCY_SIZE = 500
#: Growth allowed between the end of warm-up and the end of the run, and the absolute ceiling. Generous against
#: allocator noise on a loaded machine; a real leak at this request rate blows through both.
MAX_GROWTH_MIB = 24
MAX_RSS_MIB = 256

SERVER = """
import os, sys, threading
from osscallback.callback.core import load_app
from osscallback.local.httpserver import WSGIServer
from osscallback.callback.wsgi import make_wsgi_handler
server = WSGIServer(make_wsgi_handler(load_app()), threads=16)
print(server.port, flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), server.stop()), daemon=True).start()
server.serve_forever()
"""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture()
def server_process(key_server: KeyServer, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    env = dict(os.environ)
    env.update({"CALLBACK_KEY_URL_PREFIXES": key_server.prefix, "CALLBACK_IDEMPOTENCY_SIZE": str(IDEMPOTENCY_SIZE),
                "CALLBACK_ACTION": "none"})
    stderr = (tmp_path / "server.stderr").open("w")
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=stderr, text=True, env=env)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield proc, port
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()


@pytest.mark.slow
def test_64_keep_alive_clients_zero_errors_bounded_memory(
    server_process: tuple[subprocess.Popen[str], int], key_server: KeyServer
) -> None:
    proc, port = server_process
    fetches_before = key_server.total_fetches
    signer = OssSigner(key_server.private_key, key_server.key_url)
    url = f"http://127.0.0.1:{port}/cb"
    errors: list[str] = []
    counts = {"ok": 0, "forged": 0}
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)
    stop = threading.Event()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        i = 0
        while not stop.is_set():
            i += 1
            forged = i % 8 == 0
            signed = signer.sign(url, form_body({"bucket": "load", "object": f"c{n}/{i}.bin", "size": str(i),
                                                 "reqId": f"REQ-{n}-{i}"}))
            body = signed.body.replace(b"load", b"evil") if forged else signed.body
            headers = {k: v for k, v in signed.headers.items() if k != "Host"}
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/cb", body=body, headers=headers)
                resp = conn.getresponse()
                content = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(f"client {n} request {i}: {exc.__class__.__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            elapsed = time.perf_counter() - t0
            expected = 403 if forged else 200
            try:
                doc = json.loads(content)
            except ValueError:
                doc = None
            ok = resp.status == expected and isinstance(doc, dict) and resp.getheader("Content-Type") == (
                "application/json")
            if ok and not forged:
                ok = doc == {"Status": "OK", "bucket": "load", "object": f"c{n}/{i}.bin"}
            with lock:
                latencies.append(elapsed)
                if ok:
                    counts["forged" if forged else "ok"] += 1
                else:
                    errors.append(f"client {n} request {i}: HTTP {resp.status} {content[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(n,), name=f"load-{n}") for n in range(CLIENTS)]
    for t in threads:
        t.start()
    baseline = rss_mib(proc.pid)
    start.wait()
    began = time.monotonic()
    samples: list[tuple[float, float]] = []
    while (now := time.monotonic() - began) < SECONDS:
        samples.append((now, rss_mib(proc.pid)))
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert proc.poll() is None, "the server died"

    total = counts["ok"] + counts["forged"]
    latencies.sort()
    warm = [rss for at, rss in samples if at >= SECONDS / 4]
    report = {
        "seconds": SECONDS, "clients": CLIENTS, "requests": total, "errors": len(errors),
        "req_per_s": round(total / SECONDS), "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 1), "rss_idle_mib": round(baseline, 1),
        "rss_after_warmup_mib": round(warm[0], 1), "rss_peak_mib": round(max(rss for _, rss in samples), 1),
        "rss_end_mib": round(samples[-1][1], 1),
    }
    print("\nload:", json.dumps(report))
    assert errors == [], errors[:10]
    assert counts["forged"] > 0 and counts["ok"] > IDEMPOTENCY_SIZE, counts  # the store did fill and evict
    assert max(warm) - warm[0] < MAX_GROWTH_MIB, report
    assert max(rss for _, rss in samples) < MAX_RSS_MIB, report
    assert key_server.total_fetches - fetches_before == 1  # 64 cold clients, one key fetch
