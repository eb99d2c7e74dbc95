"""The local FC host's HTTP face (moto's "responses"): FC 2.0's API, FC 3.0's API and control plane, HTTP triggers.

:mod:`.dispatch` holds the route table (``ROUTES``: method and path pattern → handler, which signature it needs)
and the WSGI app; :mod:`.fc2` and :mod:`.fc3` answer the FC 2.0 and FC 3.0 APIs (:mod:`.invoke` the InvokeFunction
both share), :mod:`.controlplane` keeps FC 3.0's functions and triggers, :mod:`.httpproxy` forwards HTTP-trigger
and function-URL requests to an instance, :mod:`.fcapi`/:mod:`.fc3api` check the two APIs' signatures, and
:mod:`.wire` parses requests and renders answers, FC's errors (:mod:`..errors`) included. Everything here works on
:mod:`osscallback.local.fc.model`.
"""
