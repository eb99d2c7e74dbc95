"""A local Function Compute host: the functions of ``template.yml`` on 127.0.0.1, no Docker, no account.

What AWS SAM CLI's ``local start-api``/``local invoke`` and serverless-offline give Lambda developers: one
process that serves every function the way FC would — HTTP functions under FC 2.0's
``/2016-08-15/proxy/<service>/<function>/…`` URLs (WSGI, ``fc.context``, ``fc.request_uri``), event functions
through the real InvokeFunction API (so ``fc2.Client`` pointed at :attr:`LocalFCHost.endpoint` works unchanged),
FC 3.0 functions behind function URLs and FC 3.0's API, each with FC's context, its ``template.yml`` environment,
its timeout and request-id-tagged logs.

    from osscallback.local.fc import LocalFCHost, load_specs

    with LocalFCHost(load_specs(Path("template.yml"), os.environ), credentials=creds) as fc:
        fc2.Client(endpoint=fc.endpoint, accessKeyID=..., accessKeySecret=...).invoke_function("svc", "upload", ...)

Each function can run in several instances (``instances=``), asynchronous invocations are retried as FC retries
them and recorded (``async_invocations()``, ``async_observer``), and OSS event documents reach the functions whose
OSS triggers match (``dispatch_oss_event``).

Split like the local OSS (and moto): :mod:`.api` is the HTTP face (FC 2.0 and 3.0 APIs, control plane, HTTP
triggers, routed from one table), :mod:`.model` the functions, their instances and asynchronous invocation,
:mod:`.host` wires them and runs the lifecycle. Beside them: :mod:`.spec` (what to run), :mod:`.errors` (typed
errors, FC's API errors included), :mod:`.context` (FC's context object), :mod:`.protocol` (host↔worker),
:mod:`.worker` (the function instance), :mod:`.httpevent` (FC 3.0's HTTP event), :mod:`.osstrigger` (OSS trigger
matching).
"""

from osscallback.local.fc.context import LOCAL_CREDENTIALS, FCContext, FCCredentials, FunctionMeta, ServiceMeta
from osscallback.local.fc.errors import FunctionInvocationError, LocalFCError, UnknownFunctionError, WorkerStartError
from osscallback.local.fc.host import LocalFCHost
from osscallback.local.fc.model.asyncinvoke import AsyncAttempt, AsyncInvocation
from osscallback.local.fc.model.process import LogSink, print_sink
from osscallback.local.fc.osstrigger import OssTrigger
from osscallback.local.fc.spec import FunctionSpec, load_specs

__all__ = [
    "AsyncAttempt",
    "AsyncInvocation",
    "FCContext",
    "FCCredentials",
    "FunctionInvocationError",
    "FunctionMeta",
    "FunctionSpec",
    "LOCAL_CREDENTIALS",
    "LocalFCError",
    "LocalFCHost",
    "LogSink",
    "OssTrigger",
    "ServiceMeta",
    "UnknownFunctionError",
    "WorkerStartError",
    "load_specs",
    "print_sink",
]
