"""``osscallback template``: list and render callback templates (a user's first debugging tool)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from osscallback.cli.args import parse_pairs


def register(sub: Any) -> None:
    p = sub.add_parser("template", help="list and render callback templates",
                       description="Callback templates render to OSS callback parameters (x-oss-callback).")
    tsub = p.add_subparsers(dest="template_command", metavar="SUBCOMMAND")
    tsub.required = True

    lp = tsub.add_parser("list", help="list available templates (shipped and CALLBACK_TEMPLATE_DIR)")
    lp.add_argument("--dir", help="user template directory (default: $CALLBACK_TEMPLATE_DIR)")
    lp.add_argument("--json", action="store_true", help="print a JSON list")
    lp.set_defaults(func=run_list)

    rp = tsub.add_parser("render", help="render a template and print the decoded callback and the headers")
    rp.add_argument("name", help="template name, e.g. form-basic")
    rp.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="template variable (repeatable), e.g. --var callback_url=http://127.0.0.1:9000/")
    rp.add_argument("--custom-var", action="append", default=[], metavar="x:NAME=VALUE",
                    help="custom callback variable (repeatable), e.g. --custom-var x:user=alice")
    rp.add_argument("--dir", help="user template directory (default: $CALLBACK_TEMPLATE_DIR)")
    rp.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    rp.set_defaults(func=run_render)


def run_list(args: argparse.Namespace) -> int:
    from osscallback.upload.templates import TemplateLibrary

    library = TemplateLibrary(args.dir)
    names = library.names()
    if args.json:
        print(json.dumps([{"name": n, "path": str(library.origin(n))} for n in names]))
    else:
        for n in names:
            print(f"{n:16} {library.origin(n)}")
    return 0


def run_render(args: argparse.Namespace) -> int:
    from osscallback.upload.templates import TemplateLibrary, build_callback

    variables = parse_pairs(args.var, "--var")
    custom = parse_pairs(args.custom_var, "--custom-var")
    spec = build_callback(args.name, variables, custom, library=TemplateLibrary(args.dir))
    if args.json:
        print(json.dumps({"document": spec.document(), "custom_vars": spec.custom_vars, "headers": spec.headers(),
                          "query_params": spec.query_params()}, ensure_ascii=False))
        return 0
    print("# callback (decoded)")
    print(json.dumps(spec.document(), indent=2, ensure_ascii=False))
    if spec.custom_vars:
        print("# callback-var (decoded)")
        print(json.dumps(spec.custom_vars, indent=2, ensure_ascii=False))
    print("# headers for PutObject / CompleteMultipartUpload")
    for name, value in spec.headers().items():
        print(f"{name}: {value}")
    return 0
