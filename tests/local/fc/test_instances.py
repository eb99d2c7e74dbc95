"""instances=N: several worker processes per function behind one URL, requests spread over them as FC does."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import fc2
import pytest

from osscallback.local.fc import FCCredentials, FunctionSpec, LocalFCHost
from tests.support.fc import FIXTURES, TIMEOUT, LogLines, alive, request, wait_gone

ECHO = FIXTURES / "echo"


@pytest.fixture(scope="module")
def lines() -> LogLines:
    return LogLines()


@pytest.fixture(scope="module")
def host(credentials: FCCredentials, lines: LogLines) -> Iterator[LocalFCHost]:
    specs = [
        FunctionSpec("tests", "web", "index.http", ECHO, timeout=10, http_methods=("GET", "POST")),
        FunctionSpec("tests", "echo", "index.handler", ECHO, timeout=TIMEOUT),
        FunctionSpec("tests", "single", "index.handler", ECHO, timeout=TIMEOUT),
    ]
    with LocalFCHost(specs, credentials=credentials, instances={"web": 2, "echo": 3}, log_sink=lines,
                     stop_grace=2) as fc:
        yield fc


def state(fc: LocalFCHost) -> dict[str, object]:
    status, headers, body = request(fc.url_for("web") + "?state")
    assert status == 200, body
    doc: dict[str, object] = json.loads(body)
    doc["header_request_id"] = headers["x-fc-request-id"]
    return doc


def test_each_instance_is_its_own_process_with_its_own_memory(host: LocalFCHost) -> None:
    answers = [state(host) for _ in range(6)]
    by_pid = Counter(a["pid"] for a in answers)
    assert len(by_pid) == 2 and set(by_pid.values()) == {3}  # idle instances take turns
    for pid in by_pid:  # module state counts only what its own process served
        counts = [a["count"] for a in answers if a["pid"] == pid]
        assert counts == sorted(counts) and counts[-1] - counts[0] == 2
    instance_ids = {a["pid"]: a["instance"] for a in answers}
    assert len(set(instance_ids.values())) == 2 and all(instance_ids.values())
    request_ids = [a["request_id"] for a in answers]
    assert len(set(request_ids)) == 6  # a request id per request, whichever instance served it
    assert all(a["request_id"] == a["header_request_id"] for a in answers)


def test_a_busy_instance_is_passed_over(host: LocalFCHost, lines: LogLines, tmp_path: Path) -> None:
    slow: dict[str, object] = {}
    before = {label: len(lines.of(label)) for label in ("web", "web#2")}
    release = tmp_path / "release"  # the busy request holds its instance until this file exists: no race with time

    def slow_request() -> None:
        status, _, body = request(host.url_for("web") + "?hold", "POST", str(release).encode())
        slow.update(status=status, body=body)

    thread = threading.Thread(target=slow_request)
    thread.start()
    try:
        deadline = time.monotonic() + 30  # until the held request is running in one instance
        busy = None
        while busy is None and time.monotonic() < deadline:
            for label in ("web", "web#2"):
                if any(line.startswith("FC Invoke Start") for line in lines.of(label)[before[label]:]):
                    busy = label
            time.sleep(0.02)
        assert busy is not None
        busy_pid = host.workers("web")[0 if busy == "web" else 1].pid
        quick = [state(host)["pid"] for _ in range(4)]
    finally:
        release.touch()
        thread.join(30)
    assert slow["status"] == 200
    assert busy_pid not in quick and len(set(quick)) == 1  # every quick request went to the idle instance


def test_event_functions_get_instances_by_name(host: LocalFCHost, credentials: FCCredentials) -> None:
    client = fc2.Client(endpoint=host.endpoint, accessKeyID=credentials.access_key_id,
                        accessKeySecret=credentials.access_key_secret)
    pids = [json.loads(client.invoke_function("tests", "echo", payload=b"{}").data)["pid"] for _ in range(6)]
    assert len(set(pids)) == 3
    single = {json.loads(host.invoke("single", {}))["pid"] for _ in range(3)}
    assert len(single) == 1  # not named: one instance


def test_worker_pids_and_labels(host: LocalFCHost, lines: LogLines) -> None:
    pids = host.worker_pids()
    assert {"tests/web", "tests/web#2", "tests/echo", "tests/echo#2", "tests/echo#3", "tests/single"} == set(pids)
    assert len(set(pids.values())) == 6 and all(alive(p) for p in pids.values())
    assert [w.label for w in host.workers("echo")] == ["echo", "echo#2", "echo#3"]
    assert any(line.startswith("FC Invoke Start") for line in lines.of("web#2"))


def test_every_instance_stops_with_the_host(credentials: FCCredentials) -> None:
    spec = FunctionSpec("svc", "web", "index.http", ECHO, timeout=5, http_methods=("GET",))
    with LocalFCHost([spec], credentials=credentials, instances=3, stop_grace=2) as fc:
        pids = list(fc.worker_pids().values())
        assert len(pids) == 3
    assert wait_gone(pids) == []


def test_instances_must_be_positive() -> None:
    spec = FunctionSpec("svc", "web", "index.http", ECHO, http_methods=("GET",))
    with pytest.raises(ValueError, match="instances"):
        LocalFCHost([spec], instances=0)
