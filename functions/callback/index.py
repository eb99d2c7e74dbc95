"""OSS upload-callback function: verifies OSS's signature, parses the callback, runs the configured action and
answers JSON. All logic lives in the ``osscallback`` library; this file only picks the entry points.

- ``index.handler``: FC 2.0 HTTP trigger (WSGI ``handler(environ, start_response)``).
- ``index.handler_fc3``: FC 3.0 HTTP trigger (``handler(event, context)`` with an HTTP event).

Configuration is read once here, at cold start, from ``CALLBACK_*`` environment variables (docs/CONFIGURATION.md).
This module must stay light to import: it never imports ``oss2``.
"""

from osscallback.callback.core import load_app
from osscallback.callback.fc3 import make_fc3_handler
from osscallback.callback.wsgi import make_wsgi_handler

app = load_app()
handler = make_wsgi_handler(app)
handler_fc3 = make_fc3_handler(app)
