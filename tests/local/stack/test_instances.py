"""Replays held across instances: two callback-function processes (``osscallback serve``, real HTTP) share one
store, a real ``redis-server`` or marker objects in the local OSS.

A callback replayed to the other process runs the action once and gets the identical answer; 64 concurrent
replays spread over both processes give one run; a store that cannot be reached is a JSON 503 and no run; a run
held in progress past the wait is a JSON 409 ``CallbackInProgress``; the default cold path imports neither
``redis`` nor ``oss2``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from osscallback.testing import HttpAnswer, KeyServer, OssSigner, SignedCallback, form_body, post
from tests.support.delivery import ROOT, CallbackProcess, LocalOSSProcess, closed_port, runs


@pytest.fixture(params=["redis", "oss"])
def shared_store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Each shared store as its own process, like the callback instances: a real ``redis-server``, or marker
    objects in a local OSS server process (conftest's in-process one would share the GIL with 64 client threads)."""
    if request.param == "redis":
        yield {"CALLBACK_IDEMPOTENCY_STORE": request.getfixturevalue("redis_url")}
        return
    oss = LocalOSSProcess(tmp_path / "oss").start()
    try:
        yield oss.store_env()
    finally:
        oss.stop()


@pytest.fixture()
def instances(tmp_path: Path, key_server: KeyServer) -> Iterator[Callable[..., list[CallbackProcess]]]:
    started: list[CallbackProcess] = []

    def start(store_env: dict[str, str], count: int = 2, **extra: str) -> list[CallbackProcess]:
        env = {
            "CALLBACK_KEY_URL_PREFIXES": key_server.prefix,
            "CALLBACK_ACTION": "counting_action:record",
            "CALLBACK_RESPONSE_TEMPLATE": "echo",
            "COUNTING_ACTION_LOG": str(tmp_path / "runs.jsonl"),
            **store_env,
            **extra,
        }
        procs = [CallbackProcess(env).start() for _ in range(count)]
        started.extend(procs)
        return procs

    yield start
    for proc in started:
        proc.stop()


def _upload(signer: OssSigner, url: str, req_id: str = "5F2A0000000000000000AAAA", obj: str = "uploads/a.txt",
            etag: str = "D41D8CD98F00B204E9800998ECF8427E") -> SignedCallback:
    return signer.sign(url, form_body({"bucket": "examplebucket", "object": obj, "etag": etag, "size": "3",
                                       "reqId": req_id}))


def _to(callback: SignedCallback, url: str) -> SignedCallback:
    """The same signed callback sent to another instance: OSS signs only the path, query and body."""
    return SignedCallback(url, callback.body, dict(callback.headers))


def test_a_replay_to_the_other_instance_runs_once(instances: Any, signer: OssSigner, shared_store_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    a, b = instances(shared_store_env)
    callback = _upload(signer, a.url)
    first = post(callback)
    replay = post(_to(callback, b.url))
    again = post(_to(callback, a.url))
    assert (first.status, replay.status, again.status) == (200, 200, 200)
    assert first.body == replay.body == again.body  # the identical answer, from the stored result
    (run,) = runs(tmp_path / "runs.jsonl")
    assert run["source"] == "callback" and run["key"].startswith("upload:")


def test_64_concurrent_replays_over_both_instances_run_once(instances: Any, signer: OssSigner,
                                                            shared_store_env: dict[str, str], tmp_path: Path) -> None:
    a, b = instances(shared_store_env, COUNTING_ACTION_DELAY="0.3")
    callback = _upload(signer, a.url, req_id="5F2A0000000000000000CCCC")
    answers: list[HttpAnswer | None] = [None] * 64
    barrier = threading.Barrier(64)

    def send(i: int) -> None:
        barrier.wait()
        answers[i] = post(_to(callback, (a, b)[i % 2].url), timeout=30)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(x is not None for x in answers)
    statuses = [x.status for x in answers if x is not None]
    assert statuses == [200] * 64, sorted(set(statuses))
    assert len({x.body for x in answers if x is not None}) == 1
    assert len(runs(tmp_path / "runs.jsonl")) == 1


def test_a_run_held_past_the_wait_is_409(instances: Any, signer: OssSigner, redis_url: str, tmp_path: Path) -> None:
    (slow,) = instances({"CALLBACK_IDEMPOTENCY_STORE": redis_url}, count=1, COUNTING_ACTION_DELAY="3")
    (fast,) = instances({"CALLBACK_IDEMPOTENCY_STORE": redis_url, "CALLBACK_IDEMPOTENCY_WAIT": "0.3"}, count=1)
    callback = _upload(signer, slow.url, req_id="5F2A0000000000000000DDDD")
    first: list[HttpAnswer] = []
    runner = threading.Thread(target=lambda: first.append(post(callback, timeout=30)))
    runner.start()
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 20
    while not client.keys("osscallback:idempotency:*") and time.monotonic() < deadline:  # the slow run's claim
        time.sleep(0.02)
    client.close()
    answer = post(_to(callback, fast.url))
    assert answer.status == 409
    assert json.loads(answer.body)["error"] == "CallbackInProgress"
    assert answer.headers["content-type"] == "application/json"
    runner.join(30)
    assert first[0].status == 200
    assert post(_to(callback, fast.url)).body == first[0].body
    assert len(runs(tmp_path / "runs.jsonl")) == 1


@pytest.mark.parametrize("kind", ["redis", "oss"])
def test_an_unreachable_store_is_503_and_no_run(kind: str, instances: Any, signer: OssSigner, tmp_path: Path) -> None:
    port = closed_port()
    url = (f"redis://:hunter2@127.0.0.1:{port}/0" if kind == "redis"
           else f"oss://examplebucket/.osscallback/idempotency/?region=cn-hangzhou&endpoint=http://127.0.0.1:{port}")
    (proc,) = instances({"CALLBACK_IDEMPOTENCY_STORE": url, "ALIBABA_CLOUD_ACCESS_KEY_ID": "id",
                         "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret"}, count=1)
    answer = post(_upload(signer, proc.url))
    assert answer.status == 503
    assert json.loads(answer.body)["error"] == "IdempotencyStoreUnavailable"
    assert b"hunter2" not in answer.body
    assert runs(tmp_path / "runs.jsonl") == []


def test_another_body_claiming_the_same_upload_is_refused(instances: Any, signer: OssSigner, redis_url: str,
                                                          tmp_path: Path) -> None:
    """An uploader who learned another upload's reqId, object and ETag writes them literally into their own
    callbackBody (with something of their own added): the stored result is not theirs to collect."""
    a, b = instances({"CALLBACK_IDEMPOTENCY_STORE": redis_url})
    genuine = _upload(signer, a.url, req_id="5F2A0000000000000000EEEE")
    assert post(genuine).status == 200
    fields = {"bucket": "examplebucket", "object": "uploads/a.txt", "etag": "D41D8CD98F00B204E9800998ECF8427E",
              "size": "3", "reqId": "5F2A0000000000000000EEEE", "x:mine": "1"}
    forged = post(signer.sign(b.url, form_body(fields)))
    assert forged.status == 409 and json.loads(forged.body)["error"] == "IdempotencyKeyMismatch"
    assert len(runs(tmp_path / "runs.jsonl")) == 1


def _modules_loaded(env: dict[str, str]) -> dict[str, bool]:
    code = (
        "import sys; sys.path.insert(0, 'functions/callback'); import index, json; "
        "print(json.dumps({m: m in sys.modules for m in ('redis', 'oss2', 'osscallback.upload')} | "
        "{'broken': type(index.app).__name__ == 'BrokenApp'}))"
    )
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "shared")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**base, **env})
    return dict(json.loads(out.stdout))


def test_the_default_cold_path_imports_no_store_client() -> None:
    assert _modules_loaded({}) == {"redis": False, "oss2": False, "osscallback.upload": False, "broken": False}


def test_each_store_imports_only_its_own_client() -> None:
    redis_only = _modules_loaded({"CALLBACK_IDEMPOTENCY_STORE": f"redis://127.0.0.1:{closed_port()}/0"})
    assert redis_only == {"redis": True, "oss2": False, "osscallback.upload": False, "broken": False}
    oss_only = _modules_loaded({"CALLBACK_IDEMPOTENCY_STORE": "oss://examplebucket/m/?region=cn-hangzhou"})
    assert oss_only == {"redis": False, "oss2": True, "osscallback.upload": False, "broken": False}
