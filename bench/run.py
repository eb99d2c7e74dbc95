"""The benchmark suite: every figure measured side by side with its baseline in the same run, printed as a ratio.

    .venv/bin/python bench/run.py            # full run (several minutes)
    .venv/bin/python bench/run.py --quick    # seconds: what CI runs to prove the suite works
    .venv/bin/python bench/run.py --only callback_http --json results.json

This machine is shared and noisy, so absolute numbers are context; the ratios (measured back to back, same
process layout, same load generator) are the result. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PY = sys.executable


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    ratio: float
    target: str
    met: bool | None
    note: str = ""


FIGURES: list[Figure] = []


def record(name: str, value: float, unit: str, baseline_name: str, baseline: float, ratio: float, target: str,
           met: bool | None, note: str = "") -> None:
    fig = Figure(name, value, unit, baseline_name, baseline, ratio, target, met, note)
    FIGURES.append(fig)
    mark = "-" if met is None else ("MET" if met else "MISSED")
    print(f"  {name:42} {value:10.2f} {unit:6} | {baseline_name:28} {baseline:10.2f} | ratio {ratio:7.3f} "
          f"| target {target:14} {mark}" + (f"  ({note})" if note else ""), flush=True)


# --------------------------------------------------------------------------------------------------- helpers
def _start(cmd: list[str], port_file: Path) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text())
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited with {proc.returncode}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


def _signed_pool(n: int, key_server: Any, target: str = "/callback?app=bench") -> list[dict[str, Any]]:
    """Distinct, validly signed callbacks (distinct reqId: no idempotency-cache shortcut), form and JSON."""
    from osscallback.testing import OssSigner, form_body

    signer = OssSigner(key_server.private_key, key_server.key_url)
    pool = []
    for i in range(n):
        if i % 2:
            body = json.dumps({"bucket": "examplebucket", "object": f"bench/{i}.jpg", "size": "1024",
                               "mimeType": "image/jpeg", "reqId": f"REQ{i:08d}", "x:app": "bench"}).encode()
            signed = signer.sign(f"http://127.0.0.1{target}", body, "application/json")
        else:
            body = form_body({"bucket": "examplebucket", "object": f"bench/{i} file+name.txt", "size": "1024",
                              "reqId": f"REQ{i:08d}", "x:app": "bench"})
            signed = signer.sign(f"http://127.0.0.1{target}", body)
        headers = {k: v for k, v in signed.headers.items() if k not in ("Host", "Content-Length")}
        pool.append({"target": target, "headers": headers, "body_b64": base64.b64encode(body).decode()})
    return pool


def _load(port: int, concurrency: int, count: int, pool_file: Path) -> dict[str, Any]:
    out = subprocess.run([PY, str(BENCH / "loadgen.py"), "127.0.0.1", str(port), str(concurrency), str(count),
                          str(pool_file)], capture_output=True, text=True, timeout=900, check=True)
    return json.loads(out.stdout)


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------------------------------- 1. HTTP
def bench_callback_http(quick: bool) -> None:
    """Signed callbacks over keep-alive HTTP vs (a) a no-op WSGI app and (b) the official sample's approach."""
    from osscallback.testing import KeyServer

    print("1. callback verification under load (separate load-generator process)", flush=True)
    counts = {1: 200, 16: 600, 64: 600} if quick else {1: 2000, 16: 10000, 64: 10000}
    with KeyServer() as keys, tempfile.TemporaryDirectory() as tmp:
        pool_file = Path(tmp) / "pool.json"
        pool_file.write_text(json.dumps(_signed_pool(max(counts.values()), keys)))
        servers = {}
        for kind, cmd in {
            "function": [PY, str(BENCH / "servers.py"), "function", str(Path(tmp) / "function.port"), keys.prefix],
            "noop": [PY, str(BENCH / "servers.py"), "noop", str(Path(tmp) / "noop.port")],
            "official": [PY, str(BENCH / "baselines" / "official_sample.py"), str(Path(tmp) / "official.port")],
        }.items():
            servers[kind] = _start(cmd, Path(tmp) / f"{kind}.port")
        try:
            for concurrency, count in counts.items():
                _load(servers["function"][1], concurrency, min(count, 200), pool_file)  # warm-up (key fetch)
                fn = _load(servers["function"][1], concurrency, count, pool_file)
                noop = _load(servers["noop"][1], concurrency, count, pool_file)
                official_count = max(50, count // (20 if quick else 10))
                official = _load(servers["official"][1], concurrency, official_count, pool_file)
                print(f"   c={concurrency:<3} function {fn['rps']:8.0f} req/s p50 {fn['p50_ms']:6.2f} ms "
                      f"p99 {fn['p99_ms']:6.2f} ms errors {fn['errors']} | noop {noop['rps']:8.0f} req/s "
                      f"p99 {noop['p99_ms']:6.2f} ms | official {official['rps']:6.0f} req/s "
                      f"p99 {official['p99_ms']:7.2f} ms errors {official['errors']}", flush=True)
                record(f"callback req/s c={concurrency} vs no-op", fn["rps"], "req/s", "no-op WSGI (ceiling)",
                       noop["rps"], fn["rps"] / noop["rps"], ">= 0.85", fn["rps"] / noop["rps"] >= 0.85,
                       f"errors {fn['errors']}")
                record(f"callback req/s c={concurrency} vs official", fn["rps"], "req/s", "official sample approach",
                       official["rps"], fn["rps"] / official["rps"], ">= 20", fn["rps"] / official["rps"] >= 20)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------------- 2. core
def bench_core(quick: bool) -> None:
    """Verify + parse + render in-process, against the bare cryptography RSA verify (the physical floor)."""
    from osscallback.callback.core import CallbackApp, CallbackRequest, normalize_headers
    from osscallback.callback.signature import decode_authorization, string_to_sign, verify
    from osscallback.testing import KeyServer

    print("2. per-request CPU cost of the core (no HTTP)", flush=True)
    n = 500 if quick else 5000
    with KeyServer() as keys:
        app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": keys.prefix})
        pool = _signed_pool(n, keys)
        requests = [CallbackRequest("POST", (("/callback", "app=bench"),), normalize_headers(item["headers"]),
                                    base64.b64decode(item["body_b64"])) for item in pool]
        app.handle(requests[0])  # key fetched and cached
        public_key = app.keys.get(keys.key_url)
        floor_inputs = [(decode_authorization(r.header("authorization")), string_to_sign("/callback", "app=bench",
                                                                                         r.body)) for r in requests]

        def core() -> None:
            for r in requests:
                assert app.handle(r).status == 200

        def floor() -> None:
            for sig, data in floor_inputs:
                assert verify(public_key, sig, data)

        core_s, floor_s = _best_of(core, 3), _best_of(floor, 3)
        core_us, floor_us = core_s / n * 1e6, floor_s / n * 1e6
        record("core verify+parse+act+render", core_us, "us", "bare RSA MD5 verify", floor_us, core_us / floor_us,
               "<= 5x", core_us / floor_us <= 5)


def _best_of(func: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


# --------------------------------------------------------------------------------------------------- 3. cold start
def bench_coldstart(quick: bool) -> None:
    """Fresh-interpreter import of each function vs ``python -c pass``."""
    print("3. cold start (fresh interpreter per run, medians)", flush=True)
    runs = 5 if quick else 21

    def wall(code: str, cwd: Path) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([PY, "-c", code], cwd=cwd, check=True)
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    base = wall("pass", ROOT)
    for name in ("callback", "upload"):
        cwd = ROOT / "functions" / name
        probe = subprocess.run([PY, "-c", "import sys; n = len(sys.modules); import index; "
                                "print(len(sys.modules) - n, 'oss2' in sys.modules)"], cwd=cwd, capture_output=True,
                               text=True, check=True).stdout.split()
        modules, oss2_loaded = int(probe[0]), probe[1] == "True"
        took = wall("import index", cwd)
        added = took - base
        if name == "callback":
            record("cold start: callback import adds", added, "ms", "python -c pass", base, took / base,
                   "<= 80 ms, no oss2", added <= 80 and not oss2_loaded, f"{modules} modules, oss2={oss2_loaded}")
        else:
            record("cold start: upload import adds", added, "ms", "python -c pass", base, took / base, "-", None,
                   f"{modules} modules, oss2={oss2_loaded}")


# --------------------------------------------------------------------------------------------------- 4. uploads
def bench_uploads(quick: bool) -> None:
    """Through the upload function's logic against the local OSS, callbacks to the callback function."""
    import oss2

    from osscallback.callback.core import CallbackApp
    from osscallback.callback.wsgi import make_wsgi_handler
    from osscallback.local.httpserver import WSGIServer
    from osscallback.local.oss import LocalOSS
    from osscallback.upload.uploader import Uploader, UploadEvent, UploadSettings

    print("4. uploads through the upload function against the local OSS", flush=True)
    with tempfile.TemporaryDirectory() as tmp, LocalOSS(Path(tmp) / "oss", port=0) as oss:
        app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": oss.public_key_prefix})
        with WSGIServer(make_wsgi_handler(app), threads=8) as callback:
            env = {"OSS_ENDPOINT": oss.endpoint, "OSS_BUCKET": oss.bucket, "OSS_ACCESS_KEY_ID": oss.access_key_id,
                   "OSS_ACCESS_KEY_SECRET": oss.access_key_secret, "CALLBACK_URL": callback.url + "/",
                   "UPLOAD_ALLOWED_ROOTS": tmp}

            def uploader(event: dict[str, Any]) -> tuple[Uploader, UploadEvent]:
                parsed = UploadEvent.parse(event)
                return Uploader(UploadSettings.resolve(parsed, None, env, tmp)), parsed

            n = 30 if quick else 300
            with_cb: list[float] = []
            without_cb: list[float] = []
            up_cb, ev_cb = uploader({"action": "put", "key": "b/1k.bin", "content": "x" * 1024})
            up_no, ev_no = uploader({"action": "put", "key": "b/1k.bin", "content": "x" * 1024, "template": "none"})
            for _ in range(n):  # interleaved, so drift on a shared machine hits both alike
                for up, ev, sink in ((up_cb, ev_cb, with_cb), (up_no, ev_no, without_cb)):
                    started = time.perf_counter()
                    result = up.run(ev)
                    sink.append(time.perf_counter() - started)
                    assert result.ok and result.callback_status in ("ok", "none"), result
            p50_cb, p50_no = statistics.median(with_cb) * 1000, statistics.median(without_cb) * 1000
            record("1 KiB put p50 with callback", p50_cb, "ms", "same put without callback", p50_no, p50_cb / p50_no,
                   "+<= 1 round trip", None, f"callback adds {p50_cb - p50_no:.2f} ms")

            size_mib = 32 if quick else 256
            part, threads = 8 * 1024 * 1024, 4
            path = Path(tmp) / "big.bin"
            with open(path, "wb") as f:
                for _ in range(size_mib):
                    f.write(os.urandom(1024 * 1024))
            up_mp, ev_mp = uploader({"action": "multipart", "key": "b/big.bin", "path": str(path), "part_size": part,
                                     "threads": threads, "template": "json-full"})
            bucket = oss2.Bucket(oss2.Auth(oss.access_key_id, oss.access_key_secret), oss.endpoint, oss.bucket)
            ours, raw = [], []
            for _ in range(1 if quick else 2):
                started = time.perf_counter()
                result = up_mp.run(ev_mp)
                ours.append(time.perf_counter() - started)
                assert result.ok and result.callback_status == "ok", result
                started = time.perf_counter()
                oss2.resumable_upload(bucket, "b/raw.bin", str(path), multipart_threshold=part, part_size=part,
                                      num_threads=threads, store=oss2.ResumableStore(root=tmp))
                raw.append(time.perf_counter() - started)
            ours_mbs, raw_mbs = size_mib / min(ours), size_mib / min(raw)
            record(f"{size_mib} MiB multipart+callback", ours_mbs, "MiB/s", "raw oss2.resumable_upload", raw_mbs,
                   ours_mbs / raw_mbs, ">= 0.95", ours_mbs / raw_mbs >= 0.95, f"{part >> 20} MiB parts, {threads} threads")


# --------------------------------------------------------------------------------------------------- 5. memory
def bench_memory(quick: bool) -> None:
    """Peak RSS of the callback server process across many callbacks: flat means nothing grows without bound."""
    from osscallback.testing import KeyServer

    print("5. memory of the callback function process", flush=True)
    total = 4000 if quick else 100_000
    with KeyServer() as keys, tempfile.TemporaryDirectory() as tmp:
        pool_file = Path(tmp) / "pool.json"
        pool_file.write_text(json.dumps(_signed_pool(min(total, 20_000), keys)))
        proc, port = _start([PY, str(BENCH / "servers.py"), "function", str(Path(tmp) / "p"), keys.prefix],
                            Path(tmp) / "p")
        try:
            first = total // 10
            _load(port, 16, first, pool_file)
            at_10 = _rss_kib(proc.pid)
            result = _load(port, 16, total - first, pool_file)
            at_100, peak = _rss_kib(proc.pid), _rss_kib(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    record(f"RSS after {total} callbacks", at_100 / 1024, "MiB", f"RSS after {first}", at_10 / 1024,
           at_100 / at_10, "flat (<= 1.2x)", at_100 / at_10 <= 1.2, f"peak {peak / 1024:.1f} MiB, errors {result['errors']}")


BENCHES: dict[str, Callable[[bool], None]] = {
    "callback_http": bench_callback_http,
    "core": bench_core,
    "coldstart": bench_coldstart,
    "uploads": bench_uploads,
    "memory": bench_memory,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: proves the suite runs (CI)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHES), help="run only these (repeatable)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    print(f"oss-callback-fc benchmarks ({'quick' if args.quick else 'full'}) on {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}", flush=True)
    for name in args.only or list(BENCHES):
        BENCHES[name](args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(f) for f in FIGURES], indent=2))
    missed = [f.name for f in FIGURES if f.met is False]
    print(f"{len(FIGURES)} figures, {len(missed)} targets missed" + (f": {', '.join(missed)}" if missed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
