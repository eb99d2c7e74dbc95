"""Policy endpoint (FC HTTP trigger): the upload page at ``GET /`` and, at ``GET /policy``, the signed fields a
browser needs for a V4 PostObject with callback, under the key prefix ``UPLOAD_AUTHORIZER`` grants.

All logic is in ``osscallback.upload.browser``; this file only picks the entry points, as ``index.py`` does:

- ``policy.handler``: FC 2.0 HTTP trigger (WSGI ``handler(environ, start_response)``);
- ``policy.handler_fc3``: FC 3.0 HTTP trigger (``handler(event, context)`` with an HTTP event).

Configuration (``UPLOAD_AUTHORIZER``, ``UPLOAD_ALLOWED_ORIGINS``, ``UPLOAD_MAX_SIZE``, ``UPLOAD_POLICY_EXPIRES``,
``UPLOAD_HOST``) is read once, at cold start; credentials come from FC's context on every request.
"""

from osscallback.upload.browser.app import PolicyApp
from osscallback.upload.browser.http import make_fc3_handler, make_wsgi_handler

app = PolicyApp.from_env()
handler = make_wsgi_handler(app)
handler_fc3 = make_fc3_handler(app)
