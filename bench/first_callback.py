"""A cold start, as OSS meets it: run by ``bench/run.py`` in a fresh interpreter per measurement.

    python bench/first_callback.py FUNCTION_DIR      # request in $BENCH_REQUEST: {"path", "headers", "body"}

Imports the callback function from FUNCTION_DIR (what FC's ``/code`` is) exactly as FC does (``import index``),
then answers one signed callback through its FC 2.0 WSGI handler; the public key is fetched on that first callback
from the key server named in the request (a loopback server started by the bench). Exits 0 only for a 200 answer,
after printing one JSON line: the answer status and which heavy modules the process ended up importing. Nothing
is imported here that the function does not import itself (``io`` and ``os`` come with the interpreter, ``json``
with the function), so the whole run is the function's cold start.
"""

import io
import json
import os
import sys

sys.path.insert(0, sys.argv[1])

import index  # noqa: E402 - the function's code directory first, as on FC


def main() -> int:
    request = json.loads(os.environ["BENCH_REQUEST"])
    body = request["body"].encode("utf-8")
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": request["path"], "QUERY_STRING": "", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    for name, value in request["headers"].items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    statuses: list[str] = []
    answer = b"".join(index.handler(environ, lambda status, headers: statuses.append(status)))
    heavy = sorted(m for m in ("jinja2", "oss2", "redis", "http.client", "email", "ssl", "uuid", "encodings.idna") if m in sys.modules)
    print(json.dumps({"status": statuses[0], "answer": answer.decode("utf-8"), "modules": len(sys.modules),
                      "heavy": heavy}))
    return 0 if statuses[0].startswith("200") else 3


sys.exit(main())
