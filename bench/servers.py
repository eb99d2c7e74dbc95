"""Servers under test, each run as its own process: ``python bench/servers.py KIND PORT_FILE [PREFIX]``.

- ``function``: the callback function (``CallbackApp`` behind the FC 2.0 WSGI adapter) under waitress, 16 threads.
- ``function-quiet``: the same function logging at WARNING (no per-request line): shows what the INFO line costs a
  threaded server (the handler's lock is held across a write that releases the GIL).
- ``noop``: baseline (a), a WSGI app answering ``{"Status":"OK"}`` under the same waitress settings: the ceiling.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from osscallback.callback.core import CallbackApp
from osscallback.callback.wsgi import make_wsgi_handler
from osscallback.local.httpserver import WSGIServer

NOOP_BODY = b'{"Status":"OK"}'


def noop(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    stream = environ.get("wsgi.input")
    if stream is not None:
        stream.read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(NOOP_BODY)))])
    return [NOOP_BODY]


def main() -> None:
    kind, port_file = sys.argv[1], sys.argv[2]
    # Log at INFO as FC does, into /dev/null: the function pays for its one JSON line per request, as in production.
    level = logging.WARNING if kind == "function-quiet" else logging.INFO
    logging.basicConfig(level=level, stream=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    if kind in ("function", "function-quiet"):
        app = CallbackApp.from_env({"CALLBACK_KEY_URL_PREFIXES": sys.argv[3], "CALLBACK_IDEMPOTENCY_SIZE": "10000"})
        wsgi: Any = make_wsgi_handler(app)
    else:
        wsgi = noop
    server = WSGIServer(wsgi, threads=16)
    with open(port_file, "w") as f:
        f.write(str(server.port))
    server.serve_forever()


if __name__ == "__main__":
    main()
