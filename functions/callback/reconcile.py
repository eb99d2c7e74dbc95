"""Reconcile function (FC timer trigger): delivers every stored upload that no callback or event delivered, once.

The same code directory, configuration and idempotency store as the callback function (``index.py``); this entry
point only wires the core (:mod:`osscallback.callback.reconcile`) to the bucket (:mod:`osscallback.callback.
reconcile_oss`). FC's timer trigger invokes ``reconcile.handler`` with ``{"triggerTime", "triggerName",
"payload"}`` (FC, "Formats of event for different triggers", Time trigger:
https://www.alibabacloud.com/help/en/fc/formats-of-event-for-different-triggers), which runs with the defaults;
``osscallback reconcile`` invokes it with ``{"reconcile": {options}}``. FC 2.0 and 3.0 alike.
"""

import os

from osscallback.callback.reconcile_oss import load_reconcile_app, make_reconcile_handler

_deliver = make_reconcile_handler(load_reconcile_app(os.environ))  # a bad setting: every run fails, saying why


def handler(event, context):  # type: ignore[no-untyped-def]
    """FC event handler: returns the run's JSON report (summary and the uploads it delivered or failed)."""
    return _deliver(event, context)
