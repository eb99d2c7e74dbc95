"""OSS-event backstop function (FC OSS trigger): delivers every stored upload to the same action, once.

The same code directory, configuration and idempotency store as the callback function (``index.py``); this entry
point only picks the adapter. ``oss_event.handler`` is an FC event handler for FC 2.0 and 3.0 alike. The
configuration is read once, at cold start: a ``memory`` store is refused then (logged as a ConfigurationError,
and every invocation fails with it), since this function cannot share the callback function's memory.
"""

from osscallback.callback.oss_event import load_event_app, make_oss_event_handler

app = load_event_app()
_deliver = make_oss_event_handler(app)


def handler(event, context):  # type: ignore[no-untyped-def]
    """FC event handler: ``event`` is the OSS trigger's JSON (bytes); returns a JSON summary, or raises so FC
    retries the invocation (a claim still in progress, the store unreachable, the action failed)."""
    return _deliver(event, context)
