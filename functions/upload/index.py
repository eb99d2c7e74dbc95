"""Upload function (FC event handler): uploads to OSS with a callback.

The event (JSON) names an action — ``put``, ``put_file``, ``multipart``, ``presign_put`` or ``post_policy`` — and the
function answers JSON with the OSS request id, ETag, CRC64 and the callback's answer (or a structured
``CallbackFailed`` result). All logic is in ``osscallback.upload.uploader``; see docs/FUNCTIONS.md for the event
contract. Credentials come from FC's temporary STS credentials in ``context.credentials`` when deployed, else from
``OSS_ACCESS_KEY_ID`` / ``OSS_ACCESS_KEY_SECRET`` [/ ``OSS_SESSION_TOKEN``]. Relative file paths in events resolve
against this function's code directory (``samples/`` ships a few files to try).
"""

import json
import os

from osscallback.upload.uploader import handle_event

CODE_DIR = os.path.dirname(os.path.abspath(__file__))


def handler(event, context):  # type: ignore[no-untyped-def]
    """FC event handler: ``event`` is the raw JSON payload (bytes); returns the JSON result."""
    return json.dumps(handle_event(event, context, base_dir=CODE_DIR), ensure_ascii=False)
