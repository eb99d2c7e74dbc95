"""The local FC host's state and FC's rules about running functions, independent of the HTTP API (moto's "models").

:mod:`.registry` keeps the functions (specs, instance pools, FC 3.0 function URLs) and defines the small
:class:`~.registry.FunctionRegistry` interface the control plane deploys through; :mod:`.instances` launches a
function's worker processes and sends one request to the least busy one under the function's timeout;
:mod:`.process` supervises one worker process; :mod:`.asyncinvoke` runs asynchronous invocations with FC's retries
and :mod:`.triggers` feeds it (asynchronous InvokeFunction, OSS trigger events). Nothing here parses a request or
renders an answer: that is :mod:`osscallback.local.fc.api`, which imports this package, never the reverse.
"""
