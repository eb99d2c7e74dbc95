"""FC 3.0's asynchronous-invocation configuration (data structure ``AsyncConfig``): checked, kept, applied.

What the control plane stores for Put/Get/Delete/ListAsyncInvokeConfig(s), and how a stored configuration becomes
the spec fields the host's asynchronous invocations obey (retries, event age, destinations: :mod:`..model.asyncinvoke`,
:mod:`..model.destinations`). Pure helpers: no lock, no registry.

Sources:

- ``PUT /2023-03-30/functions/{functionName}/async-invoke-config?qualifier=`` takes ``PutAsyncInvokeConfigInput``
  (``asyncTask``, ``destinationConfig``, ``maxAsyncEventAgeInSeconds``, ``maxAsyncRetryAttempts``) and answers the
  stored ``AsyncConfig`` (those fields plus ``createdTime``, ``lastModifiedTime``, ``functionArn``): the API pages
  https://help.aliyun.com/zh/functioncompute/fc/developer-reference/api-fc-2023-03-30-putasyncinvokeconfig and
  ``…-getasyncinvokeconfig``, and the SDK models ``alibabacloud_fc20230330.models.PutAsyncInvokeConfigInput`` /
  ``AsyncConfig``. Ranges: ``maxAsyncRetryAttempts`` 0-8, ``maxAsyncEventAgeInSeconds`` 1-604800
  (:mod:`osscallback.deploy.asyncconfig`, which cites them).
- A function without one: ``GetAsyncInvokeConfig`` is refused ``404 AsyncConfigNotExists``, "AsyncConfig for %s:%s
  does not exist." (FC's error centre, https://help.aliyun.com/document_detail/440324.html; the Terraform provider
  treats that code as "not found": aliyun/terraform-provider-alicloud ``alicloud/service_alicloud_fcv3_v2.go``,
  ``DescribeFcv3AsyncInvokeConfig``).
- ``functionArn`` names the qualifier after the function unless it is ``LATEST`` (devsapp/fc3
  ``src/subCommands/remove/index.ts`` reads it back as ``functionArn.split('/')[2] || 'LATEST'``).

The local host has no versions or aliases, so ``LATEST`` is the only qualifier it keeps a configuration for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osscallback.deploy.asyncconfig import MAX_EVENT_AGE, MAX_RETRY_ATTEMPTS
from osscallback.local.fc.errors import InvalidArgument
from osscallback.local.fc.spec import FunctionSpec

LATEST = "LATEST"


def qualifier_of(query: Mapping[str, str]) -> str:
    """The request's ``qualifier`` (``LATEST`` when absent); the local host keeps nothing for any other."""
    qualifier = query.get("qualifier") or LATEST
    if qualifier != LATEST:
        raise InvalidArgument(f"qualifier '{qualifier}': the local FC host has no versions or aliases "
                              "(use LATEST)")
    return qualifier


def config_doc(function_arn: str, body: Mapping[str, Any], old: Mapping[str, Any] | None,
               stamp: str) -> dict[str, Any]:
    """The ``AsyncConfig`` a PutAsyncInvokeConfig stores at time ``stamp``: the input checked, times and ARN added.

    PUT replaces the whole configuration (what it leaves out is FC's default again); ``createdTime`` survives.
    """
    doc: dict[str, Any] = {"functionArn": function_arn}
    retries = _bounded(body, "maxAsyncRetryAttempts", 0, MAX_RETRY_ATTEMPTS)
    if retries is not None:
        doc["maxAsyncRetryAttempts"] = retries
    age = _bounded(body, "maxAsyncEventAgeInSeconds", 1, MAX_EVENT_AGE)
    if age is not None:
        doc["maxAsyncEventAgeInSeconds"] = age
    task = body.get("asyncTask")
    if task is not None and not isinstance(task, bool):
        raise InvalidArgument("asyncTask must be a boolean")
    doc["asyncTask"] = bool(task)
    doc["destinationConfig"] = _destinations(body.get("destinationConfig"))
    doc["createdTime"] = str(old["createdTime"]) if old and old.get("createdTime") else stamp
    doc["lastModifiedTime"] = stamp
    return doc


def from_spec(function_arn: str, spec: FunctionSpec, stamp: str) -> dict[str, Any] | None:
    """The ``AsyncConfig`` a template's function starts with (``None`` when its template sets none)."""
    if spec.async_retry_attempts is None and spec.async_max_event_age is None and not (
            spec.async_on_success or spec.async_on_failure):
        return None
    body: dict[str, Any] = {"destinationConfig": {}}
    if spec.async_retry_attempts is not None:
        body["maxAsyncRetryAttempts"] = spec.async_retry_attempts
    if spec.async_max_event_age is not None:
        body["maxAsyncEventAgeInSeconds"] = int(spec.async_max_event_age)
    for key, destination in (("onSuccess", spec.async_on_success), ("onFailure", spec.async_on_failure)):
        if destination:
            body["destinationConfig"][key] = {"destination": destination}
    return config_doc(function_arn, body, None, stamp)


def spec_fields(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    """The :class:`FunctionSpec` fields a configuration sets (FC's defaults when there is none)."""
    if doc is None:
        return {"async_retry_attempts": None, "async_max_event_age": None, "async_on_success": "",
                "async_on_failure": ""}
    destinations = doc.get("destinationConfig") or {}
    age = doc.get("maxAsyncEventAgeInSeconds")
    return {
        "async_retry_attempts": doc.get("maxAsyncRetryAttempts"),
        "async_max_event_age": None if age is None else float(age),
        "async_on_success": str((destinations.get("onSuccess") or {}).get("destination") or ""),
        "async_on_failure": str((destinations.get("onFailure") or {}).get("destination") or ""),
    }


def _bounded(body: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{key} must be an integer from {low} to {high}, got {value!r}")
    return value


def _destinations(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument("destinationConfig must be an object")
    out: dict[str, Any] = {}
    for key in ("onSuccess", "onFailure"):
        target = value.get(key)
        if target is None:
            continue
        destination = target.get("destination") if isinstance(target, Mapping) else None
        if not isinstance(destination, str) or not destination:
            raise InvalidArgument(f"destinationConfig.{key}.destination must be an ARN")
        out[key] = {"destination": destination}
    return out


__all__ = ["LATEST", "config_doc", "from_spec", "qualifier_of", "spec_fields"]
