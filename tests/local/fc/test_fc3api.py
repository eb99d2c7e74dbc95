"""The local FC 3.0 control plane, driven by the official FC 3.0 SDK (``alibabacloud-fc20230330``) unchanged.

As Serverless Devs' fc3 component deploys: create the callback function from ``osscallback build``'s package (code
as a base64 zip), give it an HTTP trigger, upload to the local OSS with a callback to that trigger's URL, update
the function, create and invoke the upload function (code uploaded to the temporary code bucket that
GetTempBucketToken names, as fc3's ``uploadCodeToTmpOss`` does), delete both.
"""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime

import oss2
import pytest
import requests
from alibabacloud_fc20230330 import models
from alibabacloud_fc20230330.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config
from fc2.auth import Auth

from osscallback.deploy.build import WHEELHOUSE, BuildOptions, FunctionPackage, build
from osscallback.local.oss.crc64 import crc64_of_bytes
from osscallback.local.stack import StackInfo
from tests.support.fc import ROOT, LogLines
from tests.support.oss_clients import REGION

pytestmark = pytest.mark.slow
TEMPLATE = ROOT / "template.yml"


def zipped(package: FunctionPackage) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.path.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(package.path).as_posix())
    return buf.getvalue()


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """`osscallback build` for this interpreter (so the packages run here), zipped as `s deploy` zips them."""
    import sys

    options = BuildOptions(project_root=ROOT, out_dir=tmp_path_factory.mktemp("fc3-build"), template=TEMPLATE,
                           python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
                           wheelhouse=ROOT / ".build" / WHEELHOUSE)
    return {p.name: zipped(p) for p in build(options, ["callback", "upload"])}


@pytest.fixture(scope="module")
def lines() -> LogLines:
    return LogLines()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, lines: LogLines) -> Iterator[StackInfo]:
    from osscallback.local.stack import LocalStack

    with LocalStack(template=TEMPLATE, data_dir=tmp_path_factory.mktemp("oss"), log_sink=lines) as running:
        yield running.info()


def fc3(info: StackInfo, secret: str | None = None, key_id: str | None = None) -> Client:
    endpoint = info.fc_endpoint.removeprefix("http://")
    return Client(Config(access_key_id=key_id or info.fc_access_key_id,
                         access_key_secret=secret or info.fc_access_key_secret,
                         security_token=info.fc_security_token, endpoint=endpoint, protocol="http",
                         read_timeout=60000, connect_timeout=10000))


def temp_bucket_token(info: StackInfo) -> dict[str, object]:
    """GetTempBucketToken as @alicloud/fc2 (fc3's client for it) sends it: FC 2.0's signature, x-fc-account-id."""
    path = "/2016-08-15/tempBucketToken"
    headers = {"date": format_datetime(datetime.now(timezone.utc), usegmt=True), "accept": "application/json",
               "x-fc-account-id": info.account_id, "x-fc-security-token": info.fc_security_token}
    headers["authorization"] = Auth(info.fc_access_key_id, info.fc_access_key_secret).sign_request("GET", path,
                                                                                                   headers)
    resp = requests.get(info.fc_endpoint + path, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    doc: dict[str, object] = resp.json()
    return doc


def upload_with_callback(info: StackInfo, key: str, url: str) -> tuple[int, dict[str, object]]:
    from osscallback.upload.templates import build_callback

    bucket = oss2.Bucket(oss2.AuthV4(info.access_key_id, info.access_key_secret), info.oss_endpoint, info.bucket, region=REGION)
    spec = build_callback("json-full", {"callback_url": url}, {"x:who": "sdk"})
    result = bucket.put_object(key, b"hello from the FC 3.0 SDK test", headers=spec.headers())
    return result.status, json.loads(result.resp.read())


def test_deploy_update_invoke_delete_with_the_fc3_sdk(stack: StackInfo, packages: dict[str, bytes],
                                                      lines: LogLines) -> None:
    client = fc3(stack)
    # 1. the callback function, code as a base64 zip, and its HTTP trigger
    created = client.create_function(models.CreateFunctionRequest(body=models.CreateFunctionInput(
        function_name="sdk-callback", runtime="python3.10", handler="index.handler_fc3", timeout=10,
        memory_size=256, environment_variables={"CALLBACK_ACTION": "log"},
        code=models.InputCodeLocation(zip_file=base64.b64encode(packages["callback"]).decode(),
                                      checksum=str(crc64_of_bytes(packages["callback"]))),
    ))).body
    assert created.function_name == "sdk-callback" and created.state == "Active"
    assert created.code_checksum == str(crc64_of_bytes(packages["callback"]))
    trigger = client.create_trigger("sdk-callback", models.CreateTriggerRequest(body=models.CreateTriggerInput(
        trigger_name="sdk-http", trigger_type="http", qualifier="LATEST",
        trigger_config=json.dumps({"authType": "anonymous", "methods": ["POST"]}),
    ))).body
    url = trigger.http_trigger.url_internet
    assert url.startswith("http://127.0.0.1:") and url != stack.callback_url
    got = client.get_trigger("sdk-callback", "sdk-http").body
    assert json.loads(got.trigger_config)["methods"] == ["POST"] and got.http_trigger.url_internet == url
    names = [f.function_name for f in client.list_functions(models.ListFunctionsRequest(limit=100)).body.functions]
    assert {"sdk-callback", "oss-callback-fc-callback", "oss-callback-fc-upload"} <= set(names)
    assert [t.trigger_name for t in client.list_triggers("sdk-callback", models.ListTriggersRequest()).body
            .triggers] == ["sdk-http"]

    # 2. OSS calls it back: the signature is verified over the function URL's raw path, and the answer returned
    status, answer = upload_with_callback(stack, "sdk/first.txt", url + "hook%20one")
    assert status == 200 and answer == {"Status": "OK", "bucket": stack.bucket, "object": "sdk/first.txt"}
    assert any("sdk/first.txt" in line for line in lines.of("sdk-callback"))

    # 3. update the configuration (answer template) and the code (now from OSS, as fc3 uploads it)
    token = temp_bucket_token(stack)
    creds = token["credentials"]
    assert isinstance(creds, dict) and token["ossBucket"] and str(token["objectName"]).endswith(".zip")
    object_name = f"{stack.account_id}/{token['objectName']}"
    temp = oss2.Bucket(oss2.StsAuth(creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"],
                                    auth_version="v4"), stack.oss_endpoint, str(token["ossBucket"]), region=REGION)
    temp.put_object(object_name, packages["callback"])
    updated = client.update_function("sdk-callback", models.UpdateFunctionRequest(body=models.UpdateFunctionInput(
        environment_variables={"CALLBACK_ACTION": "log", "CALLBACK_RESPONSE_TEMPLATE": "minimal"},
        code=models.InputCodeLocation(oss_bucket_name=str(token["ossBucket"]), oss_object_name=object_name),
    ))).body
    assert updated.environment_variables["CALLBACK_RESPONSE_TEMPLATE"] == "minimal"
    status, answer = upload_with_callback(stack, "sdk/second.txt", url)
    assert status == 200 and answer == {"Status": "OK"}  # the minimal answer: the update is what runs

    # 4. the upload function, from OSS code, invoked through FC 3.0's InvokeFunction
    upload_object = f"{stack.account_id}/upload.zip"
    temp.put_object(upload_object, packages["upload"])
    client.create_function(models.CreateFunctionRequest(body=models.CreateFunctionInput(
        function_name="sdk-upload", runtime="python3.10", handler="index.handler", timeout=60, memory_size=512,
        environment_variables={"CALLBACK_TEMPLATE": "json-full"},
        code=models.InputCodeLocation(oss_bucket_name=str(token["ossBucket"]), oss_object_name=upload_object),
    )))
    event = {"action": "put", "key": "sdk/invoked.txt", "content": "invoked", "template_vars": {"callback_url": url}}
    response = client.invoke_function("sdk-upload", models.InvokeFunctionRequest(body=json.dumps(event).encode()))
    result = json.loads(response.body.read())
    assert response.status_code == 200 and response.headers["x-fc-request-id"]
    checksum = client.get_function("sdk-upload", models.GetFunctionRequest()).body.code_checksum
    assert checksum and response.headers["x-fc-code-checksum"] == checksum  # the code that ran, as FC says
    assert result["ok"] and result["callback_status"] == "ok" and result["callback"] == {"Status": "OK"}, result

    # 5. delete: a function with triggers is refused (FunctionNotEmpty), then trigger, function, gone
    with pytest.raises(ClientException) as caught:
        client.delete_function("sdk-callback")
    assert (caught.value.status_code, caught.value.code) == (409, "FunctionNotEmpty")
    client.delete_trigger("sdk-callback", "sdk-http")
    client.delete_function("sdk-callback")
    client.delete_function("sdk-upload")
    for name in ("sdk-callback", "sdk-upload"):
        with pytest.raises(ClientException) as caught:
            client.get_function(name, models.GetFunctionRequest())
        assert (caught.value.status_code, caught.value.code) == (404, "FunctionNotFound")
    with pytest.raises(requests.ConnectionError):
        requests.post(url, data=b"x", timeout=5)


def test_template_functions_are_in_the_api(stack: StackInfo) -> None:
    client = fc3(stack)
    fn = client.get_function("oss-callback-fc-callback", models.GetFunctionRequest()).body
    assert fn.handler == "index.handler_fc3" and fn.runtime == "python3.12" and fn.timeout == 10
    trigger = client.get_trigger("oss-callback-fc-callback", "oss-callback").body
    assert trigger.trigger_type == "http" and trigger.http_trigger.url_internet == stack.callback_url
    payload = json.dumps({"action": "put", "key": "sdk/template.txt", "content": "x"}).encode()
    response = client.invoke_function("oss-callback-fc-upload", models.InvokeFunctionRequest(body=payload))
    assert json.loads(response.body.read())["callback_status"] == "ok"
    # what fc3's `s invoke` prints (devsapp/fc3 src/subCommands/invoke/index.ts showLog): FC's answer headers, as
    # a real invocation shows them (x-fc-instance-id: c-62b761c4-5a85e238b3ce404c817d, Serverless Devs' docs)
    assert response.headers["x-fc-invocation-service-version"] == "LATEST"
    assert re.fullmatch(r"c-[0-9a-f]{8}-[0-9a-f]{20}", response.headers["x-fc-instance-id"])
    again = client.invoke_function("oss-callback-fc-upload", models.InvokeFunctionRequest(body=payload))
    assert again.headers["x-fc-instance-id"] == response.headers["x-fc-instance-id"]  # one instance: the same id


def test_wrong_keys_get_fc_error_documents(stack: StackInfo) -> None:
    with pytest.raises(ClientException) as caught:
        fc3(stack, secret="not-the-secret").list_functions(models.ListFunctionsRequest())
    assert (caught.value.status_code, caught.value.code) == (403, "SignatureNotMatch")
    assert caught.value.request_id and caught.value.data["Message"]
    with pytest.raises(ClientException) as caught:
        fc3(stack, key_id="LTAIunknown").get_function("oss-callback-fc-upload", models.GetFunctionRequest())
    # FC 3.0's error-code table spells it InvalidAccessKeyID, like FC 2.0's
    # (https://help.aliyun.com/zh/functioncompute/api-fc-2023-03-30-errorcodes).
    assert (caught.value.status_code, caught.value.code) == (403, "InvalidAccessKeyID")


def test_bad_requests_are_refused_clearly(stack: StackInfo) -> None:
    client = fc3(stack)
    with pytest.raises(ClientException) as caught:
        client.create_function(models.CreateFunctionRequest(body=models.CreateFunctionInput(
            function_name="bad-zip", runtime="python3.10", handler="index.handler",
            code=models.InputCodeLocation(zip_file=base64.b64encode(b"not a zip").decode()))))
    assert caught.value.code == "InvalidArgument" and "not a zip" in caught.value.message
    with pytest.raises(ClientException) as caught:
        client.create_function(models.CreateFunctionRequest(body=models.CreateFunctionInput(
            function_name="node", runtime="nodejs18", handler="index.handler",
            code=models.InputCodeLocation(zip_file=base64.b64encode(b"x").decode()))))
    assert caught.value.code == "InvalidArgument" and "Python" in caught.value.message
    with pytest.raises(ClientException) as caught:
        client.create_function(models.CreateFunctionRequest(body=models.CreateFunctionInput(
            function_name="oss-callback-fc-upload", runtime="python3.10", handler="index.handler",
            code=models.InputCodeLocation(zip_file=base64.b64encode(b"x").decode()))))
    assert (caught.value.status_code, caught.value.code) == (409, "FunctionAlreadyExists")
    with pytest.raises(ClientException) as caught:
        client.create_trigger("oss-callback-fc-upload", models.CreateTriggerRequest(body=models.CreateTriggerInput(
            trigger_name="queue", trigger_type="mns_topic", trigger_config=json.dumps({"topicName": "t"}))))
    assert caught.value.code == "InvalidArgument" and "mns_topic" in caught.value.message
    with pytest.raises(ClientException) as caught:
        client.get_trigger("oss-callback-fc-upload", "nope")
    assert (caught.value.status_code, caught.value.code) == (404, "TriggerNotFound")
    with pytest.raises(ClientException) as caught:
        client.create_alias("oss-callback-fc-upload", models.CreateAliasRequest(body=models.CreateAliasInput(
            alias_name="prod", version_id="1")))
    assert caught.value.code == "PathNotSupported"


def test_temp_bucket_token_needs_the_fc2_signature(stack: StackInfo) -> None:
    url = stack.fc_endpoint + "/2016-08-15/tempBucketToken"
    unsigned = requests.get(url, timeout=30)
    assert unsigned.status_code == 400 and unsigned.json()["ErrorCode"] == "MissingRequiredHeader"
    headers = {"date": format_datetime(datetime.now(timezone.utc), usegmt=True)}
    headers["authorization"] = Auth(stack.fc_access_key_id, "wrong").sign_request("GET", "/2016-08-15/tempBucketToken",
                                                                                  headers)
    wrong = requests.get(url, headers=headers, timeout=30)
    assert wrong.status_code == 403 and wrong.json()["ErrorCode"] == "SignatureNotMatch"


def test_a_host_without_oss_says_so(credentials: object) -> None:
    from osscallback.local.fc import FCCredentials, LocalFCHost
    from osscallback.local.fc.api.fcapi import sign, string_to_sign

    creds = FCCredentials("k", "s")
    with LocalFCHost([], credentials=creds, log_sink=LogLines()) as host:
        headers = {"date": format_datetime(datetime.now(timezone.utc), usegmt=True)}
        headers["authorization"] = sign(creds, string_to_sign("GET", "/2016-08-15/tempBucketToken", headers))
        resp = requests.get(host.endpoint + "/2016-08-15/tempBucketToken", headers=headers, timeout=30)
        assert resp.status_code == 400 and "local stack" in resp.json()["ErrorMessage"]
        client = Client(Config(access_key_id="k", access_key_secret="s", endpoint=host.endpoint[7:], protocol="http"))
        with pytest.raises(ClientException) as caught:
            client.create_function(models.CreateFunctionRequest(body=models.CreateFunctionInput(
                function_name="f", runtime="python3.10", handler="index.handler",
                code=models.InputCodeLocation(oss_bucket_name="b", oss_object_name="k.zip"))))
        assert caught.value.code == "InvalidArgument" and "cannot read code from OSS" in caught.value.message
