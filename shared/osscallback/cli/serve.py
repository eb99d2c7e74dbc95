"""``osscallback serve``: the callback function on 127.0.0.1 under a real WSGI server."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from osscallback.callback.core import CallbackApp
from osscallback.cli.args import port_number


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the callback function locally (FC 2.0 WSGI handler under waitress)",
        description="Serve the OSS callback function on a local address. Configuration comes from CALLBACK_* "
        "environment variables, as on Function Compute.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=port_number, default=9000, help="port (default 9000; 0 = any free port)")
    p.add_argument("--threads", type=int, default=16, help="worker threads (default 16)")
    p.add_argument(
        "--trust-key-prefix",
        action="append",
        default=[],
        metavar="URL",
        help="also trust public keys under this URL prefix (LOCAL DEVELOPMENT ONLY; e.g. the local OSS key URL)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON line with the URL once serving")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from osscallback.callback.wsgi import make_wsgi_handler
    from osscallback.local.httpserver import CannotListen, WSGIServer
    from osscallback.logconfig import configure

    configure()
    env = dict(os.environ)
    if args.trust_key_prefix:
        current = env.get("CALLBACK_KEY_URL_PREFIXES") or "http://gosspublic.alicdn.com/,https://gosspublic.alicdn.com/"
        env["CALLBACK_KEY_URL_PREFIXES"] = ",".join([current, *args.trust_key_prefix])
    app = CallbackApp.from_env(env)  # a ConfigError becomes one readable line and exit 2 (cli.main)
    try:
        server = WSGIServer(make_wsgi_handler(app), host=args.host, port=args.port, threads=args.threads)
    except CannotListen as exc:
        exc.what, exc.option = "the callback function", "--port"
        raise
    url = server.url + "/"
    if args.json:
        print(json.dumps({"callback_url": url}), flush=True)
    else:
        print(f"Callback function listening on {url}  (Ctrl-C to stop)", flush=True)
        print(f"Trusted key URL prefixes: {', '.join(app.policy.prefixes)}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("stopped", file=sys.stderr)
    return 0
