"""The browser side of uploads: the policy endpoint (an HTTP-triggered function) and the upload page it serves.

Deployed code, part of the upload function's package: :mod:`.app` is the transport-free core (routes, CORS, the
page, the policy through the upload function's ``post_policy`` signing), :mod:`.http` its FC 2.0 (WSGI) and FC 3.0
(HTTP event) adapters, :mod:`.authorizer` who may upload where (``UPLOAD_AUTHORIZER``), :mod:`.config` the
settings, and ``static/`` the page (HTML, JS and CSS: no build step, no CDN).
"""
