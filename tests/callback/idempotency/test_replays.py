"""Replays and duplicates: a replayed callback is valid by OSS's design (the signature covers the path, query and
body, not a time or a nonce), so side effects must be made idempotent instead. The action layer runs behind an
idempotency key -- OSS's ``reqId``, else a hash of the signed bytes -- with a bounded store.

Proved here: the store is bounded and evicts least-recently-used keys; concurrent duplicates run the action once
and all get its result; a failed run is not remembered (the retry runs); and the same holds end to end when OSS
(or an attacker holding a captured callback) replays over HTTP.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from osscallback.callback.actions import CallbackEvent, IdempotencyStore, idempotency_key
from osscallback.callback.body import parse_body
from osscallback.callback.config import CallbackConfig
from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.httpserver import WSGIServer
from osscallback.testing import KeyServer, OssSigner, SignedCallback, form_body, post
from tests.support.fuzz import concurrently as _concurrently
from tests.support.fuzz import fuzz

pytestmark = [pytest.mark.attack, pytest.mark.usefixtures("quiet_callback_logs")]

# -- the store ------------------------------------------------------------------------------------------------------


def test_store_is_bounded() -> None:
    store = IdempotencyStore(100)
    for i in range(5000):
        assert store.run(f"k{i}", functools.partial(int, i)) == (i, False)
        assert len(store) <= 100
    assert len(store) == 100
    assert store.runs == 5000 and store.duplicates == 0


def test_store_evicts_least_recently_used() -> None:
    store = IdempotencyStore(3)
    for key in "abc":
        store.run(key, key.upper)
    assert store.run("a", lambda: "again") == ("A", True)  # a is now the most recent
    store.run("d", lambda: "D")  # evicts b, the least recently used
    assert store.run("a", lambda: "again") == ("A", True)
    assert store.run("c", lambda: "again") == ("C", True)
    assert store.run("b", lambda: "B2") == ("B2", False)  # b was forgotten: it runs again
    assert len(store) == 3


def test_none_results_are_remembered() -> None:
    """A falsy result is still a result: the duplicate must not re-run the action."""
    store = IdempotencyStore(10)
    calls: list[int] = []
    assert store.run("k", lambda: calls.append(1)) == (None, False)
    assert store.run("k", lambda: calls.append(1)) == (None, True)
    assert calls == [1]


def test_size_zero_disables_the_store() -> None:
    store = IdempotencyStore(0)
    assert [store.run("k", lambda: 1) for _ in range(3)] == [(1, False)] * 3
    assert store.runs == 3 and len(store) == 0


def test_failed_run_is_not_remembered() -> None:
    store = IdempotencyStore(10)

    def fail() -> None:
        raise RuntimeError("downstream unavailable")

    with pytest.raises(RuntimeError):
        store.run("k", fail)
    assert len(store) == 0
    assert store.run("k", lambda: "ok") == ("ok", False)
    assert store.run("k", lambda: "again") == ("ok", True)
    assert (store.runs, store.duplicates) == (2, 1)  # the failed action ran: it counts


def test_a_refused_guard_is_not_a_run() -> None:
    """The guard (the callback's confirmation with OSS) refusing means the action never ran: the claim is
    released, nothing is remembered, and ``runs`` counts only the actions called (issue 29)."""
    store = IdempotencyStore(10)
    calls: list[str] = []

    def refuse() -> None:
        raise PermissionError("not confirmed")

    for _ in range(3):
        with pytest.raises(PermissionError):
            store.run("k", lambda: calls.append("ran"), guard=refuse)
    assert (calls, store.runs, store.duplicates, len(store)) == ([], 0, 0, 0)
    assert store.run("k", lambda: "ok", guard=lambda: None) == ("ok", False)
    assert store.run("k", lambda: "again", guard=refuse) == ("ok", True)  # a duplicate is not guarded again
    assert (store.runs, store.duplicates) == (1, 1)


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_base_exception_releases_waiters(exc_type: type[BaseException]) -> None:
    """Even a BaseException in the action clears the in-flight marker, or every later duplicate would hang."""
    store = IdempotencyStore(10)

    def boom() -> None:
        raise exc_type()

    with pytest.raises(exc_type):
        store.run("k", boom)
    done = threading.Event()

    def later() -> None:
        store.run("k", lambda: 1)
        done.set()

    threading.Thread(target=later, daemon=True).start()
    assert done.wait(10), "a later run of the same key hung"


def test_64_concurrent_duplicates_run_once() -> None:
    store = IdempotencyStore(100)
    runs: list[int] = []

    def action() -> dict[str, int]:
        runs.append(1)
        time.sleep(0.1)  # long enough for every duplicate to arrive while it runs
        return {"n": len(runs)}

    results = _concurrently(64, lambda i: store.run("same-upload", action))
    assert runs == [1]
    assert all(r[0] == {"n": 1} for r in results)
    assert sorted(r[1] for r in results) == [False] + [True] * 63
    assert store.duplicates == 63


def test_concurrent_duplicates_after_a_failure_retry_once() -> None:
    """The first run fails while 15 duplicates wait: one of them runs again (the failure is not the answer), and
    the other 14 get that second run's result."""
    store = IdempotencyStore(100)
    attempts: list[int] = []
    lock = threading.Lock()

    def flaky() -> str:
        with lock:
            attempts.append(1)
            n = len(attempts)
        time.sleep(0.1)
        if n == 1:
            raise RuntimeError("first attempt fails")
        return f"attempt {n}"

    results = _concurrently(16, lambda i: store.run("k", flaky))
    failures = [r for r in results if isinstance(r, RuntimeError)]
    successes = [r for r in results if isinstance(r, tuple)]
    assert len(failures) == 1 and len(successes) == 15
    assert len(attempts) == 2
    assert {r[0] for r in successes} == {"attempt 2"}
    assert sorted(r[1] for r in successes) == [False] + [True] * 14


def test_no_key_ever_runs_twice_at_once_under_contention() -> None:
    """8 threads x 1500 runs over 40 keys through a 10-entry store (constant eviction): the store stays bounded
    and no key's action ever runs concurrently with itself."""
    store = IdempotencyStore(10)
    active: dict[str, int] = {}
    overlap: list[str] = []
    lock = threading.Lock()

    def action_for(key: str) -> Callable[[], str]:
        def action() -> str:
            with lock:
                active[key] = active.get(key, 0) + 1
                if active[key] > 1:
                    overlap.append(key)
            time.sleep(0)
            with lock:
                active[key] -= 1
            return key

        return action

    def worker(i: int) -> None:
        import random

        rnd = random.Random(i)
        for _ in range(1500):
            key = f"k{rnd.randrange(40)}"
            assert store.run(key, action_for(key))[0] == key
            assert len(store) <= 10

    results = _concurrently(8, worker)
    assert results == [None] * 8
    assert overlap == []
    assert store.runs + store.duplicates == 8 * 1500


class StoreModel(RuleBasedStateMachine):
    """The store against a reference LRU model, over random sequences of successful and failing runs."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 4
        self.store = IdempotencyStore(self.size)
        self.model: OrderedDict[str, int] = OrderedDict()
        self.counter = 0

    @rule(key=st.sampled_from("abcdefg"))
    def run_ok(self, key: str) -> None:
        self.counter += 1
        value = self.counter
        result, duplicate = self.store.run(key, lambda: value)
        if key in self.model:
            self.model.move_to_end(key)
            assert (result, duplicate) == (self.model[key], True)
        else:
            assert (result, duplicate) == (value, False)
            self.model[key] = value
            while len(self.model) > self.size:
                self.model.popitem(last=False)

    @rule(key=st.sampled_from("abcdefg"))
    def run_failing(self, key: str) -> None:
        def fail() -> int:
            raise ValueError(key)

        if key in self.model:
            self.model.move_to_end(key)
            assert self.store.run(key, fail) == (self.model[key], True)
        else:
            with pytest.raises(ValueError):
                self.store.run(key, fail)

    @invariant()
    def same_contents(self) -> None:
        assert len(self.store) == len(self.model)


TestStoreModel = StoreModel.TestCase
TestStoreModel.settings = fuzz(200)
pytest.mark.fuzz(TestStoreModel)


# -- the idempotency key ---------------------------------------------------------------------------------------------


def test_idempotency_key_is_req_id_and_body() -> None:
    raw_a, raw_b = b"bucket=b&object=o&reqId=5F2A", b"bucket=b&object=other&reqId=5F2A"
    a = parse_body(raw_a, "application/x-www-form-urlencoded")
    b = parse_body(raw_b, "application/x-www-form-urlencoded")
    # OSS retrying one callback to another URL: same body, other path -> same key.
    assert idempotency_key(a, raw_a, b"/x\n" + raw_a) == idempotency_key(a, raw_a, b"/y\n" + raw_a)
    assert idempotency_key(a, raw_a, b"/x\n" + raw_a).startswith("reqId:5F2A:")
    # Another body claiming the same reqId is another callback.
    assert idempotency_key(a, raw_a, b"/x\n" + raw_a) != idempotency_key(b, raw_b, b"/x\n" + raw_b)


def test_idempotency_key_without_req_id_hashes_the_signed_bytes() -> None:
    raw = b"bucket=b&object=o&reqId="
    body = parse_body(raw, "application/x-www-form-urlencoded")  # empty reqId = none
    assert idempotency_key(body, raw, b"/a\nbucket=b") == "sha256:" + hashlib.sha256(b"/a\nbucket=b").hexdigest()
    assert idempotency_key(body, raw, b"/a\nbucket=b") != idempotency_key(body, raw, b"/b\nbucket=b")


# -- replays over HTTP -----------------------------------------------------------------------------------------------


class CountingAction:
    """A user action with a side effect we can count (and optionally make slow or failing)."""

    def __init__(self, delay: float = 0.0, fail_first: int = 0) -> None:
        self.events: list[CallbackEvent] = []
        self.delay = delay
        self.fail_first = fail_first
        self._lock = threading.Lock()

    def __call__(self, event: CallbackEvent) -> dict[str, Any]:
        with self._lock:
            self.events.append(event)
            n = len(self.events)
        if self.delay:
            time.sleep(self.delay)
        if n <= self.fail_first:
            raise ConnectionError("database unavailable")
        return {"run": n, "key": event.idempotency_key}


@pytest.fixture()
def function_with(key_server: KeyServer, serve: Any) -> Callable[..., tuple[CallbackApp, WSGIServer]]:
    def build(action: CountingAction, **env: str) -> tuple[CallbackApp, WSGIServer]:
        settings = {"CALLBACK_KEY_URL_PREFIXES": key_server.prefix, "CALLBACK_RESPONSE_TEMPLATE": "echo", **env}
        app = CallbackApp(CallbackConfig.from_env(settings), action=action)
        return app, serve(make_wsgi_handler(app), threads=40)

    return build


def _upload(signer: OssSigner, url: str, obj: str, req_id: str | None = "REQ-1", **extra: str) -> SignedCallback:
    fields = {"bucket": "b", "object": obj, **extra}
    if req_id is not None:
        fields["reqId"] = req_id
    return signer.sign(url, form_body(fields))


def test_replayed_callback_runs_the_action_once(function_with: Any, signer: OssSigner,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="osscallback.callback")
    action = CountingAction()
    app, server = function_with(action)
    callback = _upload(signer, server.url + "/cb", "a.txt")
    answers = [post(callback) for _ in range(5)]
    assert [a.status for a in answers] == [200] * 5
    assert len({a.body for a in answers}) == 1  # every replay gets the first run's answer
    action_result = json.loads(answers[0].body)["action"]
    assert action_result["run"] == 1 and action_result["key"].startswith("reqId:REQ-1:")
    assert len(action.events) == 1
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "osscallback.callback"]
    lines = [line for line in lines if "status" in line]  # the request lines (not the start-up warning)
    assert [line.get("duplicate", False) for line in lines] == [False, True, True, True, True]


def test_32_concurrent_replays_over_http_run_once(function_with: Any, signer: OssSigner) -> None:
    action = CountingAction(delay=0.2)
    _, server = function_with(action)
    callback = _upload(signer, server.url + "/cb", "a.txt", req_id="REQ-CONC")
    answers = _concurrently(32, lambda i: post(callback, timeout=30))
    assert [a.status for a in answers] == [200] * 32
    assert len({a.body for a in answers}) == 1
    assert len(action.events) == 1


def test_same_upload_at_another_callback_url_runs_once(function_with: Any, signer: OssSigner) -> None:
    """OSS tries up to five callback URLs of one upload in turn; the body (rendered once) and reqId are the same,
    only the path differs: the action does not run again."""
    action = CountingAction()
    _, server = function_with(action)
    first = post(_upload(signer, server.url + "/cb", "a.txt", req_id="REQ-SAME"))
    second = post(_upload(signer, server.url + "/fallback?x=1", "a.txt", req_id="REQ-SAME"))
    assert (first.status, second.status) == (200, 200)
    assert first.body == second.body
    assert len(action.events) == 1


def test_borrowed_req_id_does_not_get_another_uploads_result(function_with: Any, signer: OssSigner) -> None:
    """Uploader A writes ``reqId=<B's reqId>`` literally into their callbackBody (OSS substitutes ``${...}`` and
    signs whatever else the template says). Today A's callback is taken for a duplicate of B's: A's action never
    runs, and A's answer carries B's action result. Suggested key: reqId *and* a hash of the signed body (the body
    is rendered once per upload, so OSS's own retries to other callback URLs still deduplicate)."""
    action = CountingAction()
    _, server = function_with(action)
    b_answer = post(_upload(signer, server.url + "/cb", "b-secret.txt", req_id="REQ-B"))
    a_answer = post(_upload(signer, server.url + "/cb", "a.txt", req_id="REQ-B"))
    assert (b_answer.status, a_answer.status) == (200, 200)
    assert len(action.events) == 2
    assert json.loads(a_answer.body)["action"] != json.loads(b_answer.body)["action"]


def test_without_req_id_the_signed_bytes_decide(function_with: Any, signer: OssSigner) -> None:
    action = CountingAction()
    _, server = function_with(action)
    for _ in range(3):
        assert post(_upload(signer, server.url + "/cb", "a.txt", req_id=None)).status == 200
    assert post(_upload(signer, server.url + "/cb?v=2", "a.txt", req_id=None)).status == 200
    assert post(_upload(signer, server.url + "/cb", "b.txt", req_id=None)).status == 200
    assert len(action.events) == 3
    assert len({e.idempotency_key for e in action.events}) == 3


def test_failed_action_is_retried_on_replay(function_with: Any, signer: OssSigner) -> None:
    action = CountingAction(fail_first=1)
    _, server = function_with(action)
    callback = _upload(signer, server.url + "/cb", "a.txt", req_id="REQ-FAIL")
    failed = post(callback)
    assert failed.status == 500
    assert json.loads(failed.body) == {"error": "ActionFailed",
                                       "message": "The configured action failed: ConnectionError."}
    retried = post(callback)
    assert retried.status == 200
    assert json.loads(retried.body)["action"]["run"] == 2
    assert post(callback).status == 200
    assert len(action.events) == 2


def test_forged_replay_neither_runs_nor_poisons_the_store(function_with: Any, signer: OssSigner) -> None:
    """An attacker who saw reqId REQ-X cannot pre-empt the genuine callback with a forged one carrying it."""
    action = CountingAction()
    app, server = function_with(action)
    genuine = _upload(signer, server.url + "/cb", "real.txt", req_id="REQ-X")
    forged = SignedCallback(genuine.url, form_body({"bucket": "b", "object": "evil.txt", "reqId": "REQ-X"}),
                            dict(genuine.headers))
    forged.headers["Content-Length"] = str(len(forged.body))
    assert post(forged).status == 403
    assert len(app.idempotency) == 0 and action.events == []
    answer = post(genuine)
    assert answer.status == 200
    assert json.loads(answer.body)["callback"]["object"] == "real.txt"
    assert len(action.events) == 1


def test_bounded_store_over_http_forgets_the_oldest(function_with: Any, signer: OssSigner) -> None:
    action = CountingAction()
    app, server = function_with(action, CALLBACK_IDEMPOTENCY_SIZE="3")
    for i in range(4):
        assert post(_upload(signer, server.url + "/cb", f"{i}.txt", req_id=f"REQ-{i}")).status == 200
        assert len(app.idempotency) <= 3
    assert post(_upload(signer, server.url + "/cb", "3.txt", req_id="REQ-3")).status == 200  # still remembered
    assert len(action.events) == 4
    assert post(_upload(signer, server.url + "/cb", "0.txt", req_id="REQ-0")).status == 200  # evicted: runs again
    assert len(action.events) == 5


def test_idempotency_disabled_runs_every_replay(function_with: Any, signer: OssSigner) -> None:
    action = CountingAction()
    _, server = function_with(action, CALLBACK_IDEMPOTENCY_SIZE="0")
    callback = _upload(signer, server.url + "/cb", "a.txt")
    assert [post(callback).status for _ in range(3)] == [200] * 3
    assert len(action.events) == 3
