"""The FC 3.0 API's per-function configurations: asynchronous invocation (kept), and the ones the host has none of.

Serverless Devs' fc3 component (devsapp/fc3 0.1.22) reads every configuration a function may have, whether or
not the template sets it: ``deploy`` asks GetAsyncInvokeConfig, ListVpcBindings, GetScalingConfig and
GetConcurrencyConfig before it writes (``src/subCommands/deploy/impl/*.ts``, each ``getRemote``), ``info`` and
``plan`` ask for what the template declares, ``remove`` lists VPC bindings, scaling configurations, aliases,
versions and asynchronous configurations and reads the concurrency configuration before it deletes
(``src/subCommands/remove/index.ts``). Paths, methods and shapes are the SDK's (``alibabacloud_fc20230330``,
``Client.*_with_options``; the Node SDK fc3 bundles is the same generated code).

The asynchronous-invocation configuration is kept and applied (:mod:`.fc3asyncconfig`). The others are answered
as FC answers for a function that has none, which is every function here (the local host has no VPCs, versions,
aliases, provisioned or reserved instances):

- ListVpcBindings: ``200 {"vpcIds": []}`` (``ListVpcBindingsOutput``; Terraform's ``DescribeFcv3VpcBinding``
  reads ``$.vpcIds``);
- GetScalingConfig: ``200`` without ``functionArn`` (fc3's ``getFunctionScalingConfig``: an empty ``functionArn``
  means none);
- GetProvisionConfig: ``200 {"target": 0, "current": 0}`` (fc3's ``getFunctionProvisionConfig``, as above;
  Terraform's ``DescribeFcv3ProvisionConfig``: ``target`` 0 means none);
- GetConcurrencyConfig: ``404 OnDemandConfigNotFound`` (Terraform's ``DescribeFcv3ConcurrencyConfig``);
- ListScalingConfigs / ListProvisionConfigs / ListConcurrencyConfigs: an empty ``scalingConfigs`` /
  ``provisionConfigs`` / ``configs`` (``List*Output``);
- ListAliases / ListFunctionVersions: an empty ``aliases`` / ``versions`` (``ListAliasesOutput`` /
  ``ListVersionsOutput``).

(Terraform: aliyun/terraform-provider-alicloud ``alicloud/service_alicloud_fcv3_v2.go``.) Each per-function call
on a function that does not exist is FC's ``404 FunctionNotFound``.
"""

from __future__ import annotations

from osscallback.local.fc.api import fc3asyncconfig
from osscallback.local.fc.api.backend import Backend
from osscallback.local.fc.api.fc3 import request_json
from osscallback.local.fc.api.wire import Request, json_answer
from osscallback.local.fc.errors import OnDemandConfigNotFound
from osscallback.local.fc.model.instances import Answer


def _function(backend: Backend, req: Request) -> str:
    """The path's function, which must exist (else FC's FunctionNotFound)."""
    name = req.params["function"]
    backend.control.get_function(name)
    return name


# ------------------------------------------------------------------------------ asynchronous invocation
def get_async_invoke_config(backend: Backend, req: Request) -> Answer:
    qualifier = fc3asyncconfig.qualifier_of(req.query())
    return json_answer(backend.control.get_async_invoke_config(req.params["function"], qualifier), req.request_id)


def put_async_invoke_config(backend: Backend, req: Request) -> Answer:
    fc3asyncconfig.qualifier_of(req.query())
    doc = backend.control.put_async_invoke_config(req.params["function"], request_json(req.body))
    return json_answer(doc, req.request_id)


def delete_async_invoke_config(backend: Backend, req: Request) -> Answer:
    qualifier = fc3asyncconfig.qualifier_of(req.query())
    backend.control.delete_async_invoke_config(req.params["function"], qualifier)
    return json_answer(None, req.request_id, 204)


def list_async_invoke_configs(backend: Backend, req: Request) -> Answer:
    return json_answer(backend.control.list_async_invoke_configs(req.query()), req.request_id)


# ------------------------------------------------------------------------------ configurations it has none of
def list_vpc_bindings(backend: Backend, req: Request) -> Answer:
    _function(backend, req)
    return json_answer({"vpcIds": []}, req.request_id)


def get_scaling_config(backend: Backend, req: Request) -> Answer:
    _function(backend, req)
    fc3asyncconfig.qualifier_of(req.query())
    return json_answer({"minInstances": 0, "currentInstances": 0}, req.request_id)


def get_provision_config(backend: Backend, req: Request) -> Answer:
    _function(backend, req)
    fc3asyncconfig.qualifier_of(req.query())
    return json_answer({"target": 0, "current": 0}, req.request_id)


def get_concurrency_config(backend: Backend, req: Request) -> Answer:
    raise OnDemandConfigNotFound(_function(backend, req))


def list_aliases(backend: Backend, req: Request) -> Answer:
    _function(backend, req)
    return json_answer({"aliases": []}, req.request_id)


def list_function_versions(backend: Backend, req: Request) -> Answer:
    _function(backend, req)
    return json_answer({"versions": [], "direction": req.query().get("direction") or "BACKWARD"}, req.request_id)


def list_scaling_configs(backend: Backend, req: Request) -> Answer:
    return json_answer({"scalingConfigs": []}, req.request_id)


def list_provision_configs(backend: Backend, req: Request) -> Answer:
    return json_answer({"provisionConfigs": []}, req.request_id)


def list_concurrency_configs(backend: Backend, req: Request) -> Answer:
    return json_answer({"configs": []}, req.request_id)


__all__ = ["delete_async_invoke_config", "get_async_invoke_config", "get_concurrency_config",
           "get_provision_config", "get_scaling_config", "list_aliases", "list_async_invoke_configs",
           "list_concurrency_configs", "list_function_versions", "list_provision_configs", "list_scaling_configs",
           "list_vpc_bindings", "put_async_invoke_config"]
