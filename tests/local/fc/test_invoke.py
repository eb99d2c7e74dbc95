"""The FC 2.0 InvokeFunction API of the local host, driven by the real ``fc2.Client``."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import fc2
import pytest

from osscallback.local.fc import FCCredentials, FunctionInvocationError, LocalFCHost
from tests.support.fc import SERVICE, LogLines


@pytest.fixture()
def client(fc_host: LocalFCHost, credentials: FCCredentials) -> fc2.Client:
    return fc2.Client(
        endpoint=fc_host.endpoint,
        accessKeyID=credentials.access_key_id,
        accessKeySecret=credentials.access_key_secret,
        Timeout=30,
    )


def test_fc2_client_invokes_the_upload_function(client: fc2.Client, fc_host: LocalFCHost) -> None:
    # post_policy only signs locally: no OSS needed. The form is signed with context.credentials (the host's).
    event = {"action": "post_policy", "key_prefix": "browser/", "template": "form-basic"}
    response = client.invoke_function(SERVICE, "upload", payload=json.dumps(event))
    result = json.loads(response.data)
    assert result["ok"] is True, result
    assert response.headers["X-Fc-Request-Id"]
    assert result["accessid"] == fc_host.credentials.access_key_id  # signed with context.credentials
    callback = json.loads(base64.b64decode(result["fields"]["callback"]))  # the PostObject form field
    assert callback["callbackUrl"] == fc_host.url_for("callback")  # the env override reached the function


def test_upload_function_bad_event_is_a_structured_result(client: fc2.Client) -> None:
    response = client.invoke_function(SERVICE, "upload", payload=b'{"action": "no-such-action"}')
    result = json.loads(response.data)
    assert result["ok"] is False
    assert result["error"]


def test_context_environment_and_request_id(client: fc2.Client, fc_host: LocalFCHost,
                                           credentials: FCCredentials) -> None:
    response = client.invoke_function("tests", "echo", payload=json.dumps({"op": "echo", "n": 1}))
    doc = json.loads(response.data)
    assert doc["event"] == {"op": "echo", "n": 1}
    assert doc["request_id"] == response.headers["X-Fc-Request-Id"]
    assert doc["function"] == {"name": "echo", "handler": "index.handler", "memory": 128, "timeout": 2}
    assert doc["service"] == "tests"
    assert doc["region"] == fc_host.region and doc["account_id"] == fc_host.account_id
    assert doc["credentials"]["access_key_id"] == credentials.access_key_id
    assert doc["credentials"]["access_key_secret"] == credentials.access_key_secret
    assert doc["cwd"] == str(fc_host.spec("echo").code_dir)

    names = ["FROM_TEMPLATE", "CALLBACK_URL", "FC_FUNCTION_NAME", "FC_REGION", "ALIBABA_CLOUD_ACCESS_KEY_ID",
             "CALLBACK_KEY_URL_PREFIXES"]
    env = json.loads(client.invoke_function("tests", "echo", payload=json.dumps({"op": "env", "names": names})).data)
    assert env["FROM_TEMPLATE"] == "yes"
    assert env["CALLBACK_URL"] == fc_host.url_for("callback")
    assert env["FC_FUNCTION_NAME"] == "echo"
    assert env["FC_REGION"] == fc_host.region
    assert env["ALIBABA_CLOUD_ACCESS_KEY_ID"] == credentials.access_key_id
    assert env["CALLBACK_KEY_URL_PREFIXES"] is None  # another function's template variable stays there


def test_invocations_run_concurrently(fc_host: LocalFCHost) -> None:
    """A real multi-threaded server: N slow invocations take about as long as one, not N times as long."""
    n, seconds = 6, 0.5
    started = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: fc_host.invoke("echo", {"op": "sleep", "seconds": seconds}), range(n)))
    assert len(results) == n
    assert time.monotonic() - started < n * seconds / 2


def test_each_invocation_gets_its_own_request_id(client: fc2.Client) -> None:
    ids = {client.invoke_function("tests", "echo", payload=b"{}").headers["X-Fc-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_log_tail_and_printed_logs(client: fc2.Client, log_lines: LogLines) -> None:
    response = client.invoke_function("tests", "echo", payload=b'{"op": "log"}', headers={"x-fc-log-type": "Tail"})
    request_id = response.headers["X-Fc-Request-Id"]
    tail = base64.b64decode(response.headers["X-Fc-Log-Result"]).decode()
    assert f"FC Invoke Start RequestId: {request_id}" in tail
    assert f"printed line for {request_id}" in tail
    assert f"{request_id} [INFO] logged line" in tail  # log records carry the request id
    assert f"FC Invoke End RequestId: {request_id}" in tail
    assert response.data == b"logged"
    # the host printed the same lines, prefixed with the function name (from a reader thread: wait for them)
    deadline = time.monotonic() + 10
    while f"{request_id} [INFO] logged line" not in "\n".join(log_lines.of("echo")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"{request_id} [INFO] logged line" in "\n".join(log_lines.of("echo"))
    assert "X-Fc-Log-Result" not in client.invoke_function("tests", "echo", payload=b"{}").headers


def test_function_exception_is_fc_error_shape(client: fc2.Client) -> None:
    with pytest.raises(fc2.fc_exceptions.FcError) as caught:
        client.invoke_function("tests", "echo", payload=b'{"op": "raise", "message": "bad thing"}')
    error = caught.value
    assert error.status_code == 200  # FC answers 2xx + X-Fc-Error-Type for function errors
    doc = json.loads(error.message)
    assert doc["errorMessage"] == "bad thing"
    assert doc["errorType"] == "ValueError"
    assert any("index.py" in frame[0] for frame in doc["stackTrace"])
    assert error.request_id == doc["RequestId"]


def test_import_error_answers_every_invocation(fc_host: LocalFCHost) -> None:
    with pytest.raises(FunctionInvocationError) as caught:
        fc_host.invoke("broken")
    assert caught.value.error_type == "UnhandledInvocationError"
    doc = json.loads(caught.value.body)
    assert "Unable to import module 'index'" in doc["errorMessage"]
    assert doc["errorType"] == "ImportError"


def test_wrong_secret_is_rejected_like_fc(fc_host: LocalFCHost, credentials: FCCredentials) -> None:
    wrong = fc2.Client(endpoint=fc_host.endpoint, accessKeyID=credentials.access_key_id, accessKeySecret="nope")
    with pytest.raises(fc2.fc_exceptions.FcError) as caught:
        wrong.invoke_function("tests", "echo", payload=b"{}")
    assert caught.value.status_code == 403
    assert caught.value.err_code == "SignatureNotMatch"

    stranger = fc2.Client(endpoint=fc_host.endpoint, accessKeyID="someone-else", accessKeySecret="x")
    with pytest.raises(fc2.fc_exceptions.FcError) as caught:
        stranger.invoke_function("tests", "echo", payload=b"{}")
    assert caught.value.status_code == 403
    assert caught.value.err_code == "InvalidAccessKeyID"


def test_unknown_service_and_function(client: fc2.Client) -> None:
    with pytest.raises(fc2.fc_exceptions.FcError) as caught:
        client.invoke_function("tests", "missing", payload=b"{}")
    assert (caught.value.status_code, caught.value.err_code) == (404, "FunctionNotFound")
    with pytest.raises(fc2.fc_exceptions.FcError) as caught:
        client.invoke_function("nowhere", "echo", payload=b"{}")
    assert (caught.value.status_code, caught.value.err_code) == (404, "ServiceNotFound")


def test_qualifier_is_accepted(client: fc2.Client) -> None:
    response = client.invoke_function("tests", "echo", payload=b'{"op": "echo"}', qualifier="LATEST")
    assert json.loads(response.data)["service"] == "tests"


def test_async_invocation_is_accepted(client: fc2.Client, log_lines: LogLines) -> None:
    response = client.invoke_function("tests", "echo", payload=b'{"op": "echo"}',
                                      headers={"x-fc-invocation-type": "Async"})
    assert response.data == b""
    request_id = response.headers["X-Fc-Request-Id"]
    assert request_id


def test_get_function_metadata(client: fc2.Client) -> None:
    meta = client.get_function(SERVICE, "upload").data
    assert meta["functionName"] == "upload"
    assert meta["handler"] == "index.handler"
    assert meta["timeout"] == 300
    assert meta["runtime"] == "python3.10"


def test_host_invoke_helper(fc_host: LocalFCHost) -> None:
    doc = json.loads(fc_host.invoke("echo", {"op": "echo", "x": "y"}))
    assert doc["event"] == {"op": "echo", "x": "y"}
