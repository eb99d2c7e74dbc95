"""Asynchronous invocation: 202 at once, FC's retries of a failed run, and a record of every attempt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import fc2
import pytest

from osscallback.local.fc import FCCredentials, FunctionSpec, LocalFCHost
from osscallback.local.fc.model.asyncinvoke import AsyncInvocation
from tests.support.fc import FIXTURES, LogLines

ECHO = FIXTURES / "echo"
BACKOFF = 0.2


class Observed:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshots: list[AsyncInvocation] = []

    def __call__(self, record: AsyncInvocation) -> None:
        with self.lock:
            self.snapshots.append(record)

    def statuses(self, request_id: str) -> list[str]:
        with self.lock:
            return [s.status for s in self.snapshots if s.request_id == request_id]


@pytest.fixture(scope="module")
def observed() -> Observed:
    return Observed()


@pytest.fixture(scope="module")
def host(credentials: FCCredentials, observed: Observed) -> Iterator[LocalFCHost]:
    specs = [
        FunctionSpec("tests", "echo", "index.handler", ECHO, timeout=2),
        FunctionSpec("tests", "once", "index.handler", ECHO, timeout=1, async_retry_attempts=1),
        FunctionSpec("tests", "web", "index.http", ECHO, http_methods=("GET",)),
    ]
    with LocalFCHost(specs, credentials=credentials, instances={"echo": 2}, async_backoff=BACKOFF,
                     async_observer=observed, log_sink=LogLines(), stop_grace=2) as fc:
        yield fc


@pytest.fixture()
def client(host: LocalFCHost, credentials: FCCredentials) -> fc2.Client:
    return fc2.Client(endpoint=host.endpoint, accessKeyID=credentials.access_key_id,
                      accessKeySecret=credentials.access_key_secret)


def test_a_failing_run_is_retried_until_it_succeeds(host: LocalFCHost, client: fc2.Client, observed: Observed,
                                                    tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    response = client.invoke_function("tests", "echo", payload=json.dumps(
        {"op": "flaky", "file": str(runs), "fail": 2}).encode(), headers={"x-fc-invocation-type": "Async"})
    assert response.data == b""
    request_id = response.headers["X-Fc-Request-Id"]
    assert host.wait_async(60, [request_id])
    record = host.async_invocation(request_id)
    assert record is not None and record.status == "succeeded" and record.source == "InvokeFunction"
    assert [a.ok for a in record.attempts] == [False, False, True]
    assert record.attempts[0].error_type == "UnhandledInvocationError"
    assert record.attempts[0].error_message == "flaky failure 1"
    assert json.loads(record.result)["runs"] == 3
    assert runs.read_text().split() == [request_id] * 3  # every attempt keeps the invocation's request id
    assert {a.instance for a in record.attempts} == {"echo", "echo#2"}  # retries land on any instance
    statuses = observed.statuses(request_id)
    assert statuses[0] == "queued" and statuses[-1] == "succeeded"
    assert statuses.count("running") == 3 and statuses.count("retrying") == 2


def test_fc_retries_three_times_with_a_growing_backoff(host: LocalFCHost) -> None:
    queued = host.invoke_async("echo", {"op": "raise", "message": "always"})
    assert queued.status == "queued" and queued.max_attempts == 4  # FC: maxAsyncRetryAttempts 3 = 4 runs
    assert host.wait_async(60, [queued.request_id])
    record = host.async_invocation(queued.request_id)
    assert record is not None and record.status == "failed" and not record.ok
    assert [a.number for a in record.attempts] == [1, 2, 3, 4]
    assert all(not a.ok and a.error_message == "always" for a in record.attempts)
    gaps = [b.started - (a.started + a.duration_ms / 1000) for a, b in pairwise(record.attempts)]
    assert all(gap >= BACKOFF * 2 ** i - 0.01 for i, gap in enumerate(gaps)), gaps  # 0.2, 0.4, 0.8 s at least
    doc = record.to_dict()
    assert doc["status"] == "failed" and len(doc["attempts"]) == 4
    assert json.loads(doc["payload"]) == {"op": "raise", "message": "always"}


def test_a_timed_out_run_fails_and_the_spec_sets_the_retries(host: LocalFCHost, tmp_path: Path) -> None:
    queued = host.invoke_async("once", {"op": "sleep", "seconds": 5})
    assert queued.max_attempts == 2  # async_retry_attempts=1 (the template's maxAsyncRetryAttempts)
    assert host.wait_async(60, [queued.request_id])
    record = host.async_invocation(queued.request_id)
    assert record is not None and record.status == "failed"
    assert [a.error_message for a in record.attempts] == ["Function timed out after 1 seconds"] * 2
    assert json.loads(host.invoke("once", {"op": "echo"}))["event"] == {"op": "echo"}  # restarted after the kill


def test_success_on_the_first_run_and_the_record_list(host: LocalFCHost) -> None:
    record = host.invoke_async("echo", b'{"op": "echo"}')
    assert host.wait_async(60, [record.request_id])
    done = host.async_invocation(record.request_id)
    assert done is not None and done.ok and len(done.attempts) == 1 and done.finished is not None
    assert json.loads(done.result)["request_id"] == record.request_id
    assert record.request_id in [r.request_id for r in host.async_invocations()]


def test_http_functions_are_not_invoked_asynchronously(host: LocalFCHost) -> None:
    with pytest.raises(Exception, match="HTTP trigger"):
        host.invoke_async("web", {})


def test_stopping_abandons_waiting_retries(credentials: FCCredentials) -> None:
    spec = FunctionSpec("svc", "echo", "index.handler", ECHO, timeout=2)
    fc = LocalFCHost([spec], credentials=credentials, async_backoff=600, log_sink=LogLines(), stop_grace=2)
    with fc:
        queued = fc.invoke_async("echo", {"op": "raise"})
        deadline = time.monotonic() + 30
        while (rec := fc.async_invocation(queued.request_id)) is not None and rec.status != "retrying":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        started = time.monotonic()
    assert time.monotonic() - started < 60  # not the 600 s backoff
    record = fc.async_invocation(queued.request_id)
    assert record is not None and record.status == "abandoned" and len(record.attempts) == 1
    assert fc.wait_async(1)
