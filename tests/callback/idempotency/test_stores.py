"""Every idempotency backend keeps the same contract, against the real engine: the memory LRU, a real
``redis-server`` and marker objects in the local OSS (``x-oss-forbid-overwrite``).

One claim wins however many race for it; the completed result is what every duplicate gets (JSON round trip
for the shared stores); a failed run releases its claim; a claim whose run died lapses and is taken over; a claim
still in progress makes a duplicate wait, bounded, then ``ClaimInProgress``; an unreachable store is
``StoreUnavailable`` and the function never runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from osscallback.callback.idempotency.base import Idempotency, PersistenceLayer, Record, Status
from osscallback.callback.idempotency.factory import StoreSpec, open_layer
from osscallback.errors import ClaimInProgress, ConfigError, IdempotencyKeyMismatch, StoreUnavailable
from osscallback.local.oss import LocalOSS
from tests.support.delivery import closed_port, oss_store_env
from tests.support.oss_clients import REGION


def _layer(env: dict[str, str]) -> PersistenceLayer:
    return open_layer(StoreSpec.parse(env.get("CALLBACK_IDEMPOTENCY_STORE"), env), max_entries=1000, env=env)


@pytest.fixture(params=["memory", "redis", "oss"])
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., Idempotency]]:
    """Build an :class:`Idempotency` over a fresh backend of each kind (several share one backend's data)."""
    if request.param == "memory":
        env: dict[str, str] = {}
    elif request.param == "redis":
        env = {"CALLBACK_IDEMPOTENCY_STORE": request.getfixturevalue("redis_url")}
    else:
        env = oss_store_env(request.getfixturevalue("local_oss"))
    shared: list[PersistenceLayer] = []

    def build(**options: float) -> Idempotency:
        if request.param == "memory" and shared:
            return Idempotency(shared[0], **options)  # memory is one process's: share the layer itself
        layer = _layer(env)
        shared.append(layer)
        return Idempotency(layer, **options)

    yield build
    for layer in shared:
        layer.close()


def test_one_run_then_the_stored_result(make: Callable[..., Idempotency]) -> None:
    first, other = make(), make()  # two instances over one store
    calls: list[int] = []
    assert first.run("k", lambda: calls.append(1) or {"n": 1}) == ({"n": 1}, False)
    assert other.run("k", lambda: calls.append(2) or {"n": 2}) == ({"n": 1}, True)
    assert first.run("k", lambda: calls.append(3)) == ({"n": 1}, True)
    assert calls == [1]
    assert (first.runs, first.duplicates, other.runs, other.duplicates) == (1, 1, 0, 1)


def test_none_is_a_result_too(make: Callable[..., Idempotency]) -> None:
    store = make()
    assert store.run("k", lambda: None) == (None, False)
    assert store.run("k", lambda: "again") == (None, True)


def test_a_failed_run_releases_its_claim(make: Callable[..., Idempotency]) -> None:
    first, other = make(), make()

    def fail() -> None:
        raise ConnectionError("downstream unavailable")

    with pytest.raises(ConnectionError):
        first.run("k", fail)
    assert other.run("k", lambda: "second") == ("second", False)
    assert first.run("k", lambda: "third") == ("second", True)


def test_64_concurrent_claims_run_once(make: Callable[..., Idempotency]) -> None:
    stores = [make(wait=20) for _ in range(4)]
    runs: list[int] = []
    lock = threading.Lock()
    results: list[Any] = [None] * 64
    barrier = threading.Barrier(64)

    def action() -> dict[str, int]:
        with lock:
            runs.append(1)
        time.sleep(0.3)
        return {"n": 1}

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = stores[i % 4].run("same-upload", action)
        except Exception as exc:  # shown in the assertion below
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r for r in results if not isinstance(r, tuple)] == []
    assert runs == [1]
    assert [r[0] for r in results] == [{"n": 1}] * 64
    assert sorted(r[1] for r in results) == [False] + [True] * 63


def test_a_duplicate_waits_then_gets_the_result(make: Callable[..., Idempotency]) -> None:
    first, other = make(), make(wait=10)
    started = threading.Event()

    def slow() -> str:
        started.set()
        time.sleep(0.5)
        return "done"

    runner = threading.Thread(target=first.run, args=("k", slow))
    runner.start()
    assert started.wait(10)
    assert other.run("k", lambda: "duplicate ran") == ("done", True)
    runner.join(10)


def test_a_duplicate_past_the_wait_is_in_progress(make: Callable[..., Idempotency]) -> None:
    first, other = make(), make(wait=0.2)
    started, release = threading.Event(), threading.Event()

    def held() -> str:
        started.set()
        release.wait(20)
        return "done"

    runner = threading.Thread(target=first.run, args=("k", held))
    runner.start()
    assert started.wait(10)
    t0 = time.monotonic()
    with pytest.raises(ClaimInProgress):
        other.run("k", lambda: "duplicate ran")
    assert time.monotonic() - t0 < 5  # bounded: well inside OSS's 5 s on any machine
    release.set()
    runner.join(10)
    assert other.run("k", lambda: "late") == ("done", True)


def test_a_different_fingerprint_is_refused(make: Callable[..., Idempotency]) -> None:
    store = make()
    assert store.run("k", lambda: "A", fingerprint="body-a") == ("A", False)
    assert store.run("k", lambda: "x", fingerprint="body-a") == ("A", True)
    assert store.run("k", lambda: "x", fingerprint=None) == ("A", True)  # the OSS-event path has no body
    with pytest.raises(IdempotencyKeyMismatch):
        store.run("k", lambda: "B", fingerprint="body-b")


@pytest.mark.parametrize("kind", ["redis", "oss"])
def test_a_dead_runs_claim_lapses_and_is_taken_over(kind: str, request: pytest.FixtureRequest) -> None:
    """An instance that died mid-run never completes nor releases: its claim lapses after the claim TTL."""
    env = ({"CALLBACK_IDEMPOTENCY_STORE": request.getfixturevalue("redis_url")} if kind == "redis"
           else oss_store_env(request.getfixturevalue("local_oss")))
    dead, alive = _layer(env), _layer(env)
    now = time.time()
    orphan = Record(key="k", status=Status.IN_PROGRESS, token="dead", source="callback",
                    in_progress_until=now + 0.3, expires_at=now + 3600)
    claim, existing = dead.try_claim(orphan)
    assert claim is not None and existing is None
    store = Idempotency(alive, claim_ttl=30, wait=0)
    with pytest.raises(ClaimInProgress):
        store.run("k", lambda: "too early")
    time.sleep(0.5)
    assert store.run("k", lambda: "taken over") == ("taken over", False)
    dead.complete(claim, Record(key="k", status=Status.COMPLETED, token="dead", source="callback",
                                in_progress_until=0, expires_at=now + 3600, result="late"))  # the ghost returns
    assert Idempotency(_layer(env)).run("k", lambda: "third") in (("taken over", True), ("late", True))


@pytest.mark.parametrize("kind", ["redis", "oss"])
def test_an_expired_result_is_forgotten(kind: str, request: pytest.FixtureRequest) -> None:
    env = ({"CALLBACK_IDEMPOTENCY_STORE": request.getfixturevalue("redis_url")} if kind == "redis"
           else oss_store_env(request.getfixturevalue("local_oss")))
    store = Idempotency(_layer(env), ttl=0.3)
    assert store.run("k", lambda: 1) == (1, False)
    assert store.run("k", lambda: 2) == (1, True)
    time.sleep(0.5)
    assert store.run("k", lambda: 3) == (3, False)


def test_shared_stores_return_json(shared_store_env: dict[str, str]) -> None:
    """What a replay on another instance sees (JSON) is what the first run answers with, too."""
    store = Idempotency(_layer(shared_store_env))
    result, _ = store.run("k", lambda: {"tuple": (1, 2), "text": "中文"})
    assert result == {"tuple": [1, 2], "text": "中文"}
    assert Idempotency(_layer(shared_store_env)).run("k", lambda: None) == (result, True)


@pytest.mark.parametrize("url", [
    f"redis://127.0.0.1:{closed_port()}/0",
    f"oss://examplebucket/markers/?region=cn-hangzhou&endpoint=http://127.0.0.1:{closed_port()}",
])
def test_an_unreachable_store_never_runs_the_action(url: str) -> None:
    env = {"CALLBACK_IDEMPOTENCY_STORE": url, "ALIBABA_CLOUD_ACCESS_KEY_ID": "id",
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret"}
    store = Idempotency(_layer(env))
    calls: list[int] = []
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        store.run("k", lambda: calls.append(1))
    assert calls == [] and time.monotonic() - t0 < 5
    assert "secret" not in str(caught.value)


def test_oss_markers_refused_without_credentials(local_oss: LocalOSS) -> None:
    env = oss_store_env(local_oss)
    env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "wrong"
    with pytest.raises(StoreUnavailable):
        Idempotency(_layer(env)).run("k", lambda: 1)


def test_oss_markers_use_the_latest_fc_credentials(local_oss: LocalOSS) -> None:
    """FC hands each invocation fresh STS credentials in context.credentials; the store signs with the latest."""
    good = oss_store_env(local_oss)
    layer = _layer({**good, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "expired"})
    store = Idempotency(layer)
    with pytest.raises(StoreUnavailable):
        store.run("k", lambda: 1)

    class Creds:
        access_key_id = good["ALIBABA_CLOUD_ACCESS_KEY_ID"]
        access_key_secret = good["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
        security_token = good["ALIBABA_CLOUD_SECURITY_TOKEN"]

    layer.observe_credentials(Creds())
    assert store.run("k", lambda: 1) == (1, False)


def test_markers_are_one_object_per_claim_under_the_prefix(local_oss: LocalOSS) -> None:
    import oss2

    env = oss_store_env(local_oss)
    store = Idempotency(_layer(env))
    store.run("upload:a", lambda: 1)
    store.run("upload:b", lambda: 2)
    with pytest.raises(RuntimeError):
        store.run("upload:c", lambda: (_ for _ in ()).throw(RuntimeError("fails")))
    store.run("upload:c", lambda: 3)  # generation 1 after the released generation 0
    bucket = oss2.Bucket(oss2.AuthV4(local_oss.access_key_id, local_oss.access_key_secret), local_oss.endpoint,
                         local_oss.bucket, region=REGION)
    keys = sorted(o.key for o in oss2.ObjectIterator(bucket))
    assert len(keys) == 4 and all(k.startswith(".osscallback/idempotency/") for k in keys)
    assert sorted(k.rsplit(".", 1)[1] for k in keys) == ["0", "0", "0", "1"]


@pytest.mark.parametrize(("value", "message"), [
    ("mysql://db/1", "use memory, redis://"),
    ("redis://", "needs a host"),
    ("redis://h:port/0", "port is not a number"),
    ("oss://bucket", "a prefix of their own"),
    ("oss://b/m/?region=r", "valid bucket name"),
    ("oss://user@bucket/m/?region=r", "valid bucket name"),
    ("oss://bucket/", "a prefix of their own"),
    ("oss://bucket/m/?region=cn-hangzhou&foo=1", "unknown option"),
    ("oss://bucket/m/", "no region"),
    ("oss://bucket/m/?region=r&endpoint=ftp://x", "http(s) URL"),
    ("oss://bucket/m/?region=r&timeout=9", "timeout must be"),
    ("oss://bucket/m/?region=r&timeout=soon", "timeout must be"),
])
def test_bad_store_urls_are_configuration_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StoreSpec.parse(value, {})
    assert "CALLBACK_IDEMPOTENCY_STORE" in str(caught.value) and message in str(caught.value)


def test_store_urls() -> None:
    assert StoreSpec.parse(None).kind == "memory" and not StoreSpec.parse("memory").shared
    spec = StoreSpec.parse("oss://bkt/.osscallback/idempotency", {"FC_REGION": "cn-shanghai"})
    assert (spec.kind, spec.bucket, spec.prefix, spec.region) == ("oss", "bkt", ".osscallback/idempotency/",
                                                                  "cn-shanghai")
    assert spec.endpoint == "https://oss-cn-shanghai-internal.aliyuncs.com" and spec.shared and spec.timeout == 1.5
    assert spec.covers("bkt", ".osscallback/idempotency/abc.0") and not spec.covers("bkt", "uploads/x")
    assert not spec.covers("other", ".osscallback/idempotency/abc.0")
    redis_spec = StoreSpec.parse("redis://:pa55@10.0.0.1:6379/2")
    assert redis_spec.kind == "redis" and redis_spec.url.endswith("/2")
    with pytest.raises(ConfigError) as caught:
        StoreSpec.parse("rediz://:pa55@h/0")
    assert "pa55" not in str(caught.value)
