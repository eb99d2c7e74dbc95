"""``python -m osscallback.local.fc``: serve ``template.yml``'s functions on 127.0.0.1 until Ctrl-C / SIGTERM.

The host alone (no local OSS): for the whole local stack use the project's CLI. Functions run from their sources
(``functions/<name>/``) unless ``--built`` asks for the packaged ``codeUri`` directories.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from osscallback.local.fc.context import LOCAL_CREDENTIALS, FCCredentials
from osscallback.local.fc.errors import LocalFCError
from osscallback.local.fc.host import LocalFCHost
from osscallback.local.fc.spec import load_specs, source_code_dirs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m osscallback.local.fc", description=__doc__.split("\n")[0])
    p.add_argument("--template", default="template.yml", help="Serverless Devs template (default template.yml)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9100, help="port (default 9100; 0 = any free port)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="environment variable for every function, over template.yml's values (repeatable)")
    p.add_argument("--built", action="store_true", help="run the codeUri directories instead of functions/<name>/")
    p.add_argument("--access-key-id", default=os.environ.get("LOCALFC_ACCESS_KEY_ID", LOCAL_CREDENTIALS.access_key_id))
    p.add_argument("--access-key-secret",
                   default=os.environ.get("LOCALFC_ACCESS_KEY_SECRET", LOCAL_CREDENTIALS.access_key_secret))
    p.add_argument("--instances", type=int, default=1, metavar="N",
                   help="worker processes per HTTP-triggered function, requests spread over them (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON line with the endpoint once serving")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides: dict[str, str] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            print(f"--set expects NAME=VALUE, got {item!r}", file=sys.stderr)
            return 2
        overrides[name] = value
    template = Path(args.template)
    try:
        specs = load_specs(template, os.environ, code_dirs=None if args.built else source_code_dirs(template))
        host = LocalFCHost(
            specs,
            args.host,
            args.port,
            credentials=FCCredentials(args.access_key_id, args.access_key_secret),
            env_overrides=overrides,
            instances=args.instances,
        )
        host.start()
    except (LocalFCError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"endpoint": host.endpoint}), flush=True)
    else:
        print(f"Local FC endpoint: {host.endpoint}  (Ctrl-C to stop)", flush=True)
        for spec in specs:
            where = host.url_for(spec.name, True, spec.service) if spec.is_http else host.invoke_url(spec.name,
                                                                                                     spec.service)
            print(f"  {spec.qualified_name:<32} {'http ' if spec.is_http else 'event'}  {where}", flush=True)
    host.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
