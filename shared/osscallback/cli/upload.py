"""``osscallback upload FILE``: upload a local file with a callback, from the command line, with a progress bar.

Runs the upload function's logic in-process (``osscallback.upload.uploader``): ``put_file`` for small files, a parallel
``multipart`` upload (aborted on failure) above ``--part-size``. Endpoint, bucket and credentials come from the same
environment variables the upload function reads (``OSS_ENDPOINT``, ``OSS_BUCKET``, ``OSS_ACCESS_KEY_ID``, ...), so
the values ``osscallback local`` prints work as they are. The progress bar is shown only on a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from osscallback.cli.args import parse_pairs
from osscallback.errors import UploadError


def register(sub: Any) -> None:
    p = sub.add_parser("upload", help="upload a file with a callback (multipart with a progress bar when large)",
                       description="Upload FILE to OSS with a callback built from a template. Settings come from "
                       "OSS_ENDPOINT, OSS_BUCKET, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET [, OSS_SESSION_TOKEN, "
                       "OSS_REGION, OSS_AUTH_VERSION, CALLBACK_URL].")
    p.add_argument("file", help="the local file to upload")
    p.add_argument("--key", help="object name (default: the file name)")
    p.add_argument("--template", default=None, help="callback template (default form-basic; 'none' for no callback)")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="template variable (repeatable)")
    p.add_argument("--custom-var", action="append", default=[], metavar="x:NAME=VALUE",
                   help="custom callback variable (repeatable)")
    p.add_argument("--part-size", type=int, default=8 * 1024 * 1024,
                   help="multipart part size in bytes (default 8 MiB)")
    p.add_argument("--threads", type=int, default=4, help="parallel part uploads (default 4)")
    p.add_argument("--json", action="store_true", help="print only the JSON result")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oss2.exceptions import OssError
    from tqdm import tqdm

    from osscallback.cli.osserrors import OssSettings, explain
    from osscallback.upload.uploader import Uploader, UploadEvent, UploadSettings

    path = Path(args.file).resolve()
    if not path.is_file():
        raise UploadError(f"no such file: {args.file}")
    size = path.stat().st_size
    raw: dict[str, Any] = {
        "action": "multipart" if size > args.part_size else "put_file",
        "key": args.key or path.name,
        "path": str(path),
        "template_vars": parse_pairs(args.var, "--var"),
        "custom_vars": parse_pairs(args.custom_var, "--custom-var"),
        "part_size": args.part_size,
        "threads": args.threads,
    }
    if args.template is not None:
        raw["template"] = args.template
    event = UploadEvent.parse(raw)
    env = {**os.environ, "UPLOAD_ALLOWED_ROOTS": str(path.parent)}  # the user named this file on purpose
    settings = UploadSettings.resolve(event, None, env, str(path.parent))
    try:
        uploader = Uploader(settings)
        with tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=event.key, disable=None,
                  file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            result = uploader.run(event, progress).to_dict()
    except OssError as exc:  # one readable line (osscallback: error: ...) naming the setting, not oss2's traceback
        raise UploadError(explain(exc, OssSettings(settings.endpoint, settings.bucket,
                                                   settings.credentials.access_key_id))) from None
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 2))
    return 0 if result["ok"] and result["callback_status"] != "failed" else 1
