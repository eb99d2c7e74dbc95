"""A local Function Compute (FC 2.0) host: the functions of ``template.yml`` on 127.0.0.1, no Docker, no account.

What AWS SAM CLI's ``local start-api``/``local invoke`` and serverless-offline give Lambda developers: one
process that serves every function the way FC would — HTTP functions under FC 2.0's
``/2016-08-15/proxy/<service>/<function>/…`` URLs (WSGI, ``fc.context``, ``fc.request_uri``), event functions
through the real InvokeFunction API (so ``fc2.Client`` pointed at :attr:`LocalFCHost.endpoint` works unchanged),
each with FC's context, its ``template.yml`` environment, its timeout and request-id-tagged logs.

    from osscallback.local.fc import LocalFCHost, load_specs

    with LocalFCHost(load_specs(Path("template.yml"), os.environ), credentials=creds) as fc:
        fc2.Client(endpoint=fc.endpoint, accessKeyID=..., accessKeySecret=...).invoke_function("svc", "upload", ...)

Each function can run in several instances (``instances=``), asynchronous invocations are retried as FC retries
them and recorded (``async_invocations()``, ``async_observer``), and OSS event documents reach the functions whose
OSS triggers match (``dispatch_oss_event``).

Modules: :mod:`.spec` (what to run), :mod:`.host` (routing, instances, timeouts), :mod:`.process` (worker
supervision), :mod:`.worker` (the function instance), :mod:`.context` (FC's context object), :mod:`.fcapi` (FC's
wire format), :mod:`.asyncinvoke` (asynchronous invocation and retries), :mod:`.osstrigger` (OSS trigger matching).
"""

from osscallback.local.fc.asyncinvoke import AsyncAttempt, AsyncInvocation
from osscallback.local.fc.context import LOCAL_CREDENTIALS, FCContext, FCCredentials, FunctionMeta, ServiceMeta
from osscallback.local.fc.errors import FunctionInvocationError, LocalFCError, UnknownFunctionError, WorkerStartError
from osscallback.local.fc.host import LocalFCHost
from osscallback.local.fc.osstrigger import OssTrigger
from osscallback.local.fc.process import LogSink, print_sink
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
