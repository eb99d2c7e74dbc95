"""A small asyncio HTTP/1.1 load generator, run as its own process so it never shares a GIL with the server.

``python bench/loadgen.py HOST PORT CONCURRENCY COUNT REQUESTS.json`` sends COUNT requests (cycling through the
pre-signed pool in REQUESTS.json: ``[{"target", "headers", "body_b64"}]``) over CONCURRENCY keep-alive connections
and prints one JSON line: requests/s, p50/p99 latency (ms), errors (non-200 answers or failed connections).
A server that closes the connection (HTTP/1.0, ``Connection: close``) is reconnected, as any client would.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time


def _build(host: str, port: int, item: dict) -> bytes:
    body = base64.b64decode(item["body_b64"])
    lines = [f"POST {item['target']} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in item["headers"].items() if k.lower() not in ("host", "content-length")]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _worker(host: str, port: int, payloads: list[bytes], counter: list[int], count: int,
                  latencies: list[float], errors: list[int]) -> None:
    reader = writer = None
    while True:
        index = counter[0]
        if index >= count:
            break
        counter[0] += 1
        payload = payloads[index % len(payloads)]
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            writer.write(payload)
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length, close = 0, status_line.startswith(b"HTTP/1.0")
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection":
                    close = value.strip().lower() == "close" or close
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors[0] += 1
            if close:
                writer.close()
                reader = writer = None
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            errors[0] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def run(host: str, port: int, concurrency: int, count: int, items: list[dict]) -> dict:
    payloads = [_build(host, port, item) for item in items]
    latencies: list[float] = []
    errors = [0]
    counter = [0]
    started = time.perf_counter()
    await asyncio.gather(*(_worker(host, port, payloads, counter, count, latencies, errors) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {"requests": count, "seconds": elapsed, "rps": count / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "errors": errors[0]}


if __name__ == "__main__":
    host, port, concurrency, count, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    with open(path) as f:
        items = json.load(f)
    print(json.dumps(asyncio.run(run(host, port, concurrency, count, items))))
