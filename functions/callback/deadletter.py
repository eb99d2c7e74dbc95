"""Dead-letter function: the OSS-event backstop's on-failure destination (template.yml / template.fc2.yml).

When FC gives up on a backstop event (every retry failed, or the event outlived ``maxAsyncEventAgeInSeconds``), it
invokes this function with its record of the failure; the function keeps the event, the reason and the attempts as
an object under ``CALLBACK_DEAD_LETTERS`` (``oss://<bucket>/.osscallback/dead-letters/``), for
``osscallback redeliver``. The same code directory as the callback function; this entry point only wires the core
(:mod:`osscallback.callback.deadletter`) to the bucket. A failed write raises, so FC retries this invocation.
"""

import json
import os

from osscallback.callback.deadletter import BoxSpec, DeadLetterApp
from osscallback.callback.deadletter_oss import OssLetterBox

_box = OssLetterBox(BoxSpec.parse(os.environ.get("CALLBACK_DEAD_LETTERS"), os.environ), os.environ)
_app = DeadLetterApp(_box)


def handler(event, context):  # type: ignore[no-untyped-def]
    """FC event handler: ``event`` is FC's destination record (bytes); returns where the dead letter went."""
    credentials = getattr(context, "credentials", None)
    if credentials is not None:
        _box.observe_credentials(credentials)
    return json.dumps(_app.handle(event, context))
