"""Asynchronous-invocation destinations and the maximum event age, as FC documents them.

FC's "Result callback" (https://help.aliyun.com/zh/functioncompute/user-guide/result-callback, FC 2.0:
https://help.aliyun.com/document_detail/422720.htm, "异步调用目标的事件内容") gives the record a destination gets:
``{"timestamp", "requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
"requestPayload", "responseContext": {"statusCode", "functionError"}, "responsePayload"}``; it is sent once the
invocation succeeded (onSuccess) or failed after its retries (onFailure). ``maxAsyncEventAgeInSeconds``: an event
older than that is discarded, not run ("Expired" in FC 3.0's AsyncTask API)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osscallback.local.fc import FCCredentials, FunctionSpec, LocalFCHost
from tests.support.fc import ACCOUNT, FIXTURES, LogLines

ECHO = FIXTURES / "echo"
SINK_ARN = "acs:fc:cn-hangzhou::services/tests.LATEST/functions/sink"


@pytest.fixture(scope="module")
def host(credentials: FCCredentials, record_file: Path) -> Iterator[LocalFCHost]:
    specs = [
        FunctionSpec("tests", "work", "index.handler", ECHO, timeout=5, async_retry_attempts=1,
                     async_on_success=SINK_ARN, async_on_failure=SINK_ARN),
        FunctionSpec("tests", "aged", "index.handler", ECHO, timeout=5, async_retry_attempts=8,
                     async_max_event_age=0.5, async_on_failure=SINK_ARN),
        FunctionSpec("tests", "silent", "index.handler", ECHO, timeout=5, async_retry_attempts=0,
                     async_on_failure="acs:mns:cn-hangzhou::/queues/q/messages"),  # not a function: not sent
        FunctionSpec("", "fc3-work", "index.handler", ECHO, timeout=5, async_retry_attempts=0, fc_version=3,
                     async_on_failure="acs:fc:cn-hangzhou::functions/sink"),
        FunctionSpec("tests", "sink", "index.handler", ECHO, timeout=5, env={"RECORD_FILE": str(record_file)}),
    ]
    with LocalFCHost(specs, credentials=credentials, async_backoff=0.2, account_id=ACCOUNT, log_sink=LogLines(),
                     stop_grace=2) as fc:
        yield fc


def _delivered(host: LocalFCHost, record_file: Path, request_id: str) -> dict[str, Any]:
    """The destination record the sink received for ``request_id`` (waiting for the invocations to finish)."""
    assert host.wait_async(60)
    for line in record_file.read_text().splitlines():
        doc = json.loads(line)["event"]
        if doc["requestContext"]["requestId"] == request_id:
            return dict(doc)
    raise AssertionError(f"no destination record for {request_id}")


def test_on_success_gets_the_documented_record(host: LocalFCHost, record_file: Path) -> None:
    payload = json.dumps({"op": "echo", "n": 1})
    queued = host.invoke_async("work", payload, service="tests")
    record = _delivered(host, record_file, queued.request_id)
    assert set(record) == {"timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload"}
    assert record["requestContext"] == {
        "requestId": queued.request_id, "functionArn": f"acs:fc:cn-hangzhou:{ACCOUNT}:services/tests/functions/work",
        "condition": "", "approximateInvokeCount": 1}
    assert record["requestPayload"] == payload
    assert record["responseContext"] == {"statusCode": 200, "functionError": ""}
    assert json.loads(record["responsePayload"])["event"] == {"op": "echo", "n": 1}
    assert isinstance(record["timestamp"], int) and abs(record["timestamp"] / 1000 - time.time()) < 60
    sink = [r for r in host.async_invocations() if r.function == "sink"]
    assert any(r.source == "destination:work" and r.ok for r in sink)


def test_on_failure_after_the_retries_with_the_error(host: LocalFCHost, record_file: Path) -> None:
    queued = host.invoke_async("work", {"op": "raise", "message": "always broken"}, service="tests")
    record = _delivered(host, record_file, queued.request_id)
    finished = host.async_invocation(queued.request_id)
    assert finished is not None and finished.status == "failed" and len(finished.attempts) == 2
    assert record["requestContext"]["condition"] == "UnhandledInvocationError"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # the first attempt and its one retry
    assert record["responseContext"]["functionError"] == "UnhandledInvocationError"
    assert json.loads(record["responsePayload"])["errorMessage"] == "always broken"


def test_an_event_older_than_its_maximum_age_is_discarded_to_on_failure(host: LocalFCHost, record_file: Path,
                                                                        tmp_path: Path) -> None:
    """8 retries at 0.2, 0.4, 0.8 s...: the event outlives 0.5 s long before they end, and is not run again."""
    queued = host.invoke_async("aged", {"op": "flaky", "file": str(tmp_path / "runs"), "fail": 100}, service="tests")
    record = _delivered(host, record_file, queued.request_id)
    finished = host.async_invocation(queued.request_id)
    assert finished is not None and finished.status == "expired"
    assert 1 <= len(finished.attempts) < 9
    assert len((tmp_path / "runs").read_text().split()) == len(finished.attempts)
    assert record["requestContext"]["condition"] == "Expired"
    assert record["requestContext"]["approximateInvokeCount"] == len(finished.attempts)


def test_fc3_arns_and_destinations_that_are_not_functions(host: LocalFCHost, record_file: Path) -> None:
    fc3 = host.invoke_async("fc3-work", {"op": "raise"})
    record = _delivered(host, record_file, fc3.request_id)
    assert record["requestContext"]["functionArn"] == f"acs:fc:cn-hangzhou:{ACCOUNT}:functions/fc3-work"
    silent = host.invoke_async("silent", {"op": "raise"}, service="tests")
    assert host.wait_async(60)
    assert not any(json.loads(line)["event"]["requestContext"]["requestId"] == silent.request_id
                   for line in record_file.read_text().splitlines())
    assert not any(r.source == "destination:silent" for r in host.async_invocations())
