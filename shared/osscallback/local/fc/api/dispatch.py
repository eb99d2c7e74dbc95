"""Routing: which FC operation a request is, which signature it needs, and which handler answers it.

The host's endpoint serves two API versions and the FC 2.0 HTTP triggers. ``AREAS`` says, by path prefix, which
API a request reached (so a refusal comes in that API's error shape) and whether its signature is checked before
the route is known (FC 3.0) or after (FC 2.0); ``ROUTES`` lists every operation once, like the local OSS's
:data:`osscallback.local.oss.api.dispatch.ROUTES`. A path an area does not know is answered ``PathNotSupported``.

| request | goes to |
| --- | --- |
| ``ANY /2016-08-15/proxy/<svc>/<fn>/<rest>`` | FC 2.0 HTTP fn ``fn`` (:mod:`.httpproxy`) |
| ``POST /2016-08-15/services/<svc>/functions/<fn>/invocations`` | FC 2.0 event function ``fn`` (:mod:`.fc2`) |
| ``GET /2016-08-15/services/<svc>/functions/<fn>`` | the function's configuration (GetFunction) |
| ``GET /2016-08-15/tempBucketToken`` | GetTempBucketToken (for ``fc3``'s code uploads) |
| ``POST /2023-03-30/functions/<fn>/invocations`` | FC 3.0 function ``fn`` (:mod:`.fc3`) |
| ``/2023-03-30/functions…`` | the FC 3.0 control plane (:mod:`.controlplane`) |
| ``/2023-03-30/functions/<fn>/async-invoke-config`` … | a function's configurations (:mod:`.fc3configs`) |
| ``GET /`` | JSON index of the functions and their URLs |
| ``ANY /<fn>/<rest>`` (short path) | the FC 2.0 HTTP function called ``fn``, when exactly one is |

FC 3.0 HTTP functions are not here: each has a function URL of its own (:func:`.httpproxy.function_url_app`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from osscallback.local.fc.api import fc2, fc3, fc3api, fc3configs, fcapi, httpproxy
from osscallback.local.fc.api.backend import Backend
from osscallback.local.fc.api.wire import Api, Request, error_answer
from osscallback.local.fc.errors import FCError, PathNotSupported
from osscallback.local.fc.model.instances import Answer

Handler = Callable[[Backend, Request], Answer]
StartResponse = Callable[..., Any]
V2, V3 = fcapi.API_VERSION, fc3api.API_VERSION


@dataclass(frozen=True)
class Area:
    """A part of the endpoint: its path prefix, the API (error shape and signature) it speaks."""

    name: str
    prefix: tuple[str, ...]  # path segments that start the area
    api: Api
    signed: Literal["fc2", "fc3"] | None = None  # the signature its routes need
    sign_first: bool = False  # check the signature before routing (FC 3.0 refuses any unsigned path)
    exact: bool = False  # the path is the prefix, nothing more
    note: str = ""  # added to PathNotSupported's message

    def contains(self, parts: list[str]) -> bool:
        if self.exact:
            return parts == list(self.prefix)
        return parts[:len(self.prefix)] == list(self.prefix)


@dataclass(frozen=True)
class Route:
    """One operation: its area, method (``None``: any), path pattern and handler.

    Pattern segments are literals, ``{name}`` (any one segment, unquoted into ``req.params``), ``{name+}`` (a
    non-empty one) or a final ``**`` (any number of segments, none included).
    """

    name: str
    area: str
    method: str | None
    pattern: tuple[str, ...]
    handler: Handler
    common: bool = False  # refusals carry X-Fc-Error-Type: FcCommonError (HTTP triggers)

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        if self.method is not None and self.method != method:
            return None
        params: dict[str, str] = {}
        for i, item in enumerate(self.pattern):
            if item == "**":
                return params
            if i >= len(parts):
                return None
            if item.startswith("{"):
                if item.endswith("+}") and not parts[i]:
                    return None
                params[item.strip("{}+")] = unquote(parts[i])
            elif item != parts[i]:
                return None
        return params if len(parts) == len(self.pattern) else None


AREAS: tuple[Area, ...] = (
    Area("fc2-proxy", (V2, "proxy"), "fc2"),
    Area("fc2-api", (V2, "services"), "fc2", signed="fc2"),
    Area("fc2-temp-bucket", (V2, "tempBucketToken"), "fc2", signed="fc2", exact=True),
    Area("fc3-api", (V3,), "fc3", signed="fc3", sign_first=True,
         note=" by the local FC host (see osscallback.local.fc.api.controlplane for the API subset)"),
    Area("root", (), "fc2"),
)
_FN = (V3, "functions", "{function}")
ROUTES: tuple[Route, ...] = (
    Route("HttpTrigger", "fc2-proxy", None, (V2, "proxy", "{service}", "{function+}", "**"), httpproxy.proxy,
          common=True),
    Route("InvokeFunction", "fc2-api", "POST", (V2, "services", "{service}", "functions", "{function+}",
                                                "invocations"), fc2.invoke),
    Route("GetFunction", "fc2-api", "GET", (V2, "services", "{service}", "functions", "{function+}"),
          fc2.get_function),
    Route("GetTempBucketToken", "fc2-temp-bucket", "GET", (V2, "tempBucketToken"), fc2.temp_bucket_token),
    Route("InvokeFunction", "fc3-api", "POST", (*_FN, "invocations"), fc3.invoke),
    Route("CreateFunction", "fc3-api", "POST", (V3, "functions"), fc3.create_function),
    Route("ListFunctions", "fc3-api", "GET", (V3, "functions"), fc3.list_functions),
    Route("GetFunction", "fc3-api", "GET", _FN, fc3.get_function),
    Route("UpdateFunction", "fc3-api", "PUT", _FN, fc3.update_function),
    Route("DeleteFunction", "fc3-api", "DELETE", _FN, fc3.delete_function),
    Route("CreateTrigger", "fc3-api", "POST", (*_FN, "triggers"), fc3.create_trigger),
    Route("ListTriggers", "fc3-api", "GET", (*_FN, "triggers"), fc3.list_triggers),
    Route("GetTrigger", "fc3-api", "GET", (*_FN, "triggers", "{trigger}"), fc3.get_trigger),
    Route("UpdateTrigger", "fc3-api", "PUT", (*_FN, "triggers", "{trigger}"), fc3.update_trigger),
    Route("DeleteTrigger", "fc3-api", "DELETE", (*_FN, "triggers", "{trigger}"), fc3.delete_trigger),
    # per-function configurations (fc3configs: kept, or answered as FC does for a function without one)
    Route("GetAsyncInvokeConfig", "fc3-api", "GET", (*_FN, "async-invoke-config"), fc3configs.get_async_invoke_config),
    Route("PutAsyncInvokeConfig", "fc3-api", "PUT", (*_FN, "async-invoke-config"), fc3configs.put_async_invoke_config),
    Route("DeleteAsyncInvokeConfig", "fc3-api", "DELETE", (*_FN, "async-invoke-config"),
          fc3configs.delete_async_invoke_config),
    Route("ListAsyncInvokeConfigs", "fc3-api", "GET", (V3, "async-invoke-configs"),
          fc3configs.list_async_invoke_configs),
    Route("ListVpcBindings", "fc3-api", "GET", (*_FN, "vpc-bindings"), fc3configs.list_vpc_bindings),
    Route("GetScalingConfig", "fc3-api", "GET", (*_FN, "scaling-config"), fc3configs.get_scaling_config),
    Route("GetProvisionConfig", "fc3-api", "GET", (*_FN, "provision-config"), fc3configs.get_provision_config),
    Route("GetConcurrencyConfig", "fc3-api", "GET", (*_FN, "concurrency"), fc3configs.get_concurrency_config),
    Route("ListAliases", "fc3-api", "GET", (*_FN, "aliases"), fc3configs.list_aliases),
    Route("ListFunctionVersions", "fc3-api", "GET", (*_FN, "versions"), fc3configs.list_function_versions),
    Route("ListScalingConfigs", "fc3-api", "GET", (V3, "scaling-configs"), fc3configs.list_scaling_configs),
    Route("ListProvisionConfigs", "fc3-api", "GET", (V3, "provision-configs"), fc3configs.list_provision_configs),
    Route("ListConcurrencyConfigs", "fc3-api", "GET", (V3, "concurrency-configs"),
          fc3configs.list_concurrency_configs),
    Route("Index", "root", None, ("",), fc2.index),
    Route("HttpTrigger", "root", None, ("{function}", "**"), httpproxy.short_path, common=True),
)


class Router:
    """The WSGI app on the host's endpoint: area, signature, route, handler; FC's errors rendered per API."""

    def __init__(self, backend: Callable[[], Backend]) -> None:
        self._backend = backend

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        answer = self.handle(Request.from_environ(environ))
        start_response(answer.status, answer.headers)
        return [answer.body]

    def handle(self, req: Request) -> Answer:
        backend = self._backend()
        parts = req.segments[1:] or [""]
        area = next(a for a in AREAS if a.contains(parts))
        common = False
        try:
            if area.sign_first:
                _check_signature(backend, req, area)
            route = next((r for r in ROUTES if r.area == area.name and r.match(req.method, parts) is not None), None)
            if route is None:
                raise PathNotSupported(req.method, req.raw_path, area.note)
            req.params = route.match(req.method, parts) or {}
            common = route.common
            if not area.sign_first:
                _check_signature(backend, req, area)
            return route.handler(backend, req)
        except FCError as exc:
            return error_answer(exc, area.api, req.request_id, common=common)


def _check_signature(backend: Backend, req: Request, area: Area) -> None:
    if not backend.verify_signatures or area.signed is None:
        return
    if area.signed == "fc3":
        fc3api.check_signature(backend.credentials, req.method, req.raw_path, req.raw_query, req.headers, req.body)
    else:
        fcapi.check_signature(backend.credentials, req.method, unquote(req.raw_path), req.raw_query, req.headers)


__all__ = ["AREAS", "Area", "ROUTES", "Route", "Router"]
