"""The declared timeout is enforced: FC's timeout error, the runaway process killed, a fresh one next time."""

from __future__ import annotations

import json
import os
import time

import fc2
import pytest

from osscallback.local.fc import FCCredentials, FunctionInvocationError, LocalFCHost
from tests.support.fc import TIMEOUT, alive, request


def test_event_timeout_kills_and_restarts(fc_host: LocalFCHost, credentials: FCCredentials) -> None:
    client = fc2.Client(endpoint=fc_host.endpoint, accessKeyID=credentials.access_key_id,
                        accessKeySecret=credentials.access_key_secret)
    old_pid = json.loads(fc_host.invoke("echo", {"op": "echo"}))["pid"]
    sleep_for = TIMEOUT * 15
    started = time.monotonic()
    with pytest.raises(fc2.fc_exceptions.FcError) as caught:
        client.invoke_function("tests", "echo", payload=json.dumps({"op": "sleep", "seconds": sleep_for}))
    elapsed = time.monotonic() - started
    assert elapsed < sleep_for / 2  # cut off at the timeout, not after the function finished
    assert json.loads(caught.value.message)["errorMessage"] == "Function timed out after 2 seconds"
    assert caught.value.status_code == 200
    assert not alive(old_pid)  # the runaway function no longer runs

    doc = json.loads(fc_host.invoke("echo", {"op": "echo"}))  # the next invocation works, in a new instance
    assert doc["pid"] != old_pid
    assert fc_host.worker("echo").restarts >= 1


def test_http_timeout_is_502_and_restarts(fc_host: LocalFCHost) -> None:
    before = fc_host.worker("web").pid
    status, headers, body = request(fc_host.url_for("web") + "?sleep", "POST", str(TIMEOUT * 15).encode())
    assert status == 502
    assert headers["x-fc-error-type"] == "UnhandledInvocationError"
    assert json.loads(body)["errorMessage"] == "Function timed out after 2 seconds"
    assert before is not None and not alive(before)
    status, _, _ = request(fc_host.url_for("web"))
    assert status == 200


def test_fast_function_within_timeout(fc_host: LocalFCHost) -> None:
    doc = json.loads(fc_host.invoke("echo", {"op": "sleep", "seconds": TIMEOUT / 10}))
    assert doc["slept"] == TIMEOUT / 10


def test_process_exit_is_reported_and_restarted(fc_host: LocalFCHost) -> None:
    old_pid = json.loads(fc_host.invoke("echo", {"op": "echo"}))["pid"]
    with pytest.raises(FunctionInvocationError) as caught:
        fc_host.invoke("echo", {"op": "exit"})
    assert "Process exited unexpectedly" in json.loads(caught.value.body)["errorMessage"]
    doc = json.loads(fc_host.invoke("echo", {"op": "echo"}))
    assert doc["pid"] != old_pid and doc["pid"] != os.getpid()


def test_timeouts_do_not_disturb_other_functions(fc_host: LocalFCHost) -> None:
    web_pid = fc_host.worker("web").pid
    with pytest.raises(FunctionInvocationError):
        fc_host.invoke("echo", {"op": "sleep", "seconds": TIMEOUT * 15})
    assert fc_host.worker("web").pid == web_pid
