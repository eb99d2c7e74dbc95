"""``osscallback local oss``: run the local OSS in the foreground until Ctrl-C or SIGTERM.

With ``--json`` exactly one line goes to stdout, once the server accepts requests:
``{"endpoint", "bucket", "region", "access_key_id", "access_key_secret", "public_key_url"}`` (the region: what a V4
client signs with, since the endpoint, an IP, names none); logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from osscallback.cli.args import port_number
from osscallback.cli.snippets import bin_dir
from osscallback.errors import ConfigError
from osscallback.local.httpserver import CannotListen
from osscallback.local.oss.localoss import DEFAULT_BUCKET, DEFAULT_REGION, LocalOSS, default_data_dir
from osscallback.local.oss.sigversions import ALL_VERSIONS
from osscallback.logconfig import quiet_client_libraries


def add_arguments(p: argparse.ArgumentParser) -> None:
    # Distinct dests: the parent ``local`` command has options of the same names for the whole stack.
    p.add_argument("--port", dest="oss_port", type=port_number, default=0, help="port (default 0: any free port)")
    p.add_argument("--host", dest="oss_host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--data-dir", dest="oss_data_dir", default=None, help=f"data directory (default {default_data_dir()})"
    )
    p.add_argument(
        "--bucket",
        dest="oss_buckets",
        action="append",
        default=[],
        metavar="NAME",
        help=f"bucket to create (repeatable; default {DEFAULT_BUCKET})",
    )
    p.add_argument("--region", dest="oss_region", default=DEFAULT_REGION, help=f"region (default {DEFAULT_REGION})")
    p.add_argument(
        "--cname",
        dest="oss_cnames",
        action="append",
        default=[],
        metavar="HOST=BUCKET",
        help="serve BUCKET at HOST, as for oss2's is_cname=True (repeatable)",
    )
    p.add_argument(
        "--allow-v1",
        dest="oss_allow_v1",
        action="store_true",
        help="accept V1 and V2 signatures too, as a bucket created before 2025-09-01 does (default: V4 only, as a "
        "bucket created today)",
    )
    p.add_argument("--json", dest="oss_json", action="store_true", help="print one JSON line once ready")
    p.add_argument("--verbose", dest="oss_verbose", action="store_true", help="log every request to stderr")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.oss_verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_client_libraries()
    cnames = {}
    for item in args.oss_cnames:
        host, sep, bucket = item.partition("=")
        if not sep or not host or not bucket:
            raise ConfigError(f"--cname takes HOST=BUCKET, not {item!r}")
        cnames[host] = bucket
    oss = LocalOSS(
        args.oss_data_dir,
        port=args.oss_port,
        host=args.oss_host,
        buckets=list(dict.fromkeys([*(args.oss_buckets or [DEFAULT_BUCKET]), *cnames.values()])),
        region=args.oss_region,
        cnames=cnames,
        signature_versions=ALL_VERSIONS if args.oss_allow_v1 else None,
    )
    stop = threading.Event()
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        oss.start()
    except CannotListen as exc:
        exc.option = "--port"
        raise
    try:
        info = oss.info
        if args.oss_json:
            line = {
                k: info.to_json()[k]
                for k in ("endpoint", "bucket", "region", "access_key_id", "access_key_secret", "public_key_url")
            }
            print(json.dumps(line), flush=True)
        else:
            print(
                f"Local OSS listening on {info.endpoint}  (Ctrl-C to stop)\n"
                f"  bucket:            {info.bucket}\n"
                f"  access key id:     {info.access_key_id}\n"
                f"  access key secret: {info.access_key_secret}\n"
                f"  region:            {info.region}\n"
                f"  callback key URL:  {info.public_key_url}\n"
                f"  data directory:    {info.data_dir}  (delete it, stopped, to start afresh)\n\n"
                "# Try it (paste into a shell as it is: it calls this virtualenv's python):\n"
                f"{bin_dir() / 'python'} - <<'PY'\n"
                "import oss2\n"
                f"bucket = oss2.Bucket(oss2.AuthV4('{info.access_key_id}', '{info.access_key_secret}'), "
                f"'{info.endpoint}', '{info.bucket}', region='{info.region}')\n"
                "print([o.key for o in bucket.list_objects(max_keys=10).object_list])\n"
                "PY",
                flush=True,
            )
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        oss.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
