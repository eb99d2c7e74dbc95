"""A function's configurations through the FC 3.0 API, driven by the official FC 3.0 SDK (``alibabacloud-fc20230330``).

These are the calls Serverless Devs' fc3 component (devsapp/fc3 0.1.22) makes beside the function itself
(``src/subCommands/{deploy/impl,info,plan,remove}``): the asynchronous-invocation configuration is stored, returned
and applied as FC 3.0 does (``/2023-03-30/functions/{name}/async-invoke-config``, data structure ``AsyncConfig``:
https://help.aliyun.com/zh/functioncompute/fc/developer-reference/api-fc-2023-03-30-getasyncinvokeconfig); the
ones the local host has none of are answered as FC answers for a function without them (sources in
``osscallback.local.fc.api.fc3configs``): empty lists, FC's ``404 AsyncConfigNotExists`` (FC's error centre,
https://help.aliyun.com/document_detail/440324.html) and ``404 OnDemandConfigNotFound`` (the code
aliyun/terraform-provider-alicloud's ``alicloud/service_alicloud_fcv3_v2.go`` reads as "no concurrency config").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_fc20230330 import models
from alibabacloud_fc20230330.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config

from osscallback.local.fc import FCCredentials, FunctionSpec, LocalFCHost
from tests.support.fc import ACCOUNT, FIXTURES, LogLines

ECHO = FIXTURES / "echo"
SINK_ARN = "acs:fc:cn-hangzhou::functions/sink"


@pytest.fixture(scope="module")
def host(credentials: FCCredentials, record_file: Path) -> Iterator[LocalFCHost]:
    specs = [
        FunctionSpec("", "work", "index.handler", ECHO, timeout=5, fc_version=3),
        # a template's function with asyncInvokeConfig: the API shows it as that function's AsyncConfig
        FunctionSpec("", "templated", "index.handler", ECHO, timeout=5, fc_version=3, async_retry_attempts=2,
                     async_max_event_age=300, async_on_failure=SINK_ARN),
        FunctionSpec("", "sink", "index.handler", ECHO, timeout=5, fc_version=3, env={"RECORD_FILE": str(record_file)}),
    ]
    with LocalFCHost(specs, credentials=credentials, async_backoff=0.1, account_id=ACCOUNT, log_sink=LogLines(),
                     stop_grace=2) as fc:
        yield fc


@pytest.fixture(scope="module")
def client(host: LocalFCHost, credentials: FCCredentials) -> Client:
    return Client(Config(access_key_id=credentials.access_key_id, access_key_secret=credentials.access_key_secret,
                         endpoint=host.endpoint.removeprefix("http://"), protocol="http", read_timeout=30000))


def _refused(call: object) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_async_invoke_config_is_stored_returned_listed_and_deleted(client: Client) -> None:
    missing = _refused(lambda: client.get_async_invoke_config("work", models.GetAsyncInvokeConfigRequest()))
    assert (missing.status_code, missing.code) == (404, "AsyncConfigNotExists")
    assert missing.data["Message"] == "AsyncConfig for work:LATEST does not exist."
    put = client.put_async_invoke_config("work", models.PutAsyncInvokeConfigRequest(
        qualifier="LATEST", body=models.PutAsyncInvokeConfigInput(
            max_async_retry_attempts=1, max_async_event_age_in_seconds=600,
            destination_config=models.DestinationConfig(on_failure=models.Destination(destination=SINK_ARN))))).body
    assert put.function_arn == f"acs:fc:cn-hangzhou:{ACCOUNT}:functions/work"
    assert (put.max_async_retry_attempts, put.max_async_event_age_in_seconds) == (1, 600)
    assert put.destination_config.on_failure.destination == SINK_ARN and put.created_time and put.last_modified_time
    got = client.get_async_invoke_config("work", models.GetAsyncInvokeConfigRequest(qualifier="LATEST")).body
    assert got.to_map() == put.to_map()
    listed = client.list_async_invoke_configs(models.ListAsyncInvokeConfigsRequest(function_name="work")).body
    assert [c.function_arn for c in listed.configs] == [put.function_arn]
    everything = client.list_async_invoke_configs(models.ListAsyncInvokeConfigsRequest()).body
    assert {c.function_arn.rsplit("/", 1)[1] for c in everything.configs} == {"work", "templated"}

    client.delete_async_invoke_config("work", models.DeleteAsyncInvokeConfigRequest(qualifier="LATEST"))
    again = _refused(lambda: client.delete_async_invoke_config("work", models.DeleteAsyncInvokeConfigRequest()))
    assert (again.status_code, again.code) == (404, "AsyncConfigNotExists")
    assert not client.list_async_invoke_configs(models.ListAsyncInvokeConfigsRequest(function_name="work")).body.configs


def test_a_templates_async_config_is_the_functions(client: Client) -> None:
    got = client.get_async_invoke_config("templated", models.GetAsyncInvokeConfigRequest()).body
    assert (got.max_async_retry_attempts, got.max_async_event_age_in_seconds) == (2, 300)
    assert got.destination_config.on_failure.destination == SINK_ARN and got.destination_config.on_success is None


def test_the_stored_config_is_what_async_invocations_obey(client: Client, host: LocalFCHost,
                                                          record_file: Path) -> None:
    """Retries and the failure destination come from PutAsyncInvokeConfig, changed between two invocations."""
    def failing_run(retries: int) -> list[dict[str, object]]:
        client.put_async_invoke_config("work", models.PutAsyncInvokeConfigRequest(body=models.PutAsyncInvokeConfigInput(
            max_async_retry_attempts=retries,
            destination_config=models.DestinationConfig(on_failure=models.Destination(destination=SINK_ARN)))))
        queued = host.invoke_async("work", {"op": "raise", "message": f"with {retries} retries"})
        assert host.wait_async(60)
        finished = host.async_invocation(queued.request_id)
        assert finished is not None and finished.status == "failed"
        assert len(finished.attempts) == retries + 1
        return [json.loads(line)["event"] for line in record_file.read_text().splitlines()
                if json.loads(line)["event"]["requestContext"]["requestId"] == queued.request_id]

    first = failing_run(0)
    assert [r["requestContext"]["approximateInvokeCount"] for r in first] == [1]  # type: ignore[index]
    second = failing_run(2)
    assert [r["requestContext"]["approximateInvokeCount"] for r in second] == [3]  # type: ignore[index]
    client.delete_async_invoke_config("work", models.DeleteAsyncInvokeConfigRequest())


def test_bad_async_configs_are_refused(client: Client) -> None:
    too_many = _refused(lambda: client.put_async_invoke_config("work", models.PutAsyncInvokeConfigRequest(
        body=models.PutAsyncInvokeConfigInput(max_async_retry_attempts=9))))
    assert (too_many.status_code, too_many.code) == (400, "InvalidArgument") and "0 to 8" in too_many.message
    version = _refused(lambda: client.get_async_invoke_config("work", models.GetAsyncInvokeConfigRequest(
        qualifier="1")))
    assert version.code == "InvalidArgument" and "LATEST" in version.message
    gone = _refused(lambda: client.put_async_invoke_config("nope", models.PutAsyncInvokeConfigRequest(
        body=models.PutAsyncInvokeConfigInput(max_async_retry_attempts=1))))
    assert (gone.status_code, gone.code) == (404, "FunctionNotFound")


def test_configurations_it_has_none_of(client: Client) -> None:
    assert client.list_vpc_bindings("work").body.vpc_ids == []
    scaling = client.get_scaling_config("work", models.GetScalingConfigRequest(qualifier="LATEST")).body
    assert not scaling.function_arn  # fc3: an empty functionArn means "none"
    provision = client.get_provision_config("work", models.GetProvisionConfigRequest(qualifier="LATEST")).body
    assert (provision.target, provision.function_arn) == (0, None)
    concurrency = _refused(lambda: client.get_concurrency_config("work"))
    assert (concurrency.status_code, concurrency.code) == (404, "OnDemandConfigNotFound")
    assert client.list_aliases("work", models.ListAliasesRequest(limit=100)).body.aliases == []
    assert client.list_function_versions("work", models.ListFunctionVersionsRequest(limit=100)).body.versions == []
    assert client.list_scaling_configs(models.ListScalingConfigsRequest(function_name="work")).body \
        .scaling_configs == []
    assert client.list_provision_configs(models.ListProvisionConfigsRequest(function_name="work")).body \
        .provision_configs == []
    assert client.list_concurrency_configs(models.ListConcurrencyConfigsRequest()).body.configs == []
    for call in (lambda: client.list_vpc_bindings("nope"), lambda: client.get_concurrency_config("nope"),
                 lambda: client.list_aliases("nope", models.ListAliasesRequest())):
        gone = _refused(call)
        assert (gone.status_code, gone.code) == (404, "FunctionNotFound")
    unsupported = _refused(lambda: client.publish_function_version("work", models.PublishFunctionVersionRequest(
        body=models.PublishVersionInput(description="v1"))))
    assert (unsupported.status_code, unsupported.code) == (400, "PathNotSupported")


def test_timer_triggers_through_the_api(client: Client, host: LocalFCHost) -> None:
    """fc3 deploys a timer trigger (FC 3.0 TimerTriggerConfig: cronExpression, enable, payload) like any other:
    created through the API, it fires with FC's time-trigger event; a schedule FC would refuse is InvalidArgument."""
    config = {"cronExpression": "@every 1h", "enable": True, "payload": "from the API"}
    client.create_trigger("work", models.CreateTriggerRequest(body=models.CreateTriggerInput(
        trigger_name="tick", trigger_type="timer", qualifier="LATEST", trigger_config=json.dumps(config))))
    assert json.loads(client.get_trigger("work", "tick").body.trigger_config) == config
    fired = host.fire_timer("work", "tick")
    assert host.wait_async(60)
    finished = host.async_invocation(fired.request_id)
    assert finished is not None and finished.status == "succeeded", finished
    assert finished.source == "timer:tick" and json.loads(finished.payload)["payload"] == "from the API"
    assert json.loads(finished.result)["event"]["triggerName"] == "tick"  # what the function received
    bad = _refused(lambda: client.update_trigger("work", "tick", models.UpdateTriggerRequest(
        body=models.UpdateTriggerInput(trigger_config=json.dumps({"cronExpression": "every hour"})))))
    assert bad.code == "InvalidArgument" and "every hour" in bad.message
    client.delete_trigger("work", "tick")
